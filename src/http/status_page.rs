//! The status page: the user's status, a running timer with a way to end it, the durations a
//! new status may last, and their weekly schedule — rendered in their language and time zone,
//! with a fresh session and the portal's framing headers.

use askama::Template;
use askama_web::WebTemplate;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::page::{PageError, Problem};
use super::state::AppState;
use super::words::{day_name, local_time, reason_text, rule_text, status_words};
use crate::automation::{MEETING_STATUSES, Settings};
use crate::i18n::{Lang, Text};
use crate::portals::automation::Lacks;
use crate::portals::{Opened, Plans};
use crate::schedule::{self, DAYS, WORKDAY_END};
use bitrix24::clock::unix_now;
use bitrix24::domain::Status;

/// A value and what the page calls it.
pub(super) struct Choice {
    pub value: String,
    pub label: String,
    pub on: bool,
}

/// One status button.
struct StatusOption {
    value: &'static str,
    name: &'static str,
    about: &'static str,
    current: bool,
}

/// What the page says at the top after an action.
pub(super) struct Notice {
    pub text: String,
    pub is_error: bool,
}

impl Notice {
    pub fn ok(text: String) -> Self {
        Self {
            text,
            is_error: false,
        }
    }

    pub fn error(text: String) -> Self {
        Self {
            text,
            is_error: true,
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "status.html")]
struct StatusPage<'a> {
    lang: &'a str,
    t: &'static Text,
    css: &'a str,
    bx24_js: &'a str,
    app_js: &'a str,
    session: &'a str,
    renew_in: i64,
    team_view: bool,
    user_name: &'a str,
    options: Vec<StatusOption>,
    durations: Vec<Choice>,
    running: Option<String>,
    end_with: &'static str,
    rules: Vec<String>,
    days: Vec<Choice>,
    statuses: Vec<Choice>,
    zone: &'a str,
    notice: Option<Notice>,
    /// For administrators in the grace period after the paid period ran out: renew it.
    renew: Option<&'static str>,
    /// Why the status is what it is, when a meeting, the working day or a schedule rule
    /// holds it.
    reason: Option<String>,
    automation: Settings,
    meeting_statuses: Vec<Choice>,
    lacks: Lacks,
}

fn options(t: &'static Text, current: Status) -> Vec<StatusOption> {
    Status::ALL
        .into_iter()
        .map(|s| {
            let (name, about) = status_words(t, s);
            StatusOption {
                value: s.as_str(),
                name,
                about,
                current: s == current,
            }
        })
        .collect()
}

/// How long a status chosen now lasts: for good, a while, or until the working day ends at
/// `work_end` (minutes after midnight; 18:00 when Bitrix24 does not say) — an absolute time,
/// offered only while it is ahead.
fn durations(t: &'static Text, plans: &Plans, work_end: Option<u16>, now: i64) -> Vec<Choice> {
    let zone = plans.schedule.zone();
    let mut choices: Vec<Choice> = [
        ("", t.for_until_changed),
        ("30", t.for_30m),
        ("60", t.for_1h),
        ("120", t.for_2h),
    ]
    .into_iter()
    .map(|(value, label)| Choice {
        value: value.to_owned(),
        label: label.to_owned(),
        on: value.is_empty(),
    })
    .collect();
    if let Some(end) = schedule::today_at(zone, now, work_end.unwrap_or(WORKDAY_END)) {
        choices.push(Choice {
            value: format!("at:{end}"),
            label: t
                .for_workday
                .replace("{time}", &local_time(t, zone, end, now)),
            on: false,
        });
    }
    choices
}

/// What the page says once, on top: the caller's notice, else a planned change that failed.
fn first_notice(
    t: &'static Text,
    plans: &Plans,
    now: i64,
    notice: Option<Notice>,
) -> Option<Notice> {
    let zone = plans.schedule.zone();
    notice
        .or_else(|| {
            let timer = plans.missed_timer.as_ref()?;
            Some(Notice::error(
                t.missed_restore
                    .replace("{status}", status_words(t, timer.status).0)
                    .replace("{then}", status_words(t, timer.then).0)
                    .replace("{time}", &local_time(t, zone, timer.until, now)),
            ))
        })
        .or_else(|| {
            let at = plans.missed_change?;
            Some(Notice::error(
                t.missed_change
                    .replace("{time}", &local_time(t, zone, at, now)),
            ))
        })
}

/// The session a page begins: for the account's epoch as the open found it.
pub(super) fn begin(state: &AppState, opened: &Opened, lang: Lang) -> Result<String, PageError> {
    let epoch = opened.epoch.ok_or_else(|| {
        tracing::warn!("an open found no usable account to begin a session for");
        PageError::new(Problem::NotInstalled, lang)
    })?;
    Ok(state.sessions.begin(
        &opened.portal.record.member_id,
        opened.user_id,
        lang,
        epoch,
        unix_now(),
    ))
}

/// The status page for `opened`, carrying `session`, answered with `status`.
pub(super) fn render(
    state: &AppState,
    opened: &Opened,
    session: &str,
    lang: Lang,
    notice: Option<Notice>,
    status: StatusCode,
) -> Response {
    let t = lang.text();
    let now = state.portals.now();
    let plans = &opened.plans;
    let zone = plans.schedule.zone();
    let portal = &opened.portal.record;
    let running = plans.timer.as_ref().map(|timer| {
        t.running
            .replace("{status}", status_words(t, timer.status).0)
            .replace("{time}", &local_time(t, zone, timer.until, now))
            .replace("{then}", status_words(t, timer.then).0)
    });
    let page = StatusPage {
        lang: lang.code(),
        t,
        css: super::assets::url("app.css"),
        bx24_js: state.config.js_url.as_str(),
        app_js: super::assets::url("app.js"),
        session,
        renew_in: super::session::SESSION_TTL_SECS / 2,
        team_view: false,
        user_name: &opened.user_name,
        options: options(t, opened.current),
        durations: durations(t, plans, opened.work_end, now),
        running,
        end_with: plans
            .timer
            .as_ref()
            .map_or("online", |timer| timer.then.as_str()),
        rules: plans
            .schedule
            .rules
            .iter()
            .map(|r| rule_text(t, r))
            .collect(),
        days: (0..7)
            .map(|d| Choice {
                value: DAYS[d].to_owned(),
                label: day_name(t, d).to_owned(),
                on: d < 5,
            })
            .collect(),
        statuses: Status::ALL
            .into_iter()
            .map(|s| Choice {
                value: s.as_str().to_owned(),
                label: status_words(t, s).0.to_owned(),
                on: s == Status::Dnd,
            })
            .collect(),
        zone: &plans.schedule.zone_name,
        notice: first_notice(t, plans, now, notice),
        renew: (opened.admin && opened.portal.period.in_grace()).then_some(t.payment_grace),
        reason: plans.why.and_then(|why| reason_text(t, why, zone, now)),
        automation: plans.automation,
        meeting_statuses: MEETING_STATUSES
            .into_iter()
            .map(|s| Choice {
                value: s.as_str().to_owned(),
                label: status_words(t, s).0.to_owned(),
                on: s == plans.automation.meeting_status,
            })
            .collect(),
        lacks: plans.lacks,
    };
    let mut response = (status, page).into_response();
    super::security::framed_page_headers(response.headers_mut(), &state.config, &portal.domain);
    response
}

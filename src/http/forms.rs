//! The status page's forms, which work without script: `POST /app/status` sets a status —
//! for a while when `for` says so —, `POST /app/schedule` adds or removes a rule or changes
//! the time zone, and `POST /app/automation` saves the automatic-status switches. Each answers the page again, saying what changed or, with 422, why nothing
//! did. The page's session (a form field) says who the user is.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::post;

use super::input;
use super::page::{PageError, Problem};
use super::session::Session;
use super::state::AppState;
use super::status_page::{Notice, render};
use super::words::{schedule_problem, status_words};
use crate::automation::{MEETING_STATUSES, Settings};
use crate::i18n::Lang;
use crate::schedule::{self, Invalid, Schedule};
use bitrix24::clock::unix_now;
use bitrix24::domain::Status;

/// `POST /app/status`, `POST /app/schedule` and `POST /app/automation`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/app/status", post(set_status))
        .route("/app/schedule", post(change_schedule))
        .route("/app/automation", post(change_automation))
}

/// A form post with a valid session.
pub(super) struct Posted {
    pairs: Vec<(String, String)>,
    pub session: Session,
}

impl Posted {
    /// Reads a form post whose session is valid and still stands for its account (its epoch;
    /// `docs/security.md`, "Sessions"): a page from before a pause, a reinstall or another
    /// sign-in is asked to open the app again.
    pub(super) async fn read(
        state: &AppState,
        headers: &HeaderMap,
        body: &Bytes,
    ) -> Result<Self, PageError> {
        let pairs = input::form_pairs(headers, body)
            .map_err(|_| PageError::new(Problem::BadRequest, Lang::En))?;
        let session = pairs
            .iter()
            .find(|(k, _)| k == "session")
            .map(|(_, v)| v.as_str())
            .unwrap_or_default();
        let session = state
            .sessions
            .verify(session, unix_now())
            .map_err(|error| {
                tracing::info!(%error, "form post without a valid session");
                PageError::new(Problem::SessionExpired, Lang::En)
            })?;
        let span = tracing::Span::current();
        span.record("member_id", tracing::field::display(&session.member_id));
        span.record("user_id", tracing::field::display(session.user_id));
        let stands = state
            .portals
            .session_stands(&session.member_id, session.user_id, session.epoch)
            .await
            .map_err(|refusal| super::refusal::page(refusal, session.lang))?;
        if !stands {
            tracing::info!("a form post from a session that ended");
            return Err(PageError::new(Problem::SessionExpired, session.lang));
        }
        Ok(Self { pairs, session })
    }

    /// The first value of `name`, empty when absent.
    pub(super) fn field(&self, name: &str) -> &str {
        self.all(name).first().copied().unwrap_or_default()
    }

    /// Every value of `name` (the days of a rule come as one field per day).
    fn all(&self, name: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub(super) fn bad(&self) -> PageError {
        PageError::new(Problem::BadRequest, self.session.lang)
    }
}

/// The end of a status chosen for `choice` (`30`, `60`, `120` minutes, or `at:<unix>`), or
/// `None` for good.
fn until(choice: &str, now: i64) -> Result<Option<i64>, ()> {
    match choice {
        "" => Ok(None),
        "30" | "60" | "120" => Ok(Some(now + choice.parse::<i64>().map_err(|_| ())? * 60)),
        _ => choice
            .strip_prefix("at:")
            .and_then(|at| at.parse().ok())
            .map(Some)
            .ok_or(()),
    }
}

/// `POST /app/status` (fields `session`, `status`, optional `for`).
#[tracing::instrument(skip_all, fields(member_id, user_id))]
async fn set_status(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let form = Posted::read(&state, &headers, &body).await?;
    let (lang, t) = (form.session.lang, form.session.lang.text());
    let chosen = Status::parse(form.field("status")).map_err(|_| form.bad())?;
    let until = match until(form.field("for"), state.portals.now()).map_err(|_| form.bad())? {
        Some(until) => Some(state.portals.timer_end(until).ok_or_else(|| form.bad())?),
        None => None,
    };
    let (member_id, user_id) = (&form.session.member_id, form.session.user_id);
    let change = state
        .portals
        .change_from_page(member_id, user_id, Some(chosen), until)
        .await
        .map_err(|refusal| super::refusal::page(refusal, lang))?;
    if let Some(error) = change.refused {
        return Err(super::refusal::page(error, lang));
    }
    let (status_name, _) = status_words(t, change.opened.current);
    let notice = Notice::ok(format!("{} {status_name}", t.saved));
    let session = state.sessions.carry_on(&form.session, unix_now());
    Ok(render(
        &state,
        &change.opened,
        &session,
        lang,
        Some(notice),
        StatusCode::OK,
    ))
}

/// What a schedule form asks for.
enum Edit {
    /// Add this rule (already read), or say why it cannot be one.
    Add(Result<schedule::Rule, Invalid>),
    /// Remove the rule at this place, counted from 1.
    Remove(usize),
    /// Read the rules in the zone of this name.
    Zone(String),
}

impl Edit {
    /// Reads the form's `action`: `add` (fields `days`, `from`, `to`, `status`), `remove`
    /// (field `rule`) or `zone` (field `time_zone`). A form the page never sends is a 400,
    /// before anything is read or called.
    fn read(form: &Posted) -> Result<Self, PageError> {
        match form.field("action") {
            "add" => Ok(Self::Add(
                schedule::RuleShape::new(
                    &form.all("days"),
                    form.field("from"),
                    form.field("to"),
                    form.field("status"),
                )
                .checked(1),
            )),
            "remove" => match form.field("rule").parse() {
                Ok(rule) if rule > 0 => Ok(Self::Remove(rule)),
                _ => Err(form.bad()),
            },
            "zone" => Ok(Self::Zone(form.field("time_zone").to_owned())),
            _ => Err(form.bad()),
        }
    }

    /// `schedule` after this edit, or why the user's input cannot be saved (`None`: a rule that
    /// is not there, which the page never offers).
    fn apply(self, mut schedule: Schedule) -> Option<Result<Schedule, Invalid>> {
        let next = schedule.rules.len() + 1;
        Some(match self {
            Self::Add(rule) => rule
                .and_then(|rule| {
                    schedule.add(rule).map_err(|problem| Invalid {
                        rule: None,
                        field: "days",
                        problem,
                    })
                })
                .map(|()| schedule)
                .map_err(|invalid| Invalid {
                    rule: Some(next),
                    ..invalid
                }),
            Self::Remove(rule) => {
                if rule > schedule.rules.len() {
                    return None;
                }
                schedule.rules.remove(rule - 1);
                Ok(schedule)
            }
            Self::Zone(name) => schedule.in_zone(&name).ok_or(Invalid {
                rule: None,
                field: "time_zone",
                problem: schedule::Problem::Zone,
            }),
        })
    }
}

/// `POST /app/schedule`.
#[tracing::instrument(skip_all, fields(member_id, user_id))]
async fn change_schedule(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let form = Posted::read(&state, &headers, &body).await?;
    let (lang, t) = (form.session.lang, form.session.lang.text());
    let (member_id, user_id) = (&form.session.member_id, form.session.user_id);
    let edit = Edit::read(&form)?;
    let failed = |error| super::refusal::page(error, lang);
    let current = state
        .portals
        .schedule(member_id, user_id)
        .await
        .map_err(failed)?;
    let (notice, status) = match edit.apply(current).ok_or_else(|| form.bad())? {
        Ok(schedule) => {
            state
                .portals
                .save_schedule(member_id, user_id, &schedule)
                .await
                .map_err(failed)?;
            (Notice::ok(t.schedule_saved.to_owned()), StatusCode::OK)
        }
        Err(invalid) => (
            Notice::error(schedule_problem(t, &invalid)),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    };
    let page = state
        .portals
        .change_from_page(member_id, user_id, None, None)
        .await
        .map_err(|refusal| super::refusal::page(refusal, lang))?;
    let session = state.sessions.carry_on(&form.session, unix_now());
    Ok(render(
        &state,
        &page.opened,
        &session,
        lang,
        Some(notice),
        status,
    ))
}

/// `POST /app/automation`: the switches as checkboxes (`meetings`, `working_day`, checked when
/// present) and `meeting_status`; a value the page never sends is a 400.
#[tracing::instrument(skip_all, fields(member_id, user_id))]
async fn change_automation(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let form = Posted::read(&state, &headers, &body).await?;
    let lang = form.session.lang;
    let (member_id, user_id) = (&form.session.member_id, form.session.user_id);
    let meeting_status = Status::parse(form.field("meeting_status"))
        .ok()
        .filter(|s| MEETING_STATUSES.contains(s))
        .ok_or_else(|| form.bad())?;
    let settings = Settings {
        meetings: !form.field("meetings").is_empty(),
        meeting_status,
        working_day: !form.field("working_day").is_empty(),
    };
    let failed = |refusal| super::refusal::page(refusal, lang);
    state
        .portals
        .save_automation(member_id, user_id, &settings)
        .await
        .map_err(failed)?;
    let page = state
        .portals
        .change_from_page(member_id, user_id, None, None)
        .await
        .map_err(failed)?;
    let session = state.sessions.carry_on(&form.session, unix_now());
    let notice = Notice::ok(lang.text().auto_saved.to_owned());
    Ok(render(
        &state,
        &page.opened,
        &session,
        lang,
        Some(notice),
        StatusCode::OK,
    ))
}

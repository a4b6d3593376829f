//! The page's two views, without script: `POST /app/view` (fields `session`, `zone`, `view`
//! — `status` or `team` — and for the board `department`, `q`, `page`) shows "My status" or the
//! team board. A board the portal cannot serve (a scope not granted, a method its REST lacks)
//! still shows the view, saying what the administrator can do.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;

use super::forms::Posted;
use super::page::PageError;
use super::state::AppState;
use super::status_page::Choice;
use super::words::{local_time, status_words, unreadable_text};
use crate::i18n::{Lang, Text};
use crate::portals::{Board, TeamQuery, Unreadable};
use crate::schedule;
use bitrix24::clock::unix_now;
use bitrix24::domain::PortalDomain;

/// `POST /app/view`.
pub fn router() -> Router<AppState> {
    Router::new().route("/app/view", post(view))
}

/// A colleague's row.
struct MemberRow {
    id: u64,
    name: String,
    position: String,
    status: &'static str,
    status_name: &'static str,
    until: Option<String>,
    absent: bool,
    me: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "team.html")]
struct TeamPage<'a> {
    lang: &'a str,
    t: &'static Text,
    css: &'a str,
    bx24_js: &'a str,
    app_js: &'a str,
    session: &'a str,
    renew_in: i64,
    zone: &'a str,
    team_view: bool,
    problem: Option<String>,
    departments: Vec<Choice>,
    everyone: bool,
    search: &'a str,
    members: Vec<MemberRow>,
    page: usize,
    pages: usize,
    pager: Option<String>,
    read_at: Option<String>,
    statuses: Vec<(&'static str, &'static str)>,
}

#[tracing::instrument(skip_all, fields(member_id, user_id))]
async fn view(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let form = Posted::read(&state, &headers, &body).await?;
    let lang = form.session.lang;
    let (member_id, user_id) = (&form.session.member_id, form.session.user_id);
    match form.field("view") {
        "status" => {
            let change = state
                .portals
                .change_from_page(member_id, user_id, None, None)
                .await
                .map_err(|refusal| super::refusal::page(refusal, lang))?;
            let session = state.sessions.carry_on(&form.session, unix_now());
            Ok(super::status_page::render(
                &state,
                &change.opened,
                &session,
                lang,
                None,
                StatusCode::OK,
            ))
        }
        "team" => {
            let query = TeamQuery::parse(
                form.field("department"),
                form.field("q"),
                form.field("page"),
            )
            .map_err(|_| form.bad())?;
            let zone_name = form.field("zone");
            let zone = schedule::zone(zone_name).unwrap_or(jiff::tz::TimeZone::UTC);
            let board = state.portals.board(member_id, user_id, &query).await;
            let (board, problem) = match board.map_err(Unreadable::of) {
                Ok(board) => (Some(board), None),
                Err(Ok(why)) => (None, Some(unreadable_text(lang.text(), why))),
                Err(Err(refusal)) => return Err(super::refusal::page(refusal, lang)),
            };
            let domain = match &board {
                Some(board) => board.domain.clone(),
                None => state
                    .portals
                    .portal_domain(member_id)
                    .await
                    .map_err(|refusal| super::refusal::page(refusal, lang))?,
            };
            Ok(render_team(
                &state,
                &form,
                board.as_ref(),
                problem,
                (zone_name, &zone),
                &domain,
            ))
        }
        _ => Err(form.bad()),
    }
}

fn render_team(
    state: &AppState,
    form: &Posted,
    board: Option<&Board>,
    problem: Option<String>,
    (zone_name, zone): (&str, &jiff::tz::TimeZone),
    domain: &PortalDomain,
) -> Response {
    let lang: Lang = form.session.lang;
    let t = lang.text();
    let now = state.portals.now();
    let session = state.sessions.carry_on(&form.session, unix_now());
    let members = board.map_or_else(Vec::new, |b| {
        b.members
            .iter()
            .map(|m| MemberRow {
                id: m.id.get(),
                name: m.name.clone(),
                position: m.position.clone(),
                status: m.status.as_str(),
                status_name: status_words(t, m.status).0,
                until: m
                    .until
                    .map(|u| t.team_until.replace("{time}", &local_time(t, zone, u, now))),
                absent: m.absent,
                me: m.id == form.session.user_id,
            })
            .collect()
    });
    let departments = board.map_or_else(Vec::new, |b| {
        b.departments
            .iter()
            .map(|d| Choice {
                value: d.id.to_string(),
                label: d.name.clone(),
                on: b.department == Some(d.id),
            })
            .collect()
    });
    let page = TeamPage {
        lang: lang.code(),
        t,
        css: super::assets::url("app.css"),
        bx24_js: state.config.js_url.as_str(),
        app_js: super::assets::url("app.js"),
        session: &session,
        renew_in: super::session::SESSION_TTL_SECS / 2,
        zone: zone_name,
        team_view: true,
        problem,
        everyone: board.is_some_and(|b| b.department.is_none()),
        departments,
        search: board.map_or("", |b| b.search.as_str()),
        members,
        page: board.map_or(1, |b| b.page),
        pages: board.map_or(1, |b| b.pages),
        pager: board.filter(|b| b.pages > 1).map(|b| {
            t.team_page
                .replace("{page}", &b.page.to_string())
                .replace("{pages}", &b.pages.to_string())
        }),
        read_at: board.map(|b| {
            t.team_read_at
                .replace("{time}", &local_time(t, zone, b.read_at, now))
        }),
        statuses: bitrix24::domain::Status::ALL
            .into_iter()
            .map(|s| (s.as_str(), status_words(t, s).0))
            .collect(),
    };
    let mut response = (StatusCode::OK, page).into_response();
    super::security::framed_page_headers(response.headers_mut(), &state.config, domain);
    response
}

//! `POST /app`: the app's page inside the portal (`PLACEMENT=DEFAULT` and every bound
//! placement), and `POST /app/status`, the same page's form when no script runs.
//!
//! What happens is the use case's ([`crate::portals::Portals::open`]); this module reads the
//! request and renders the page.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;

use super::client_ip::ClientIp;
use super::extract::Frame;
use super::input;
use super::page::{PageError, Problem};
use super::state::AppState;
use crate::clock::unix_now;
use crate::domain::Status;
use crate::i18n::{Lang, Text};
use crate::portals::{Opened, Timer};

/// `POST /app` and `POST /app/status`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/app", post(open))
        .route("/app/status", post(set_without_script))
}

/// One status button.
struct StatusOption {
    value: &'static str,
    name: &'static str,
    about: &'static str,
    current: bool,
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
    pub(super) user_name: &'a str,
    options: Vec<StatusOption>,
    pub(super) message: Option<String>,
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

fn status_words(t: &'static Text, s: Status) -> (&'static str, &'static str) {
    match s {
        Status::Online => (t.status_online, t.status_online_about),
        Status::Dnd => (t.status_dnd, t.status_dnd_about),
        Status::Away => (t.status_away, t.status_away_about),
        Status::Break => (t.status_break, t.status_break_about),
    }
}

/// What the page says about a timed status the app could not restore.
fn missed_notice(t: &'static Text, timer: &Timer) -> String {
    let time = jiff::Timestamp::from_second(timer.until)
        .map(|at| at.strftime("%H:%M").to_string())
        .unwrap_or_default();
    t.missed_restore
        .replace("{status}", status_words(t, timer.status).0)
        .replace("{then}", status_words(t, timer.then).0)
        .replace("{time}", &time)
}

/// The status page for `opened`, with a fresh session and the portal's framing headers.
pub(super) fn render(
    state: &AppState,
    opened: &Opened,
    lang: Lang,
    message: Option<String>,
) -> Response {
    let t = lang.text();
    let message = message.or_else(|| opened.missed.as_ref().map(|timer| missed_notice(t, timer)));
    let portal = &opened.portal.record;
    let session = state
        .sessions
        .issue(&portal.member_id, opened.user_id, lang, unix_now());
    let page = StatusPage {
        lang: lang.code(),
        t,
        css: super::assets::url("app.css"),
        bx24_js: state.config.js_url.as_str(),
        app_js: super::assets::url("app.js"),
        session: &session,
        user_name: &opened.user_name,
        options: options(t, opened.current),
        message,
    };
    let mut response = page.into_response();
    let headers = response.headers_mut();
    let csp = super::security::page_csp(&state.config, &portal.domain);
    if let Ok(value) = HeaderValue::from_str(&csp) {
        headers.insert(header::CONTENT_SECURITY_POLICY, value);
    }
    super::security::page_headers(headers);
    response
}

#[tracing::instrument(skip_all, fields(member_id, user_id, placement))]
async fn open(
    State(state): State<AppState>,
    from: ClientIp,
    Frame { post: frame, lang }: Frame,
) -> Result<Response, PageError> {
    let span = tracing::Span::current();
    span.record("member_id", tracing::field::display(&frame.member_id));
    span.record("placement", frame.placement.as_str());
    let opened = state
        .portals
        .open(&frame, from.0)
        .await
        .map_err(|refusal| super::refusal::refused(refusal, lang))?;
    Ok(render(&state, &opened, lang, None))
}

/// `POST /app/status` (form fields `session`, `status`): sets the status, then shows the page
/// again with what Bitrix24 now says, in one `batch` round trip.
#[tracing::instrument(skip_all, fields(member_id, user_id))]
async fn set_without_script(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let form = input::form_pairs(&headers, &body)
        .map_err(|_| PageError::new(Problem::BadRequest, Lang::En))?;
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let session = state
        .sessions
        .verify(field("session").unwrap_or_default(), unix_now())
        .map_err(|error| {
            tracing::info!(%error, "form post without a valid session");
            PageError::new(Problem::SessionExpired, Lang::En)
        })?;
    let lang = session.lang;
    let chosen = Status::parse(field("status").unwrap_or_default())
        .map_err(|_| PageError::new(Problem::BadRequest, lang))?;
    let span = tracing::Span::current();
    span.record("member_id", tracing::field::display(&session.member_id));
    span.record("user_id", tracing::field::display(session.user_id));

    let change = state
        .portals
        .change_from_page(&session.member_id, session.user_id, chosen)
        .await
        .map_err(|refusal| super::refusal::refused(refusal, lang))?;
    if let Some(error) = change.refused {
        return Err(super::refusal::call_failed(&error, lang));
    }
    let (status_name, _) = status_words(lang.text(), change.opened.current);
    let message = format!("{} {status_name}", lang.text().saved);
    Ok(render(&state, &change.opened, lang, Some(message)))
}

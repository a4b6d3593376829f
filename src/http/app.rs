//! `POST /app`: the app's page inside the portal (`PLACEMENT=DEFAULT` and every bound
//! placement), and `POST /app/status`, the same page's form when no script runs.
//!
//! The frame POST is checked against what we stored at install: the `member_id` must be an
//! active portal and `DOMAIN` its domain. One `batch` call to the stored `client_endpoint`
//! (never a host from the request) confirms `AUTH_ID`, names the user (`profile`) and reads
//! their status; the user's tokens are then stored for the API.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;

use super::client_ip::ClientIp;
use super::error::ApiError;
use super::input;
use super::page::{PageError, Problem};
use super::state::AppState;
use crate::bitrix::batch::{self, BatchAnswer};
use crate::bitrix::status::{self, PageRead};
use crate::bitrix::verify::{self, VerifyError};
use crate::clock::unix_now;
use crate::domain::{MemberId, Status, UserId};
use crate::i18n::{Lang, Text};
use crate::store::{AccountRecord, Portal, PortalState, Tokens};
use crate::tokens::{CallError, Repeat};

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

/// What a rendered page shows.
pub(super) struct View<'a> {
    pub(super) lang: Lang,
    pub(super) portal: &'a Portal,
    pub(super) user_id: UserId,
    pub(super) user_name: &'a str,
    pub(super) current: Status,
    pub(super) message: Option<String>,
}

/// The status page for `view`, with a fresh session and the portal's framing headers.
pub(super) fn render(state: &AppState, view: View<'_>) -> Response {
    let t = view.lang.text();
    let session = state.sessions.issue(
        &view.portal.record.member_id,
        view.user_id,
        view.lang,
        unix_now(),
    );
    let page = StatusPage {
        lang: view.lang.code(),
        t,
        css: super::assets::url("app.css"),
        bx24_js: state.config.js_url.as_str(),
        app_js: super::assets::url("app.js"),
        session: &session,
        user_name: view.user_name,
        options: options(t, view.current),
        message: view.message,
    };
    let mut response = page.into_response();
    let headers = response.headers_mut();
    let csp = super::security::page_csp(&state.config, &view.portal.record.domain);
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
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let (frame, lang) = input::read_frame(&uri, &headers, &body)?;
    let refuse = |problem| PageError::new(problem, lang);
    let span = tracing::Span::current();
    span.record("member_id", tracing::field::display(&frame.member_id));
    span.record("placement", frame.placement.as_str());
    let refresh = frame
        .refresh
        .clone()
        .ok_or_else(|| refuse(Problem::BadRequest))?;
    if state
        .oauth
        .server_endpoint(frame.server_endpoint.as_ref())
        .is_none()
    {
        tracing::warn!("frame POST names an OAuth server off the allowlist");
        return Err(refuse(Problem::NotVerified));
    }

    let mut portal = state
        .store
        .portal(&frame.member_id)
        .await
        .map_err(|error| PageError::internal(lang, &error))?
        .filter(|p| p.record.state != PortalState::New)
        .ok_or_else(|| refuse(Problem::NotInstalled))?;
    if portal.removing_since.is_some() {
        return Err(refuse(Problem::BeingRemoved));
    }
    if let Err(wait) = state.gate.check(&frame.member_id, from.0) {
        return Err(refuse(Problem::RateLimited(wait.as_secs().max(1))));
    }
    let deleted = portal.record.state == PortalState::Deleted;
    if let (Some(sent), Some(stored)) = (&frame.application_token, &portal.record.application_token)
        && !stored.matches(sent.expose())
    {
        // After a real reinstall the token is new, and only the administrator's install POST
        // may tell us so; otherwise someone is lying.
        tracing::warn!("frame POST carries another application token");
        return Err(refuse(if deleted {
            Problem::NotInstalled
        } else {
            Problem::NotVerified
        }));
    }
    if deleted || portal.record.domain != frame.domain {
        // A renamed portal, a portal we took for uninstalled (every pair refused), or a lie:
        // only the OAuth server can tell which.
        let verified = verify::verify(
            &state.oauth,
            &portal.record.server_endpoint,
            &frame.access,
            &frame.member_id,
            &frame.domain,
            state.config.allow_http,
        )
        .await
        .map_err(|error| {
            tracing::warn!(claimed = %frame.domain, %error, "the OAuth server did not confirm a frame POST");
            unverified(&state, &frame.member_id, from, &error, lang)
        })?;
        portal.record.domain = frame.domain.clone();
        portal.record.client_endpoint = verified.client_endpoint;
        portal.record.state = PortalState::Active;
        state
            .store
            .upsert_portal(&portal.record, unix_now())
            .await
            .map_err(|error| PageError::internal(lang, &error))?;
        tracing::info!(domain = %frame.domain, reactivated = deleted, "the OAuth server confirmed the portal's address");
    }
    let answer = state
        .tokens
        .call_with_token::<BatchAnswer>(
            &frame.member_id,
            &portal.record.client_endpoint,
            &frame.access,
            batch::METHOD,
            status::page_batch(None),
            Repeat::Safe,
        )
        .await
        .map_err(|error| {
            let page = page_error(&error, lang);
            if page.problem() == Problem::TokenRejected {
                state.gate.charge(&frame.member_id, from.0);
            }
            page
        })?;
    let page = PageRead::from_answer(&answer);
    let Some((user_id, profile)) = page.profile.and_then(|p| Some((p.user_id()?, p))) else {
        tracing::warn!(error = ?page.profile_refused, "the portal did not confirm the frame's token");
        state.gate.charge(&frame.member_id, from.0);
        return Err(refuse(Problem::TokenRejected));
    };
    span.record("user_id", tracing::field::display(user_id));
    let current = page.status.unwrap_or(Status::Online);

    let now = unix_now();
    let account = AccountRecord {
        member_id: frame.member_id.clone(),
        user_id,
        is_admin: profile.admin,
        is_installer: false,
        tokens: Tokens {
            access: frame.access.clone(),
            refresh,
            expires_at: now + i64::try_from(frame.expires_in).unwrap_or(3600),
        },
    };
    state
        .tokens
        .save_account(&account, now)
        .await
        .map_err(|error| PageError::internal(lang, &error))?;
    Ok(render(
        &state,
        View {
            lang,
            portal: &portal,
            user_id,
            user_name: &profile.display_name(),
            current,
            message: None,
        },
    ))
}

/// The page for a token the OAuth server did not confirm; a refusal is charged to the
/// verification budgets of the portal and the address.
pub(super) fn unverified(
    state: &AppState,
    member_id: &MemberId,
    from: ClientIp,
    error: &VerifyError,
    lang: Lang,
) -> PageError {
    match error {
        VerifyError::Refused(_) => {
            state.gate.charge(member_id, from.0);
            PageError::new(Problem::NotVerified, lang)
        }
        VerifyError::Unavailable(_) => PageError::new(Problem::Unavailable, lang),
    }
}

/// The page for a failed call made with a token the portal just handed us.
pub(super) fn page_error(error: &CallError, lang: Lang) -> PageError {
    tracing::warn!(%error, "opening the app failed");
    let problem = match error {
        CallError::Bitrix(crate::bitrix::Error::Api { status, code, .. })
            if status.as_u16() == 401 || code.is_auth_failure() =>
        {
            Problem::TokenRejected
        }
        _ => ApiError::from_call(error, lang).problem(),
    };
    PageError::new(problem, lang)
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

    let answer = state
        .tokens
        .call::<BatchAnswer>(
            &session.member_id,
            session.user_id,
            batch::METHOD,
            status::page_batch(Some(chosen)),
            Repeat::Safe,
        )
        .await
        .map_err(|error| PageError::new(ApiError::from_call(&error, lang).problem(), lang))?;
    let page = PageRead::from_answer(&answer);
    if let Some(code) = page.set_refused {
        tracing::warn!(code = code.as_str(), "the portal refused the status");
        let error = CallError::Bitrix(crate::bitrix::Error::Api {
            status: reqwest::StatusCode::BAD_REQUEST,
            code,
            description: String::new(),
            retry_after: None,
        });
        return Err(PageError::new(
            ApiError::from_call(&error, lang).problem(),
            lang,
        ));
    }
    let portal = load_portal(&state, &session.member_id, lang).await?;
    let current = page.status.unwrap_or(chosen);
    let name = page.profile.map(|p| p.display_name()).unwrap_or_default();
    let (status_name, _) = status_words(lang.text(), current);
    Ok(render(
        &state,
        View {
            lang,
            portal: &portal,
            user_id: session.user_id,
            user_name: &name,
            current,
            message: Some(format!("{} {status_name}", lang.text().saved)),
        },
    ))
}

async fn load_portal(
    state: &AppState,
    member_id: &MemberId,
    lang: Lang,
) -> Result<Portal, PageError> {
    state
        .store
        .portal(member_id)
        .await
        .map_err(|error| PageError::internal(lang, &error))?
        .filter(|p| p.record.state == PortalState::Active)
        .ok_or_else(|| PageError::new(Problem::NotInstalled, lang))
        .and_then(|p| match p.removing_since {
            Some(_) => Err(PageError::new(Problem::BeingRemoved, lang)),
            None => Ok(p),
        })
}

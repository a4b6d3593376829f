//! `POST /app`: the app's page inside the portal (`PLACEMENT=DEFAULT` and every bound
//! placement). The page's forms without script are `forms.rs`; the page itself
//! `status_page.rs`.
//!
//! What happens is the use case's ([`crate::portals::Portals::open`]); this module reads the
//! request and renders the page.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::post;

use super::client_ip::ClientIp;
use super::extract::Frame;
use super::page::PageError;
use super::state::AppState;

/// `POST /app`, and the page's forms.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/app", post(open))
        .merge(super::forms::router())
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
        .map_err(|refusal| super::refusal::page(refusal, lang))?;
    let session = super::status_page::begin(&state, &opened, lang)?;
    Ok(super::status_page::render(
        &state,
        &opened,
        &session,
        lang,
        None,
        StatusCode::OK,
    ))
}

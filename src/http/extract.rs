//! Extractors, so a handler starts from checked values: the frame POST a portal sends (with the
//! language its error pages use) and the API's bearer session. Each refuses with the answer its
//! route gives: a readable page for the frame, JSON for the API.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};

use super::code::Code;
use super::error::ApiError;
use super::input;
use super::session::Session;
use super::state::AppState;
use crate::i18n::Lang;
use bitrix24::clock::unix_now;
use bitrix24::frame::FramePost;

/// A frame POST (install, app page, placement), and the language of its pages.
pub struct Frame {
    /// The parsed POST; nothing in it is trusted yet.
    pub post: FramePost,
    /// The portal user's language.
    pub lang: Lang,
}

impl FromRequest<AppState> for Frame {
    /// A readable page, or the body's own refusal (too large: 413).
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (parts, body) = request.into_parts();
        let body = Bytes::from_request(Request::from_parts(parts.clone(), body), state)
            .await
            .map_err(IntoResponse::into_response)?;
        let (post, lang) = input::read_frame(&parts.uri, &parts.headers, &body)
            .map_err(IntoResponse::into_response)?;
        Ok(Self { post, lang })
    }
}

/// The session of an API call (`Authorization: Bearer …`).
pub struct Authed(pub Session);

impl FromRequestParts<AppState> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        // Before the session is known, messages are English.
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| ApiError::new(Code::InvalidSession, Lang::En))?;
        let session = state
            .sessions
            .verify(token.trim(), unix_now())
            .map_err(|error| {
                tracing::info!(%error, "API call without a valid session");
                ApiError::new(Code::InvalidSession, Lang::En)
            })?;
        Ok(Self(session))
    }
}

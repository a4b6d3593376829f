//! `POST /install`: the portal's install POST (`docs/bitrix24.md`, "Installation"). The token
//! is verified with the portal's OAuth server (named by `SERVER_ENDPOINT`, trusted only when
//! on the allowlist) before anything is written; then the portal and its installing
//! administrator are stored in one transaction, the app's placements and event handlers are
//! bound with the administrator's token, and the answer is a page that calls
//! `BX24.installFinish()` and names any placement the portal refused.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;

use super::client_ip::ClientIp;
use super::extract::Frame;
use super::page::PageError;
use super::state::AppState;
use crate::i18n::Text;
use bitrix24::bindings::extra_scope;

/// `POST /install`.
pub fn router() -> Router<AppState> {
    Router::new().route("/install", post(install))
}

#[derive(Template, WebTemplate)]
#[template(path = "install.html")]
struct InstallPage<'a> {
    lang: &'a str,
    t: &'static Text,
    css: &'a str,
    bx24_js: &'a str,
    install_js: &'a str,
    /// Sentences about placements the portal refused, for the administrator.
    refused: Vec<String>,
}

#[tracing::instrument(skip_all, fields(member_id, user_id))]
async fn install(
    State(state): State<AppState>,
    from: ClientIp,
    Frame { post: frame, lang }: Frame,
) -> Result<Response, PageError> {
    tracing::Span::current().record("member_id", tracing::field::display(&frame.member_id));
    let refused = state
        .portals
        .install(&frame, from.0)
        .await
        .map_err(|refusal| super::refusal::page(refusal, lang))?;

    let t = lang.text();
    let refused = refused
        .iter()
        .map(|(placement, code)| {
            let mut sentence = t
                .install_placement_refused
                .replace("{placement}", placement)
                .replace("{code}", code.as_str());
            if let Some(scope) = extra_scope(placement) {
                sentence.push(' ');
                sentence.push_str(&t.install_scope_hint.replace("{scope}", scope));
            }
            sentence
        })
        .collect();
    let config = &state.config;
    let page = InstallPage {
        lang: lang.code(),
        t,
        css: super::assets::url("app.css"),
        bx24_js: config.js_url.as_str(),
        install_js: super::assets::url("install.js"),
        refused,
    };
    let mut response = page.into_response();
    let csp = super::security::page_csp(config, &frame.domain);
    if let Ok(value) = HeaderValue::from_str(&csp) {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, value);
    }
    Ok(response)
}

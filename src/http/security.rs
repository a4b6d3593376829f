//! Response headers for pages shown inside the portal (`docs/bitrix24.md`, "Security"): a CSP that
//! lets exactly that portal frame us and runs only our scripts and Bitrix24's library.

use axum::http::{HeaderMap, HeaderValue, header};

use crate::config::Config;
use bitrix24::domain::PortalDomain;

/// The `Content-Security-Policy` of a page framed by the portal at `domain`.
pub fn page_csp(config: &Config, domain: &PortalDomain) -> String {
    let portal = if config.allow_http && domain.is_loopback() {
        format!("http://{domain}")
    } else {
        format!("https://{domain}")
    };
    let bx24 = config.js_url.origin().ascii_serialization();
    format!(
        "default-src 'none'; script-src 'self' {bx24}; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors {portal}"
    )
}

/// The other headers of a page that carries a session: never cached, never leaking its URL,
/// never sniffed. No `X-Frame-Options`: the CSP's `frame-ancestors` decides who may frame it.
pub fn page_headers(headers: &mut HeaderMap) {
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

/// Both: the portal's CSP and the headers of a page that carries a session.
pub fn framed_page_headers(headers: &mut HeaderMap, config: &Config, domain: &PortalDomain) {
    if let Ok(value) = HeaderValue::from_str(&page_csp(config, domain)) {
        headers.insert(header::CONTENT_SECURITY_POLICY, value);
    }
    page_headers(headers);
}

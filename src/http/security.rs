//! Response headers for pages shown inside the portal (protocol doc §7 "Framing"): a CSP that
//! lets exactly that portal frame us and runs only our scripts and Bitrix24's library.

use crate::Config;
use crate::bitrix::types::PortalDomain;

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

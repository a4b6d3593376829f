//! The POST a portal sends to the installer, the app page and every placement handler
//! (`docs/bitrix24.md`, "Installation"), parsed into checked values. Nothing in it is trusted until
//! the token has been checked with a trusted host.

use std::collections::HashSet;

use serde_json::{Map, Value};

use crate::domain::{
    AccessToken, ApplicationToken, InvalidValue, Licence, MemberId, PortalDomain, RefreshToken,
};

/// Why a frame POST was refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// A required field is absent or empty.
    #[error("the field {0} is missing")]
    Missing(&'static str),
    /// A field appears twice.
    #[error("the field {0} appears more than once")]
    Duplicated(String),
    /// A field does not parse.
    #[error(transparent)]
    Invalid(#[from] InvalidValue),
}

/// A parsed frame POST.
#[derive(Debug, Clone)]
pub struct FramePost {
    /// `DOMAIN`: the portal's host as the browser claims it.
    pub domain: PortalDomain,
    /// `member_id`.
    pub member_id: MemberId,
    /// `LANG`, reduced to a short code (`en` when absent or odd).
    pub lang: String,
    /// `AUTH_ID`: the current user's access token.
    pub access: AccessToken,
    /// `REFRESH_ID`, when sent.
    pub refresh: Option<RefreshToken>,
    /// `AUTH_EXPIRES` in seconds (3600 when absent).
    pub expires_in: u64,
    /// `APPLICATION_TOKEN`, documented only since 2026 (optional). Every employee who opens
    /// the app sees it, so it proves nothing on its own.
    pub application_token: Option<ApplicationToken>,
    /// `SERVER_ENDPOINT`: the OAuth server that issued the tokens (optional; trusted only when
    /// it is on the allowlist).
    pub server_endpoint: Option<url::Url>,
    /// `status`: the portal's licence, not a messenger status.
    pub licence: Option<Licence>,
    /// `PLACEMENT` (`DEFAULT` for the main page and the installer).
    pub placement: String,
    /// `PLACEMENT_OPTIONS` as an object (`{}` when absent or not an object).
    pub placement_options: Map<String, Value>,
}

impl FramePost {
    /// Parses the query string's and the body's decoded pairs together.
    pub fn parse(
        query: &[(String, String)],
        body: &[(String, String)],
    ) -> Result<Self, FrameError> {
        let mut seen = HashSet::new();
        for (key, _) in query.iter().chain(body) {
            if !seen.insert(key.as_str()) {
                return Err(FrameError::Duplicated(key.chars().take(40).collect()));
            }
        }
        let get = |name: &str| {
            query
                .iter()
                .chain(body)
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.trim())
                .filter(|v| !v.is_empty())
        };
        let domain = PortalDomain::parse(get("DOMAIN").ok_or(FrameError::Missing("DOMAIN"))?)?;
        let member_id = MemberId::parse(get("member_id").ok_or(FrameError::Missing("member_id"))?)?;
        let access = AccessToken::parse(get("AUTH_ID").ok_or(FrameError::Missing("AUTH_ID"))?)?;
        let refresh = get("REFRESH_ID").map(RefreshToken::parse).transpose()?;
        let application_token = get("APPLICATION_TOKEN")
            .map(ApplicationToken::parse)
            .transpose()?;
        let licence = get("status").and_then(|s| Licence::parse(s).ok());
        let server_endpoint = get("SERVER_ENDPOINT")
            .map(|raw| {
                url::Url::parse(raw)
                    .map_err(|_| InvalidValue::new("SERVER_ENDPOINT", "must be a URL"))
            })
            .transpose()?;
        let expires_in = get("AUTH_EXPIRES")
            .and_then(|s| s.parse::<u64>().ok())
            .filter(|s| (60..=86_400).contains(s))
            .unwrap_or(3600);
        let lang = get("LANG")
            .filter(|l| {
                l.len() <= 10
                    && l.bytes()
                        .all(|b| b.is_ascii_alphabetic() || b == b'-' || b == b'_')
            })
            .unwrap_or("en")
            .to_ascii_lowercase();
        let placement = get("PLACEMENT").unwrap_or("DEFAULT");
        if placement.len() > 64
            || !placement
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            return Err(InvalidValue::new("PLACEMENT", "must be a placement code").into());
        }
        // Bitrix24 sends a JSON string; PHP maps "undefined" to [] (`docs/bitrix24.md`,
        // "Placements").
        let placement_options = get("PLACEMENT_OPTIONS")
            .and_then(|raw| serde_json::from_str::<Value>(raw).ok())
            .and_then(|v| match v {
                Value::Object(map) => Some(map),
                _ => None,
            })
            .unwrap_or_default();
        Ok(Self {
            domain,
            member_id,
            lang,
            access,
            refresh,
            expires_in,
            application_token,
            server_endpoint,
            licence,
            placement: placement.to_ascii_uppercase(),
            placement_options,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    const MEMBER: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn a_documented_frame_post_parses() {
        let query = pairs(&[
            ("DOMAIN", "acme.bitrix24.com"),
            ("PROTOCOL", "1"),
            ("LANG", "ru"),
            ("APP_SID", "x"),
        ]);
        let body = pairs(&[
            ("AUTH_ID", "tok"),
            ("AUTH_EXPIRES", "3600"),
            ("REFRESH_ID", "ref"),
            ("member_id", MEMBER),
            ("status", "P"),
            ("PLACEMENT", "IM_NAVIGATION"),
            ("PLACEMENT_OPTIONS", r#"{"URI":"/online/"}"#),
        ]);
        let frame = FramePost::parse(&query, &body).expect("parses");
        assert_eq!(frame.domain.as_str(), "acme.bitrix24.com");
        assert_eq!(frame.lang, "ru");
        assert_eq!(frame.access.expose(), "tok");
        assert_eq!(frame.refresh.expect("refresh").expose(), "ref");
        assert_eq!(frame.placement, "IM_NAVIGATION");
        assert_eq!(frame.placement_options["URI"], "/online/");
        assert!(frame.application_token.is_none(), "optional field");
    }

    #[test]
    fn missing_duplicated_and_malformed_fields_are_refused() {
        let ok_query = pairs(&[("DOMAIN", "acme.bitrix24.com")]);
        let ok_body = pairs(&[("AUTH_ID", "tok"), ("member_id", MEMBER)]);
        assert!(FramePost::parse(&ok_query, &ok_body).is_ok());
        assert_eq!(
            FramePost::parse(&[], &ok_body).map(|_| ()),
            Err(FrameError::Missing("DOMAIN"))
        );
        let dup = pairs(&[("DOMAIN", "acme.bitrix24.com"), ("DOMAIN", "evil.example")]);
        assert!(matches!(
            FramePost::parse(&dup, &ok_body),
            Err(FrameError::Duplicated(_))
        ));
        let evil = pairs(&[("DOMAIN", "evil.example/rest?")]);
        assert!(matches!(
            FramePost::parse(&evil, &ok_body),
            Err(FrameError::Invalid(_))
        ));
        let odd = pairs(&[
            ("AUTH_ID", "tok"),
            ("member_id", MEMBER),
            ("PLACEMENT_OPTIONS", "undefined"),
            ("LANG", "<b>"),
        ]);
        let frame = FramePost::parse(&ok_query, &odd).expect("tolerant");
        assert!(frame.placement_options.is_empty());
        assert_eq!(frame.lang, "en");
    }
}

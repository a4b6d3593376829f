//! Verifying that a token from an install POST, a frame POST or an event really belongs to
//! our app on the portal it claims, by asking the configured OAuth server — never the
//! `DOMAIN` from the request (`docs/bitrix24.md`, "Installation").

use serde::Deserialize;
use url::Url;

use super::Error;
use super::oauth::OAuthClient;
use super::wire::lenient_u64;
use crate::domain::{AccessToken, MemberId, PortalDomain, UserId};

/// What the OAuth server confirmed.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The user the token belongs to.
    pub user_id: UserId,
    /// The portal's REST endpoint, from the OAuth server, checked against the domain.
    pub client_endpoint: Url,
    /// Granted scopes.
    pub scope: String,
    /// The installed version of the app.
    pub version: Option<i64>,
}

/// Why verification failed.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The token is not ours, not valid, or not for that portal: refuse.
    #[error("not verified: {0}")]
    Refused(String),
    /// The OAuth server did not answer usefully: try again later.
    #[error("could not verify: {0}")]
    Unavailable(Error),
}

/// Checks `access` with `app.info` on the OAuth server `server` (an allowlisted REST
/// endpoint): issued to `client_id`, for `member_id`, on `domain`. `allow_http` admits
/// `http://` and loopback endpoints (development).
pub async fn verify(
    oauth: &OAuthClient,
    server: &Url,
    access: &AccessToken,
    member_id: &MemberId,
    domain: &PortalDomain,
    allow_http: bool,
) -> Result<Verified, VerifyError> {
    let caller = super::Caller {
        member_id,
        user_id: None,
    };
    let info = match oauth.app_info(caller, server, access).await {
        Ok(info) => info,
        // An outage (a timeout, a 5xx page, a rate limit) says nothing about the token.
        Err(error)
            if error.is_transient()
                || matches!(error, Error::Unexpected { status, .. } if status.as_u16() == 429) =>
        {
            return Err(VerifyError::Unavailable(error));
        }
        Err(error) => return Err(VerifyError::Refused(error.to_string())),
    };
    let refuse = |why: &str| Err(VerifyError::Refused(why.to_owned()));
    if info.client_id != oauth.client_id() {
        return refuse("token issued to another app");
    }
    if MemberId::parse(&info.install.member_id).ok().as_ref() != Some(member_id) {
        return refuse("token belongs to another portal");
    }
    if PortalDomain::parse(&info.install.domain).ok().as_ref() != Some(domain) {
        return refuse("domain does not match the portal's");
    }
    let Some(user_id) = info.user_id.and_then(|id| UserId::new(id).ok()) else {
        return refuse("no user in the token");
    };
    let client_endpoint = trusted_endpoint(&info.install.client_endpoint, domain, allow_http)
        .map_err(|why| VerifyError::Refused(why.to_owned()))?;
    Ok(Verified {
        user_id,
        client_endpoint,
        scope: info.install.scope.unwrap_or_default(),
        version: info.install.version.and_then(|v| i64::try_from(v).ok()),
    })
}

/// The portal's REST endpoint, accepted only if it is on the verified domain, over https
/// (unless development allows http), and not a loopback address in production.
pub fn trusted_endpoint(
    raw: &str,
    domain: &PortalDomain,
    allow_http: bool,
) -> Result<Url, &'static str> {
    let url = Url::parse(raw).map_err(|_| "client_endpoint is not a URL")?;
    match url.scheme() {
        "https" => {}
        "http" if allow_http => {}
        _ => return Err("client_endpoint is not https"),
    }
    let host = url.host_str().ok_or("client_endpoint has no host")?;
    let authority = match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    };
    if !authority.eq_ignore_ascii_case(domain.as_str()) {
        return Err("client_endpoint is not on the portal's domain");
    }
    if domain.is_loopback() && !allow_http {
        return Err("loopback portals are refused outside development");
    }
    if !url.path().ends_with("/rest/") || url.query().is_some() {
        return Err("client_endpoint is not a REST endpoint");
    }
    Ok(url)
}

/// The `profile` method's answer (`docs/bitrix24.md`, "Status methods"): who the token's user is.
#[derive(Debug, Clone, Deserialize)]
pub struct Profile {
    /// User id.
    #[serde(rename = "ID", deserialize_with = "lenient_u64")]
    pub id: Option<u64>,
    /// Whether the user administers the portal (installs apps, grants scopes).
    #[serde(rename = "ADMIN", default)]
    pub admin: bool,
    /// First name.
    #[serde(rename = "NAME", default)]
    pub name: Option<String>,
    /// Last name.
    #[serde(rename = "LAST_NAME", default)]
    pub last_name: Option<String>,
    /// The user's time zone (an IANA name), empty when they never chose one.
    #[serde(rename = "TIME_ZONE", default)]
    pub time_zone: Option<String>,
}

/// The method that names the token's user (scope `basic`).
pub const PROFILE: &str = "profile";

impl Profile {
    /// The user's id, if the portal sent a valid one.
    pub fn user_id(&self) -> Option<UserId> {
        self.id.and_then(|id| UserId::parse(&id.to_string()).ok())
    }

    /// "First Last", or the id when the portal keeps names from us.
    pub fn display_name(&self) -> String {
        let name = [self.name.as_deref(), self.last_name.as_deref()]
            .into_iter()
            .flatten()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        if name.is_empty() {
            format!("#{}", self.id.unwrap_or_default())
        } else {
            name
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_must_sit_on_the_verified_domain() {
        let domain = PortalDomain::parse("acme.bitrix24.com").expect("domain");
        assert!(trusted_endpoint("https://acme.bitrix24.com/rest/", &domain, false).is_ok());
        for bad in [
            "http://acme.bitrix24.com/rest/",
            "https://evil.example/rest/",
            "https://acme.bitrix24.com.evil.example/rest/",
            "https://acme.bitrix24.com/other/",
            "https://acme.bitrix24.com:8443/rest/",
            "not a url",
        ] {
            assert!(
                trusted_endpoint(bad, &domain, false).is_err(),
                "{bad} accepted"
            );
        }
        let local = PortalDomain::parse("127.0.0.1:9000").expect("domain");
        assert!(trusted_endpoint("http://127.0.0.1:9000/rest/", &local, true).is_ok());
        assert!(trusted_endpoint("https://127.0.0.1:9000/rest/", &local, false).is_err());
    }

    #[test]
    fn display_names_fall_back_to_the_id() {
        let named: Profile =
            serde_json::from_str(r#"{"ID":"7","ADMIN":true,"NAME":"Anna","LAST_NAME":"Admin"}"#)
                .expect("json");
        assert_eq!(named.display_name(), "Anna Admin");
        assert!(named.admin);
        let bare: Profile = serde_json::from_str(r#"{"ID":7}"#).expect("json");
        assert_eq!(bare.display_name(), "#7");
    }
}

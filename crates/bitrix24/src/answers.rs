//! What Bitrix24's OAuth servers answer: the token endpoint's pair (with the fields Bitrix24
//! adds, in the shape the `oauth2` crate takes) and `app.info`'s trusted facts.

use std::time::Duration;

use oauth2::basic::BasicTokenType;
use oauth2::{Scope, TokenResponse};
use serde::{Deserialize, Serialize};
use url::Url;

use super::error::Error;
use super::wire::lenient_u64;
use crate::clock::unix_now;
use crate::domain::{AccessToken, Licence, MemberId, RefreshToken, UserId};

/// The token endpoint's answer as Bitrix24 writes it.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct BitrixTokenResponse {
    access_token: oauth2::AccessToken,
    refresh_token: Option<oauth2::RefreshToken>,
    #[serde(default, deserialize_with = "lenient_u64")]
    expires_in: Option<u64>,
    #[serde(default, deserialize_with = "lenient_u64")]
    expires: Option<u64>,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    member_id: Option<String>,
    #[serde(default)]
    client_endpoint: Option<String>,
    #[serde(default)]
    server_endpoint: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default, deserialize_with = "lenient_u64")]
    user_id: Option<u64>,
    /// Bitrix24 sends no `token_type`; every token is a bearer token.
    #[serde(skip, default = "bearer")]
    token_type: BasicTokenType,
}

fn bearer() -> BasicTokenType {
    BasicTokenType::Bearer
}

impl TokenResponse for BitrixTokenResponse {
    type TokenType = BasicTokenType;

    fn access_token(&self) -> &oauth2::AccessToken {
        &self.access_token
    }
    fn token_type(&self) -> &BasicTokenType {
        &self.token_type
    }
    fn expires_in(&self) -> Option<Duration> {
        self.expires_in.map(Duration::from_secs)
    }
    fn refresh_token(&self) -> Option<&oauth2::RefreshToken> {
        self.refresh_token.as_ref()
    }
    fn scopes(&self) -> Option<&Vec<Scope>> {
        // Bitrix24 separates scopes with commas, which oauth2's space-split would garble;
        // callers read `Grant::scope` instead.
        None
    }
}

/// A fresh token pair and what Bitrix24 said about it.
#[derive(Debug)]
pub struct Grant {
    /// The new access token.
    pub access: AccessToken,
    /// The new refresh token; the one used to obtain it is now dead.
    pub refresh: RefreshToken,
    /// Unix seconds after which the access token is expired.
    pub expires_at: i64,
    /// The portal the tokens belong to.
    pub member_id: MemberId,
    /// The user, when the server says (refresh answers do, code answers may not).
    pub user_id: Option<UserId>,
    /// The portal's REST endpoint.
    pub client_endpoint: Option<Url>,
    /// The OAuth server's REST endpoint.
    pub server_endpoint: Option<Url>,
    /// Granted scopes, comma-separated as sent.
    pub scope: String,
    /// The portal's licence.
    pub licence: Option<Licence>,
}

impl Grant {
    pub(super) fn from_response(answer: BitrixTokenResponse) -> Result<Self, Error> {
        let unexpected = |detail: &str| Error::Unexpected {
            status: reqwest::StatusCode::OK,
            detail: format!("token answer: {detail}"),
        };
        let access = AccessToken::parse(answer.access_token.secret())
            .map_err(|_| unexpected("empty access_token"))?;
        let refresh = answer
            .refresh_token
            .as_ref()
            .and_then(|t| RefreshToken::parse(t.secret()).ok())
            .ok_or_else(|| unexpected("no refresh_token"))?;
        let member_id = answer
            .member_id
            .as_deref()
            .and_then(|m| MemberId::parse(m).ok())
            .ok_or_else(|| unexpected("no valid member_id"))?;
        let now = unix_now();
        let expires_at = match (answer.expires, answer.expires_in) {
            (Some(at), _) => i64::try_from(at).unwrap_or(i64::MAX),
            (None, Some(secs)) => now.saturating_add(i64::try_from(secs).unwrap_or(3600)),
            (None, None) => now + 3600,
        };
        Ok(Self {
            access,
            refresh,
            expires_at,
            member_id,
            user_id: answer.user_id.and_then(|id| UserId::new(id).ok()),
            client_endpoint: answer
                .client_endpoint
                .as_deref()
                .and_then(|u| Url::parse(u).ok()),
            server_endpoint: answer
                .server_endpoint
                .as_deref()
                .and_then(|u| Url::parse(u).ok()),
            scope: answer.scope.unwrap_or_default(),
            licence: answer
                .status
                .as_deref()
                .and_then(|s| Licence::parse(s).ok()),
        })
    }
}

/// What the OAuth server's `app.info` says about a token: the trusted facts an install is
/// verified against (`docs/bitrix24.md`, "Installation").
#[derive(Debug, Clone, Deserialize)]
pub struct AppInfo {
    /// The app the token was issued to.
    pub client_id: String,
    /// The user the token belongs to.
    #[serde(default, deserialize_with = "lenient_u64")]
    pub user_id: Option<u64>,
    /// Granted scopes.
    #[serde(default)]
    pub scope: Option<serde_json::Value>,
    /// The installation the token belongs to.
    pub install: InstallInfo,
}

/// The `install` part of [`AppInfo`].
#[derive(Debug, Clone, Deserialize)]
pub struct InstallInfo {
    /// Whether `installFinish` has happened.
    #[serde(default)]
    pub installed: bool,
    /// The installed version of the app.
    #[serde(default, deserialize_with = "lenient_u64")]
    pub version: Option<u64>,
    /// Licence letter.
    #[serde(default)]
    pub status: Option<String>,
    /// Granted scopes, comma-separated.
    #[serde(default)]
    pub scope: Option<String>,
    /// The portal's current domain.
    pub domain: String,
    /// The portal's REST endpoint.
    pub client_endpoint: String,
    /// The portal's id.
    pub member_id: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bitrix_token_answer_parses_without_token_type() {
        let body = r#"{"access_token":"a1","client_endpoint":"https://p.bitrix24.com/rest/",
            "domain":"oauth.bitrix.info","expires":1780319382,"expires_in":3600,
            "member_id":"a223c4b5d6e7f8091a2b3c4d5e6f7089","refresh_token":"r1",
            "scope":"crm,im","server_endpoint":"https://oauth.bitrix.info/rest/","status":"F","user_id":67}"#;
        let answer: BitrixTokenResponse = serde_json::from_str(body).expect("parses");
        let grant = Grant::from_response(answer).expect("grant");
        assert_eq!(grant.access.expose(), "a1");
        assert_eq!(grant.refresh.expose(), "r1");
        assert_eq!(grant.expires_at, 1_780_319_382);
        assert_eq!(grant.user_id, UserId::new(67).ok());
        assert_eq!(grant.scope, "crm,im");
        assert_eq!(grant.licence.expect("licence").as_str(), "F");
    }

    #[test]
    fn an_answer_without_refresh_token_is_refused() {
        let body = r#"{"access_token":"a1","member_id":"a223c4b5d6e7f8091a2b3c4d5e6f7089"}"#;
        let answer: BitrixTokenResponse = serde_json::from_str(body).expect("parses");
        assert!(Grant::from_response(answer).is_err());
    }
}

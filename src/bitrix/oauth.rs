//! OAuth 2.0 with Bitrix24's OAuth servers (`docs/bitrix24.md`, "OAuth"): code exchange and
//! refresh through the `oauth2` crate, and the trusted `app.info` check used to verify installs.
//! Bitrix24 runs two regional servers; each portal uses the one that issued its tokens, and
//! only servers on the configured allowlist are ever called.
//!
//! The crate needs three adjustments for Bitrix24: a token response of our own (Bitrix24 sends
//! no `token_type` and adds `member_id`, `client_endpoint` and friends), credentials in the
//! request body, and an HTTP adapter that turns an `error` answered with HTTP 200 into an error.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use oauth2::basic::{BasicErrorResponse, BasicTokenType};
use oauth2::{
    AsyncHttpClient, AuthType, AuthorizationCode, ClientId, EndpointNotSet, EndpointSet,
    HttpRequest, HttpResponse, RequestTokenError, Scope, StandardRevocableToken, TokenResponse,
    TokenUrl,
};
use serde::{Deserialize, Serialize};
use url::Url;

use super::error::{Error, OAuthErrorCode};
use super::types::{
    AccessToken, ClientSecret, Licence, MemberId, RefreshToken, UserId, lenient_u64,
};
use crate::clock::unix_now;
use crate::metrics::Metrics;

/// The largest answer read from an OAuth server: a token answer or `app.info` is a few hundred
/// bytes, so anything near this is not one.
const OAUTH_ANSWER_LIMIT: usize = 64 * 1024;

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

type Client = oauth2::Client<
    BasicErrorResponse,
    BitrixTokenResponse,
    oauth2::StandardTokenIntrospectionResponse<oauth2::EmptyExtraTokenFields, BasicTokenType>,
    StandardRevocableToken,
    oauth2::basic::BasicRevocationErrorResponse,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

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
    fn from_response(answer: BitrixTokenResponse) -> Result<Self, Error> {
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
            user_id: answer.user_id.filter(|id| *id > 0).map(UserId),
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
/// verified against (protocol doc §2 "Trusted install info", §7).
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

/// One OAuth server of the allowlist, with its `oauth2` client.
#[derive(Clone, Debug)]
struct Allowed {
    origin: Url,
    client: Client,
}

/// Talks to the configured OAuth servers, and only to them: the one place `client_secret`
/// leaves the process.
#[derive(Clone, Debug)]
pub struct OAuthClient {
    http: reqwest::Client,
    servers: Vec<Allowed>,
    client_id: String,
    metrics: Arc<Metrics>,
}

impl OAuthClient {
    /// `servers` are `B24_OAUTH_URL`'s origins, e.g. `https://oauth.bitrix.info/`.
    pub fn new(
        http: reqwest::Client,
        servers: &[Url],
        client_id: &str,
        client_secret: &ClientSecret,
        metrics: Arc<Metrics>,
    ) -> Result<Self, Error> {
        let servers = servers
            .iter()
            .map(|origin| {
                let token_url = origin
                    .join("/oauth/token/")
                    .map_err(|e| Error::Refused(format!("bad OAuth URL: {e}")))?;
                let client = oauth2::Client::new(ClientId::new(client_id.to_owned()))
                    .set_client_secret(oauth2::ClientSecret::new(client_secret.expose().to_owned()))
                    .set_auth_type(AuthType::RequestBody)
                    .set_token_uri(TokenUrl::from_url(token_url));
                Ok(Allowed {
                    origin: origin.clone(),
                    client,
                })
            })
            .collect::<Result<_, Error>>()?;
        Ok(Self {
            http,
            servers,
            client_id: client_id.to_owned(),
            metrics,
        })
    }

    /// The app's `client_id`.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The REST endpoint (`https://oauth.bitrix.info/rest/`) of the allowlisted server that
    /// `claimed` (a request's `SERVER_ENDPOINT`) names, or `None` when it is off the list.
    /// Without a claim, the first server of the list.
    pub fn server_endpoint(&self, claimed: Option<&Url>) -> Option<Url> {
        let allowed = match claimed {
            Some(claimed) => self.allowed(claimed)?,
            None => self.servers.first()?,
        };
        allowed.origin.join("/rest/").ok()
    }

    /// The allowlisted server with the same origin as `endpoint`.
    fn allowed(&self, endpoint: &Url) -> Option<&Allowed> {
        self.servers
            .iter()
            .find(|s| s.origin.origin() == endpoint.origin())
    }

    fn allowed_or_refuse(&self, endpoint: &Url) -> Result<&Allowed, Error> {
        self.allowed(endpoint).ok_or_else(|| {
            Error::Refused(format!(
                "the OAuth server {} is not on B24_OAUTH_URL",
                endpoint.origin().ascii_serialization()
            ))
        })
    }

    /// Exchanges an authorisation code (valid 30 s, single use) for a token pair at `server`
    /// (the portal's OAuth server's REST endpoint).
    #[tracing::instrument(skip_all)]
    pub async fn exchange_code(&self, server: &Url, code: &str) -> Result<Grant, Error> {
        let result = self.exchange_code_inner(server, code).await;
        self.record("oauth.token", &result);
        result
    }

    async fn exchange_code_inner(&self, server: &Url, code: &str) -> Result<Grant, Error> {
        let answer = self
            .allowed_or_refuse(server)?
            .client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .request_async(&Adapter(&self.http))
            .await
            .map_err(token_error)?;
        Grant::from_response(answer)
    }

    /// Trades a refresh token for a new pair at `server`. The old refresh token and the access
    /// token issued with it die at once (`docs/bitrix24.md`, "Rotation").
    #[tracing::instrument(skip_all)]
    pub async fn refresh(&self, server: &Url, refresh: &RefreshToken) -> Result<Grant, Error> {
        let result = self.refresh_inner(server, refresh).await;
        self.record("oauth.token", &result);
        result
    }

    async fn refresh_inner(&self, server: &Url, refresh: &RefreshToken) -> Result<Grant, Error> {
        let token = oauth2::RefreshToken::new(refresh.expose().to_owned());
        let answer = self
            .allowed_or_refuse(server)?
            .client
            .exchange_refresh_token(&token)
            .request_async(&Adapter(&self.http))
            .await
            .map_err(token_error)?;
        Grant::from_response(answer)
    }

    /// Asks the OAuth server `server` (never the portal) what `access` belongs to.
    #[tracing::instrument(skip_all)]
    pub async fn app_info(&self, server: &Url, access: &AccessToken) -> Result<AppInfo, Error> {
        let result = self.app_info_inner(server, access).await;
        self.record("app.info", &result);
        result
    }

    fn record<T>(&self, method: &str, result: &Result<T, Error>) {
        let outcome = result.as_ref().map_or_else(Error::outcome, |_| "ok");
        self.metrics.bitrix_call(method, outcome);
    }

    async fn app_info_inner(&self, server: &Url, access: &AccessToken) -> Result<AppInfo, Error> {
        let url = self
            .allowed_or_refuse(server)?
            .origin
            .join("/rest/app.info")
            .map_err(|e| Error::Refused(format!("bad OAuth URL: {e}")))?;
        // Documented as a GET with `auth` in the query (protocol doc §2); the transport error
        // path strips URLs so the token cannot reach a log.
        let response = self
            .http
            .get(url)
            .query(&[("auth", access.expose())])
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(Error::from_transport)?;
        let status = response.status();
        let bytes = super::read_capped(response, OAUTH_ANSWER_LIMIT).await?;
        super::rest::parse_envelope::<AppInfo>(status, &bytes, None).map(|ok| ok.result)
    }
}

fn token_error(err: RequestTokenError<Error, BasicErrorResponse>) -> Error {
    match err {
        RequestTokenError::ServerResponse(answer) => Error::OAuth {
            code: OAuthErrorCode::parse(answer.error().as_ref()),
            description: answer.error_description().cloned().unwrap_or_default(),
        },
        RequestTokenError::Request(err) => err,
        RequestTokenError::Parse(err, _) => Error::Unexpected {
            status: reqwest::StatusCode::OK,
            detail: format!("token answer: {err}"),
        },
        RequestTokenError::Other(detail) => Error::Unexpected {
            status: reqwest::StatusCode::OK,
            detail,
        },
    }
}

/// `oauth2`'s HTTP interface over our one reqwest client.
struct Adapter<'a>(&'a reqwest::Client);

impl<'c> AsyncHttpClient<'c> for Adapter<'_> {
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, Error>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let request = reqwest::Request::try_from(request)
                .map_err(|e| Error::Refused(format!("bad token request: {e}")))?;
            let response = self
                .0
                .execute(request)
                .await
                .map_err(Error::from_transport)?;
            let mut status = response.status();
            let headers = response.headers().clone();
            let body = super::read_capped(response, OAUTH_ANSWER_LIMIT)
                .await?
                .to_vec();
            if status.is_server_error() {
                // An outage, not a verdict on the grant: the caller may try again later.
                return Err(Error::Unexpected {
                    status,
                    detail: "the OAuth server failed".into(),
                });
            }
            // Bitrix24 reports some refusals (`wrong_client`) with HTTP 200 (protocol doc §2):
            // make them look like the errors they are so oauth2 parses them as such.
            if status.is_success() && carries_error(&body) {
                status = reqwest::StatusCode::BAD_REQUEST;
            }
            let mut builder = oauth2::http::Response::builder().status(status.as_u16());
            for (name, value) in &headers {
                builder = builder.header(name.as_str(), value.as_bytes());
            }
            builder.body(body).map_err(|e| Error::Unexpected {
                status,
                detail: e.to_string(),
            })
        })
    }
}

fn carries_error(body: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(body)
        .is_ok_and(|v| v.get("error").is_some_and(|e| !e.is_null()))
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
        assert_eq!(grant.user_id, Some(UserId(67)));
        assert_eq!(grant.scope, "crm,im");
        assert_eq!(grant.licence.expect("licence").as_str(), "F");
    }

    #[test]
    fn an_answer_without_refresh_token_is_refused() {
        let body = r#"{"access_token":"a1","member_id":"a223c4b5d6e7f8091a2b3c4d5e6f7089"}"#;
        let answer: BitrixTokenResponse = serde_json::from_str(body).expect("parses");
        assert!(Grant::from_response(answer).is_err());
    }

    #[test]
    fn error_detection_looks_for_a_non_null_error_key() {
        assert!(carries_error(br#"{"error":"wrong_client"}"#));
        assert!(!carries_error(br#"{"error":null,"access_token":"x"}"#));
        assert!(!carries_error(b"not json"));
    }
}

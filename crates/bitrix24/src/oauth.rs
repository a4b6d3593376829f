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
use std::time::Instant;

use oauth2::basic::{BasicErrorResponse, BasicTokenType};
use oauth2::{
    AsyncHttpClient, AuthType, AuthorizationCode, ClientId, EndpointNotSet, EndpointSet,
    HttpRequest, HttpResponse, RequestTokenError, StandardRevocableToken, TokenUrl,
};
use url::Url;

pub use super::answers::{AppInfo, BitrixTokenResponse, Grant, InstallInfo};
use super::error::{Error, OAuthErrorCode};
use super::rest::Caller;
use crate::domain::{AccessToken, ClientSecret, PortalDomain, RefreshToken, UserId};
use crate::observe::{CallRecord, Observers, redact};

/// The largest answer read from an OAuth server: a token answer or `app.info` is a few hundred
/// bytes, so anything near this is not one.
const OAUTH_ANSWER_LIMIT: usize = 64 * 1024;

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

/// The portal's page where a user authorises the app (`docs/bitrix24.md`, "OAuth"):
/// `redirect_uri` is not sent, it comes from the app's settings. `plain_http` is for a
/// loopback portal in development.
pub fn authorize_url(
    domain: &PortalDomain,
    plain_http: bool,
    client_id: &str,
    state: &str,
) -> String {
    let scheme = if plain_http { "http" } else { "https" };
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("client_id", client_id)
        .append_pair("state", state)
        .finish();
    format!("{scheme}://{domain}/oauth/authorize/?{query}")
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
    observers: Observers,
}

impl OAuthClient {
    /// `servers` are `B24_OAUTH_URL`'s origins, e.g. `https://oauth.bitrix.info/`.
    pub fn new(
        http: reqwest::Client,
        servers: &[Url],
        client_id: &str,
        client_secret: &ClientSecret,
        observers: Observers,
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
            observers,
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
    pub async fn exchange_code(
        &self,
        caller: Caller<'_>,
        server: &Url,
        code: &str,
    ) -> Result<Grant, Error> {
        let started = self.started();
        let result = self.exchange_code_inner(server, code).await;
        self.record(
            caller,
            "oauth.token",
            "grant_type=authorization_code&code=***",
            started,
            &result,
        );
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
    pub async fn refresh(
        &self,
        caller: Caller<'_>,
        server: &Url,
        refresh: &RefreshToken,
    ) -> Result<Grant, Error> {
        let started = self.started();
        let result = self.refresh_inner(server, refresh).await;
        let request = "grant_type=refresh_token&client_secret=***&refresh_token=***";
        self.record(caller, "oauth.token", request, started, &result);
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
    pub async fn app_info(
        &self,
        caller: Caller<'_>,
        server: &Url,
        access: &AccessToken,
    ) -> Result<AppInfo, Error> {
        let started = self.started();
        let result = self.app_info_inner(server, access).await;
        self.record(caller, "app.info", "auth=***", started, &result);
        result
    }

    fn started(&self) -> (i64, Instant) {
        (self.observers.now_ms(), Instant::now())
    }

    /// Counts and logs one call to the OAuth server. Its bodies are all secrets but for the
    /// error, so the log keeps the request's shape and the error's code and description.
    fn record<T>(
        &self,
        caller: Caller<'_>,
        method: &str,
        request: &str,
        (at_ms, started): (i64, Instant),
        result: &Result<T, Error>,
    ) {
        let elapsed = started.elapsed();
        let outcome = result.as_ref().map_or_else(Error::outcome, |_| "ok");
        let response = match result {
            Ok(_) => "ok".to_owned(),
            Err(error) => redact(error.to_string().as_bytes(), &[]),
        };
        let record = CallRecord {
            at_ms,
            member_id: caller.member_id.as_str().to_owned(),
            user_id: caller.user_id.map(UserId::get),
            method: method.to_owned(),
            http_status: None,
            error_code: result.as_ref().err().map(|_| outcome.to_owned()),
            duration_ms: i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX),
            request: request.to_owned(),
            response,
        };
        self.observers.called(record, outcome, elapsed);
    }

    async fn app_info_inner(&self, server: &Url, access: &AccessToken) -> Result<AppInfo, Error> {
        let url = self
            .allowed_or_refuse(server)?
            .origin
            .join("/rest/app.info")
            .map_err(|e| Error::Refused(format!("bad OAuth URL: {e}")))?;
        // Documented as a GET with `auth` in the query (`docs/bitrix24.md`, "OAuth"); the transport
        // error path strips URLs so the token cannot reach a log.
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
            // Bitrix24 reports some refusals (`wrong_client`) with HTTP 200 (`docs/bitrix24.md`,
            // "OAuth"): make them look like the errors they are so oauth2 parses them as such.
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
    fn error_detection_looks_for_a_non_null_error_key() {
        assert!(carries_error(br#"{"error":"wrong_client"}"#));
        assert!(!carries_error(br#"{"error":null,"access_token":"x"}"#));
        assert!(!carries_error(b"not json"));
    }
}

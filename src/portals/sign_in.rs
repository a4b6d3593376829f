//! Signing in from outside the portal with the OAuth 2.0 authorization-code flow
//! (`docs/bitrix24.md`, "OAuth"). The `state` is 32 random bytes, stored hashed with its portal
//! and a ten-minute expiry and deleted when used, so it cannot be replayed and any instance
//! sharing the database can finish a flow another one started. The state is bound to the
//! browser that started the flow: it is stored hashed together with a random value that only
//! that browser holds (a cookie), so a callback link someone else started signs nobody in
//! (login CSRF; `docs/security.md`, "Sign-in"). The code is exchanged at the OAuth server
//! stored for the portal, whatever the redirect names.

use std::net::IpAddr;

use sha2::{Digest, Sha256};

use super::{Opened, Portals, Refusal};
use crate::store::crypto::random_hex;
use crate::store::{AccountRecord, Tokens};
use bitrix24::clock::unix_now;
use bitrix24::domain::PortalDomain;
use bitrix24::{self as bitrix, oauth};

/// How long a sign-in may take between start and callback.
const STATE_TTL_SECS: i64 = 600;

/// Where to send the browser to sign in.
#[derive(Debug)]
pub struct SignInStart {
    /// The portal's authorize URL, carrying our `client_id` and the new `state`.
    pub location: String,
    /// The value the browser must bring back to the callback (its cookie).
    pub browser: String,
}

fn state_hash(state: &str, browser: &str) -> Vec<u8> {
    let mut hash = Sha256::new();
    hash.update(state.as_bytes());
    hash.update(b".");
    hash.update(browser.as_bytes());
    hash.finalize().to_vec()
}

impl Portals {
    /// Starts a sign-in on the portal at `domain` for a browser at `from`. Every start costs a
    /// stored state, so each is charged to the address's budget: nobody can fill a portal's
    /// quota of sign-ins under way and lock its users out.
    pub async fn start_sign_in(&self, domain: &str, from: IpAddr) -> Result<SignInStart, Refusal> {
        // Spent for good, passed or not: each start costs a stored state.
        let reservation = self.gate.reserve_sign_in(from)?;
        self.gate.spent(reservation);
        let domain = PortalDomain::parse(domain)
            .ok()
            .filter(|d| self.config.allow_http || !d.is_loopback())
            .ok_or(Refusal::BadDomain)?;
        let portal = self
            .store
            .portal_by_domain(&domain)
            .await?
            .filter(|p| p.record.state == crate::store::PortalState::Active)
            .ok_or(Refusal::NotInstalled)?;
        let (state, browser) = (random_hex(32), random_hex(32));
        let now = unix_now();
        let member_id = &portal.record.member_id;
        if !self
            .store
            .put_oauth_state(
                &state_hash(&state, &browser),
                member_id,
                now + STATE_TTL_SECS,
                now,
            )
            .await?
        {
            tracing::warn!(%member_id, "too many sign-ins under way for one portal");
            return Err(Refusal::TooManySignIns);
        }
        let plain_http = self.config.allow_http && domain.is_loopback();
        Ok(SignInStart {
            location: oauth::authorize_url(&domain, plain_http, &self.config.client_id, &state),
            browser,
        })
    }

    /// Finishes a sign-in in the browser that holds `browser`: consumes the state, exchanges
    /// the code at the portal's own OAuth server, and stores the user's pair.
    pub async fn finish_sign_in(
        &self,
        state: &str,
        code: &str,
        browser: &str,
    ) -> Result<Opened, Refusal> {
        if code.len() > 512 || state.len() > 128 || browser.len() > 128 {
            return Err(Refusal::SignInState);
        }
        let member_id = self
            .store
            .take_oauth_state(&state_hash(state, browser), unix_now())
            .await?
            .ok_or_else(|| {
                tracing::info!("unknown, used or expired OAuth state");
                Refusal::SignInState
            })?;
        tracing::Span::current().record("member_id", tracing::field::display(&member_id));
        let portal = self
            .installed(&member_id)
            .await
            .map_err(|refusal| match refusal {
                Refusal::BeingRemoved => Refusal::NotInstalled,
                other => other,
            })?;
        let grant = self
            .oauth
            .exchange_code(
                bitrix::Caller {
                    member_id: &member_id,
                    user_id: None,
                },
                &portal.record.server_endpoint,
                code,
            )
            .await
            .map_err(|error| {
                tracing::warn!(%error, "code exchange failed");
                match error {
                    // Not recorded for the portal: the code came through the browser and may
                    // be another portal's.
                    _ if error.is_payment_required() => Refusal::PaymentRequired,
                    bitrix::Error::OAuth { .. } => Refusal::SignInRefused,
                    _ if error.is_transient() => Refusal::Unavailable,
                    _ => Refusal::SignInRefused,
                }
            })?;
        if grant.member_id != member_id {
            tracing::warn!("code issued for another portal than the sign-in started with");
            return Err(Refusal::NotVerified);
        }
        let read =
            self.read_with(&portal, &grant.access)
                .await
                .map_err(|refusal| match refusal {
                    Refusal::TokenRejected => Refusal::SignInRefused,
                    other => other,
                })?;
        if grant.user_id.is_some_and(|granted| granted != read.user_id) {
            return Err(Refusal::NotVerified);
        }
        let tokens = Tokens {
            access: grant.access,
            refresh: grant.refresh,
            expires_at: grant.expires_at,
        };
        // Issued for our client_secret at our OAuth server: a proven pair replaces the stored one.
        let account = AccountRecord {
            member_id: member_id.clone(),
            user_id: read.user_id,
            is_admin: read.profile.admin,
            is_installer: false,
            tokens,
        };
        self.store.upsert_account(&account, unix_now()).await?;
        tracing::info!("signed in");
        Ok(Opened {
            epoch: self.store.session_epoch(&member_id, read.user_id).await?,
            plans: self
                .plans(
                    &portal,
                    read.user_id,
                    read.current,
                    read.profile.time_zone.as_deref(),
                )
                .await?,
            user_id: read.user_id,
            user_name: read.profile.display_name(),
            admin: read.profile.admin,
            current: read.current,
            work_end: read.work_end,
            portal,
        })
    }
}

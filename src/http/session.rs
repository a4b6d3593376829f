//! The short-lived session a status page hands its script: no cookies (third-party cookies in the
//! portal's iframe are blocked by modern browsers, `docs/bitrix24.md`, "Security"), but a signed
//! token in the page,
//! `v2.<member_id>.<user_id>.<expires>.<lang>.<started>.<epoch>.<signature>`, with an
//! HMAC-SHA256 signature under a key derived from `APP_SECRET`. A session dies with what it
//! stood for (`docs/security.md`, "Sessions"): it names the account's epoch, which a new pair,
//! a pause or a suspension changes, and it is never renewed past [`SESSION_LIFETIME_SECS`]
//! from the frame POST that began it.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::i18n::Lang;
use bitrix24::domain::{MemberId, UserId};

/// How long a page's session lasts before the page renews it.
pub const SESSION_TTL_SECS: i64 = 3600;
/// The longest a session lives, renewals included, from the frame POST that began it: a
/// working day with a margin; the next day's first open begins a new one.
pub const SESSION_LIFETIME_SECS: i64 = 12 * 3600;

/// Who a session token speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub member_id: MemberId,
    pub user_id: UserId,
    /// The page's language, for messages.
    pub lang: Lang,
    /// Unix seconds.
    pub expires_at: i64,
    /// Unix seconds of the frame POST (or sign-in) that began it.
    pub started_at: i64,
    /// The account's epoch when it began (see [`crate::portals::Portals::session_stands`]).
    pub epoch: i64,
}

/// Why a token was refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    /// Not a token of ours.
    #[error("malformed session token")]
    Malformed,
    /// The signature does not match.
    #[error("forged session token")]
    Forged,
    /// Past its expiry.
    #[error("expired session token")]
    Expired,
}

/// Issues and checks session tokens.
#[derive(Clone)]
pub struct SessionKey([u8; 32]);

impl std::fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKey(***)")
    }
}

impl SessionKey {
    /// What the master key derives the signing key for.
    pub const PURPOSE: &str = "session-signing";

    /// Signs with `key`, derived from the master key for [`SessionKey::PURPOSE`].
    pub fn new(key: [u8; 32]) -> Self {
        Self(key)
    }

    #[expect(clippy::expect_used, reason = "HMAC takes keys of any length")]
    fn mac(&self, payload: &str) -> Hmac<Sha256> {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC takes keys of any length");
        mac.update(payload.as_bytes());
        mac
    }

    /// A new session for `member_id`/`user_id`, begun `now` at the account's `epoch`.
    pub fn begin(
        &self,
        member_id: &MemberId,
        user_id: UserId,
        lang: Lang,
        epoch: i64,
        now: i64,
    ) -> String {
        self.sign(&Session {
            member_id: member_id.clone(),
            user_id,
            lang,
            expires_at: now + SESSION_TTL_SECS,
            started_at: now,
            epoch,
        })
    }

    /// The same session with its expiry moved on from `now`, never past its lifetime; `None`
    /// once the lifetime is spent.
    pub fn follow(&self, session: &Session, now: i64) -> Option<String> {
        let end = session.started_at.saturating_add(SESSION_LIFETIME_SECS);
        (now < end).then(|| {
            self.sign(&Session {
                expires_at: (now + SESSION_TTL_SECS).min(end),
                ..session.clone()
            })
        })
    }

    /// The session a page shown again within `session` carries (its epoch checked by the
    /// caller): the same, moved on; at the end of its lifetime, the same as it was.
    pub fn carry_on(&self, session: &Session, now: i64) -> String {
        self.follow(session, now)
            .unwrap_or_else(|| self.sign(session))
    }

    /// The signed token for `session` as it is (for tests and tools that must hold one).
    pub fn sign(&self, session: &Session) -> String {
        let payload = format!(
            "v2.{}.{}.{}.{}.{}.{}",
            session.member_id,
            session.user_id,
            session.expires_at,
            session.lang.code(),
            session.started_at,
            session.epoch
        );
        let signature = URL_SAFE_NO_PAD.encode(self.mac(&payload).finalize().into_bytes());
        format!("{payload}.{signature}")
    }

    /// Checks a token's shape, signature (in constant time) and expiry at `now`.
    pub fn verify(&self, token: &str, now: i64) -> Result<Session, SessionError> {
        if token.len() > 200 {
            return Err(SessionError::Malformed);
        }
        let (payload, signature) = token.rsplit_once('.').ok_or(SessionError::Malformed)?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| SessionError::Malformed)?;
        self.mac(payload)
            .verify_slice(&signature)
            .map_err(|_| SessionError::Forged)?;
        let parts: Vec<&str> = payload.split('.').collect();
        let ["v2", member, user, expires, lang, started, epoch] = parts[..] else {
            return Err(SessionError::Malformed);
        };
        let session = Session {
            member_id: MemberId::parse(member).map_err(|_| SessionError::Malformed)?,
            user_id: UserId::parse(user).map_err(|_| SessionError::Malformed)?,
            lang: Lang::from_code(lang),
            expires_at: expires.parse().map_err(|_| SessionError::Malformed)?,
            started_at: started.parse().map_err(|_| SessionError::Malformed)?,
            epoch: epoch.parse().map_err(|_| SessionError::Malformed)?,
        };
        if session.expires_at <= now {
            return Err(SessionError::Expired);
        }
        Ok(session)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> SessionKey {
        SessionKey::new([byte; 32])
    }

    fn member() -> MemberId {
        MemberId::parse("0123456789abcdef0123456789abcdef").expect("id")
    }

    fn begun(key: &SessionKey, lang: Lang, now: i64) -> String {
        key.begin(&member(), UserId::new(7).expect("id"), lang, 42, now)
    }

    #[test]
    fn a_token_round_trips_until_it_expires() {
        let token = begun(&key(1), Lang::Ru, 1000);
        let session = key(1).verify(&token, 1001).expect("valid");
        assert_eq!(session.member_id, member());
        assert_eq!(session.user_id, UserId::new(7).expect("id"));
        assert_eq!(session.lang, Lang::Ru);
        assert_eq!((session.started_at, session.epoch), (1000, 42));
        assert_eq!(
            key(1).verify(&token, 1000 + SESSION_TTL_SECS),
            Err(SessionError::Expired)
        );
    }

    #[test]
    fn renewals_keep_the_start_and_stop_at_the_lifetime() {
        let mut token = begun(&key(1), Lang::En, 1000);
        let mut now = 1000;
        let end = 1000 + SESSION_LIFETIME_SECS;
        while now < end {
            let session = key(1)
                .verify(&token, now)
                .expect("valid until the lifetime ends");
            assert_eq!((session.started_at, session.epoch), (1000, 42));
            assert!(session.expires_at <= end);
            token = key(1)
                .follow(&session, now)
                .expect("renewable within the lifetime");
            now += SESSION_TTL_SECS / 2;
        }
        let last = key(1)
            .verify(&token, end - 1)
            .expect("valid to the last second");
        assert_eq!(
            key(1).follow(&last, end),
            None,
            "not renewed past the lifetime"
        );
        assert_eq!(key(1).verify(&token, end), Err(SessionError::Expired));
    }

    #[test]
    fn tampering_or_another_key_is_forgery() {
        let token = begun(&key(1), Lang::En, 1000);
        assert_eq!(key(2).verify(&token, 1001), Err(SessionError::Forged));
        let other_user = token.replacen(".7.", ".8.", 1);
        assert_eq!(key(1).verify(&other_user, 1001), Err(SessionError::Forged));
        let longer = token.replacen(&(1000 + SESSION_TTL_SECS).to_string(), "99999999999", 1);
        assert_eq!(key(1).verify(&longer, 1001), Err(SessionError::Forged));
        let other_epoch = token.replacen(".42.", ".43.", 1);
        assert_eq!(key(1).verify(&other_epoch, 1001), Err(SessionError::Forged));
        for junk in ["", "v1", "a.b", "v2.x.y.z.en.1.2.!!!", &"a".repeat(300)] {
            assert!(key(1).verify(junk, 1001).is_err(), "{junk:?}");
        }
    }
}

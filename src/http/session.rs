//! The short-lived session a status page hands its script: no cookies (third-party cookies in the
//! portal's iframe are blocked by modern browsers, `docs/bitrix24.md`, "Security"), but a signed
//! token in the page, `v1.<member_id>.<user_id>.<expires>.<lang>.<signature>`, with an HMAC-SHA256
//! signature under a key derived from `APP_SECRET`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::domain::{MemberId, UserId};
use crate::i18n::Lang;

/// How long a page's session lasts.
pub const SESSION_TTL_SECS: i64 = 2 * 3600;

/// Who a session token speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The portal.
    pub member_id: MemberId,
    /// The user.
    pub user_id: UserId,
    /// The page's language, for messages.
    pub lang: Lang,
    /// Unix seconds.
    pub expires_at: i64,
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

    /// A token for `member_id`/`user_id`, valid until `now + SESSION_TTL_SECS`.
    pub fn issue(&self, member_id: &MemberId, user_id: UserId, lang: Lang, now: i64) -> String {
        let payload = format!(
            "v1.{member_id}.{user_id}.{}.{}",
            now + SESSION_TTL_SECS,
            lang.code()
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
        let mut parts = payload.split('.');
        let (Some("v1"), Some(member), Some(user), Some(expires), Some(lang), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(SessionError::Malformed);
        };
        let session = Session {
            member_id: MemberId::parse(member).map_err(|_| SessionError::Malformed)?,
            user_id: UserId::parse(user).map_err(|_| SessionError::Malformed)?,
            lang: Lang::from_code(lang),
            expires_at: expires.parse().map_err(|_| SessionError::Malformed)?,
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

    #[test]
    fn a_token_round_trips_until_it_expires() {
        let token = key(1).issue(&member(), UserId::new(7).expect("id"), Lang::Ru, 1000);
        let session = key(1).verify(&token, 1001).expect("valid");
        assert_eq!(session.member_id, member());
        assert_eq!(session.user_id, UserId::new(7).expect("id"));
        assert_eq!(session.lang, Lang::Ru);
        assert_eq!(
            key(1).verify(&token, 1000 + SESSION_TTL_SECS),
            Err(SessionError::Expired)
        );
    }

    #[test]
    fn tampering_or_another_key_is_forgery() {
        let token = key(1).issue(&member(), UserId::new(7).expect("id"), Lang::En, 1000);
        assert_eq!(key(2).verify(&token, 1001), Err(SessionError::Forged));
        let other_user = token.replacen(".7.", ".8.", 1);
        assert_eq!(key(1).verify(&other_user, 1001), Err(SessionError::Forged));
        let longer = token.replacen(&(1000 + SESSION_TTL_SECS).to_string(), "99999999999", 1);
        assert_eq!(key(1).verify(&longer, 1001), Err(SessionError::Forged));
        for junk in ["", "v1", "a.b", "v1.x.y.z.en.!!!", &"a".repeat(300)] {
            assert!(key(1).verify(junk, 1001).is_err(), "{junk:?}");
        }
    }
}

//! Encryption of tokens at rest: AES-256-GCM with a random nonce per value, and associated
//! data that binds each ciphertext to the row and column it was written for, so a ciphertext
//! copied to another account (or from the refresh to the access column) fails to decrypt.
//!
//! Keys are derived from `APP_SECRET`; each has a short id stored beside the ciphertexts so the
//! secret can be rotated: the previous secret stays readable until every row is rewritten.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

const NONCE_LEN: usize = 12;

/// The master secret (`APP_SECRET`): at least 32 random bytes.
#[derive(Clone)]
pub struct MasterKey(Vec<u8>);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(***)")
    }
}

/// Why `APP_SECRET` was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error("is not base64")]
    NotBase64,
    /// Fewer than 32 bytes once decoded.
    #[error("decodes to {0} bytes; at least 32 are needed")]
    TooShort(usize),
}

impl MasterKey {
    /// Decodes base64 (standard or URL-safe, padding optional) of at least 32 bytes.
    pub fn from_base64(text: &str) -> Result<Self, KeyError> {
        use base64::alphabet::{STANDARD, URL_SAFE};
        use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
        const LENIENT: GeneralPurposeConfig =
            GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
        let text = text.trim();
        let bytes = GeneralPurpose::new(&STANDARD, LENIENT)
            .decode(text)
            .or_else(|_| GeneralPurpose::new(&URL_SAFE, LENIENT).decode(text))
            .map_err(|_| KeyError::NotBase64)?;
        if bytes.len() < 32 {
            return Err(KeyError::TooShort(bytes.len()));
        }
        Ok(Self(bytes))
    }

    /// 32 fresh random bytes, for demo mode.
    pub fn generate() -> Self {
        let mut bytes = vec![0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        Self(bytes)
    }

    /// The key as `APP_SECRET` would hold it.
    pub fn to_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(&self.0)
    }

    /// A purpose-specific 32-byte key, so encryption and signing never share key material.
    #[expect(clippy::expect_used, reason = "HMAC takes keys of any length")]
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC takes keys of any length");
        mac.update(b"b24-status/");
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }
}

/// `bytes` random bytes as lowercase hex: state values, lease owners, nonces.
pub fn random_hex(bytes: usize) -> String {
    let mut raw = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut raw);
    raw.iter().map(|b| format!("{b:02x}")).collect()
}

/// A failed decryption: wrong key, tampered or moved ciphertext.
#[derive(Debug, thiserror::Error)]
#[error("a stored token could not be decrypted (key id {key_id}): {why}")]
pub struct DecryptError {
    key_id: String,
    why: &'static str,
}

#[derive(Clone)]
struct Key {
    id: String,
    cipher: Aes256Gcm,
}

impl Key {
    fn new(master: &MasterKey) -> Self {
        let id = master.derive("key-id")[..6]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let key = master.derive("token-encryption");
        Self {
            id,
            cipher: Aes256Gcm::new(&key.into()),
        }
    }
}

/// The current key, plus the previous one while a rotation is under way.
#[derive(Clone)]
pub struct Keyring {
    current: Key,
    previous: Option<Key>,
}

impl Keyring {
    /// Encrypts with `current`; decrypts with either.
    pub fn new(current: &MasterKey, previous: Option<&MasterKey>) -> Self {
        Self {
            current: Key::new(current),
            previous: previous.map(Key::new),
        }
    }

    /// Id of the key new ciphertexts are written with.
    pub fn current_id(&self) -> &str {
        &self.current.id
    }

    /// Encrypts `plain` for the place described by `context`.
    #[expect(
        clippy::expect_used,
        reason = "AES-GCM encrypts any message under 64 GiB"
    )]
    pub fn seal(&self, context: &str, plain: &str) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = self
            .current
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plain.as_bytes(),
                    aad: context.as_bytes(),
                },
            )
            .expect("AES-GCM encrypts any message under 64 GiB");
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    /// Decrypts a value written by [`Keyring::seal`] with the key `key_id` for `context`.
    pub fn open(&self, key_id: &str, context: &str, sealed: &[u8]) -> Result<String, DecryptError> {
        let fail = |why| DecryptError {
            key_id: key_id.to_owned(),
            why,
        };
        let key = [Some(&self.current), self.previous.as_ref()]
            .into_iter()
            .flatten()
            .find(|k| k.id == key_id)
            .ok_or_else(|| fail("no such key: set APP_SECRET_PREVIOUS to the old secret"))?;
        if sealed.len() < NONCE_LEN {
            return Err(fail("too short"));
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let plain = key
            .cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: body,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| fail("authentication failed"))?;
        String::from_utf8(plain).map_err(|_| fail("not UTF-8"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> MasterKey {
        MasterKey(vec![byte; 32])
    }

    #[test]
    fn app_secret_must_be_base64_of_32_bytes() {
        let good = key(7).to_base64();
        assert!(MasterKey::from_base64(&good).is_ok());
        assert!(MasterKey::from_base64(good.trim_end_matches('=')).is_ok());
        assert_eq!(
            MasterKey::from_base64("c2hvcnQ=").map(|_| ()),
            Err(KeyError::TooShort(5))
        );
        assert_eq!(
            MasterKey::from_base64("not base64 at all!").map(|_| ()),
            Err(KeyError::NotBase64)
        );
    }

    #[test]
    fn sealed_values_open_only_in_their_context() {
        let ring = Keyring::new(&key(1), None);
        let sealed = ring.seal("accounts:access:m:1", "token-value");
        assert!(!sealed.windows(11).any(|w| w == b"token-value"));
        let id = ring.current_id().to_owned();
        assert_eq!(
            ring.open(&id, "accounts:access:m:1", &sealed)
                .expect("opens"),
            "token-value"
        );
        assert!(ring.open(&id, "accounts:access:m:2", &sealed).is_err());
        assert!(ring.open(&id, "accounts:refresh:m:1", &sealed).is_err());
        let mut tampered = sealed.clone();
        tampered[20] ^= 1;
        assert!(ring.open(&id, "accounts:access:m:1", &tampered).is_err());
    }

    #[test]
    fn previous_key_still_opens_during_rotation() {
        let old = Keyring::new(&key(1), None);
        let sealed = old.seal("ctx", "v");
        let rotated = Keyring::new(&key(2), Some(&key(1)));
        assert_ne!(rotated.current_id(), old.current_id());
        assert_eq!(
            rotated
                .open(old.current_id(), "ctx", &sealed)
                .expect("opens"),
            "v"
        );
        let forgotten = Keyring::new(&key(2), None);
        assert!(forgotten.open(old.current_id(), "ctx", &sealed).is_err());
    }
}

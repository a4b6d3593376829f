//! The app's domain values — portals, users, statuses, tokens — each with one checking
//! constructor, so code past the edge never handles an unchecked string. Secrets redact
//! themselves in `Debug` and have no `Display`, so they cannot end up in a log line by
//! accident. Every layer depends on this module; it depends on none.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a value from Bitrix24 or from a request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what}: {why}")]
pub struct InvalidValue {
    what: &'static str,
    why: &'static str,
}

impl InvalidValue {
    /// `what` was refused because of `why`; both are fixed words, never the value itself.
    pub fn new(what: &'static str, why: &'static str) -> Self {
        Self { what, why }
    }
}

/// A portal's stable id: 32 lowercase hex characters that survive domain renames
/// (`docs/bitrix24.md`, "Installation").
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MemberId(String);

impl MemberId {
    /// Accepts 32 hex characters in either case and stores them lowercased.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let raw = raw.trim();
        if raw.len() != 32 || !raw.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(InvalidValue::new("member_id", "must be 32 hex characters"));
        }
        Ok(Self(raw.to_ascii_lowercase()))
    }

    /// The id as Bitrix24 sends it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for MemberId {
    type Error = InvalidValue;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<MemberId> for String {
    fn from(value: MemberId) -> Self {
        value.0
    }
}

impl fmt::Debug for MemberId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for MemberId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A portal user's numeric id.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize, Deserialize)]
pub struct UserId(u64);

impl UserId {
    /// Accepts a positive decimal number, as Bitrix24 sends it in strings and numbers alike.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        raw.trim()
            .parse::<u64>()
            .map_err(|_| InvalidValue::new("user id", "must be a positive number"))
            .and_then(Self::new)
    }

    /// Accepts a positive number that fits the database's signed integers.
    pub fn new(id: u64) -> Result<Self, InvalidValue> {
        if id > 0 && i64::try_from(id).is_ok() {
            Ok(Self(id))
        } else {
            Err(InvalidValue::new("user id", "must be a positive number"))
        }
    }

    /// The number.
    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A portal's host name as sent in `DOMAIN` (no scheme, no path), lowercased.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PortalDomain(String);

impl PortalDomain {
    /// Accepts `host` or `host:port` made of DNS labels (letters, digits, `-`), at most 253
    /// characters. Whether a loopback or plain-HTTP portal is acceptable is a policy question
    /// answered elsewhere (`B24_ALLOW_HTTP`); this only checks the shape.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let raw = raw.trim().to_ascii_lowercase();
        let (host, port) = match raw.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (raw.as_str(), None),
        };
        if let Some(port) = port
            && !matches!(port.parse::<u16>(), Ok(p) if p > 0)
        {
            return Err(InvalidValue::new("domain", "has an invalid port"));
        }
        let label_ok = |label: &str| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        };
        if host.is_empty() || host.len() > 253 || !host.split('.').all(label_ok) {
            return Err(InvalidValue::new("domain", "must be a bare host name"));
        }
        Ok(Self(raw))
    }

    /// The domain as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The host without any port.
    pub fn host(&self) -> &str {
        self.0.rsplit_once(':').map_or(&self.0, |(host, _)| host)
    }

    /// True for `localhost` and literal loopback addresses, which only development setups use.
    pub fn is_loopback(&self) -> bool {
        let host = self.host();
        host == "localhost"
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    }
}

impl TryFrom<String> for PortalDomain {
    type Error = InvalidValue;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<PortalDomain> for String {
    fn from(value: PortalDomain) -> Self {
        value.0
    }
}

impl fmt::Display for PortalDomain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A messenger status accepted by `im.user.status.set` (`docs/bitrix24.md`, "Status methods"):
/// exactly these four, lowercase; Bitrix24 refuses `"DND"`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Available.
    Online,
    /// Do not disturb: notifications are silenced.
    Dnd,
    /// Away from the desk.
    Away,
    /// On a break.
    Break,
}

impl Status {
    /// Every status, in the order the page shows them.
    pub const ALL: [Status; 4] = [Status::Online, Status::Dnd, Status::Away, Status::Break];

    /// Accepts exactly `online`, `dnd`, `away` or `break`.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        match raw {
            "online" => Ok(Self::Online),
            "dnd" => Ok(Self::Dnd),
            "away" => Ok(Self::Away),
            "break" => Ok(Self::Break),
            _ => Err(InvalidValue::new(
                "status",
                "must be one of online, dnd, away, break",
            )),
        }
    }

    /// The value Bitrix24 expects.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Online => "online",
            Self::Dnd => "dnd",
            Self::Away => "away",
            Self::Break => "break",
        }
    }
}

/// The portal's licence as sent in `status` (frame POST) or `STATUS` (`app.info`):
/// `L` local, `F` free, `D` demo, `T` trial, `P` paid, `S` subscription (Market+). Other
/// letters are kept verbatim.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Licence(String);

impl Licence {
    /// Accepts one to three ASCII letters, stored uppercase.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let raw = raw.trim();
        if raw.is_empty() || raw.len() > 3 || !raw.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(InvalidValue::new("licence status", "must be a letter code"));
        }
        Ok(Self(raw.to_ascii_uppercase()))
    }

    /// The letter code.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

macro_rules! secret_string {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq)]
        pub struct $name(String);

        impl $name {
            /// Wraps a non-empty secret; surrounding whitespace is not part of a token.
            pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
                let raw = raw.trim();
                if raw.is_empty() || raw.len() > 1024 || raw.bytes().any(|b| b.is_ascii_control()) {
                    return Err(InvalidValue::new(stringify!($name), "must be a non-empty token"));
                }
                Ok(Self(raw.to_owned()))
            }

            /// The secret itself, for the one place that must send or encrypt it.
            pub fn expose(&self) -> &str {
                &self.0
            }

            /// Compares in constant time, as secrets must be (`docs/bitrix24.md`, "Security").
            pub fn matches(&self, other: &str) -> bool {
                use subtle::ConstantTimeEq;
                self.0.as_bytes().ct_eq(other.as_bytes()).into()
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "(***)"))
            }
        }
    };
}

secret_string!(
    /// A user's OAuth access token (`AUTH_ID`, `access_token`); lives an hour.
    AccessToken
);
secret_string!(
    /// A user's OAuth refresh token (`REFRESH_ID`, `refresh_token`); single use.
    RefreshToken
);
secret_string!(
    /// The per-installation secret Bitrix24 sends with every event; the only proof that an
    /// `ONAPPUNINSTALL` may be genuine (`docs/bitrix24.md`, "Uninstall").
    ApplicationToken
);
secret_string!(
    /// The app's OAuth client secret: sent to the configured OAuth server and nowhere else.
    ClientSecret
);

/// Whether `granted` — the scopes an app holds, comma- or space-separated as Bitrix24 writes
/// them — includes `wanted`.
pub fn grants(granted: &str, wanted: &str) -> bool {
    granted.split([',', ' ']).any(|s| s.trim() == wanted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_id_is_32_hex_characters_lowercased() {
        let id = MemberId::parse("A223C4B5d6e7f8091a2b3c4d5e6f7089").expect("valid");
        assert_eq!(id.as_str(), "a223c4b5d6e7f8091a2b3c4d5e6f7089");
        for bad in [
            "",
            "abc",
            "g223c4b5d6e7f8091a2b3c4d5e6f7089",
            "a223c4b5d6e7f8091a2b3c4d5e6f70891",
        ] {
            assert!(MemberId::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn domain_accepts_host_names_and_ports_only() {
        assert_eq!(
            PortalDomain::parse("Acme.Bitrix24.com")
                .expect("valid")
                .as_str(),
            "acme.bitrix24.com"
        );
        let local = PortalDomain::parse("127.0.0.1:8081").expect("valid");
        assert!(local.is_loopback());
        assert_eq!(local.host(), "127.0.0.1");
        assert!(
            !PortalDomain::parse("acme.bitrix24.com")
                .expect("valid")
                .is_loopback()
        );
        for bad in [
            "",
            "https://acme.bitrix24.com",
            "acme.bitrix24.com/rest",
            "acme..com",
            "-acme.com",
            "acme.com:0",
            "acme.com:99999",
            "user@acme.com",
            "acme.com\r\nX: y",
        ] {
            assert!(PortalDomain::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn status_is_exactly_one_of_four_lowercase_words() {
        for status in Status::ALL {
            assert_eq!(Status::parse(status.as_str()), Ok(status));
        }
        for bad in ["DND", "Online", "busy", "", " dnd"] {
            assert!(Status::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn user_id_is_positive() {
        assert_eq!(UserId::parse("67"), UserId::new(67));
        assert!(UserId::parse("0").is_err());
        assert!(UserId::parse("-1").is_err());
        assert!(UserId::parse("1e3").is_err());
    }

    #[test]
    fn secrets_never_show_in_debug_and_compare_exactly() {
        let token = AccessToken::parse("s3cr3t-token").expect("valid");
        assert_eq!(format!("{token:?}"), "AccessToken(***)");
        assert!(token.matches("s3cr3t-token"));
        assert!(!token.matches("s3cr3t-tokeN"));
        assert!(!token.matches("s3cr3t"));
        assert!(AccessToken::parse("  ").is_err());
    }

    #[test]
    fn licence_keeps_unknown_letters() {
        assert_eq!(Licence::parse("p").expect("valid").as_str(), "P");
        assert_eq!(Licence::parse("S").expect("valid").as_str(), "S");
        assert!(Licence::parse("").is_err());
        assert!(Licence::parse("1").is_err());
    }
}

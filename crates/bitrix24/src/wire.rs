//! How Bitrix24 writes values on the wire, where that differs from plain JSON.

use serde::{Deserialize, Deserializer};

/// A number Bitrix24 may send as a JSON number (token endpoint) or a string (events, forms);
/// anything else reads as absent.
pub(crate) fn lenient_u64<'de, D: Deserializer<'de>>(de: D) -> Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Number(u64),
        Text(String),
        Other(serde::de::IgnoredAny),
    }
    Ok(match Option::<Raw>::deserialize(de)? {
        Some(Raw::Number(n)) => Some(n),
        Some(Raw::Text(s)) => s.trim().parse().ok(),
        Some(Raw::Other(_)) | None => None,
    })
}

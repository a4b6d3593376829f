//! Every sentence a person reads, one catalogue per language. Pages and API messages take
//! their text from here and nowhere else; the portal's `LANG` picks the catalogue.

mod de;
mod en;
mod es;
mod fr;
mod it;
mod pl;
mod pt_br;
mod ru;
mod text;
mod tr;
mod uk;

pub use text::Text;

/// A language the app speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    /// English, also the fallback.
    En,
    /// Russian.
    Ru,
    /// German.
    De,
    /// Ukrainian.
    Uk,
    /// Spanish.
    Es,
    /// Portuguese (Brazil).
    PtBr,
    /// Polish.
    Pl,
    /// French.
    Fr,
    /// Italian.
    It,
    /// Turkish.
    Tr,
}

/// Every `LANG` code Bitrix24 cloud sends (`docs/bitrix24.md`, "Languages").
pub const BITRIX24_CODES: [&str; 20] = [
    "ru", "id", "ms", "de", "en", "la", "fr", "in", "it", "pl", "br", "vn", "tr", "kz", "ua", "ar",
    "th", "sc", "tc", "ja",
];

impl Lang {
    /// Every language, English first.
    pub const ALL: [Lang; 10] = [
        Self::En,
        Self::Ru,
        Self::De,
        Self::Uk,
        Self::Es,
        Self::PtBr,
        Self::Pl,
        Self::Fr,
        Self::It,
        Self::Tr,
    ];

    /// The portal's `LANG` — Bitrix24's own codes (`ua`, `la`, `br`, `kz`, …) or standard ones,
    /// region suffixes ignored — as the closest language the app speaks: Kazakh and Belarusian
    /// interfaces read Russian (as Bitrix24's own templates fall back), anything without a
    /// catalogue reads English.
    pub fn from_code(code: &str) -> Self {
        let base = code.trim().split(['-', '_']).next().unwrap_or_default();
        match base.to_ascii_lowercase().as_str() {
            "ru" | "kz" | "kk" | "by" | "be" => Self::Ru,
            "de" => Self::De,
            "ua" | "uk" => Self::Uk,
            "la" | "es" => Self::Es,
            "br" | "pt" => Self::PtBr,
            "pl" => Self::Pl,
            "fr" => Self::Fr,
            "it" => Self::It,
            "tr" => Self::Tr,
            _ => Self::En,
        }
    }

    /// The code for `<html lang>`.
    pub fn code(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::Ru => "ru",
            Self::De => "de",
            Self::Uk => "uk",
            Self::Es => "es",
            Self::PtBr => "pt-BR",
            Self::Pl => "pl",
            Self::Fr => "fr",
            Self::It => "it",
            Self::Tr => "tr",
        }
    }

    /// Bitrix24's own id of this language (`ua`, `la`, `br` where standards say `uk`, `es`,
    /// `pt`), as `LANG_ALL` keys placement titles by it (`docs/bitrix24.md`, "Languages").
    pub fn bitrix24_code(self) -> &'static str {
        match self {
            Self::Uk => "ua",
            Self::Es => "la",
            Self::PtBr => "br",
            other => other.code(),
        }
    }

    /// This language's catalogue.
    pub fn text(self) -> &'static Text {
        match self {
            Self::En => &en::TEXT,
            Self::Ru => &ru::TEXT,
            Self::De => &de::TEXT,
            Self::Uk => &uk::TEXT,
            Self::Es => &es::TEXT,
            Self::PtBr => &pt_br::TEXT,
            Self::Pl => &pl::TEXT,
            Self::Fr => &fr::TEXT,
            Self::It => &it::TEXT,
            Self::Tr => &tr::TEXT,
        }
    }
}

#[cfg(test)]
mod tests;

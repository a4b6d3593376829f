//! Reading form posts the way Bitrix24 sends them: fields split between the query string and
//! an `application/x-www-form-urlencoded` body (`docs/bitrix24.md`, "Installation", "Events").

use axum::http::{HeaderMap, Uri, header};

use super::page::{PageError, Problem};
use bitrix24::frame::FramePost;

/// Decoded `(key, value)` pairs.
pub type Pairs = Vec<(String, String)>;

/// Why a form could not be read.
#[derive(Debug, PartialEq, Eq)]
pub enum InputError {
    /// Not `application/x-www-form-urlencoded`.
    NotAForm,
    /// Not UTF-8 once decoded.
    NotText,
}

/// The query string's pairs.
pub fn query_pairs(uri: &Uri) -> Pairs {
    uri.query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default()
}

/// The body's pairs; the content type must say it is a form.
pub fn form_pairs(headers: &HeaderMap, body: &[u8]) -> Result<Pairs, InputError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let mime = content_type.split(';').next().unwrap_or_default().trim();
    if !mime.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        return Err(InputError::NotAForm);
    }
    let pairs: Pairs = url::form_urlencoded::parse(body).into_owned().collect();
    // form_urlencoded replaces invalid UTF-8 with U+FFFD; Bitrix24 never sends that.
    if pairs
        .iter()
        .any(|(k, v)| k.contains('\u{FFFD}') || v.contains('\u{FFFD}'))
    {
        return Err(InputError::NotText);
    }
    Ok(pairs)
}

/// The `LANG` a page should be shown in, read before anything else is trusted.
pub fn lang_of(query: &Pairs) -> crate::i18n::Lang {
    query
        .iter()
        .find(|(k, _)| k == "LANG")
        .map_or(crate::i18n::Lang::En, |(_, v)| {
            crate::i18n::Lang::from_code(v)
        })
}

/// A frame POST (install, app page, placement) read from the query string and the body, with
/// the language its error pages should use.
pub fn read_frame(
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(FramePost, crate::i18n::Lang), PageError> {
    let query = query_pairs(uri);
    let lang = lang_of(&query);
    let form = form_pairs(headers, body).map_err(|e| match e {
        InputError::NotAForm => PageError::new(Problem::UnsupportedMediaType, lang),
        InputError::NotText => PageError::new(Problem::BadRequest, lang),
    })?;
    let frame = FramePost::parse(&query, &form).map_err(|error| {
        tracing::info!(%error, "frame POST refused");
        PageError::new(Problem::BadRequest, lang)
    })?;
    Ok((frame, lang))
}

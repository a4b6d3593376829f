//! `static/`, compiled into the binary and served under content-hashed names
//! (`/static/app.1a2b3c4d5e6f.css`) with long-lived cache headers: one file to deploy, and a
//! new release never meets a stale cached script.

use std::collections::HashMap;
use std::sync::LazyLock;

use axum::Router;
use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};

use super::state::AppState;

/// Files in `static/`, by name.
const FILES: &[(&str, &[u8])] = &[
    ("app.css", include_bytes!("../../static/app.css")),
    ("app.js", include_bytes!("../../static/app.js")),
    ("install.js", include_bytes!("../../static/install.js")),
];

struct Asset {
    bytes: &'static [u8],
    content_type: &'static str,
}

/// Built once from the embedded bytes: a pure function of the binary, not configuration.
static ASSETS: LazyLock<Assets> = LazyLock::new(Assets::new);

/// The URL of `static/<name>`, content hash included.
pub fn url(name: &str) -> &'static str {
    ASSETS
        .urls
        .get(name)
        .map_or("/static/missing", String::as_str)
}

/// The embedded files and their hashed names.
struct Assets {
    by_hashed_name: HashMap<String, Asset>,
    urls: HashMap<&'static str, String>,
}

impl Assets {
    fn new() -> Self {
        let mut by_hashed_name = HashMap::new();
        let mut urls = HashMap::new();
        for (name, bytes) in FILES {
            let digest = Sha256::digest(bytes);
            let hash: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
            let (stem, ext) = name.rsplit_once('.').unwrap_or((name, ""));
            let hashed = format!("{stem}.{hash}.{ext}");
            let content_type = match ext {
                "css" => "text/css; charset=utf-8",
                "js" => "text/javascript; charset=utf-8",
                "svg" => "image/svg+xml",
                _ => "application/octet-stream",
            };
            urls.insert(*name, format!("/static/{hashed}"));
            by_hashed_name.insert(
                hashed,
                Asset {
                    bytes,
                    content_type,
                },
            );
        }
        Self {
            by_hashed_name,
            urls,
        }
    }
}

/// `GET /static/{hashed name}`.
pub fn router() -> Router<AppState> {
    Router::new().route("/static/{file}", get(serve))
}

async fn serve(Path(file): Path<String>) -> Response {
    match ASSETS.by_hashed_name.get(&file) {
        Some(asset) => (
            [
                (header::CONTENT_TYPE, asset.content_type),
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            asset.bytes,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "Not found").into_response(),
    }
}

//! `check`: the list a newcomer runs after configuring, each line what was found and, when it
//! is wrong, what to change. And `healthcheck`, a container's probe of the running app.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use serde::Serialize;

use super::Failure;
use super::table::{Table, print_json, say};
use crate::config::{Cli, Config, Mode, Secrets, keyring};
use crate::store::Store;

/// One line of the checklist.
#[derive(Serialize)]
struct Finding {
    check: &'static str,
    ok: bool,
    detail: String,
    fix: Option<String>,
}

fn ok(check: &'static str, detail: impl Into<String>) -> Finding {
    Finding {
        check,
        ok: true,
        detail: detail.into(),
        fix: None,
    }
}

fn bad(check: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Finding {
    Finding {
        check,
        ok: false,
        detail: detail.into(),
        fix: Some(fix.into()),
    }
}

pub async fn check(cli: Cli, secrets: Secrets, json: bool) -> Result<(), Failure> {
    let mut found = Vec::new();
    match Config::load(cli, secrets.clone()) {
        Ok(config) => {
            found.push(match config.mode {
                Mode::Production => ok(
                    "configuration",
                    "production: credentials and APP_SECRET set",
                ),
                Mode::Demo => bad(
                    "configuration",
                    "demo mode: no B24_CLIENT_ID / B24_CLIENT_SECRET",
                    "set both from the Bitrix24 vendor account, and APP_SECRET",
                ),
            });
            found.push(database(&secrets).await);
            if config.mode == Mode::Production {
                let http = http(config.allow_http)?;
                for server in &config.oauth_servers {
                    found.push(oauth_server(&http, server).await);
                }
                found.push(public_url(&http, &config).await);
            }
        }
        Err(error) => found.push(bad(
            "configuration",
            error.to_string(),
            "change the setting named, in the environment or .env",
        )),
    }
    let failed = found.iter().filter(|f| !f.ok).count();
    if json {
        print_json(&found);
    } else {
        let mut table = Table::new(&["", "CHECK", "FOUND", "TO FIX"]);
        for finding in &found {
            table.row(vec![
                if finding.ok { "ok" } else { "FAIL" }.to_owned(),
                finding.check.to_owned(),
                finding.detail.clone(),
                finding.fix.clone().unwrap_or_default(),
            ]);
        }
        table.print();
    }
    match failed {
        0 => {
            if !json {
                say("everything checked is in order");
            }
            Ok(())
        }
        n => Err(Failure::Failed(format!("{n} check(s) failed"))),
    }
}

async fn database(secrets: &Secrets) -> Finding {
    let url = secrets.database_url();
    let backend = url.split(':').next().unwrap_or_default().to_owned();
    let keys = match keyring(secrets, "check") {
        Ok(keys) => keys,
        Err(error) => return bad("database", error.to_string(), "set APP_SECRET"),
    };
    match Store::open_existing(url, keys, true).await {
        Ok(store) => {
            let answered = store.ping().await;
            let previous = store.key_counts().await.map(|counts| {
                counts
                    .iter()
                    .filter(|(id, _)| id != store.current_key_id())
                    .map(|(_, n)| n)
                    .sum::<i64>()
            });
            store.close().await;
            match (answered, previous) {
                (Ok(()), Ok(0)) => ok(
                    "database",
                    format!("{backend} answers, every migration of this version applied"),
                ),
                (Ok(()), Ok(old)) => bad(
                    "database",
                    format!("{old} secret(s) still under an earlier APP_SECRET"),
                    "keep APP_SECRET_PREVIOUS and run `b24-status rekey`",
                ),
                (Err(error), _) | (_, Err(error)) => {
                    bad("database", error.to_string(), "check DATABASE_URL")
                }
            }
        }
        Err(error) => bad(
            "database",
            error.to_string(),
            "check DATABASE_URL and that the server runs; start the app once (or run `b24-status migrate`) to create and migrate it",
        ),
    }
}

fn http(allow_http: bool) -> Result<reqwest::Client, Failure> {
    bitrix24::http_client(Duration::from_secs(5), !allow_http, crate::USER_AGENT)
        .map_err(|e| Failure::Failed(format!("cannot build an HTTP client: {e}")))
}

async fn oauth_server(http: &reqwest::Client, server: &url::Url) -> Finding {
    // Any answer proves the route and TLS; the server's own page is no concern of ours.
    match http.get(server.clone()).send().await {
        Ok(answer) => ok(
            "OAuth server",
            format!(
                "{} answers (HTTP {})",
                server.as_str(),
                answer.status().as_u16()
            ),
        ),
        Err(error) => bad(
            "OAuth server",
            format!("{} cannot be reached: {}", server.as_str(), strip(error)),
            "allow outgoing HTTPS to it (firewall, proxy, DNS), or correct B24_OAUTH_URL",
        ),
    }
}

async fn public_url(http: &reqwest::Client, config: &Config) -> Finding {
    let url = config.url_for("healthz");
    let scheme = config.public_url.scheme();
    if scheme != "https" && !config.allow_http {
        return bad(
            "PUBLIC_URL",
            format!("{} is not https", config.public_url),
            "Bitrix24 opens apps over HTTPS only: put a TLS proxy in front (deploy/)",
        );
    }
    match http.get(&url).send().await {
        Ok(answer) if answer.status().is_success() => {
            let note = if scheme == "https" {
                ""
            } else {
                " (http: B24_ALLOW_HTTP is on, for development only)"
            };
            ok("PUBLIC_URL", format!("{url} answers{note}"))
        }
        Ok(answer) => bad(
            "PUBLIC_URL",
            format!("{url} answers HTTP {}", answer.status().as_u16()),
            "make the proxy forward every path to LISTEN_ADDR",
        ),
        Err(error) => bad(
            "PUBLIC_URL",
            format!("{url} cannot be reached: {}", strip(error)),
            "start the app, and check DNS, the TLS proxy and the firewall",
        ),
    }
}

/// A client error without its URL (already shown) and its chain in one line.
fn strip(error: reqwest::Error) -> String {
    let error = error.without_url();
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// `healthcheck`: 0 when the app on `LISTEN_ADDR` answers `/healthz`.
pub async fn healthcheck(cli: &Cli) -> Result<(), Failure> {
    let mut address: SocketAddr = cli.listen_addr.trim().parse().map_err(|_| {
        Failure::Usage(format!(
            "LISTEN_ADDR {:?} is not an address",
            cli.listen_addr
        ))
    })?;
    // An app listening on every address answers on loopback.
    if address.ip().is_unspecified() {
        address.set_ip(match address.ip() {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
        });
    }
    let url = format!("http://{address}/healthz");
    let answer = http(true)?
        .get(&url)
        .send()
        .await
        .map_err(|e| Failure::Failed(format!("{url}: {}", strip(e))))?;
    if answer.status().is_success() {
        Ok(())
    } else {
        Err(Failure::Failed(format!(
            "{url} answered HTTP {}",
            answer.status().as_u16()
        )))
    }
}

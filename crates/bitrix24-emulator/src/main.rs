//! `bitrix24-emulator`: a Bitrix24 on loopback for an app written in any language. It starts
//! both regional OAuth servers and one portal, registers one app, installs it, issues the
//! administrator (user 1) a token pair, prints all of that as one line of JSON, and serves until
//! it is stopped (Ctrl-C, SIGTERM). The README shows a Python SDK driven against it.

use std::net::SocketAddr;

use bitrix24_emulator::{AppSpec, Emulator, Region, UserSpec};
use clap::Parser;
use serde_json::json;

/// A Bitrix24 on loopback: two OAuth servers and one portal with the app installed.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// The app's `client_id`.
    #[arg(long, default_value = "local.emulated.app")]
    client_id: String,
    /// The app's `client_secret`.
    #[arg(long, default_value = "emulated-secret")]
    client_secret: String,
    /// The scopes the app is granted, comma-separated.
    #[arg(long, default_value = "im,placement,user_brief,department")]
    scope: String,
    /// The app's page, which the portal POSTs to when a user opens it.
    #[arg(long)]
    app_url: Option<String>,
    /// Which OAuth server issues the portal's tokens: `west` (oauth.bitrix.info) or `east`
    /// (oauth.bitrix24.tech).
    #[arg(long, default_value = "west", value_parser = ["west", "east"])]
    region: String,
    /// Where the portal listens (a free loopback port by default).
    #[arg(long, default_value = "127.0.0.1:0")]
    portal: SocketAddr,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let emulator = Emulator::start().await?;
    emulator.register_app(AppSpec {
        client_id: args.client_id.clone(),
        client_secret: args.client_secret.clone(),
        redirect_uri: None,
        install_url: args.app_url.clone(),
        app_url: args.app_url,
        scope: args.scope,
        version: 1,
    });
    let region = if args.region == "east" {
        Region::East
    } else {
        Region::West
    };
    let portal = emulator
        .add_portal_at(region, UserSpec::new("Anna", "Admin", true), args.portal)
        .await?;
    emulator.install(&portal.member_id, &args.client_id);
    let tokens = emulator.issue_tokens(&portal.member_id, &args.client_id, 1);
    let described = json!({
        "portal": {
            "domain": portal.domain,
            "client_endpoint": portal.client_endpoint.as_str(),
            "member_id": portal.member_id.as_str(),
        },
        "oauth": {
            "west": emulator.oauth_url_of(Region::West).as_str(),
            "east": emulator.oauth_url_of(Region::East).as_str(),
            "server_endpoint": emulator.oauth_url_of(region).join("rest/").map(|u| u.to_string()).unwrap_or_default(),
        },
        "app": {"client_id": args.client_id, "client_secret": args.client_secret},
        "user_id": 1,
        "access_token": tokens.access,
        "refresh_token": tokens.refresh,
        "expires_at": tokens.expires_at,
    });
    println!("{described}");
    shutdown().await;
    Ok(())
}

/// Ctrl-C, or SIGTERM where there is one.
async fn shutdown() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

//! `vendor-fields`: what to enter in the Bitrix24 vendor account for this server, built from
//! `PUBLIC_URL` exactly as the app builds its handler URLs (README, "Vendor quick start").

use serde::Serialize;

use super::Failure;
use super::table::{Table, print_json};
use crate::config::Cli;

/// One field of the vendor account's app form.
#[derive(Serialize)]
struct Field {
    field: &'static str,
    value: String,
}

/// The scopes the app asks for (`docs/bitrix24.md`, "Reading colleagues"): `calendar` and
/// `timeman` serve automatic statuses and `imbot` chat commands, each optional (the page names
/// one that is missing); `user` only for the opt-in `USER_PROFILE_MENU`, as Market moderation
/// asks for the minimum.
fn scopes(placements: &str) -> String {
    let mut scopes = vec![
        "im",
        "placement",
        "user_brief",
        "department",
        "calendar",
        "timeman",
        "imbot",
    ];
    if placements
        .split(',')
        .any(|p| p.trim() == "USER_PROFILE_MENU")
    {
        scopes.push("user");
    }
    scopes.join(",")
}

pub fn vendor_fields(cli: &Cli, json: bool) -> Result<(), Failure> {
    let base = url::Url::parse(cli.public_url.trim()).map_err(|e| {
        Failure::Usage(format!("PUBLIC_URL {:?} is not a URL: {e}", cli.public_url))
    })?;
    if base.scheme() != "https" {
        return Err(Failure::Usage(format!(
            "PUBLIC_URL is {base}: Bitrix24 needs an https address for the app; set PUBLIC_URL to where this server is reachable over HTTPS"
        )));
    }
    let at = |path: &str| format!("{}{path}", base.as_str().trim_end_matches('/'));
    let fields = [
        Field {
            field: "Application installer URL (initial installation path)",
            value: at("/install"),
        },
        Field {
            field: "Application URL (handler)",
            value: at("/app"),
        },
        Field {
            field: "Installation event handler URL",
            value: at("/events"),
        },
        Field {
            field: "Redirect URI (OAuth)",
            value: at("/oauth/callback"),
        },
        Field {
            field: "Scopes",
            value: scopes(&cli.placements),
        },
    ];
    if json {
        print_json(&fields);
    } else {
        let mut table = Table::new(&["FIELD", "VALUE"]);
        for field in fields {
            table.row(vec![field.field.to_owned(), field.value]);
        }
        table.print();
    }
    Ok(())
}

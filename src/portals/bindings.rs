//! Binding the app's placements and event handlers on a portal, with an administrator's
//! token, through the token manager (and so the portal's rate limit).

use crate::config::Config;
use crate::i18n::Lang;
use crate::tokens::{CallError, Repeat, TokenManager};
use bitrix24::batch::{self, BatchAnswer};
use bitrix24::bindings::{self, Refused, Title};
use bitrix24::domain::{MemberId, UserId};

/// Binds the configured placements and every event handler as `user_id` of `member_id`;
/// returns what the portal refused. Binding twice changes nothing.
pub async fn bind(
    tokens: &TokenManager,
    config: &Config,
    member_id: &MemberId,
    user_id: UserId,
) -> Result<Refused, CallError> {
    let titles: Vec<Title<'_>> = Lang::ALL
        .into_iter()
        .map(|lang| Title {
            lang: lang.bitrix24_code(),
            title: lang.text().app_name,
        })
        .collect();
    let commands = bindings::commands(
        &config.placements,
        &config.url_for("app"),
        &config.url_for("events"),
        &titles,
    );
    let answer = tokens
        .call::<BatchAnswer>(
            member_id,
            user_id,
            batch::METHOD,
            batch::params(commands.iter().map(|(k, c)| (k.as_str(), c.clone()))),
            Repeat::Safe,
        )
        .await?;
    let refused = bindings::refused(&answer);
    for (placement, code) in &refused.placements {
        tracing::warn!(%member_id, placement, code = code.as_str(), "the portal refused a placement; skipped");
    }
    for (event, code) in &refused.events {
        tracing::warn!(%member_id, event, code = code.as_str(), "the portal refused an event handler");
    }
    Ok(refused)
}

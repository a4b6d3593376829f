//! Event POSTs (`ONAPPINSTALL`, `ONAPPUPDATE`, `ONAPPUNINSTALL`; `docs/bitrix24.md`, "Events"):
//! form-encoded with bracketed keys, parsed into checked values.

use serde_json::Value;

use super::form;
use super::wire::lenient_u64;
use crate::domain::{
    AccessToken, ApplicationToken, InvalidValue, Licence, MemberId, PortalDomain, RefreshToken,
    UserId,
};

/// Why an event was refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// A required field is absent.
    #[error("the field {0} is missing")]
    Missing(&'static str),
    /// A field appears twice.
    #[error("the field {0} appears more than once")]
    Duplicated(String),
    /// The form is malformed.
    #[error(transparent)]
    Form(#[from] form::FormError),
    /// A field does not parse.
    #[error(transparent)]
    Invalid(#[from] InvalidValue),
}

/// Which event arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    /// `ONAPPINSTALL`.
    Install,
    /// `ONAPPUPDATE`.
    Update,
    /// `ONAPPUNINSTALL`.
    Uninstall,
    /// `ONAPPPAYMENT`: the app was paid for on the portal. Its `data` is a claim anyone who
    /// saw the `application_token` can make, never a proof.
    Payment,
    /// `ONCALENDARENTRYADD`, `…UPDATE`, `…DELETE`: an entry of some calendar on the portal
    /// changed (the event names only the entry; `docs/bitrix24.md`, "Calendars and working
    /// time").
    CalendarEntry,
    /// Anything else, by name.
    Other(String),
}

/// The tokens an install or update event carries.
#[derive(Debug, Clone)]
pub struct EventAuth {
    /// `auth[access_token]`.
    pub access: AccessToken,
    /// `auth[refresh_token]`.
    pub refresh: Option<RefreshToken>,
    /// `auth[expires_in]`.
    pub expires_in: u64,
    /// `auth[user_id]` (in real payloads, not in the docs).
    pub user_id: Option<UserId>,
    /// `auth[scope]`, comma- or space-separated.
    pub scope: String,
    /// `auth[status]`.
    pub licence: Option<Licence>,
}

/// A parsed event.
#[derive(Debug, Clone)]
pub struct Event {
    /// `event`.
    pub kind: EventKind,
    /// `auth[member_id]`.
    pub member_id: MemberId,
    /// `auth[domain]`.
    pub domain: PortalDomain,
    /// `auth[application_token]`: necessary for an uninstall, never sufficient, since every
    /// employee's frame POST carries it too. Required of every event but `ONAPPPAYMENT`, whose
    /// documented example has none.
    pub application_token: Option<ApplicationToken>,
    /// `auth[server_endpoint]`: the OAuth server that issued the portal's tokens.
    pub server_endpoint: Option<url::Url>,
    /// Tokens, when the event carries usable ones.
    pub auth: Option<EventAuth>,
    /// `data[VERSION]`.
    pub version: Option<i64>,
    /// `data[CLEAN]=1`: the admin asked to delete the app's data.
    pub clean: bool,
    /// `data[LANGUAGE_ID]`: the portal's language (`en`, `de`, `ua`, …).
    pub language: Option<String>,
}

impl Event {
    /// Whether the event carries `stored`, the portal's `application_token` (compared in
    /// constant time).
    pub fn carries(&self, stored: &ApplicationToken) -> bool {
        self.application_token
            .as_ref()
            .is_some_and(|sent| stored.matches(sent.expose()))
    }

    /// Parses decoded form pairs.
    pub fn parse(pairs: &[(String, String)]) -> Result<Self, EventError> {
        let mut seen = std::collections::HashSet::new();
        for (key, _) in pairs {
            if !seen.insert(key.as_str()) {
                return Err(EventError::Duplicated(key.chars().take(40).collect()));
            }
        }
        let json = form::to_json(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
        let text = |path: &[&str]| -> Option<&str> {
            let mut node = &json;
            for key in path {
                node = node.get(key)?;
            }
            node.as_str().map(str::trim).filter(|s| !s.is_empty())
        };
        let kind = match text(&["event"])
            .ok_or(EventError::Missing("event"))?
            .to_ascii_uppercase()
            .as_str()
        {
            "ONAPPINSTALL" => EventKind::Install,
            "ONAPPUPDATE" => EventKind::Update,
            "ONAPPUNINSTALL" => EventKind::Uninstall,
            "ONAPPPAYMENT" => EventKind::Payment,
            "ONCALENDARENTRYADD" | "ONCALENDARENTRYUPDATE" | "ONCALENDARENTRYDELETE" => {
                EventKind::CalendarEntry
            }
            other => EventKind::Other(other.chars().take(64).collect()),
        };
        let member_id = MemberId::parse(
            text(&["auth", "member_id"]).ok_or(EventError::Missing("auth[member_id]"))?,
        )?;
        let domain = PortalDomain::parse(
            text(&["auth", "domain"]).ok_or(EventError::Missing("auth[domain]"))?,
        )?;
        let application_token = match text(&["auth", "application_token"]) {
            Some(token) => Some(ApplicationToken::parse(token)?),
            None if kind == EventKind::Payment => None,
            None => return Err(EventError::Missing("auth[application_token]")),
        };
        let auth = match text(&["auth", "access_token"]) {
            Some(access) => Some(EventAuth {
                access: AccessToken::parse(access)?,
                refresh: text(&["auth", "refresh_token"])
                    .map(RefreshToken::parse)
                    .transpose()?,
                // An access token lives an hour; anything outside a day is not a lifetime.
                expires_in: number(&json["auth"]["expires_in"])
                    .filter(|secs| (60..=86_400).contains(secs))
                    .unwrap_or(3600),
                user_id: text(&["auth", "user_id"]).and_then(|u| UserId::parse(u).ok()),
                scope: text(&["auth", "scope"]).unwrap_or_default().to_owned(),
                licence: text(&["auth", "status"]).and_then(|s| Licence::parse(s).ok()),
            }),
            None => None,
        };
        Ok(Self {
            kind,
            member_id,
            domain,
            application_token,
            server_endpoint: text(&["auth", "server_endpoint"])
                .map(|raw| {
                    url::Url::parse(raw)
                        .map_err(|_| InvalidValue::new("auth[server_endpoint]", "must be a URL"))
                })
                .transpose()?,
            auth,
            version: number(&json["data"]["VERSION"]).and_then(|v| i64::try_from(v).ok()),
            clean: text(&["data", "CLEAN"]) == Some("1"),
            language: text(&["data", "LANGUAGE_ID"])
                .filter(|l| l.len() <= 8)
                .map(str::to_owned),
        })
    }
}

fn number(value: &Value) -> Option<u64> {
    lenient_u64(value.clone()).ok().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MEMBER: &str = "0123456789abcdef0123456789abcdef";

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn install_event_with_tokens_parses() {
        let event = Event::parse(&pairs(&[
            ("event", "ONAPPINSTALL"),
            ("data[VERSION]", "3"),
            ("data[LANGUAGE_ID]", "de"),
            ("auth[access_token]", "a"),
            ("auth[refresh_token]", "r"),
            ("auth[expires_in]", "3600"),
            ("auth[scope]", "im,placement"),
            ("auth[domain]", "acme.bitrix24.com"),
            ("auth[member_id]", MEMBER),
            ("auth[application_token]", "apptok"),
            ("auth[user_id]", "1"),
        ]))
        .expect("parses");
        assert_eq!(event.kind, EventKind::Install);
        assert_eq!(event.version, Some(3));
        assert_eq!(event.language.as_deref(), Some("de"));
        let auth = event.auth.expect("tokens");
        assert_eq!(auth.user_id, UserId::new(1).ok());
        assert_eq!(auth.refresh.expect("refresh").expose(), "r");
    }

    #[test]
    fn uninstall_event_has_no_tokens_and_may_ask_to_clean() {
        let event = Event::parse(&pairs(&[
            ("event", "ONAPPUNINSTALL"),
            ("data[CLEAN]", "1"),
            ("auth[domain]", "acme.bitrix24.com"),
            ("auth[member_id]", MEMBER),
            ("auth[application_token]", "apptok"),
        ]))
        .expect("parses");
        assert_eq!(event.kind, EventKind::Uninstall);
        assert!(event.clean && event.auth.is_none());
    }

    #[test]
    fn incomplete_or_duplicated_events_are_refused() {
        let base = [
            ("event", "ONAPPUNINSTALL"),
            ("auth[domain]", "acme.bitrix24.com"),
            ("auth[member_id]", MEMBER),
        ];
        assert_eq!(
            Event::parse(&pairs(&base)).map(|_| ()),
            Err(EventError::Missing("auth[application_token]"))
        );
        let mut dup = base.to_vec();
        dup.extend([
            ("auth[application_token]", "a"),
            ("auth[application_token]", "b"),
        ]);
        assert!(matches!(
            Event::parse(&pairs(&dup)),
            Err(EventError::Duplicated(_))
        ));
    }
}

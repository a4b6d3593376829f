//! The app's placements and event handlers (`docs/bitrix24.md`, "Placements", "Events"),
//! bound in one `batch`: at install, and again on every `ONAPPUPDATE`, since Bitrix24 removes
//! an app's event handlers when it is updated.

use super::batch::BatchAnswer;
use super::error::ErrorCode;

/// The events the app binds: without `ONAPPUNINSTALL` we would learn of an uninstall only by
/// reconciliation, without `ONAPPUPDATE` not at all of an update, without `ONAPPPAYMENT` of
/// a payment only at the next look at a portal whose period ended, and without the calendar's
/// (refused where the `calendar` scope is not granted) of a new meeting only at the next read.
pub const EVENTS: [&str; 6] = [
    REQUIRED_EVENTS[0],
    REQUIRED_EVENTS[1],
    "ONAPPPAYMENT",
    crate::presence::CALENDAR_EVENTS[0],
    crate::presence::CALENDAR_EVENTS[1],
    crate::presence::CALENDAR_EVENTS[2],
];

/// The events the app cannot do without (`ONAPPPAYMENT` only speeds up noticing a payment).
pub const REQUIRED_EVENTS: [&str; 2] = ["ONAPPUNINSTALL", "ONAPPUPDATE"];

/// One placement's title in one language.
pub struct Title<'a> {
    /// A Bitrix24 language code (`en`, `ru`, `de`).
    pub lang: &'a str,
    /// The title.
    pub title: &'a str,
}

/// `batch` commands (key → `method?query`) binding `placements` to `app_url` with `titles`
/// (the first is the default) and [`EVENTS`] to `events_url`.
pub fn commands(
    placements: &[String],
    app_url: &str,
    events_url: &str,
    titles: &[Title<'_>],
) -> Vec<(String, String)> {
    let mut commands = Vec::new();
    for placement in placements {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        query
            .append_pair("PLACEMENT", placement)
            .append_pair("HANDLER", app_url);
        if let Some(first) = titles.first() {
            query.append_pair("TITLE", first.title);
        }
        for title in titles {
            query.append_pair(&format!("LANG_ALL[{}][TITLE]", title.lang), title.title);
        }
        if placement.starts_with("IM_") {
            query.append_pair("OPTIONS[iconName]", "fa-circle");
        }
        commands.push((
            format!("placement:{placement}"),
            format!("placement.bind?{}", query.finish()),
        ));
    }
    for event in EVENTS {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("event", event)
            .append_pair("handler", events_url)
            .finish();
        commands.push((format!("event:{event}"), format!("event.bind?{query}")));
    }
    commands
}

/// What the portal refused of a binding batch; an existing binding is no refusal.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Refused {
    /// Placements the portal would not bind, with its error code.
    pub placements: Vec<(String, ErrorCode)>,
    /// Events the portal would not bind, with its error code.
    pub events: Vec<(String, ErrorCode)>,
}

impl Refused {
    /// Whether the portal refused one of the [`REQUIRED_EVENTS`].
    pub fn lacks_required_events(&self) -> bool {
        self.events
            .iter()
            .any(|(event, _)| REQUIRED_EVENTS.contains(&event.as_str()))
    }
}

/// Reads the answer of a [`commands`] batch.
pub fn refused(answer: &BatchAnswer) -> Refused {
    let mut refused = Refused::default();
    for (key, code) in answer.errors() {
        if code.is_already_bound() {
            continue;
        }
        if let Some(placement) = key.strip_prefix("placement:") {
            refused.placements.push((placement.to_owned(), code));
        } else if let Some(event) = key.strip_prefix("event:") {
            refused.events.push((event.to_owned(), code));
        }
    }
    refused
}

/// The scope a placement needs beyond `placement`, if any (`docs/bitrix24.md`, "Placements").
pub fn extra_scope(placement: &str) -> Option<&'static str> {
    match placement {
        "USER_PROFILE_MENU" | "USER_PROFILE_TOOLBAR" => Some("user"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn existing_bindings_are_not_refusals() {
        let answer: BatchAnswer = serde_json::from_str(
            r#"{"result":[],"result_error":{
                "placement:IM_NAVIGATION":{"error":"ERROR_PLACEMENT_HANDLER_ALREADY_BINDED"},
                "placement:USER_PROFILE_MENU":{"error":"ERROR_PLACEMENT_NOT_FOUND"},
                "event:ONAPPUNINSTALL":{"error":"ERROR_HANDLER_ALREADY_EXIST"},
                "event:ONAPPUPDATE":{"error":"ACCESS_DENIED"}}}"#,
        )
        .expect("parses");
        let refused = refused(&answer);
        assert_eq!(
            refused.placements,
            [("USER_PROFILE_MENU".to_owned(), ErrorCode::PlacementNotFound)]
        );
        assert_eq!(
            refused.events,
            [("ONAPPUPDATE".to_owned(), ErrorCode::AccessDenied)]
        );
    }

    #[test]
    fn commands_bind_each_placement_and_every_event() {
        let titles = [Title {
            lang: "en",
            title: "Status",
        }];
        let commands = commands(
            &["IM_NAVIGATION".to_owned()],
            "https://s.example/app",
            "https://s.example/events",
            &titles,
        );
        let keys: Vec<&str> = commands.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "placement:IM_NAVIGATION",
                "event:ONAPPUNINSTALL",
                "event:ONAPPUPDATE",
                "event:ONAPPPAYMENT",
                "event:ONCALENDARENTRYADD",
                "event:ONCALENDARENTRYUPDATE",
                "event:ONCALENDARENTRYDELETE"
            ]
        );
        assert!(commands[0].1.contains("LANG_ALL%5Ben%5D%5BTITLE%5D=Status"));
    }
}

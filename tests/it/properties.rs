//! Property tests for the parsers that read what the network sends: frame POSTs, events,
//! bracketed forms and session tokens. Arbitrary input never panics; valid input round-trips.

use super::harness::uid;
use b24_status::bitrix::event::{Event, EventKind};
use b24_status::bitrix::form;
use b24_status::bitrix::frame::FramePost;
use b24_status::domain::MemberId;
use b24_status::http::session::{SESSION_TTL_SECS, SessionKey};
use b24_status::i18n::Lang;
use b24_status::store::MasterKey;
use proptest::prelude::*;

fn pairs() -> impl Strategy<Value = Vec<(String, String)>> {
    let key = prop_oneof![
        Just("DOMAIN".to_owned()),
        Just("member_id".to_owned()),
        Just("AUTH_ID".to_owned()),
        Just("REFRESH_ID".to_owned()),
        Just("PLACEMENT_OPTIONS".to_owned()),
        Just("auth[member_id]".to_owned()),
        Just("auth[application_token]".to_owned()),
        Just("event".to_owned()),
        ".{0,12}",
        "[a-z\\[\\]]{0,16}",
    ];
    proptest::collection::vec((key, ".{0,40}"), 0..12)
}

fn key() -> SessionKey {
    SessionKey::new(
        MasterKey::from_base64(super::harness::APP_SECRET)
            .expect("key")
            .derive(SessionKey::PURPOSE),
    )
}

proptest! {
    #[test]
    fn any_frame_post_parses_or_is_refused_without_panicking(query in pairs(), body in pairs()) {
        let _ = FramePost::parse(&query, &body);
    }

    #[test]
    fn any_event_parses_or_is_refused_without_panicking(body in pairs()) {
        let _ = Event::parse(&body);
    }

    #[test]
    fn any_form_parses_or_is_refused_without_panicking(body in pairs()) {
        let _ = form::to_json(body.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    }

    #[test]
    fn any_session_token_is_refused_without_panicking(token in ".{0,300}", now in any::<i64>()) {
        prop_assert!(key().verify(&token, now).is_err());
    }

    #[test]
    fn a_valid_frame_post_round_trips(
        member in "[0-9a-f]{32}",
        host in "[a-z][a-z0-9-]{0,20}[a-z0-9]\\.bitrix24\\.(com|ru|de)",
        token in "[a-z0-9]{10,70}",
        refresh in "[a-z0-9]{10,70}",
        lang in "(en|ru|de|ua)",
        placement in "[A-Z_]{1,30}",
        uri in "[a-z/]{0,20}",
    ) {
        let query = vec![("DOMAIN".to_owned(), host.clone()), ("LANG".to_owned(), lang.clone())];
        let body = vec![
            ("AUTH_ID".to_owned(), token.clone()),
            ("REFRESH_ID".to_owned(), refresh.clone()),
            ("member_id".to_owned(), member.clone()),
            ("PLACEMENT".to_owned(), placement.clone()),
            ("PLACEMENT_OPTIONS".to_owned(), serde_json::json!({"URI": uri}).to_string()),
        ];
        let frame = FramePost::parse(&query, &body).expect("valid");
        prop_assert_eq!(frame.domain.as_str(), host.as_str());
        prop_assert_eq!(frame.member_id.as_str(), member.as_str());
        prop_assert_eq!(frame.access.expose(), token.as_str());
        let stored_refresh = frame.refresh.expect("refresh");
        prop_assert_eq!(stored_refresh.expose(), refresh.as_str());
        prop_assert_eq!(frame.lang, lang);
        prop_assert_eq!(frame.placement, placement);
        prop_assert_eq!(&frame.placement_options["URI"], &serde_json::json!(uri));
    }

    #[test]
    fn a_valid_uninstall_event_round_trips(
        member in "[0-9a-f]{32}",
        host in "[a-z][a-z0-9]{0,20}\\.bitrix24\\.com",
        app_token in "[0-9a-f]{32}",
        clean in any::<bool>(),
    ) {
        let body = vec![
            ("event".to_owned(), "ONAPPUNINSTALL".to_owned()),
            ("data[CLEAN]".to_owned(), u8::from(clean).to_string()),
            ("auth[domain]".to_owned(), host.clone()),
            ("auth[member_id]".to_owned(), member.clone()),
            ("auth[application_token]".to_owned(), app_token.clone()),
        ];
        let event = Event::parse(&body).expect("valid");
        prop_assert_eq!(event.kind, EventKind::Uninstall);
        prop_assert_eq!(event.member_id.as_str(), member.as_str());
        prop_assert_eq!(event.domain.as_str(), host.as_str());
        prop_assert!(event.application_token.as_ref().is_some_and(|t| t.matches(&app_token)));
        prop_assert_eq!(event.clean, clean);
        prop_assert!(event.auth.is_none());
    }

    #[test]
    fn a_session_token_round_trips_until_it_expires(
        member in "[0-9a-f]{32}",
        user in 1u64..=i64::MAX as u64,
        lang in prop_oneof![Just(Lang::En), Just(Lang::Ru), Just(Lang::De)],
        now in 0i64..4_000_000_000,
    ) {
        let member = MemberId::parse(&member).expect("member");
        let token = key().begin(&member, uid(user), lang, 7, now);
        let session = key().verify(&token, now + SESSION_TTL_SECS - 1).expect("valid");
        prop_assert_eq!(session.member_id, member);
        prop_assert_eq!(session.user_id, uid(user));
        prop_assert_eq!(session.lang, lang);
        prop_assert!(key().verify(&token, now + SESSION_TTL_SECS).is_err());
    }
}

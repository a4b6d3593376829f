//! Calendars and working days (`docs/bitrix24.md`, "Calendars and working time"): busy entries
//! of many users in one call, the working day read and changed, the scopes each needs, and the
//! calendar's events with only the entry's id.

use bitrix24_emulator::Meeting;
use serde_json::json;

use super::{rest, rest_err, rest_ok};
use crate::harness::{Bitrix, CLIENT_ID, SCOPE};

/// An installed app whose portal also granted `calendar` and `timeman`.
async fn granted() -> Bitrix {
    let bitrix = Bitrix::installed().await;
    let scope = format!("{SCOPE},calendar,timeman");
    bitrix
        .emulator
        .set_scope(bitrix.member(), CLIENT_ID, &scope);
    bitrix
}

fn day(unix: i64) -> String {
    jiff::Timestamp::from_second(unix)
        .expect("time")
        .strftime("%Y-%m-%d")
        .to_string()
}

#[tokio::test]
async fn accessibility_answers_every_entry_of_many_users_with_utc_timestamps_as_strings() {
    let bitrix = granted().await;
    let (member, employee) = (bitrix.member(), bitrix.employee);
    let now = bitrix.emulator.clock().now();
    bitrix
        .emulator
        .add_meeting(member, CLIENT_ID, employee, (now + 600, now + 1800));
    let all_day = Meeting {
        id: 0,
        name: "Conference".to_owned(),
        from: now - now.rem_euclid(86_400),
        to: now - now.rem_euclid(86_400) + 86_400,
        accessibility: "absent".to_owned(),
        all_day: true,
    };
    bitrix
        .emulator
        .add_calendar_entry(member, CLIENT_ID, employee, all_day);
    let params = json!({"users": [1, employee], "from": day(now), "to": day(now + 86_400)});
    let answer = rest_ok(
        &bitrix,
        "calendar.accessibility.get",
        &bitrix.access_token(1),
        params.clone(),
    )
    .await;
    assert_eq!(answer["1"], json!([]));
    let entries = answer[employee.to_string()].as_array().expect("entries");
    assert_eq!(entries.len(), 2, "{answer}");
    let meeting = &entries[0];
    assert_eq!(meeting["DATE_FROM_TS_UTC"], json!((now + 600).to_string()));
    assert_eq!(meeting["DATE_TO_TS_UTC"], json!((now + 1800).to_string()));
    assert_eq!(
        (
            meeting["ACCESSIBILITY"].as_str(),
            meeting["DT_SKIP_TIME"].as_str()
        ),
        (Some("busy"), Some("N"))
    );
    assert_eq!(entries[1]["DT_SKIP_TIME"], "Y");
    // Any employee reads colleagues' free/busy, as the meeting planner shows it; not a guest.
    let token = bitrix.access_token(employee);
    rest_ok(
        &bitrix,
        "calendar.accessibility.get",
        &token,
        params.clone(),
    )
    .await;
    bitrix.emulator.set_extranet(member, employee, true);
    let token = bitrix.access_token(employee);
    let (status, body) = rest(
        &bitrix,
        "calendar.accessibility.get",
        &token,
        params.clone(),
    )
    .await;
    assert_eq!((status, body["error"].as_str()), (400, Some("")), "{body}");
    assert_eq!(body["error_description"], "Access denied");
    bitrix.emulator.set_scope(member, CLIENT_ID, SCOPE);
    assert_eq!(
        rest_err(
            &bitrix,
            "calendar.accessibility.get",
            &bitrix.access_token(1),
            params
        )
        .await,
        (403, "insufficient_scope".to_owned())
    );
}

#[tokio::test]
async fn a_working_day_opens_pauses_and_closes_and_only_an_administrator_reads_anothers() {
    let bitrix = granted().await;
    let employee = bitrix.employee;
    let own = bitrix.access_token(employee);
    let status = |answer: serde_json::Value| answer["STATUS"].as_str().map(str::to_owned);
    assert_eq!(
        status(rest_ok(&bitrix, "timeman.status", &own, json!({})).await).as_deref(),
        Some("CLOSED")
    );
    for (method, expected) in [
        ("timeman.open", "OPENED"),
        ("timeman.pause", "PAUSED"),
        ("timeman.open", "OPENED"),
    ] {
        assert_eq!(
            status(rest_ok(&bitrix, method, &own, json!({})).await).as_deref(),
            Some(expected),
            "{method}"
        );
    }
    assert_eq!(
        rest_err(&bitrix, "timeman.open", &own, json!({})).await,
        (400, "WRONG_ACTION".to_owned()),
        "an open day cannot be opened again"
    );
    let admin = bitrix.access_token(1);
    let read = rest_ok(
        &bitrix,
        "timeman.status",
        &admin,
        json!({"USER_ID": employee}),
    )
    .await;
    assert_eq!(read["STATUS"], "OPENED");
    assert_eq!(
        rest_err(&bitrix, "timeman.status", &own, json!({"USER_ID": 1})).await,
        (403, "ACCESS_DENIED".to_owned())
    );
    bitrix
        .emulator
        .set_work_end(bitrix.member(), employee, "17:30:00");
    let settings = rest_ok(&bitrix, "timeman.settings", &own, json!({})).await;
    assert_eq!(settings["UF_TM_MIN_FINISH"], "17:30:00");
    bitrix.emulator.set_scope(bitrix.member(), CLIENT_ID, SCOPE);
    assert_eq!(
        rest_err(&bitrix, "timeman.status", &own, json!({})).await,
        (403, "insufficient_scope".to_owned())
    );
}

#[tokio::test]
async fn calendar_events_bind_only_with_the_scope_and_carry_only_the_entry_id() {
    let bitrix = Bitrix::installed().await;
    let admin = bitrix.access_token(1);
    let bind = json!({"event": "ONCALENDARENTRYADD", "handler": "http://127.0.0.1:9/events"});
    assert_eq!(
        rest_err(&bitrix, "event.bind", &admin, bind.clone()).await,
        (400, "ERROR_EVENT_NOT_FOUND".to_owned())
    );
    let bitrix = granted().await;
    let admin = bitrix.access_token(1);
    rest_ok(&bitrix, "event.bind", &admin, bind).await;
    let now = bitrix.emulator.clock().now();
    let (id, events) =
        bitrix
            .emulator
            .add_meeting(bitrix.member(), CLIENT_ID, bitrix.employee, (now, now + 60));
    assert_eq!(events.len(), 1);
    let (handler, post) = &events[0];
    assert_eq!(handler, "http://127.0.0.1:9/events");
    let body = post.body();
    assert!(body.contains(&format!("data%5Bid%5D={id}")), "{body}");
    assert!(body.contains("event=ONCALENDARENTRYADD"), "{body}");
    assert!(!body.contains("data%5BVERSION%5D"), "{body}");
    assert!(body.contains("auth%5Bapplication_token%5D="), "{body}");
}

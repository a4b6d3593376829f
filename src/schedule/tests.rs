use serde_json::json;

use super::*;

fn berlin(rules: serde_json::Value) -> Result<Schedule, Invalid> {
    read(json!({"time_zone": "Europe/Berlin", "rules": rules}))
}

fn read(shape: serde_json::Value) -> Result<Schedule, Invalid> {
    Schedule::try_from(serde_json::from_value::<ScheduleShape>(shape).expect("the shape"))
}

/// Unix seconds of a Berlin wall-clock time.
fn at(text: &str) -> i64 {
    let civil: jiff::civil::DateTime = text.parse().expect("datetime");
    civil
        .to_zoned(jiff::tz::TimeZone::get("Europe/Berlin").expect("zone"))
        .expect("zoned")
        .timestamp()
        .as_second()
}

#[test]
fn the_contract_shape_reads_and_writes_back_the_same() {
    let shape = json!({"time_zone": "Europe/Berlin", "rules": [
        {"days": ["mon", "tue", "wed", "thu", "fri"], "from": "09:00", "to": "11:00", "status": "dnd"},
        {"days": ["sat"], "from": "22:00", "to": "24:00", "status": "away"},
    ]});
    let schedule = read(shape.clone()).expect("valid");
    assert_eq!(json!(ScheduleShape::from(&schedule)), shape);
}

#[test]
fn each_mistake_names_its_rule_and_field() {
    let rule = |days: serde_json::Value, from: &str, to: &str, status: &str| json!({"days": days, "from": from, "to": to, "status": status});
    let cases = [
        (
            rule(json!(["mon", "xyz"]), "09:00", "10:00", "dnd"),
            "days",
            Problem::Day,
        ),
        (
            rule(json!([]), "09:00", "10:00", "dnd"),
            "days",
            Problem::Day,
        ),
        (
            rule(json!(["mon", "mon"]), "09:00", "10:00", "dnd"),
            "days",
            Problem::Day,
        ),
        (
            rule(json!(["mon"]), "9:00", "10:00", "dnd"),
            "from",
            Problem::Time,
        ),
        (
            rule(json!(["mon"]), "09:60", "10:00", "dnd"),
            "from",
            Problem::Time,
        ),
        (
            rule(json!(["mon"]), "24:00", "10:00", "dnd"),
            "from",
            Problem::Time,
        ),
        (
            rule(json!(["mon"]), "09:00", "24:01", "dnd"),
            "to",
            Problem::Time,
        ),
        (
            rule(json!(["mon"]), "10:00", "10:00", "dnd"),
            "to",
            Problem::Order,
        ),
        (
            rule(json!(["mon"]), "09:00", "10:00", "DND"),
            "status",
            Problem::Status,
        ),
    ];
    for (bad, field, problem) in cases {
        let good = rule(json!(["sun"]), "01:00", "02:00", "away");
        let refused = berlin(json!([good, bad])).expect_err("refused");
        assert_eq!(refused, invalid(Some(2), field, problem), "{bad}");
    }
}

#[test]
fn zones_must_be_iana_names_and_come_back_canonical() {
    for bad in [
        "",
        "+01:00",
        "Mars/Olympus",
        "EST5EDT,M3.2.0,M11.1.0",
        "../../etc/passwd",
        "/usr/share/zoneinfo/UTC",
        "Europe/../UTC",
    ] {
        let refused = read(json!({"time_zone": bad, "rules": []}));
        assert_eq!(
            refused.expect_err(bad),
            invalid(None, "time_zone", Problem::Zone)
        );
    }
    assert!(Schedule::empty("UTC").is_some());
    assert!(Schedule::empty("America/Argentina/Buenos_Aires").is_some());
    assert!(Schedule::empty("Etc/GMT+3").is_some());
    assert_eq!(
        Schedule::empty("Asia/Tokyo").expect("zone").zone_name,
        "Asia/Tokyo"
    );
}

#[test]
fn overlapping_rules_are_refused_naming_both_and_the_day() {
    let refused = berlin(json!([
        {"days": ["mon"], "from": "13:00", "to": "13:45", "status": "break"},
        {"days": ["wed", "thu"], "from": "09:00", "to": "11:00", "status": "dnd"},
        {"days": ["thu", "fri"], "from": "10:30", "to": "12:00", "status": "away"},
    ]))
    .expect_err("overlap");
    assert_eq!(
        refused,
        invalid(Some(3), "days", Problem::Overlap { other: 2, day: 3 })
    );
    // Touching is not overlapping: one ends as the next begins.
    berlin(json!([
        {"days": ["mon"], "from": "09:00", "to": "11:00", "status": "dnd"},
        {"days": ["mon"], "from": "11:00", "to": "12:00", "status": "away"},
    ]))
    .expect("adjacent rules");
}

#[test]
fn twenty_rules_fit_and_twenty_one_do_not() {
    let rules: Vec<_> = (0..21)
        .map(|i| json!({"days": ["mon"], "from": clock_text(i * 60), "to": clock_text(i * 60 + 30), "status": "dnd"}))
        .collect();
    berlin(json!(rules[..20])).expect("twenty");
    assert_eq!(
        berlin(json!(rules)).expect_err("21").problem,
        Problem::TooMany
    );
}

#[test]
fn windows_follow_the_wall_clock_of_the_zone() {
    let schedule = berlin(json!([
        {"days": ["mon", "tue", "wed", "thu", "fri"], "from": "09:00", "to": "11:00", "status": "dnd"},
    ]))
    .expect("valid");
    // 2026-12-04 is a Friday.
    let inside = schedule.window_at(at("2026-12-04T10:00")).expect("inside");
    assert_eq!(
        (inside.start, inside.end),
        (at("2026-12-04T09:00"), at("2026-12-04T11:00"))
    );
    assert_eq!(
        schedule.window_at(at("2026-12-04T11:00")),
        None,
        "the end is outside"
    );
    // From Friday noon, the next boundary is Monday 09:00.
    assert_eq!(
        schedule.next_boundary(at("2026-12-04T12:00")),
        Some(at("2026-12-07T09:00"))
    );
    // Across the spring change (2027-03-28, a Sunday), Monday still starts at 09:00 local.
    assert_eq!(
        schedule.next_boundary(at("2027-03-26T12:00")),
        Some(at("2027-03-29T09:00"))
    );
    assert_eq!(
        at("2027-03-29T09:00") - at("2027-03-26T09:00"),
        3 * 86_400 - 3600
    );
}

#[test]
fn the_plan_starts_follows_restores_and_skips_what_passed() {
    let schedule = berlin(json!([
        {"days": ["fri"], "from": "09:00", "to": "11:00", "status": "dnd"},
        {"days": ["fri"], "from": "11:00", "to": "12:00", "status": "break"},
    ]))
    .expect("valid");
    let start = plan(&schedule, None, None, at("2026-12-04T09:00"));
    assert_eq!(start.step, Step::Start(Status::Dnd));
    assert_eq!(start.at, at("2026-12-04T09:00"));
    assert_eq!(start.active_until, Some(at("2026-12-04T11:00")));
    assert_eq!(start.next_at, Some(at("2026-12-04T11:00")));

    let follow = plan(
        &schedule,
        start.active_until,
        Some(Status::Away),
        at("2026-12-04T11:00"),
    );
    assert_eq!(follow.step, Step::Follow(Status::Break));
    let end = plan(
        &schedule,
        follow.active_until,
        Some(Status::Away),
        at("2026-12-04T12:00"),
    );
    assert_eq!(end.step, Step::Restore(Status::Away));
    assert_eq!(end.active_until, None);
    assert_eq!(end.next_at, Some(at("2026-12-11T09:00")));

    // Down from 08:00 to 13:00: the day's windows passed unseen and change nothing.
    let late = plan(&schedule, None, None, at("2026-12-04T13:00"));
    assert_eq!(late.step, Step::Nothing);
    // A rule still running when the app comes back is applied; one that ended is restored.
    assert_eq!(
        plan(&schedule, None, None, at("2026-12-04T10:30")).step,
        Step::Start(Status::Dnd)
    );
    assert_eq!(
        plan(
            &schedule,
            Some(at("2026-12-04T12:00")),
            None,
            at("2026-12-04T13:00")
        )
        .step,
        Step::Restore(Status::Online)
    );
    // Looking again inside the same window changes nothing.
    assert_eq!(
        plan(
            &schedule,
            start.active_until,
            Some(Status::Away),
            at("2026-12-04T10:00")
        )
        .step,
        Step::Nothing
    );
}

#[test]
fn the_working_day_ends_today_or_not_at_all() {
    let zone = jiff::tz::TimeZone::get("Europe/Berlin").expect("zone");
    assert_eq!(
        today_at(&zone, at("2026-12-04T10:00"), WORKDAY_END),
        Some(at("2026-12-04T18:00"))
    );
    assert_eq!(today_at(&zone, at("2026-12-04T18:30"), WORKDAY_END), None);
}

#[test]
fn the_page_form_reads_one_rule() {
    let rule = RuleShape::new(&["mon", "fri"], "13:00", "13:45", "break")
        .checked(1)
        .expect("rule");
    assert!(rule.on(0) && rule.on(4) && !rule.on(1));
    assert_eq!((rule.from, rule.to), (13 * 60, 13 * 60 + 45));
    assert!(
        RuleShape::new(&[], "13:00", "13:45", "break")
            .checked(1)
            .is_err()
    );
}

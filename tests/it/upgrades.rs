//! Rolling upgrades and operator commands that only look: an older binary starts on a
//! database a newer one migrated and says so once; a database it truly cannot use is refused
//! naming both versions; operator commands never create or migrate a database.

use super::db::on_postgres;
use super::harness::{CLIENT_ID, TestApp};
use super::operate::operator;
use super::process::{AppProcess, free_port};

/// Applies a migration this binary does not know, as a newer release would have.
async fn migrate_as_a_newer_release(app: &TestApp) {
    let raw = app.db.raw().await;
    raw.execute("ALTER TABLE portals ADD COLUMN note_from_the_future TEXT")
        .await;
    let checksum = if on_postgres() {
        "'\\x00'::bytea"
    } else {
        "X'00'"
    };
    raw.execute(&format!(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
         VALUES (29991231000001, 'a newer release', TRUE, {checksum}, 0)"
    ))
    .await;
    raw.close().await;
}

#[tokio::test]
async fn an_older_binary_runs_on_a_database_a_newer_one_migrated_and_says_so() {
    let app = TestApp::installed(&[]).await;
    migrate_as_a_newer_release(&app).await;
    let mut process = AppProcess::start(&app.bitrix, &app.db, free_port(), "older", &[]).await;
    let post = app
        .bitrix
        .emulator
        .frame_post(app.member(), CLIENT_ID, 1, "DEFAULT", "en", "");
    let page = app
        .http
        .post(format!("{}/app?{}", process.url, post.query_string()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(post.body())
        .send()
        .await
        .expect("answer");
    assert_eq!(page.status(), 200, "the older binary serves");
    process.stop_async().await;
    let log = process.log();
    let said: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("migrated by a newer b24-status"))
        .collect();
    assert_eq!(said.len(), 1, "{log}");
    assert!(said[0].contains("29991231000001"), "{}", said[0]);
    let listed = operator(&app, &["portals", "--json"], &[]).await;
    assert_eq!(listed.code, Some(0), "{}", listed.err);
}

#[tokio::test]
async fn a_database_written_by_another_build_is_refused_naming_both_versions() {
    let app = TestApp::installed(&[]).await;
    let raw = app.db.raw().await;
    let first = raw
        .scalar("SELECT MIN(version) FROM _sqlx_migrations")
        .await;
    let changed = if on_postgres() {
        "'\\x01'::bytea"
    } else {
        "X'01'"
    };
    raw.execute(&format!(
        "UPDATE _sqlx_migrations SET checksum = {changed} WHERE version = {first}"
    ))
    .await;
    raw.close().await;
    let started = operator(&app, &["migrate"], &[]).await;
    assert_eq!(started.code, Some(1));
    assert!(
        started.err.contains(&format!("migration {first}"))
            && started.err.contains("this binary's (which knows up to"),
        "{}",
        started.err
    );
}

#[tokio::test]
async fn operator_commands_never_create_a_database() {
    if on_postgres() {
        return;
    }
    let app = TestApp::installed(&[]).await;
    let missing = app.db.dir().join("elsewhere").join("typo.db");
    let url = format!("sqlite://{}", missing.display());
    for command in [
        &["portals"][..],
        &["check"],
        &["reauth", "x"],
        &["backup", "b.db"],
    ] {
        let ran = operator(&app, command, &[("DATABASE_URL", &url)]).await;
        assert_ne!(ran.code, Some(0), "{command:?}");
        let said = format!("{}{}", ran.out, ran.err);
        assert!(said.contains("no database at"), "{command:?}: {said}");
    }
    assert!(!missing.exists() && !missing.parent().expect("folder").exists());
    let migrated = operator(&app, &["migrate"], &[("DATABASE_URL", &url)]).await;
    assert_eq!(migrated.code, Some(0), "{}", migrated.err);
    assert!(missing.exists(), "`migrate` creates it");
    let listed = operator(&app, &["portals"], &[("DATABASE_URL", &url)]).await;
    assert_eq!(listed.code, Some(0), "{}", listed.err);
}

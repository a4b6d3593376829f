//! Configuration refusals and defaults.

use super::*;
use clap::Parser;

/// Flags (`--…`) and secrets (`NAME=value`, as the environment would hold them).
fn cli(args: &[&str]) -> Result<Config, ConfigError> {
    let (flags, env): (Vec<&str>, Vec<&str>) = args.iter().partition(|a| a.starts_with("--"));
    let mut argv = vec!["b24-status"];
    argv.extend(flags);
    let secrets = Secrets::from_lookup(|name| {
        env.iter()
            .filter_map(|pair| pair.split_once('='))
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.to_owned())
    })?;
    Config::load(Cli::try_parse_from(argv).expect("flags parse"), secrets)
}

const SECRET: &str = "APP_SECRET=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

#[test]
fn production_needs_both_credentials_and_a_secret() {
    let one = cli(&["--b24-client-id=app.1", SECRET]).expect_err("refused");
    assert!(
        one.to_string().contains("B24_CLIENT_SECRET is not"),
        "{one}"
    );
    let other = cli(&["B24_CLIENT_SECRET=s", SECRET]).expect_err("refused");
    assert!(
        other.to_string().contains("B24_CLIENT_ID is not"),
        "{other}"
    );
    let no_secret = cli(&["--b24-client-id=app.1", "B24_CLIENT_SECRET=s"]).expect_err("refused");
    assert!(
        no_secret.to_string().contains("openssl rand"),
        "{no_secret}"
    );
    let short = cli(&[
        "--b24-client-id=a",
        "B24_CLIENT_SECRET=s",
        "APP_SECRET=c2hvcnQ=",
    ])
    .expect_err("refused");
    assert!(short.to_string().contains("at least 32"), "{short}");
}

#[test]
fn production_wants_https_unless_allowed() {
    let base = ["--b24-client-id=app.1", "B24_CLIENT_SECRET=s", SECRET];
    let refused = cli(&base).expect_err("default PUBLIC_URL is http");
    assert!(
        refused.to_string().contains("PUBLIC_URL must be an https"),
        "{refused}"
    );
    let mut good = base.to_vec();
    good.push("--public-url=https://status.example.com");
    let config = cli(&good).expect("valid");
    assert_eq!(config.mode, Mode::Production);
    assert_eq!(
        config.placements,
        ["IM_NAVIGATION"],
        "no placement needs `user`"
    );
    assert_eq!(
        config.tokens.lease,
        Duration::from_secs(15 + 2 * 10 + 5),
        "the lease outlives a refresh of BITRIX_TIMEOUT and two busy waits"
    );
    assert!(!config.allow_http);
    assert_eq!(
        config
            .oauth_servers
            .iter()
            .map(Url::as_str)
            .collect::<Vec<_>>(),
        ["https://oauth.bitrix.info/", "https://oauth.bitrix24.tech/"],
        "both regional OAuth servers by default"
    );
    let mut dev = base.to_vec();
    dev.extend([
        "--b24-allow-http=true",
        "--b24-oauth-url=http://127.0.0.1:9, http://127.0.0.1:10",
    ]);
    let dev = cli(&dev).expect("valid");
    assert!(dev.allow_http);
    assert_eq!(dev.oauth_servers.len(), 2);
    let mut plain = good.clone();
    plain.push("--b24-oauth-url=https://oauth.bitrix.info,http://oauth.example");
    let refused = cli(&plain).expect_err("http OAuth server");
    assert!(refused.to_string().contains("https://"), "{refused}");
    let mut pathy = good;
    pathy.push("--b24-oauth-url=https://oauth.bitrix.info/oauth/token/");
    let refused = cli(&pathy).expect_err("a path");
    assert!(refused.to_string().contains("servers only"), "{refused}");
}

#[test]
#[cfg(feature = "demo")]
fn demo_mode_is_loopback_only() {
    let refused = cli(&["--listen-addr=0.0.0.0:8080", SECRET]).expect_err("refused");
    assert!(refused.to_string().contains("loopback only"), "{refused}");
    let demo = cli(&[SECRET]).expect("valid");
    assert_eq!(demo.mode, Mode::Demo);
    assert!(demo.allow_http);
    assert!(demo.app_secret_given);
}

#[test]
fn bad_urls_and_addresses_are_named() {
    let e = cli(&[SECRET, "--listen-addr=nowhere"]).expect_err("refused");
    assert!(e.to_string().starts_with("LISTEN_ADDR"), "{e}");
    let e = cli(&[SECRET, "--public-url=ftp://x"]).expect_err("refused");
    assert!(e.to_string().starts_with("PUBLIC_URL"), "{e}");
}

#[test]
fn secrets_are_no_flags() {
    for flag in [
        "--app-secret=x",
        "--b24-client-secret=x",
        "--database-url=sqlite://x",
    ] {
        assert!(
            Cli::try_parse_from(["b24-status", flag]).is_err(),
            "{flag} would show in /proc/*/cmdline"
        );
    }
}

#[test]
fn every_setting_is_in_env_example_with_a_line_that_explains_it() {
    let example = include_str!("../../.env.example");
    let lines: Vec<&str> = example.lines().collect();
    for name in super::setting_names() {
        let at = lines
            .iter()
            .position(|line| {
                let line = line.strip_prefix("# ").unwrap_or(line);
                line.strip_prefix(name.as_str())
                    .is_some_and(|rest| rest.starts_with('='))
            })
            .unwrap_or_else(|| panic!("{name} is missing from .env.example"));
        let above = at.checked_sub(1).map_or("", |i| lines[i]);
        let a_setting = above
            .trim_start_matches("# ")
            .split_once('=')
            .is_some_and(|(key, _)| {
                !key.is_empty() && key.chars().all(|c| c.is_ascii_uppercase() || c == '_')
            });
        assert!(
            above.starts_with("# ") && !a_setting,
            "{name} in .env.example has no line above it saying what it is"
        );
    }
}

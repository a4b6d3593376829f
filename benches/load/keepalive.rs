//! The keep-alive over simulated months: 1,000,000 accounts, the app's own pace and budget
//! (`KeepaliveSettings::pace`, `budget`, `due_age`) and its pass timing (a pass starts the
//! interval plus a random part of half of it after the last started, or when the last one
//! ends), on a simulated clock. The store's part is modelled as what its claim does: the
//! oldest due accounts first.

use std::collections::VecDeque;
use std::time::Duration;

use b24_status::tokens::keepalive::KeepaliveSettings;
use rand::{Rng, SeedableRng};

pub const ACCOUNTS: u64 = 1_000_000;
const DAY: f64 = 86_400.0;
const SIMULATED_DAYS: f64 = 120.0;

/// One scenario's outcome.
pub struct Scenario {
    pub name: &'static str,
    pub refreshes_per_day: f64,
    pub busiest_minute: u32,
    pub oldest_days: f64,
}

pub struct Simulated {
    pub window_days: f64,
    pub scenarios: Vec<Scenario>,
}

/// Runs `accounts` (last refreshed at the given times, seconds before the start) for
/// `SIMULATED_DAYS`; the oldest age any account reached before its refresh.
fn simulate_one(
    name: &'static str,
    settings: &KeepaliveSettings,
    mut refreshed: Vec<f64>,
    old_way: bool,
) -> Scenario {
    refreshed.sort_by(f64::total_cmp);
    let mut queue: VecDeque<f64> = refreshed.into();
    let accounts = queue.len() as u64;
    let (per_second, budget, due_age) = if old_way {
        // The first version: at most 200 accounts older than the window per pass, 4 at once
        // (about 10 a second against the emulator).
        (10.0, 200, settings.max_age.as_secs_f64())
    } else {
        let pace = settings.pace(accounts);
        (
            pace.per_second,
            settings.budget(pace),
            settings.due_age().as_secs_f64(),
        )
    };
    let spacing = 1.0 / per_second;
    let interval = settings.interval.as_secs_f64();
    let mut random = rand::rngs::StdRng::seed_from_u64(7);
    let (mut t, mut refreshes, end) = (0.0, 0u64, SIMULATED_DAYS * DAY);
    let mut oldest: f64 = 0.0;
    let mut per_minute = vec![0u32; (end / 60.0) as usize + 2];
    while t < end {
        let mut at = t;
        let mut done = 0;
        while done < budget && queue.front().is_some_and(|last| *last < t - due_age) {
            let last = queue.pop_front().unwrap_or(at);
            oldest = oldest.max(at - last);
            queue.push_back(at);
            if let Some(minute) = per_minute.get_mut((at / 60.0) as usize) {
                *minute += 1;
            }
            at += spacing;
            done += 1;
        }
        refreshes += u64::from(done);
        // Whatever is still waiting ages too.
        if let Some(last) = queue.front() {
            oldest = oldest.max(at - last);
        }
        t = (t + interval + random.random_range(0.0..=interval / 2.0)).max(at);
    }
    Scenario {
        name,
        busiest_minute: per_minute.into_iter().max().unwrap_or(0),
        refreshes_per_day: refreshes as f64 / SIMULATED_DAYS,
        oldest_days: oldest / DAY,
    }
}

pub fn simulate() -> Simulated {
    let settings = KeepaliveSettings::default();
    let window = settings.max_age.as_secs_f64();
    let n = ACCOUNTS as usize;
    // Accounts whose last refreshes are spread over the last half window: the steady state.
    let spread: Vec<f64> = (0..n)
        .map(|i| -(i as f64) * window / 2.0 / n as f64)
        .collect();
    // Every account refreshed at the same moment (a big portal opened by everyone on its first
    // day, or a restore): all fall due together.
    let together = vec![0.0; n];
    Simulated {
        window_days: window / DAY,
        scenarios: vec![
            simulate_one(
                "spread over the last 10 days",
                &settings,
                spread.clone(),
                false,
            ),
            simulate_one(
                "all refreshed at the same moment",
                &settings,
                together,
                false,
            ),
            simulate_one(
                "first version's keep-alive (200 per pass), spread",
                &settings,
                spread,
                true,
            ),
        ],
    }
}

/// The simulated months, for the report's heading.
pub fn simulated() -> Duration {
    Duration::from_secs_f64(SIMULATED_DAYS * DAY)
}

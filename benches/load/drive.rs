//! Load phases: a closed loop of clients, or a fixed rate of requests, and their figures.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use b24_status::emulator::FormPost;
use serde_json::json;

use super::PHASE;

/// One request of a load phase.
#[derive(Clone)]
pub enum Target {
    /// `PUT` through the app or the forwarder, each request with the next bearer session
    /// (the forwarder ignores it).
    Put {
        url: String,
        bearers: Arc<Vec<String>>,
    },
    /// `im.user.status.set` straight at the upstream, its hosts in turn.
    Direct {
        urls: Arc<Vec<String>>,
        token: String,
    },
    /// `POST /app` with pregenerated frame POSTs.
    Open {
        url: String,
        posts: Arc<Vec<FormPost>>,
    },
}

pub async fn fire(http: &reqwest::Client, target: &Target, i: usize) -> bool {
    let status = ["online", "dnd", "away", "break"][i % 4];
    let sent = match target {
        Target::Put { url, bearers } => {
            http.put(url)
                .bearer_auth(&bearers[i % bearers.len()])
                .json(&json!({"status": status}))
                .send()
                .await
        }
        Target::Direct { urls, token } => {
            http.post(&urls[i % urls.len()])
                .json(&json!({"auth": token, "STATUS": status}))
                .send()
                .await
        }
        Target::Open { url, posts } => {
            let post = &posts[i % posts.len()];
            http.post(format!("{url}?{}", post.query_string()))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(post.body())
                .send()
                .await
        }
    };
    match sent {
        Ok(response) => {
            let ok = response.status().is_success();
            let _ = response.bytes().await;
            ok
        }
        Err(_) => false,
    }
}

pub struct Figures {
    pub throughput: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub errors: usize,
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index].as_secs_f64() * 1000.0
}

/// What load phases of one target measured, to be added up.
#[derive(Default)]
pub struct Samples {
    latencies: Vec<Duration>,
    errors: usize,
    elapsed: Duration,
}

impl Samples {
    fn add(&mut self, other: Samples) {
        self.latencies.extend(other.latencies);
        self.errors += other.errors;
        self.elapsed += other.elapsed;
    }

    pub fn figures(mut self) -> Figures {
        self.latencies.sort();
        Figures {
            throughput: self.latencies.len() as f64 / self.elapsed.as_secs_f64(),
            p50_ms: percentile(&self.latencies, 0.50),
            p99_ms: percentile(&self.latencies, 0.99),
            errors: self.errors,
        }
    }
}

/// Short phases that take turns between targets, so each ratio compares the same moments of
/// a machine whose speed drifts during a run.
const ROUNDS: u32 = 6;

/// `workers` clients, each sending one request after another for `PHASE`.
pub async fn closed_loop(http: &reqwest::Client, target: &Target, workers: usize) -> Figures {
    closed_loop_for(http, target, workers, PHASE).await
}

/// `targets` loaded in turn, [`ROUNDS`] phases each adding up to `PHASE`.
pub async fn interleaved(
    http: &reqwest::Client,
    targets: &[&Target],
    workers: usize,
) -> Vec<Figures> {
    let mut samples: Vec<Samples> = targets.iter().map(|_| Samples::default()).collect();
    for _ in 0..ROUNDS {
        for (target, sum) in targets.iter().zip(&mut samples) {
            sum.add(closed_loop_samples(http, target, workers, PHASE / ROUNDS).await);
        }
    }
    samples.into_iter().map(Samples::figures).collect()
}

pub async fn closed_loop_for(
    http: &reqwest::Client,
    target: &Target,
    workers: usize,
    phase: Duration,
) -> Figures {
    closed_loop_samples(http, target, workers, phase)
        .await
        .figures()
}

/// `workers` clients for `PHASE`, each over a connection of its own that it keeps: exactly
/// `workers` connections, where a shared pool opens extra ones when an answer and a new
/// request cross.
pub async fn own_connections(target: &Target, workers: usize) -> Figures {
    let client = || {
        reqwest::Client::builder()
            .pool_max_idle_per_host(1)
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client")
    };
    closed_loop_with(client, target, workers, PHASE)
        .await
        .figures()
}

async fn closed_loop_samples(
    http: &reqwest::Client,
    target: &Target,
    workers: usize,
    phase: Duration,
) -> Samples {
    closed_loop_with(|| http.clone(), target, workers, phase).await
}

async fn closed_loop_with(
    client: impl Fn() -> reqwest::Client,
    target: &Target,
    workers: usize,
    phase: Duration,
) -> Samples {
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..workers {
        let (http, target) = (client(), target.clone());
        tasks.spawn(async move {
            let (mut latencies, mut errors, mut i) = (Vec::new(), 0, w);
            while started.elapsed() < phase {
                let sent = Instant::now();
                if fire(&http, &target, i).await {
                    latencies.push(sent.elapsed());
                } else {
                    errors += 1;
                }
                i += workers;
            }
            (latencies, errors)
        });
    }
    let mut samples = Samples::default();
    while let Some(Ok((l, e))) = tasks.join_next().await {
        samples.latencies.extend(l);
        samples.errors += e;
    }
    samples.elapsed = started.elapsed();
    samples
}

/// One request every millisecond for `PHASE`, whatever the answers take.
pub async fn fixed_rate(http: &reqwest::Client, target: &Target) -> Figures {
    let started = Instant::now();
    let samples = Arc::new(Mutex::new((Vec::new(), 0usize)));
    let mut ticker = tokio::time::interval(Duration::from_millis(1));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut tasks = tokio::task::JoinSet::new();
    let mut i = 0;
    while started.elapsed() < PHASE {
        ticker.tick().await;
        let (http, target, samples) = (http.clone(), target.clone(), samples.clone());
        tasks.spawn(async move {
            let sent = Instant::now();
            let ok = fire(&http, &target, i).await;
            let mut samples = samples
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if ok {
                samples.0.push(sent.elapsed());
            } else {
                samples.1 += 1;
            }
        });
        i += 1;
    }
    while tasks.join_next().await.is_some() {}
    let (latencies, errors) = std::mem::take(
        &mut *samples
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    );
    Samples {
        latencies,
        errors,
        elapsed: started.elapsed(),
    }
    .figures()
}

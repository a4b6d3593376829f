//! Start-up only: configuration, logs, the app, and serving until Ctrl-C or SIGTERM.

use std::process::ExitCode;

use clap::Parser;

use b24_status::config::{Cli, Config, Mode, Secrets};

// glibc's allocator took a sixth of the status path's time and kept freed memory in per-thread
// arenas (docs/performance.md, "Where the time goes").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // A missing .env is normal; a broken one is worth saying.
    if let Err(err) = dotenvy::dotenv()
        && !err.not_found()
    {
        eprintln!("b24-status: cannot read .env: {err}");
        return ExitCode::from(2);
    }
    // `NAME=` in .env (as `.env.example` has it) means unset, for every setting alike.
    for name in b24_status::config::setting_names() {
        if std::env::var_os(&name).is_some_and(|value| value.is_empty()) {
            // SAFETY: no other thread exists yet: the runtime is built below.
            unsafe { std::env::remove_var(&name) };
        }
    }
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(start()),
        Err(err) => {
            eprintln!("b24-status: cannot start the runtime: {err}");
            ExitCode::from(1)
        }
    }
}

async fn start() -> ExitCode {
    let mut cli = Cli::parse();
    let secrets = match Secrets::from_env() {
        Ok(secrets) => secrets,
        Err(err) => {
            eprintln!("b24-status: {err}");
            return ExitCode::from(2);
        }
    };
    if let Some(command) = cli.command.take() {
        return b24_status::operate::run(command, cli, secrets).await;
    }
    let config = match Config::load(cli, secrets) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("b24-status: {err}");
            return ExitCode::from(2);
        }
    };
    // Held until the end, so the last lines reach the log before the process exits.
    let _log = b24_status::telemetry::init(config.log_format);
    match run(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("b24-status: {err}");
            ExitCode::from(1)
        }
    }
}

async fn run(config: Config) -> Result<(), Box<dyn std::error::Error>> {
    let listener = tokio::net::TcpListener::bind(config.listen_addr)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen_addr))?;
    let address = listener.local_addr()?;
    #[cfg(feature = "demo")]
    let (demo, config) = match config.mode {
        Mode::Demo => {
            let (demo, config) = b24_status::demo::start(config, address)
                .await
                .map_err(|e| format!("cannot start the demo Bitrix24: {e}"))?;
            (Some(demo), config)
        }
        Mode::Production => (None, config),
    };
    #[cfg(feature = "demo")]
    let clock = demo
        .as_ref()
        .map(|demo| demo.emulator.clock())
        .unwrap_or_default();
    #[cfg(not(feature = "demo"))]
    let clock = b24_status::clock::Clock::default();
    let (router, state) = b24_status::build_with_clock(config.clone(), clock).await?;
    if let Some(metrics_addr) = config.metrics_addr {
        let metrics_listener = tokio::net::TcpListener::bind(metrics_addr)
            .await
            .map_err(|e| format!("cannot listen on METRICS_ADDR {metrics_addr}: {e}"))?;
        let metrics = b24_status::http::metrics_router(state.clone());
        tokio::spawn(b24_status::serve(
            metrics_listener,
            metrics,
            std::future::pending(),
        ));
    }
    tokio::spawn(b24_status::portals::background::run(
        state.tokens.clone(),
        config.keepalive.clone(),
    ));
    tokio::spawn(b24_status::portals::scheduler::run(state.tokens.clone()));
    tokio::spawn(state.tokens.clone().check_cache_forever());
    #[cfg(feature = "demo")]
    if let Some(demo) = &demo {
        tracing::warn!(
            oauth = %demo.emulator.oauth_url(),
            portal = %demo.portal.domain,
            "DEMO MODE: no B24_CLIENT_ID/B24_CLIENT_SECRET set, talking to the built-in Bitrix24 emulator on loopback, not to real portals"
        );
        say(&format!(
            "b24-status demo: open {} (the app listens on http://{address})\n\
             b24-status demo: a portal of the east region (its own OAuth server) is at {}",
            demo.url, demo.east_url
        ));
    }
    if config.mode == Mode::Production {
        say(&format!("b24-status listening on http://{address}"));
    }
    let draining = state.clone();
    let delay = config.shutdown_delay;
    let shutdown = async move {
        shutdown_signal().await;
        // Readiness fails first while requests are still served, so a load balancer moves
        // new ones elsewhere before the listener closes.
        draining.start_draining();
        tracing::info!(delay_s = delay.as_secs(), "draining: /readyz answers 503");
        tokio::time::sleep(delay).await;
    };
    b24_status::serve(listener, router, shutdown).await?;
    // A refresh under way has already rotated the pair at Bitrix24: let it store the new one,
    // for as long as a refresh and its commit may take (the lease).
    if !state.tokens.drain(config.tokens.lease).await {
        tracing::warn!("stopped with token refreshes still under way");
    }
    state.call_log.flush().await;
    tracing::info!("stopped");
    Ok(())
}

/// Prints a line for the person who started the app; a reader that went away (`| head -1`)
/// is no reason to stop serving.
fn say(text: &str) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let _gone = writeln!(stdout, "{text}").and_then(|()| stdout.flush());
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    tracing::info!("shutting down");
}

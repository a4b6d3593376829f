//! Start-up only: the command line, configuration and logs, then an operator's command or the
//! app ([`b24_status::Application`]) until Ctrl-C or SIGTERM.

use std::process::ExitCode;

use clap::Parser;

use b24_status::config::{Cli, Config, Secrets};

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
    let app = b24_status::Application::build(config).await?;
    app.run_until(shutdown_signal()).await?;
    Ok(())
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

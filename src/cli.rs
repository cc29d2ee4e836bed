//! The command line (clap derive) and its dispatch. Exit statuses: 0 success;
//! 1 a check failed or the daemon stopped on an error; 2 a usage error or a
//! configuration that cannot be loaded.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;

use crate::config::{CONFIG_PATH_ENV, Config, DEFAULT_CONFIG_PATH, LogFormat, SpoolConfig};
use crate::{check, daemon, initiation, systemd, telemetry};

/// Connects Odoo 18/19 to an N8N AI image-generation workflow.
///
/// Queued requests in Odoo are sent to N8N; N8N's results are stored in Odoo.
#[derive(Debug, Parser)]
#[command(name = "influence-gen-bridge", version, about, long_about)]
pub struct Cli {
    /// Path of the TOML configuration file.
    #[arg(long, short, global = true, value_name = "PATH", env = CONFIG_PATH_ENV, default_value = DEFAULT_CONFIG_PATH)]
    pub config: PathBuf,

    /// Log format; overrides `[log] format`. The level comes from RUST_LOG or `[log] level`.
    #[arg(long, global = true, value_enum, value_name = "FORMAT")]
    pub log_format: Option<LogFormat>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: serve callbacks, triggers, health and metrics, apply the spool and send queued requests, until SIGTERM or SIGINT.
    Serve,
    /// Send a queued request to N8N now: one by id or UUID, or every queued one.
    ///
    /// Prints one line per request (and a summary for --all-queued). Exits 0 when
    /// sent, 1 when an initiation failed, its outcome is unknown (it stays
    /// processing) or Odoo could not be used, 3 when nothing was sent (not
    /// queued, not found).
    Initiate(initiation::command::InitiateArgs),
    /// Validate the configuration and prove that Odoo and N8N are reachable and set up.
    ///
    /// Prints one line per check (ok / warn / FAIL) and exits 0 only when none failed.
    Check,
    /// Inspect and manage the spool of accepted callbacks (works while the daemon runs).
    #[command(subcommand)]
    Spool(crate::spool::admin::SpoolCommand),
}

pub fn run(cli: Cli) -> ExitCode {
    // The spool commands read `[spool]` alone: they need no secret.
    if let Command::Spool(command) = cli.command {
        return match SpoolConfig::load(&cli.config) {
            Ok(spool) => command.run(&spool),
            Err(error) => usage_error(error),
        };
    }
    let config = match Config::load(&cli.config) {
        Ok(config) => config,
        Err(error) => return usage_error(error),
    };
    telemetry::init(
        &config.log.level,
        cli.log_format.unwrap_or(config.log.format),
    );
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match cli.command {
        Command::Spool(command) => command.run(&config.spool),
        Command::Serve => runtime.block_on(serve(config, cli.config)),
        Command::Initiate(args) => runtime.block_on(initiation::command::run(config, args)),
        Command::Check => {
            let report = runtime.block_on(check::run(&config, &cli.config.display().to_string()));
            println!("{report}");
            ExitCode::from(u8::from(!report.passed()))
        }
    }
}

fn usage_error(error: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {error}");
    ExitCode::from(2)
}

async fn serve(config: Config, path: PathBuf) -> ExitCode {
    let listen = config.server.listen;
    let listener = match tokio::net::TcpListener::bind(listen).await {
        Ok(listener) => listener,
        Err(error) => {
            tracing::error!(%listen, %error, "cannot listen");
            return ExitCode::FAILURE;
        }
    };
    let shutdown = CancellationToken::new();
    tokio::spawn(cancel_on_signal(shutdown.clone()));
    let (reloads, reloaded) = tokio::sync::mpsc::channel(1);
    tokio::spawn(reload_on_sighup(path, reloads));
    match daemon::run(config, listener, shutdown, reloaded).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "the daemon stopped on an error");
            ExitCode::FAILURE
        }
    }
}

async fn cancel_on_signal(shutdown: CancellationToken) {
    let (Ok(mut terminate), Ok(mut interrupt)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("cannot install signal handlers; stop the daemon with SIGKILL");
        return;
    };
    let name = tokio::select! {
        _ = terminate.recv() => "SIGTERM",
        _ = interrupt.recv() => "SIGINT",
    };
    tracing::info!(signal = name, "shutting down");
    shutdown.cancel();
}

/// On SIGHUP, loads the configuration again; an invalid one is only logged.
async fn reload_on_sighup(path: PathBuf, reloads: tokio::sync::mpsc::Sender<Config>) {
    let Ok(mut hangups) = signal(SignalKind::hangup()) else {
        tracing::error!("cannot install the SIGHUP handler; reloading needs a restart");
        return;
    };
    while hangups.recv().await.is_some() {
        systemd::notify_reloading();
        let path = path.clone();
        match tokio::task::spawn_blocking(move || Config::load(&path)).await {
            Ok(Ok(config)) => {
                if reloads.send(config).await.is_err() {
                    return;
                }
            }
            Ok(Err(error)) => {
                tracing::error!(%error, "reload refused; the running configuration stays");
                systemd::notify_ready("serving; the last reload was refused");
            }
            Err(error) => tracing::error!(%error, "reload failed"),
        }
    }
}

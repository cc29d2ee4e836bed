//! Load harness for the callback route (issue 8): how many callbacks per
//! second the bridge takes, how fast it answers, and what it costs in
//! memory, CPU and Odoo calls. Results and their analysis: BENCHMARKS.md.
//!
//! ```sh
//! cargo run --release --example loadgen                 # every scenario, default sizes
//! cargo run --release --example loadgen -- --scenario small-failure --connections 32 --duration 20s
//! cargo run --release --example loadgen -- --scenario image-10mb --count 50
//! ```
//!
//! For each scenario the harness starts two processes on loopback: the Odoo
//! emulator of `tests/testkit` (this executable again, with a hidden
//! `--serve-emulator` flag; instant answers, commands over stdin/stdout) and
//! the real daemon binary (`target/release/influence-gen-bridge`, built
//! first if missing) with a generated configuration: spool on, fsync on,
//! Odoo and spool concurrency sized to the connections. It then drives
//! `POST /influence_gen/ai/callback/image_result` over N keep-alive
//! connections and reads the daemon's RSS and CPU time from `/proc`.
//! Nothing leaves the machine.

mod daemon;
mod drive;
mod emulator;
mod procfs;
mod report;
mod run;
mod scenario;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;

use drive::Stop;
use scenario::Scenario;

/// Requests seeded per second of a timed run, unless `--seed-rate` says otherwise.
const DEFAULT_SEED_RATE: usize = 4_000;

/// Load harness for influence-gen-bridge's callback route.
#[derive(Debug, Parser)]
#[command(name = "loadgen")]
struct Args {
    /// Scenario to run (repeat for several); default: all of them.
    #[arg(long = "scenario", value_enum)]
    scenarios: Vec<Scenario>,
    /// Concurrent keep-alive connections (default per scenario: 32 for
    /// small-failure and duplicates, 8 for image-1mb and image-url, 4 for image-10mb).
    #[arg(long)]
    connections: Option<usize>,
    /// Run each scenario this long ("20s", "1m"; a bare number is seconds).
    #[arg(long, value_parser = parse_duration, conflicts_with = "count")]
    duration: Option<Duration>,
    /// Send this many callbacks per scenario.
    #[arg(long)]
    count: Option<usize>,
    /// Requests seeded per second of a timed run (each callback uses a request of its own).
    #[arg(long, default_value_t = DEFAULT_SEED_RATE)]
    seed_rate: usize,
    /// The daemon binary (default: target/release/influence-gen-bridge next to this example).
    #[arg(long)]
    bin: Option<PathBuf>,
    /// Also write the figures as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Record the daemon with `perf record` during each measured phase, into
    /// DIR/<scenario>.perf.data (keep DIR out of the repository).
    #[arg(long, value_name = "DIR")]
    perf: Option<PathBuf>,
    /// Run the daemon with `spool.fsync = false`, to see what fsync costs
    /// (every figure compared with the targets has it on).
    #[arg(long)]
    no_fsync: bool,
    /// Run as the Odoo emulator process (used by the harness itself).
    #[arg(long = "serve-emulator", hide = true)]
    serve_emulator: bool,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    match text.parse::<f64>() {
        Ok(seconds) if seconds > 0.0 => Ok(Duration::from_secs_f64(seconds)),
        Ok(_) => Err("must be positive".into()),
        Err(_) => humantime::parse_duration(text).map_err(|e| e.to_string()),
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.serve_emulator {
        return emulator::serve();
    }
    match run_all(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("loadgen: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run_all(args: &Args) -> anyhow::Result<()> {
    let options = run::Options {
        binary: daemon::binary(args.bin.as_deref())?,
        connections: args.connections,
        stop: args
            .duration
            .map(Stop::After)
            .or(args.count.map(Stop::Count)),
        seed_rate: args.seed_rate,
        perf_dir: args.perf.clone(),
        fsync: !args.no_fsync,
    };
    let scenarios = if args.scenarios.is_empty() {
        Scenario::ALL.to_vec()
    } else {
        args.scenarios.clone()
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start a runtime")?;
    eprintln!(
        "daemon: {}; {} CPUs shared by the harness, the emulator and the daemon",
        options.binary.display(),
        procfs::cpus()
    );
    let mut all = Vec::new();
    for scenario in scenarios {
        let figures = run::scenario(&runtime, scenario, &options)
            .with_context(|| format!("scenario {}", scenario.name()))?;
        eprint!("{}", report::details(&figures));
        all.push(figures);
    }
    println!();
    print!("{}", report::table(&all));
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&all)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

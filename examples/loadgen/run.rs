//! One scenario from start to end: a fresh emulator and daemon (so peak RSS
//! and start time are the scenario's own), requests seeded, a warm-up, the
//! measured phase, then the figures.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use influence_gen_testkit::ImageServer;
use tokio::runtime::Runtime;

use crate::daemon::{DaemonProcess, DaemonSettings};
use crate::drive::{self, Load, Stop, Tally};
use crate::emulator::EmulatorProcess;
use crate::procfs;
use crate::report::{self, Figures};
use crate::scenario::{Payload, Scenario, inline_body};

/// How long the daemon may take to log in to the emulator.
const LOGIN_TIMEOUT: Duration = Duration::from_secs(10);
/// Pause between login and the idle RSS reading.
const SETTLE: Duration = Duration::from_millis(500);
/// After the measured phase, how long the Odoo call counts must stay still
/// to count as final (202-accepted callbacks are still being applied).
const QUIET: Duration = Duration::from_millis(500);
const QUIET_TIMEOUT: Duration = Duration::from_secs(30);
/// Warm-up callbacks per connection (excluded from every figure but peak RSS).
const WARMUP_PER_CONNECTION: usize = 2;

/// Options common to every scenario.
#[derive(Debug, Clone)]
pub struct Options {
    pub binary: PathBuf,
    pub connections: Option<usize>,
    pub stop: Option<Stop>,
    /// Requests seeded per second of a timed run.
    pub seed_rate: usize,
    /// Record the daemon with `perf record` during the measured phase.
    pub perf_dir: Option<PathBuf>,
    /// `spool.fsync`.
    pub fsync: bool,
}

/// Runs `scenario`.
pub fn scenario(
    runtime: &Runtime,
    scenario: Scenario,
    options: &Options,
) -> anyhow::Result<Figures> {
    let connections = options
        .connections
        .unwrap_or(scenario.default_connections())
        .max(1);
    let stop = options.stop.unwrap_or(scenario.default_stop());
    let warmup = connections * WARMUP_PER_CONNECTION;
    eprintln!(
        "== {}: {connections} connections, {stop}{}",
        scenario.name(),
        if options.fsync {
            ""
        } else {
            ", spool.fsync = false"
        }
    );
    let mut emulator = EmulatorProcess::start()?;
    let settings = DaemonSettings {
        odoo_url: emulator.url.clone(),
        concurrency: connections,
        fsync: options.fsync,
    };
    let daemon = DaemonProcess::start(&options.binary, &settings)?;
    daemon.wait_logged_in(LOGIN_TIMEOUT)?;
    std::thread::sleep(SETTLE);
    let pid = daemon.pid();
    let idle_rss_kib = procfs::rss_kib(pid).context("cannot read the daemon's RSS")?;

    let seeded = match stop {
        Stop::Count(count) => count,
        Stop::After(duration) => {
            (duration.as_secs_f64() * options.seed_rate as f64).ceil() as usize
        }
    };
    // The image host of image-url lives as long as this binding.
    let (payload, ids, _image_server) = prepare(
        runtime,
        scenario,
        &daemon,
        &mut emulator,
        connections,
        warmup + seeded,
    )?;
    let payload = Arc::new(payload);
    let ids = Arc::new(ids);

    let load = |stop: Stop, first: usize| {
        let (payload, ids) = (Arc::clone(&payload), Arc::clone(&ids));
        let resend = matches!(*payload, Payload::Resend { .. });
        Load {
            address: daemon.address,
            connections,
            stop,
            bodies: Arc::new(move |connection, n| {
                let id = if resend { 0 } else { *ids.get(first + n)? };
                Some(payload.body(id, first + n, connection))
            }),
        }
    };
    let warm = runtime.block_on(drive::run(load(Stop::Count(warmup), 0)));
    if warm.errors() > 0 {
        eprintln!(
            "   warm-up: {} errors ({:?} {:?})",
            warm.errors(),
            warm.statuses,
            warm.transport_errors
        );
    }
    emulator.reset()?;

    let before = CpuSnapshot::take(pid, emulator.pid());
    let perf = options
        .perf_dir
        .as_deref()
        .map(|dir| start_perf(dir, scenario.name(), pid))
        .transpose()?;
    let mut tally = runtime.block_on(drive::run(load(stop, warmup)));
    if let Some(perf) = perf {
        stop_perf(perf);
    }
    let after = CpuSnapshot::take(pid, emulator.pid());
    let calls = settled_calls(&mut emulator)?;
    let peak_rss_kib = procfs::peak_rss_kib(pid).unwrap_or(0);
    let (warnings, errors, problems) = daemon.problems();
    let start_to_listening = daemon.start_to_listening;
    daemon.stop();
    drop(emulator);

    tally.latencies_us.sort_unstable();
    Ok(figures(
        scenario,
        connections,
        stop,
        Observed {
            tally,
            calls,
            image_bytes: payload.image_bytes(),
            idle_rss_kib,
            peak_rss_kib,
            start_to_listening,
            cpu: before.delta(&after),
            log: (warnings, errors, problems),
        },
    ))
}

/// The scenario's payload and the requests its callbacks are for (none
/// when it re-sends prepared bodies), plus the image host it needs.
fn prepare(
    runtime: &Runtime,
    scenario: Scenario,
    daemon: &DaemonProcess,
    emulator: &mut EmulatorProcess,
    connections: usize,
    requests: usize,
) -> anyhow::Result<(Payload, Vec<i64>, Option<ImageServer>)> {
    let image = scenario.image();
    Ok(match (scenario, image) {
        (Scenario::SmallFailure, _) => (Payload::Failure, emulator.seed(requests)?, None),
        (Scenario::ImageUrl, Some(image)) => {
            let server = runtime.block_on(ImageServer::start());
            let image_bytes = image.len();
            let url = server.file("/generated/image.png", "image/png", image);
            let payload = Payload::Url { url, image_bytes };
            (payload, emulator.seed(requests)?, Some(server))
        }
        (Scenario::Duplicates, Some(image)) => {
            let bodies = apply_once(runtime, daemon, emulator, connections, &image)?;
            let payload = Payload::Resend {
                bodies,
                image_bytes: image.len(),
            };
            (payload, Vec::new(), None)
        }
        (_, Some(image)) => (Payload::inline(&image), emulator.seed(requests)?, None),
        (_, None) => bail!("scenario {} has no image", scenario.name()),
    })
}

/// For the duplicates scenario: one request per connection, each result
/// applied once (not measured); the bodies to re-send.
fn apply_once(
    runtime: &Runtime,
    daemon: &DaemonProcess,
    emulator: &mut EmulatorProcess,
    connections: usize,
    image: &[u8],
) -> anyhow::Result<Vec<Bytes>> {
    let ids = emulator.seed(connections)?;
    let Payload::Inline { base64, .. } = Payload::inline(image) else {
        unreachable!("Payload::inline makes an inline payload");
    };
    let bodies: Vec<Bytes> = ids
        .iter()
        .map(|id| Bytes::from(inline_body(*id, &base64).concat()))
        .collect();
    let first = bodies.clone();
    let applied = runtime.block_on(drive::run(Load {
        address: daemon.address,
        connections,
        stop: Stop::Count(connections),
        bodies: Arc::new(move |connection, _| Some(vec![first[connection].clone()])),
    }));
    if applied.statuses.get(&200).copied().unwrap_or(0) != connections as u64 {
        bail!(
            "applying the results to re-send failed: {:?} {:?}",
            applied.statuses,
            applied.transport_errors
        );
    }
    Ok(bodies)
}

/// The emulator's call counts once they stop changing.
fn settled_calls(emulator: &mut EmulatorProcess) -> anyhow::Result<crate::emulator::CallCounts> {
    let deadline = Instant::now() + QUIET_TIMEOUT;
    let mut last = emulator.stats()?;
    loop {
        std::thread::sleep(QUIET);
        let now = emulator.stats()?;
        if now == last || Instant::now() >= deadline {
            return Ok(now);
        }
        last = now;
    }
}

/// What a scenario's run left to compute the figures from.
struct Observed {
    tally: Tally,
    calls: crate::emulator::CallCounts,
    image_bytes: usize,
    idle_rss_kib: u64,
    peak_rss_kib: u64,
    start_to_listening: Duration,
    cpu: CpuSnapshot,
    /// Warnings, errors and the first few of them, as the daemon logged them.
    log: (u64, u64, Vec<String>),
}

/// CPU seconds used so far by the daemon, the emulator, this harness and the machine.
#[derive(Debug, Clone, Copy)]
struct CpuSnapshot {
    daemon: f64,
    emulator: f64,
    harness: f64,
    machine_busy: f64,
}

impl CpuSnapshot {
    fn take(daemon: u32, emulator: u32) -> Self {
        Self {
            daemon: procfs::cpu_seconds(daemon).unwrap_or(0.0),
            emulator: procfs::cpu_seconds(emulator).unwrap_or(0.0),
            harness: procfs::cpu_seconds(std::process::id()).unwrap_or(0.0),
            machine_busy: procfs::machine_cpu_seconds().map_or(0.0, |(busy, _)| busy),
        }
    }

    fn delta(&self, later: &Self) -> Self {
        Self {
            daemon: later.daemon - self.daemon,
            emulator: later.emulator - self.emulator,
            harness: later.harness - self.harness,
            machine_busy: later.machine_busy - self.machine_busy,
        }
    }
}

fn figures(scenario: Scenario, connections: usize, stop: Stop, observed: Observed) -> Figures {
    let Observed {
        tally,
        calls,
        image_bytes,
        idle_rss_kib,
        peak_rss_kib,
        start_to_listening,
        cpu,
        log: (warnings, errors, problems),
    } = observed;
    let successes = tally.successes();
    let wall_s = tally.wall.as_secs_f64();
    let execute_kw: u64 = calls
        .iter()
        .filter(|(kind, _)| !kind.starts_with("common.") && !kind.starts_with("db."))
        .map(|(_, n)| n)
        .sum();
    let per_success = |total: f64| total / (successes.max(1) as f64);
    let sorted = &tally.latencies_us;
    Figures {
        scenario: scenario.name(),
        connections,
        run: stop.to_string(),
        answered: tally.statuses.values().sum(),
        wall_s,
        callbacks_per_s: successes as f64 / wall_s.max(f64::EPSILON),
        p50_ms: report::percentile_ms(sorted, 50.0),
        p90_ms: report::percentile_ms(sorted, 90.0),
        p99_ms: report::percentile_ms(sorted, 99.0),
        max_ms: report::percentile_ms(sorted, 100.0),
        errors: tally.errors(),
        statuses: tally.statuses.clone(),
        transport_errors: tally.transport_errors.clone(),
        ran_out: tally.ran_out,
        odoo_calls_per_callback: per_success(execute_kw as f64),
        documented_calls: scenario.documented_calls(),
        odoo_calls: calls,
        image_bytes,
        idle_rss_mib: report::kib_to_mib(idle_rss_kib),
        peak_rss_mib: report::kib_to_mib(peak_rss_kib),
        peak_rss_budget_mib: report::rss_budget_mib(image_bytes, connections),
        start_to_listening_ms: start_to_listening.as_secs_f64() * 1000.0,
        daemon_cpu_s: cpu.daemon,
        daemon_cpu_ms_per_callback: per_success(cpu.daemon * 1000.0),
        emulator_cpu_s: cpu.emulator,
        harness_cpu_s: cpu.harness,
        other_cpu_s: (cpu.machine_busy - cpu.daemon - cpu.emulator - cpu.harness).max(0.0),
        cpus: procfs::cpus(),
        daemon_warnings: warnings,
        daemon_errors: errors,
        daemon_problems: problems,
    }
}

/// `perf record` on the daemon until [`stop_perf`].
fn start_perf(dir: &Path, scenario: &str, pid: u32) -> anyhow::Result<Child> {
    std::fs::create_dir_all(dir)?;
    let output = dir.join(format!("{scenario}.perf.data"));
    eprintln!(
        "   recording the daemon with perf into {}",
        output.display()
    );
    Command::new("perf")
        .args(["record", "-F", "999", "--call-graph", "dwarf,16384", "-p"])
        .arg(pid.to_string())
        .arg("-o")
        .arg(&output)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("cannot run perf (is it installed?)")
}

fn stop_perf(mut perf: Child) {
    let _ = Command::new("kill")
        .args(["-INT", &perf.id().to_string()])
        .status();
    let _ = perf.wait();
}

//! The figures of a run and how they are printed: one table for all
//! scenarios, then the details of each (answers by status, Odoo calls by
//! kind, where the CPU time went, what the daemon logged).

use std::collections::BTreeMap;

use serde::Serialize;

const MIB: f64 = 1024.0 * 1024.0;

/// Everything measured for one scenario.
#[derive(Debug, Clone, Serialize)]
pub struct Figures {
    pub scenario: &'static str,
    pub connections: usize,
    /// "20 s" or "1500 callbacks".
    pub run: String,
    /// Callbacks answered in the measured phase (warm-up excluded).
    pub answered: u64,
    pub wall_s: f64,
    /// 2xx answers per second.
    pub callbacks_per_s: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Non-2xx answers plus callbacks without an answer.
    pub errors: u64,
    pub statuses: BTreeMap<u16, u64>,
    pub transport_errors: BTreeMap<String, u64>,
    /// The run ended early: it used up the seeded requests.
    pub ran_out: bool,
    /// `execute_kw` calls per 2xx callback, and the documented sequence.
    pub odoo_calls_per_callback: f64,
    pub documented_calls: u64,
    pub odoo_calls: BTreeMap<String, u64>,
    pub image_bytes: usize,
    pub idle_rss_mib: f64,
    pub peak_rss_mib: f64,
    /// 40 MB + 4 × image bytes in flight (one image per connection).
    pub peak_rss_budget_mib: f64,
    pub start_to_listening_ms: f64,
    /// CPU seconds in the measured phase: the daemon, the emulator, the
    /// harness, everything else on the machine.
    pub daemon_cpu_s: f64,
    pub daemon_cpu_ms_per_callback: f64,
    pub emulator_cpu_s: f64,
    pub harness_cpu_s: f64,
    pub other_cpu_s: f64,
    pub cpus: usize,
    pub daemon_warnings: u64,
    pub daemon_errors: u64,
    pub daemon_problems: Vec<String>,
}

/// p-th percentile (0..=100) of sorted microseconds, in milliseconds.
pub fn percentile_ms(sorted_us: &[u64], p: f64) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted_us.len() as f64).ceil() as usize;
    sorted_us[rank.clamp(1, sorted_us.len()) - 1] as f64 / 1000.0
}

/// The peak RSS budget of the targets, in MiB.
pub fn rss_budget_mib(image_bytes: usize, connections: usize) -> f64 {
    (40_000_000.0 + 4.0 * (image_bytes * connections) as f64) / MIB
}

pub fn kib_to_mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// The summary table.
pub fn table(all: &[Figures]) -> String {
    let header = [
        "scenario",
        "conns",
        "run",
        "callbacks/s",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "max ms",
        "errors",
        "Odoo calls/cb",
        "idle RSS MiB",
        "peak RSS MiB",
        "CPU s",
        "CPU ms/cb",
        "start ms",
    ];
    let rows: Vec<Vec<String>> = all
        .iter()
        .map(|f| {
            vec![
                f.scenario.to_owned(),
                f.connections.to_string(),
                f.run.clone(),
                rate(f.callbacks_per_s),
                format!("{:.1}", f.p50_ms),
                format!("{:.1}", f.p90_ms),
                format!("{:.1}", f.p99_ms),
                format!("{:.1}", f.max_ms),
                f.errors.to_string(),
                format!("{:.2} ({})", f.odoo_calls_per_callback, f.documented_calls),
                format!("{:.1}", f.idle_rss_mib),
                format!("{:.1}", f.peak_rss_mib),
                format!("{:.2}", f.daemon_cpu_s),
                format!("{:.2}", f.daemon_cpu_ms_per_callback),
                format!("{:.0}", f.start_to_listening_ms),
            ]
        })
        .collect();
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            rows.iter()
                .map(|row| row[i].len())
                .chain([header[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<String>| {
        let cells: Vec<String> = cells
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (cell, width))| {
                if i == 0 {
                    format!("{cell:<width$}")
                } else {
                    format!("{cell:>width$}")
                }
            })
            .collect();
        format!("| {} |\n", cells.join(" | "))
    };
    let mut out = line(header.iter().map(|h| (*h).to_owned()).collect());
    out.push_str(&line(
        widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>(),
    ));
    for row in rows {
        out.push_str(&line(row));
    }
    out
}

/// The details of one scenario.
pub fn details(f: &Figures) -> String {
    let mut out = format!(
        "{}: {} callbacks answered in {:.2} s on {} connections ({} CPUs)\n",
        f.scenario, f.answered, f.wall_s, f.connections, f.cpus
    );
    out.push_str(&format!("  answers: {}\n", join(&f.statuses)));
    if !f.transport_errors.is_empty() {
        out.push_str(&format!("  no answer: {}\n", join(&f.transport_errors)));
    }
    if f.ran_out {
        out.push_str("  stopped early: every seeded request was used (raise --seed-rate)\n");
    }
    out.push_str(&format!(
        "  Odoo calls: {:.2} per callback (documented {}): {}\n",
        f.odoo_calls_per_callback,
        f.documented_calls,
        join(&f.odoo_calls)
    ));
    out.push_str(&format!(
        "  RSS: idle {:.1} MiB, peak {:.1} MiB (budget 40 MB + 4 x {} image bytes x {} connections = {:.1} MiB)\n",
        f.idle_rss_mib, f.peak_rss_mib, f.image_bytes, f.connections, f.peak_rss_budget_mib
    ));
    out.push_str(&format!(
        "  CPU seconds: daemon {:.2} ({:.2} ms/callback), emulator {:.2}, harness {:.2}, other processes {:.2}; {:.0}% of the machine busy\n",
        f.daemon_cpu_s,
        f.daemon_cpu_ms_per_callback,
        f.emulator_cpu_s,
        f.harness_cpu_s,
        f.other_cpu_s,
        100.0 * (f.daemon_cpu_s + f.emulator_cpu_s + f.harness_cpu_s + f.other_cpu_s)
            / (f.wall_s * f.cpus as f64).max(f64::EPSILON)
    ));
    out.push_str(&format!(
        "  daemon: started listening in {:.0} ms; logged {} warnings, {} errors\n",
        f.start_to_listening_ms, f.daemon_warnings, f.daemon_errors
    ));
    for problem in &f.daemon_problems {
        out.push_str(&format!("    {problem}\n"));
    }
    out
}

/// Callbacks per second: a decimal where it matters.
fn rate(per_s: f64) -> String {
    if per_s < 100.0 {
        format!("{per_s:.1}")
    } else {
        format!("{per_s:.0}")
    }
}

fn join<K: std::fmt::Display>(map: &BTreeMap<K, u64>) -> String {
    if map.is_empty() {
        return "none".to_owned();
    }
    map.iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

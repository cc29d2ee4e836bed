//! What a result costs a real Odoo, per protocol (issue 14): Odoo calls per
//! result, Odoo's own logged request time per result, and callback →
//! completed, for 1 MiB successes.
//!
//! ```sh
//! KIT=../shared/odoo18-server
//! eval "$($KIT/start --addons examples/odoo --install influence_gen_base_models,influence_gen_bridge)"
//! # a bridge user in the group InfluenceGen Bridge (see the kit's README), then:
//! IG_LIVE_ODOO_URL=$ODOO18_URL IG_LIVE_ODOO_DB=$ODOO18_DB IG_LIVE_ODOO_LOGIN=bridge \
//! IG_LIVE_ODOO_PASSWORD=… IG_LIVE_ODOO_DIR=$ODOO18_DIR \
//!   cargo run --release --example odoo_cost -- --count 40
//! ```
//!
//! For each protocol (`generic`, then `companion`) the real daemon
//! (`daemon::run`, what `serve` runs) is started in this process against
//! the Odoo named by the environment, a warm-up of 3 results is sent (login,
//! protocol detection), then `--count` results, one at a time: a 1 MiB PNG
//! of noise inline, each for a request of its own. With `spool.wait`
//! longer than any apply, the 200 answer comes after Odoo has committed,
//! so the POST → 200 time is callback → completed. Odoo's log
//! (`$IG_LIVE_ODOO_DIR/odoo.log`) gets one werkzeug line per request,
//! ending in `<queries> <SQL s> <other s>`: the lines written during the
//! measured phase are counted (Odoo calls) and their two times summed (Odoo
//! request time). Every request must end `completed`, or the run fails.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use base64::Engine;
use clap::Parser;
use influence_gen_bridge::config::{Config, Environment};
use influence_gen_bridge::odoo::OdooClient;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

const REQUESTS: &str = "influence_gen.ai_image_request";
const IMAGE_BYTES: usize = 1024 * 1024;
const WARM_UP: usize = 3;
const CALLBACK_TOKEN: &str = "odoo-cost-callback-token";

/// Odoo cost per result, per protocol.
#[derive(Debug, Parser)]
struct Args {
    /// Results measured per protocol.
    #[arg(long, default_value_t = 40)]
    count: usize,
    /// Protocols to measure (default: generic, then companion).
    #[arg(long = "protocol")]
    protocols: Vec<String>,
}

/// The Odoo the environment names.
struct Live {
    url: String,
    database: String,
    login: String,
    password: String,
    log: PathBuf,
}

impl Live {
    fn from_env() -> anyhow::Result<Self> {
        let var = |name: &str| std::env::var(name).with_context(|| format!("{name} is not set"));
        Ok(Self {
            url: var("IG_LIVE_ODOO_URL")?,
            database: var("IG_LIVE_ODOO_DB")?,
            login: var("IG_LIVE_ODOO_LOGIN")?,
            password: var("IG_LIVE_ODOO_PASSWORD")?,
            log: Path::new(&var("IG_LIVE_ODOO_DIR")?).join("odoo.log"),
        })
    }

    fn config(&self, protocol: &str, listen: &str, spool: &Path) -> anyhow::Result<Config> {
        let text = format!(
            r#"
[server]
listen = "{listen}"
public_url = "http://{listen}"
[odoo]
url = "{url}"
database = "{database}"
login = "{login}"
password = "{password}"
protocol = "{protocol}"
[n8n]
callback_token = "{CALLBACK_TOKEN}"
[initiation]
sweep_interval = "0s"
[spool]
dir = "{spool}"
wait = "60s"
[log]
level = "warn"
"#,
            url = self.url,
            database = self.database,
            login = self.login,
            password = self.password,
            spool = spool.display(),
        );
        Config::from_toml(
            &text,
            Path::new("odoo_cost.toml"),
            spool,
            &Environment::default(),
        )
        .map_err(|e| anyhow::anyhow!("{e}"))
    }
}

/// One protocol's figures.
struct Figures {
    protocol: String,
    results: usize,
    odoo_calls: usize,
    odoo_seconds: f64,
    sql_seconds: f64,
    latencies_ms: Vec<f64>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let live = Live::from_env()?;
    influence_gen_bridge::tls::install_crypto_provider();
    let protocols = if args.protocols.is_empty() {
        vec!["generic".to_owned(), "companion".to_owned()]
    } else {
        args.protocols.clone()
    };
    let image = influence_gen_testkit::images::png_of_size(IMAGE_BYTES);
    let load_before = load_average();
    let mut all = Vec::new();
    for protocol in &protocols {
        eprintln!(
            "measuring {protocol}: {} results of {} bytes",
            args.count,
            image.len()
        );
        all.push(measure(&live, protocol, args.count, &image).await?);
    }
    print_table(&all, image.len());
    // Odoo, the bridge and this harness share the machine with whatever
    // else runs: the load average says how quiet it was.
    println!(
        "load average (1 min) before {load_before}, after {}",
        load_average()
    );
    Ok(())
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| text.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".to_owned())
}

async fn measure(
    live: &Live,
    protocol: &str,
    count: usize,
    image: &[u8],
) -> anyhow::Result<Figures> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?.to_string();
    let spool = tempfile::tempdir()?;
    let config = live.config(protocol, &address, spool.path())?;
    let odoo = OdooClient::new(&config.odoo)?;
    let requests = create_requests(&odoo, WARM_UP + count).await?;
    let shutdown = CancellationToken::new();
    let (_reload, reloads) = tokio::sync::mpsc::channel(1);
    let daemon = tokio::spawn(influence_gen_bridge::daemon::run(
        config,
        listener,
        shutdown.clone(),
        reloads,
    ));
    let http = reqwest::Client::new();
    let url = format!("http://{address}/influence_gen/ai/callback/image_result");
    let body_of = |id: i64| {
        json!({
            "ai_generation_request_id": id.to_string(),
            "result_payload": { "status": "success", "data": {
                "image_data": base64::engine::general_purpose::STANDARD.encode(image),
                "file_format": "png", "mimetype": "image/png" } }
        })
        .to_string()
    };
    let (warm_up, measured) = requests.split_at(WARM_UP);
    for id in warm_up {
        send(&http, &url, body_of(*id)).await?;
    }
    let bodies: Vec<String> = measured.iter().map(|id| body_of(*id)).collect();
    let log_start = std::fs::metadata(&live.log)?.len();
    let mut latencies_ms = Vec::with_capacity(count);
    for body in bodies {
        let started = Instant::now();
        send(&http, &url, body).await?;
        latencies_ms.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    // Odoo writes its log line after answering: give the last one a moment.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (odoo_calls, sql_seconds, odoo_seconds) = odoo_log_since(&live.log, log_start)?;
    shutdown.cancel();
    let _ = daemon.await;
    let statuses: Vec<Value> = odoo.read(REQUESTS, measured, &["status"]).await?;
    let done = statuses
        .iter()
        .filter(|r| r["status"] == "completed")
        .count();
    ensure!(
        done == count,
        "{protocol}: only {done} of {count} requests completed"
    );
    Ok(Figures {
        protocol: protocol.to_owned(),
        results: count,
        odoo_calls,
        odoo_seconds,
        sql_seconds,
        latencies_ms,
    })
}

async fn create_requests(odoo: &OdooClient, n: usize) -> anyhow::Result<Vec<i64>> {
    let vals: Vec<Value> = (0..n)
        .map(|i| json!({ "prompt": format!("odoo cost {i}") }))
        .collect();
    Ok(odoo.create_many(REQUESTS, &vals).await?)
}

async fn send(http: &reqwest::Client, url: &str, body: String) -> anyhow::Result<()> {
    let answer = http
        .post(url)
        .header("content-type", "application/json")
        .header("X-N8N-Webhook-Token", CALLBACK_TOKEN)
        .body(body)
        .send()
        .await?;
    let status = answer.status();
    let text = answer.text().await?;
    if status.as_u16() != 200 {
        bail!("the bridge answered {status}: {text}");
    }
    Ok(())
}

/// `/jsonrpc` lines of Odoo's log after byte `start`: their count, summed
/// SQL time and summed total (SQL + other) time, in seconds.
fn odoo_log_since(log: &Path, start: u64) -> anyhow::Result<(usize, f64, f64)> {
    let text = std::fs::read(log)?;
    let tail = String::from_utf8_lossy(&text[usize::try_from(start)?.min(text.len())..]);
    let (mut calls, mut sql, mut total) = (0, 0.0, 0.0);
    for line in tail.lines().filter(|l| l.contains("\"POST /jsonrpc ")) {
        // ... "POST /jsonrpc HTTP/1.1" 200 - 7 0.011 0.020
        let fields: Vec<&str> = line.split_whitespace().rev().take(3).collect();
        let (Some(other), Some(query)) = (fields.first(), fields.get(1)) else {
            continue;
        };
        let (Ok(other), Ok(query)) = (other.parse::<f64>(), query.parse::<f64>()) else {
            bail!("Odoo's log line has no timings (is log_level info?): {line}");
        };
        calls += 1;
        sql += query;
        total += query + other;
    }
    Ok((calls, sql, total))
}

fn print_table(all: &[Figures], image_bytes: usize) {
    println!("1 MiB successes ({image_bytes} bytes of PNG), one at a time, against the live Odoo");
    println!(
        "| protocol | results | Odoo calls/result | Odoo request time/result | of which SQL | callback → completed p50 | mean | max |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for f in all {
        let n = f.results as f64;
        let mut sorted = f.latencies_ms.clone();
        sorted.sort_by(f64::total_cmp);
        let p50 = sorted.get(sorted.len() / 2).copied().unwrap_or_default();
        let mean = sorted.iter().sum::<f64>() / n;
        let max = sorted.last().copied().unwrap_or_default();
        println!(
            "| {} | {} | {:.2} | {:.1} ms | {:.1} ms | {p50:.0} ms | {mean:.0} ms | {max:.0} ms |",
            f.protocol,
            f.results,
            f.odoo_calls as f64 / n,
            f.odoo_seconds * 1000.0 / n,
            f.sql_seconds * 1000.0 / n,
        );
    }
}

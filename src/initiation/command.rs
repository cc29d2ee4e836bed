//! `influence-gen-bridge initiate`: send one request, or every queued one,
//! to N8N now, by hand.
//!
//! It does what the daemon does (same [`Initiator`], same checks and
//! outcomes) in its own process. While a daemon runs against the same Odoo,
//! the guard against sending a request twice is the request's status in
//! Odoo: the initiator claims a request (writes `processing`) right after
//! reading it `queued`, so the two processes can only both send it if both
//! read it within that one Odoo round trip.
//!
//! Output: one line per request on stdout, and for `--all-queued` a summary.
//! Exit status: 0 sent (every one sent or skipped for `--all-queued`), 1 an
//! initiation failed, its outcome is unknown (N8N may or may not have
//! started it; it stays `processing`), or Odoo could not be used, 3 nothing
//! was sent (not `queued`, not found, or interrupted).

use std::collections::HashSet;
use std::process::ExitCode;

use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::sweeper::queued_batch;
use super::{Initiator, Outcome, Via};
use crate::config::Config;
use crate::locks::RequestLocks;
use crate::odoo::{OdooClient, SearchOptions};

/// Exit status when nothing was sent and nothing failed.
const EXIT_NOT_SENT: u8 = 3;

/// Arguments of `initiate`.
#[derive(Debug, clap::Args)]
pub struct InitiateArgs {
    /// The request: its Odoo id (digits) or its UUID (`odoo.uuid_field`).
    #[arg(
        value_name = "ID_OR_UUID",
        required_unless_present = "all_queued",
        conflicts_with = "all_queued"
    )]
    pub request: Option<String>,

    /// Send every queued request, oldest first, regardless of `initiation.sweep_grace`.
    #[arg(long)]
    pub all_queued: bool,
}

/// Runs `initiate` and returns the exit status.
pub async fn run(config: Config, args: InitiateArgs) -> ExitCode {
    let initiator = match OdooClient::new(&config.odoo)
        .map_err(|e| e.to_string())
        .and_then(|odoo| {
            Initiator::new(odoo, RequestLocks::default(), &config).map_err(|e| e.to_string())
        }) {
        Ok(initiator) => initiator,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    let stop = CancellationToken::new();
    let on_interrupt = stop.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("interrupted: stopping after the current request");
            on_interrupt.cancel();
        }
    });
    match args.request {
        Some(reference) => one(&initiator, &config, &reference, &stop).await,
        None => all_queued(&initiator, &config, &stop).await,
    }
}

async fn one(
    initiator: &Initiator,
    config: &Config,
    reference: &str,
    stop: &CancellationToken,
) -> ExitCode {
    let id = match resolve(initiator.odoo(), config, reference).await {
        Ok(Some(id)) => id,
        Ok(None) => {
            println!(
                "no request has the id or {} {reference:?}; nothing sent",
                crate::odoo::records::UUID_FIELD
            );
            return ExitCode::from(EXIT_NOT_SENT);
        }
        Err(error) => {
            println!("cannot look {reference:?} up in Odoo: {error}");
            return ExitCode::FAILURE;
        }
    };
    match initiator.initiate(config, id, Via::Command, stop).await {
        Ok(outcome) => {
            println!("{outcome}");
            match outcome {
                Outcome::Sent { .. } => ExitCode::SUCCESS,
                Outcome::Failed { .. } | Outcome::Unknown { .. } => ExitCode::FAILURE,
                _ => ExitCode::from(EXIT_NOT_SENT),
            }
        }
        Err(error) => {
            println!("{error}");
            ExitCode::FAILURE
        }
    }
}

/// Digits are an id; anything else is looked up in the UUID field.
async fn resolve(
    odoo: &OdooClient,
    _config: &Config,
    reference: &str,
) -> Result<Option<i64>, crate::odoo::OdooError> {
    let reference = reference.trim();
    if !reference.is_empty() && reference.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(reference.parse().ok().filter(|id| *id > 0));
    }
    let options = SearchOptions {
        limit: Some(1),
        ..SearchOptions::default()
    };
    let domain = json!([[crate::odoo::records::UUID_FIELD, "=", reference]]);
    let ids = odoo
        .search(crate::odoo::records::REQUEST_MODEL, &domain, &options)
        .await?;
    Ok(ids.first().copied())
}

async fn all_queued(initiator: &Initiator, config: &Config, stop: &CancellationToken) -> ExitCode {
    let (mut sent, mut failed, mut unknown, mut other) = (0usize, 0usize, 0usize, 0usize);
    // Every request is tried once, even if it stays queued.
    let mut seen: HashSet<i64> = HashSet::new();
    'batches: loop {
        let tried: Vec<i64> = seen.iter().copied().collect();
        let ids = match queued_batch(initiator, config, json!(["id", "not in", tried])).await {
            Ok(ids) => ids,
            Err(error) => {
                println!("cannot search for queued requests in Odoo: {error}");
                failed += 1;
                break;
            }
        };
        if ids.is_empty() {
            break;
        }
        for id in ids {
            if stop.is_cancelled() {
                break 'batches;
            }
            seen.insert(id);
            match initiator.initiate(config, id, Via::Command, stop).await {
                Ok(outcome) => {
                    println!("{outcome}");
                    match outcome {
                        Outcome::Sent { .. } => sent += 1,
                        Outcome::Failed { .. } => failed += 1,
                        Outcome::Unknown { .. } => unknown += 1,
                        _ => other += 1,
                    }
                }
                Err(error) => {
                    println!("{error}");
                    failed += 1;
                }
            }
        }
    }
    if seen.is_empty() && failed == 0 {
        println!("no queued requests");
        return ExitCode::SUCCESS;
    }
    if unknown > 0 {
        println!("{sent} sent, {failed} failed, {unknown} outcome unknown, {other} not sent");
    } else {
        println!("{sent} sent, {failed} failed, {other} not sent");
    }
    if failed + unknown > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

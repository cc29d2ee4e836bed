//! The suite is hermetic: the `INFLUENCE_GEN_BRIDGE_*` variables the
//! quickstart tells users to export must not change any test's outcome.
//!
//! The daemon's configuration reads them, so every child the tests start
//! runs without them (`support::bridge::inherited_config_vars`). This test
//! proves it end to end: it runs a few tests of this same binary again, as
//! a child process with the four variables set to wrong values.

use std::time::Duration;

/// The quickstart's four variables, with values no test configures.
const QUICKSTART_VARIABLES: [(&str, &str); 4] = [
    ("INFLUENCE_GEN_BRIDGE_ODOO_PASSWORD", "wrong-odoo-password"),
    ("INFLUENCE_GEN_BRIDGE_N8N_API_KEY", "wrong-api-key"),
    ("INFLUENCE_GEN_BRIDGE_N8N_CALLBACK_TOKEN", "x"),
    (
        "INFLUENCE_GEN_BRIDGE_N8N_OUTBOUND_TOKEN",
        "wrong-outbound-token",
    ),
];

/// Tests that failed (401, a refused login) while the variables leaked into
/// the daemon: a callback, `check`, and an initiation.
const WITNESSES: [&str; 3] = [
    "callback::success_with_image_data_is_stored_and_completes_the_request",
    "check::all_checks_pass_against_a_well_configured_odoo",
    "initiation::outcomes::a_2xx_answer_makes_the_request_processing",
];

/// How long the child run may take (three tests, usually ~2 s).
const CHILD_TIMEOUT: Duration = Duration::from_secs(120);

#[tokio::test]
async fn the_quickstart_variables_in_the_environment_change_no_outcome() {
    let this_binary = std::env::current_exe().expect("the test binary");
    let mut command = tokio::process::Command::new(this_binary);
    command
        .args(WITNESSES)
        .args(["--exact", "--test-threads", "3"])
        .envs(QUICKSTART_VARIABLES)
        .kill_on_drop(true);
    let output = tokio::time::timeout(CHILD_TIMEOUT, command.output())
        .await
        .expect("the child run finished in time")
        .expect("run the test binary");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "with the quickstart's variables set, tests fail:\n{text}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        text.contains(&format!("{} passed", WITNESSES.len())),
        "not every witness ran:\n{text}"
    );
}

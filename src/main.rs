//! The `influence-gen-bridge` binary: parses the command line and hands over
//! to the library.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    influence_gen_bridge::allocator::return_large_buffers_to_the_kernel();
    influence_gen_bridge::cli::run(influence_gen_bridge::cli::Cli::parse())
}

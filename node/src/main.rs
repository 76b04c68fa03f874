//! The Verity node.

// `sc_cli::Error` is the SDK's error type; every CLI entry point must return it as it is.
#![allow(clippy::result_large_err)]

mod author_vrf;
mod chain_spec;
mod cli;
mod command;
mod embedded_executor;
mod executor;
mod rpc;
mod service;
mod signing_keys;

fn main() -> sc_cli::Result<()> {
	command::run()
}

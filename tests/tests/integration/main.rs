//! Verity's integration tests: real nodes, executors and clients on loopback, in one test
//! executable, so its tests share the machine instead of waiting for each other's executable.
//!
//! Most of them mostly wait for blocks, and run side by side (as many at once as the test
//! harness's threads); the two that start a network of validators under load and kill some of
//! them run alone, so a busy machine cannot make a validator miss its slots in their place
//! (see [`verity_tests::shared_machine`] and [`verity_tests::whole_machine`]).

mod chain;
mod cli;
mod contracts;
mod explorer;
mod failures;
mod inference;
mod memory;
mod network;

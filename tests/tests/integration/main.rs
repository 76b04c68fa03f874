//! Verity's integration tests: real nodes, executors and clients on loopback, in one test
//! executable, so its tests share the machine instead of waiting for each other's executable.
//!
//! Most of them mostly wait for blocks, and run side by side (as many at once as the test
//! harness's threads). The two that start a network of validators under
//! load and kill some of them run alone, one after the other, so a busy machine cannot make a
//! validator miss its slots in their place (see [`verity_tests::shared_machine`] and
//! [`verity_tests::whole_machine`]). They sit in the module `alone`, which the harness, starting
//! tests in the order of their names, starts first: the machine is handed over in the order it
//! was asked for, so a test that waits for all of it would otherwise hold up every shared test
//! that asked after it. Among the shared tests the longest, the agent-memory one, is named to
//! start right after them (`an_agents_memory` sorts after `alone`), so it does not run on alone
//! at the end; named to start before them, it took the machine between the two and left a
//! harness thread idle for its whole run.

mod alone {
	mod failures;
	mod network;
}
mod an_agents_memory;
mod chain;
mod cli;
mod contracts;
mod explorer;
mod inference;
mod warm_sources;

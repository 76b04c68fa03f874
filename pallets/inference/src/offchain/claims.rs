//! Claims on the steps of a job, kept in the node's persistent offchain storage.
//!
//! Offchain workers of consecutive blocks run side by side, and one inference over HTTP can
//! outlast several blocks. A claim makes each step of each job dispatched once:
//!
//! - while a worker runs the step, the claim is [`Claim::Running`] until the step's HTTP
//!   deadline (a crashed worker's claim lapses then; the request's own deadline ends the job
//!   earlier, as the job is no longer open);
//! - once its transaction is in the pool, the claim is [`Claim::Submitted`]: nobody dispatches
//!   the step again unless the chain still does not show it `RESUBMIT_BLOCKS` later (a
//!   transaction the pool dropped is sent again, a transaction in flight is not doubled).
//!
//! Every open job is noted in one ledger, once per worker run: one read and one write of the
//! ledger a run, not one per job (rewriting the whole ledger for each job it claimed, a worker
//! wrote offchain bytes in the square of its jobs in flight). When a job has left the node's
//! open assignments (answered, or past its deadline) for [`FORK_MARGIN_BLOCKS`], its claims and
//! its kept outcome are cleared with it, so the offchain database holds state for open and
//! recent jobs only.
//!
//! A job is named by what it runs, not by its request id alone ([`JobKey`]). Each fork
//! numbers its own requests, so blocks of two forks at one height carry different requests
//! under the same ids, and a node's workers run on every block it imports, forks included.
//! Keyed by the id alone, an outcome kept for a request of a fork the chain then left was
//! taken for the request that reused the id on the fork that stayed: the node committed to
//! the wrong request's output, revealed it, and its honest executor was slashed for dissent
//! (`bench-capacity` saw it under overload, when slow blocks fork the chain). What this does
//! not stop: the same request (same model, same input) drawn on two forks shares its claims
//! and its outcome, which is right, as the answer is the same on both.

use crate::runtime_api::AssignmentView;
use alloc::{collections::BTreeSet, vec::Vec};
use codec::{Decode, Encode};
use sp_core::H256;
use sp_runtime::{
	offchain::storage::{MutateStorageError, StorageValueRef},
	traits::Saturating,
};
use verity_primitives::{ExecutorPublic, ModelId, RequestId};

/// Prefix of the per-step claims.
const CLAIM_PREFIX: &[u8] = b"verity::dispatch::";

/// Prefix of the outcomes kept between commit and reveal.
const OUTCOME_PREFIX: &[u8] = b"verity::outcome::";

/// Key of the ledger of jobs with offchain state. (Not `verity::jobs`, whose entries named a
/// job by its request id alone: a node upgraded mid-flight starts a fresh ledger.)
pub const LEDGER_KEY: &[u8] = b"verity::job-ledger";

/// Blocks after a submission before the step is sent again if the chain does not show it (a
/// pool dropped it, or the node restarted with an empty pool). Two: an answer sent with block
/// `n` lands in `n + 1` on time; sent again after `n + 2`, it still lands before a commit
/// deadline five blocks after assignment. A resend whose first transaction is still in the
/// pool is refused there, and only the resend: it travels in a batch of its own.
pub const RESUBMIT_BLOCKS: u32 = 2;

/// Blocks a job stays in the ledger after the last worker run that saw it open. A worker sees
/// only its own block's fork: without a margin, the worker of one fork cleared the jobs open
/// only on the other, and if the chain then chose that other fork, its jobs were run again and
/// their answers sent again (a resend meeting its first transaction in the pool takes the new
/// answers batched with it down). Eight: one more than the deepest reorganisation
/// `bench-capacity` saw under overload (seven blocks, with blocks taking their authors up to
/// 7 s). A deeper one costs a re-run (same bytes) and a resend, never a wrong answer.
pub const FORK_MARGIN_BLOCKS: u32 = 8;

/// Attempts at a ledger update that another worker changed at the same time.
const LEDGER_ATTEMPTS: usize = 8;

/// The two steps of answering, each claimed on its own.
#[derive(Clone, Copy, Debug, Encode, PartialEq)]
pub enum Step {
	/// Run the job and commit to its outcome.
	Commit,
	/// Reveal the committed outcome.
	Reveal,
}

/// What a node holds on one step of one job.
#[derive(Clone, Copy, Debug, Decode, Encode, PartialEq)]
pub enum Claim<BlockNumber> {
	/// A worker runs the step until this offchain timestamp (unix milliseconds).
	Running {
		/// When the step's HTTP deadline (plus signing and submission) has passed.
		until_ms: u64,
	},
	/// The step's transaction went to the pool.
	Submitted {
		/// The first block at which the step may be sent again if still not on chain.
		retry_from: BlockNumber,
	},
}

/// One job of one of the node's executor keys: a request as the fork that assigned it shows
/// it, named by what it runs as well as by its id (see the module's documentation).
#[derive(Clone, Debug, Decode, Encode, PartialEq, Eq, PartialOrd, Ord)]
pub struct JobKey {
	/// The request.
	pub request_id: RequestId,
	/// The model it runs.
	pub model_id: ModelId,
	/// The hash of its input.
	pub input_hash: H256,
	/// The node's executor key answering it.
	pub key: ExecutorPublic,
}

impl JobKey {
	/// The job `assignment` gives `key`.
	pub fn of<N>(assignment: &AssignmentView<N>, key: &ExecutorPublic) -> Self {
		Self {
			request_id: assignment.request_id,
			model_id: assignment.model_id,
			input_hash: assignment.input_hash,
			key: key.clone(),
		}
	}
}

/// One job with offchain state.
#[derive(Clone, Debug, Decode, Encode, PartialEq)]
pub struct LedgerEntry<BlockNumber> {
	/// The job.
	pub job: JobKey,
	/// The latest block whose worker saw it open: a worker of an older block, which may not
	/// see the job yet, never clears it, nor one of a block less than `FORK_MARGIN_BLOCKS`
	/// newer.
	pub noted_at: BlockNumber,
}

/// The storage key of the claim on one step of one job.
pub fn claim_key(job: &JobKey, step: Step) -> Vec<u8> {
	let mut storage_key = CLAIM_PREFIX.to_vec();
	storage_key.extend((job, step).encode());
	storage_key
}

/// The storage key of the outcome kept for one job between commit and reveal.
pub fn outcome_key(job: &JobKey) -> Vec<u8> {
	let mut storage_key = OUTCOME_PREFIX.to_vec();
	storage_key.extend(job.encode());
	storage_key
}

/// Whether a claimed step is dispatched for the first time or sent again.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Attempt {
	/// No worker dispatched the step before.
	First,
	/// A worker did, and the chain does not show it: its transaction may still be in a pool.
	Again,
}

/// Take the claim on `step` of `job` for a run ending by `until_ms`, unless a worker runs it
/// now or its transaction is recent. Returns which attempt it is, or `None` when the claim is
/// held. The job must be in the ledger ([`note_open_jobs`]), or its claim outlives it.
pub fn take<N>(job: &JobKey, step: Step, now: N, now_ms: u64, until_ms: u64) -> Option<Attempt>
where
	N: Encode + Decode + Copy + PartialOrd,
{
	let storage_key = claim_key(job, step);
	let mut attempt = Attempt::First;
	StorageValueRef::persistent(&storage_key)
		.mutate(|held: Result<Option<Claim<N>>, _>| match held {
			Ok(Some(Claim::Running { until_ms: held_until })) if now_ms < held_until => Err(()),
			Ok(Some(Claim::Submitted { retry_from })) if now < retry_from => Err(()),
			Ok(None) => Ok(Claim::<N>::Running { until_ms }),
			_ => {
				attempt = Attempt::Again;
				Ok(Claim::<N>::Running { until_ms })
			},
		})
		.is_ok()
		.then_some(attempt)
}

/// Record that `step`'s transaction is in the pool as of block `now`.
pub fn submitted<N>(job: &JobKey, step: Step, now: N)
where
	N: Encode + Saturating + From<u32>,
{
	let retry_from = now.saturating_add(RESUBMIT_BLOCKS.into());
	StorageValueRef::persistent(&claim_key(job, step)).set(&Claim::Submitted { retry_from });
}

/// Give a claim back after a failed step, so a later block retries it.
pub fn release(job: &JobKey, step: Step) {
	StorageValueRef::persistent(&claim_key(job, step)).clear();
}

/// The chain shows `step` done: its claim is no longer needed.
pub fn done(job: &JobKey, step: Step) {
	release(job, step);
}

/// Note `open`, the jobs open at block `now`, in the ledger, in one update.
pub fn note_open_jobs<N>(open: &[JobKey], now: N)
where
	N: Encode + Decode + Copy + PartialOrd,
{
	if open.is_empty() {
		return;
	}
	update_ledger(|ledger: &mut Vec<LedgerEntry<N>>| {
		let mut unseen: BTreeSet<&JobKey> = open.iter().collect();
		for entry in ledger.iter_mut() {
			if unseen.remove(&entry.job) && entry.noted_at < now {
				entry.noted_at = now;
			}
		}
		ledger
			.extend(unseen.into_iter().map(|job| LedgerEntry { job: job.clone(), noted_at: now }));
	});
}

/// Clear every job not in `open` (the node's open assignments at block `now`) that no worker
/// saw open in the last `FORK_MARGIN_BLOCKS` before `now` (nor after it): its claims, its kept
/// outcome and its ledger entry. A job of a fork the chain left is cleared the same way, once
/// the margin has passed.
pub fn forget_closed_jobs<N>(open: &[JobKey], now: N)
where
	N: Encode + Decode + Copy + PartialOrd + Saturating + From<u32>,
{
	let open: BTreeSet<&JobKey> = open.iter().collect();
	let mut closed = Vec::new();
	update_ledger(|ledger: &mut Vec<LedgerEntry<N>>| {
		closed.clear();
		ledger.retain(|entry| {
			let keep = entry.noted_at.saturating_add(FORK_MARGIN_BLOCKS.into()) > now
				|| open.contains(&entry.job);
			if !keep {
				closed.push(entry.job.clone());
			}
			keep
		});
	});
	for job in closed {
		release(&job, Step::Commit);
		release(&job, Step::Reveal);
		StorageValueRef::persistent(&outcome_key(&job)).clear();
	}
}

/// The jobs in the ledger.
pub fn ledger<N: Decode>() -> Vec<LedgerEntry<N>> {
	StorageValueRef::persistent(LEDGER_KEY).get().ok().flatten().unwrap_or_default()
}

/// Apply `change` to the ledger atomically, retrying when another worker changed it first.
fn update_ledger<N: Encode + Decode>(mut change: impl FnMut(&mut Vec<LedgerEntry<N>>)) {
	let storage = StorageValueRef::persistent(LEDGER_KEY);
	for _ in 0..LEDGER_ATTEMPTS {
		let outcome = storage.mutate(|held: Result<Option<Vec<LedgerEntry<N>>>, _>| {
			let mut ledger = held.ok().flatten().unwrap_or_default();
			change(&mut ledger);
			Ok::<_, ()>(ledger)
		});
		match outcome {
			Err(MutateStorageError::ConcurrentModification(_)) => continue,
			_ => return,
		}
	}
	log::warn!(target: "runtime::inference", "the offchain job ledger stayed contended; left as is");
}

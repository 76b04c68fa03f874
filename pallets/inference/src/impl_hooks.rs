//! The per-block work: close requests whose deadline has come, prune what left its challenge
//! window, assign queued requests (up to `MaxRequestsPerBlock` turns, first come, first served).
//! (Quorums settle in the reveal that completes them, not here.) The weight charged is the
//! benchmarked cost of what each entry did: for a deadline, that of the path it took (closing a
//! request its quorum finalized costs about a quarter of an expiry), so the block's room for
//! transactions is not spent on expiries that did not happen.
//!
//! The work is bounded by weight, not by its worst case: the hook takes the next entry only
//! while `HookWeight` leaves room for that entry's heaviest path, and what is left waits,
//! in order, for the next block (each list is worked through from the oldest block not done,
//! `DueCursors`). Bounding by the worst case (every deadline a full expiry, every turn a draw
//! from a full pool) held a block to 128 requests although their closings typically weigh a
//! quarter of that.
//!
//! Attack this stops: requests whose closings would fill blocks (many deadlines in one block,
//! all expiring in full because their executors went silent) taking the room answers and
//! requests need; past `HookWeight` they wait. What it does not stop: closings falling behind
//! under such a load. A late closing is safe: answers are refused from the deadline on whatever
//! the hook has done, and escrow, slashes and freed assignments come a few blocks late; while
//! they wait, the answers a late request was counted for stay owed, which slows assignment
//! (`MaxAnswerBlocksOwed`), so the backlog does not grow unchecked.

use crate::{
	impl_queue::Turn,
	impl_settlement::{Expiry, FollowUp},
	Config, Deadlines, DueCursor, OnRequestFinalized, Pallet, PruneAt, RecordShape, WeightInfo,
};
use alloc::vec::Vec;
use frame_support::{traits::Get, weights::Weight, BoundedVec};
use frame_system::pallet_prelude::BlockNumberFor;
use sp_runtime::traits::{One, Saturating};
use verity_primitives::RequestId;

/// The shortest output settlements and closings were benchmarked with: a shorter one (or a
/// rejection) is charged as this long.
pub const MIN_WEIGHED_OUTPUT: u32 = 64;

/// What a block's hook may still use.
struct Budget {
	left: Weight,
}

impl Budget {
	/// Whether `heaviest` still fits; if so, the caller does the work and `spend`s what it
	/// used.
	fn fits(&self, heaviest: Weight) -> bool {
		heaviest.all_lte(self.left)
	}

	/// Count `used` against the budget.
	fn spend(&mut self, used: Weight) {
		self.left = self.left.saturating_sub(used);
	}
}

impl<T: Config> Pallet<T> {
	/// Run this block's hook work and return its weight.
	pub(crate) fn run_block_hooks(now: BlockNumberFor<T>) -> Weight {
		let mut budget = Budget { left: T::HookWeight::get() };
		let mut cursors = DueCursor::<T>::get();
		// Deadlines first: closing requests frees the assignments and the answer space the
		// queue's turns need.
		cursors.deadlines = Self::work_through(
			now,
			cursors.deadlines,
			&mut budget,
			Self::expire_weight(),
			Deadlines::<T>::take,
			Deadlines::<T>::insert,
			|request_id| match Self::expire_request(request_id) {
				Expiry::Finalized(shape) => Self::close_finalized_weight(shape),
				Expiry::Full => Self::expire_weight(),
			},
		);
		// Each prune is charged what its listeners used, not their most.
		cursors.prunes = Self::work_through(
			now,
			cursors.prunes,
			&mut budget,
			Self::prune_weight(),
			PruneAt::<T>::take,
			PruneAt::<T>::insert,
			|request_id| {
				Self::prune_request(request_id);
				T::WeightInfo::prune_request()
					.saturating_add(T::OnFinalized::on_challenge_period_over(request_id))
			},
		);
		DueCursor::<T>::put(cursors);
		// Every turn is charged, the one that found its pool busy too (it drew), each by its
		// draw: the pool it read and the executors it seated.
		let mut turns = 0u32;
		while turns < T::MaxRequestsPerBlock::get() && budget.fits(Self::max_assign_weight()) {
			let taken = Self::assign_next(now);
			if taken.turn == Turn::Empty {
				break;
			}
			turns.saturating_inc();
			budget.spend(Self::assign_weight(taken.draw));
			if taken.turn != Turn::Served {
				break;
			}
		}
		Self::hook_overhead().saturating_add(T::HookWeight::get().saturating_sub(budget.left))
	}

	/// What every block's hook costs outside its budget: reading and writing where the lists'
	/// work stands (`DueCursor`) and looking at the empty lists and queue, as
	/// `on_initialize_idle` measures it.
	pub(crate) fn hook_overhead() -> Weight {
		T::WeightInfo::on_initialize_idle()
	}

	/// Work through the lists a map keeps by block, from `cursor` (the oldest block not done)
	/// to `now`, while `budget` has room for an entry's `heaviest` path: `take` a block's list,
	/// do each entry (`each` returns what it used), and `put` back what is left when the
	/// budget runs out. Returns the new cursor: the block whose list is not done, or the next
	/// block when all are. Each list visited is charged a read and a write.
	fn work_through<Bound: Get<u32>>(
		now: BlockNumberFor<T>,
		mut cursor: BlockNumberFor<T>,
		budget: &mut Budget,
		heaviest: Weight,
		take: impl Fn(BlockNumberFor<T>) -> BoundedVec<RequestId, Bound>,
		put: impl Fn(BlockNumberFor<T>, BoundedVec<RequestId, Bound>),
		mut each: impl FnMut(RequestId) -> Weight,
	) -> BlockNumberFor<T> {
		let visit = T::DbWeight::get().reads_writes(1, 1);
		while cursor <= now && budget.fits(visit.saturating_add(heaviest)) {
			budget.spend(visit);
			let list: Vec<RequestId> = take(cursor).into_inner();
			let mut done = 0;
			while done < list.len() && budget.fits(heaviest) {
				budget.spend(each(list[done]));
				done = done.saturating_add(1);
			}
			if done < list.len() {
				let rest = BoundedVec::truncate_from(list[done..].to_vec());
				put(cursor, rest);
				return cursor;
			}
			cursor = cursor.saturating_add(One::one());
		}
		cursor
	}

	/// Pruning one request, with the finalization hook it tells.
	fn prune_weight() -> Weight {
		T::WeightInfo::prune_request().saturating_add(T::OnFinalized::weight())
	}

	/// Settling one request of any kind, in the most expensive (a challenge re-execution that
	/// overturns its original, or an ordinary request of the highest redundancy and the longest
	/// outputs), including what the finalization hook may do and its audit draw: what a reveal
	/// is charged before dispatch, when any reveal may be the deciding one.
	pub fn settle_weight() -> Weight {
		let widest = RecordShape {
			redundancy: T::MaxRedundancy::get().min(u32::from(u8::MAX)) as u8,
			largest_output: T::MaxOutputLen::get(),
		};
		T::WeightInfo::settle_request()
			.max(Self::settle_ordinary_weight(widest))
			.saturating_add(T::OnFinalized::weight())
			.saturating_add(T::WeightInfo::draw_audit())
	}

	/// Settling one request of `kind` whose record has `shape`, at most, as the answer space
	/// counts it: an ordinary request costs far less than a challenge re-execution, which
	/// judges its original too, and less again with fewer executors and shorter outputs. Its
	/// listeners are counted at their most; the audit an ordinary request's settlement opens
	/// one time in `AuditProbability` is counted by that share (an audit is a request of its
	/// own, whose answers take their own space when it is assigned), an audit's own
	/// settlement in full (a mismatch opens a challenge).
	pub fn settle_weight_of(
		kind: &crate::RequestKind<crate::AccountIdOf<T>, crate::BalanceOf<T>>,
		shape: RecordShape,
	) -> Weight {
		let settled = Self::settle_ordinary_weight(shape).saturating_add(T::OnFinalized::weight());
		match kind {
			crate::RequestKind::Challenge { .. } => Self::settle_weight(),
			crate::RequestKind::Audit { .. } => settled.saturating_add(T::WeightInfo::draw_audit()),
			crate::RequestKind::Inference => {
				settled.saturating_add(T::AuditProbability::get() * T::WeightInfo::draw_audit())
			},
		}
	}

	/// The weight settling `request` used, as its record stands after: its ordinary
	/// settlement by its record's shape, what its listeners used (`told`), and what it went on
	/// to do.
	pub(crate) fn settlement_used(
		request: &crate::InferenceRequest<T>,
		told: Weight,
		follow_up: FollowUp,
	) -> Weight {
		let settled = Self::settle_ordinary_weight(request.shape()).saturating_add(told);
		match follow_up {
			FollowUp::Heaviest => Self::settle_weight(),
			FollowUp::Opened => settled.saturating_add(T::WeightInfo::draw_audit()),
			FollowUp::Nothing => settled,
		}
	}

	/// Settling an ordinary request (or an audit) whose record has `shape`: paying its
	/// executors and drawing its audit, without what its listeners do or what the draw opens.
	fn settle_ordinary_weight(shape: RecordShape) -> Weight {
		T::WeightInfo::settle_ordinary_request(
			u32::from(shape.redundancy),
			Self::weighed_output(shape.largest_output),
		)
	}

	/// Closing, at its deadline, a request its quorum finalized, whose record has `shape`.
	fn close_finalized_weight(shape: RecordShape) -> Weight {
		T::WeightInfo::expire_finalized_request(
			u32::from(shape.redundancy),
			Self::weighed_output(shape.largest_output),
		)
	}

	/// `output_len` within the range settlements were benchmarked over.
	fn weighed_output(output_len: u32) -> u32 {
		output_len.clamp(MIN_WEIGHED_OUTPUT, T::MaxOutputLen::get())
	}

	/// Expiring one request, in its most expensive path: one that settles at its deadline.
	pub(crate) fn expire_weight() -> Weight {
		T::WeightInfo::expire_request()
			.saturating_add(T::OnFinalized::weight())
			.saturating_add(T::WeightInfo::draw_audit())
	}

	/// The most one block's hook work weighs: its budget (an entry is started only while the
	/// budget holds its heaviest path).
	pub fn max_hook_weight() -> Weight {
		Self::hook_overhead().saturating_add(T::HookWeight::get())
	}

	/// Checks of the configuration that `integrity_test` runs.
	pub(crate) fn check_integrity() {
		assert!(T::MaxRedundancy::get() > 0, "MaxRedundancy must be at least 1");
		assert!(T::MaxRedundancy::get() <= u32::from(u8::MAX), "redundancy is stored as u8");
		assert!(T::MaxArtifactSize::get() > 0, "MaxArtifactSize must be at least 1");
		assert!(T::MaxRequestsPerBlock::get() > 0, "MaxRequestsPerBlock must be at least 1");
		assert!(
			T::MaxQueuedRequests::get() > T::MaxRequestsPerBlock::get().saturating_mul(2),
			"MaxQueuedRequests must leave room for transactions beyond the audits' reserve"
		);
		assert!(
			T::CommitTimeout::get() > 0u32.into()
				&& T::CommitTimeout::get() < T::ResponseTimeout::get(),
			"CommitTimeout must be at least 1 and leave room to reveal before ResponseTimeout"
		);
		assert!(T::MaxConsecutiveMisses::get() > 0, "MaxConsecutiveMisses must be at least 1");
		assert!(
			BlockNumberFor::<T>::from(T::MaxAnswerBlocks::get()) >= T::ResponseTimeout::get(),
			"MaxAnswerBlocks must be at least ResponseTimeout"
		);
		// A challenge may open at the end of the challenge period and its re-execution takes up
		// to a response timeout after the next block; the re-execution can be challenged in
		// turn for as long: the bond must still be there to slash after both levels.
		let longest_answer = T::ResponseTimeout::get().max(T::MaxAnswerBlocks::get().into());
		let one_level = T::ChallengePeriod::get()
			.saturating_add(longest_answer)
			.saturating_add(2u32.into());
		assert!(
			T::UnbondingPeriod::get() >= one_level.saturating_add(one_level),
			"UnbondingPeriod must cover two levels of ChallengePeriod plus a re-execution"
		);
		let max = T::BlockWeights::get().max_block;
		for (name, weight) in [
			("register_model", T::WeightInfo::register_model()),
			("set_model_status", T::WeightInfo::set_model_status()),
			("register_executor", T::WeightInfo::register_executor()),
			("update_executor", T::WeightInfo::update_executor()),
			("bond_extra", T::WeightInfo::bond_extra()),
			("unregister_executor", T::WeightInfo::unregister_executor()),
			("withdraw_bond", T::WeightInfo::withdraw_bond()),
			("request_inference", Self::max_request_weight(T::MaxInputLen::get())),
			(
				"submit_attestation",
				T::WeightInfo::submit_attestation(T::MaxOutputLen::get())
					.saturating_add(Self::settle_weight())
					.saturating_add(T::WeightInfo::authorize_submit_attestation(
						T::MaxOutputLen::get(),
					)),
			),
			(
				"submit_commitment",
				T::WeightInfo::submit_commitment()
					.saturating_add(T::WeightInfo::authorize_submit_commitment()),
			),
			("challenge", T::WeightInfo::challenge()),
			("the hook at its budget", Self::max_hook_weight()),
		] {
			assert!(weight.all_lt(max), "{name} does not fit in a block");
		}
		assert!(
			T::MaxAnswerBlocksOwed::get() > 0,
			"MaxAnswerBlocksOwed must be at least 1, or no request is ever assigned"
		);
		// Otherwise the largest request would wait at the front of the queue for ever.
		let largest = Self::largest_answer_space();
		assert!(
			largest.weight.all_lte(T::AnswerWeightPerBlock::get()),
			"the answers of the largest request must fit AnswerWeightPerBlock"
		);
		assert!(
			largest.length <= T::AnswerLengthPerBlock::get(),
			"the answers of the largest request must fit AnswerLengthPerBlock"
		);
	}
}

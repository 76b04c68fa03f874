//! Answer space: the chain assigns requests only as fast as blocks can carry their answers.
//!
//! Every assigned executor answers twice, a commitment and then a reveal, in operational
//! transactions that its offchain worker submits before the request's deadlines. A block takes
//! a transaction only if the weight charged before dispatch still fits the block, and a reveal
//! is charged for the settlement it may complete. So the answers a block can carry are finite:
//! `AnswerWeightPerBlock` of weight and `AnswerLengthPerBlock` of bytes, the part of a block
//! that ordinary transactions (requests among them) cannot take. Each block assigns requests
//! until the answers they call for (per assigned executor: its commitment and its reveal of the
//! model's largest output, charged as before dispatch) would exceed that space; the next request
//! waits at the front of the assignment queue for the next block.
//!
//! Why this bound holds: the commitments and reveals for the requests assigned in one block take
//! at most one block's answer space between them. Commitments answer the requests assigned in
//! the block before, reveals those of the block before that, and every request calls for the
//! same share of commitment and reveal weight. So, block after block, the answers executors
//! send fit what blocks carry, and the transaction pool does not fill with answers that wait
//! while their deadlines pass.
//!
//! Attack this stops: a flood of paid requests getting honest executors slashed. Without the
//! bound, requests filling the ordinary part of every block left answers the operational reserve
//! only; the chain kept assigning more requests than that reserve could answer, answers waited
//! in the pool past their deadlines, and the executors were slashed and evicted for misses
//! until the pool fell below quorum, an outage bought with request fees. With it, the flood
//! waits in the (bounded, first come, first served) queue, and every answer of an assigned
//! request has its place.
//!
//! Answers owed: the same space bounds what executors still owe. A block's answers can arrive
//! late (a worker slow on a busy machine, a transaction that reached the author after it began
//! its block), and late answers share a block with the next ones; a per-block bound alone then
//! keeps assigning at full rate while the backlog drains only by the slack the bound leaves,
//! and under a sustained flood the backlog outgrows the commit window: honest executors were
//! slashed for misses and evicted (measured on real nodes at 300 requests a block). So the chain
//! also counts the answers it still expects (each request's `answers_owed`: per assigned
//! executor its commitment and reveal while it may still commit, its reveal once committed;
//! recounted at each reveal, released at the deadline; summed in `AnswersOwedTotal`) and
//! assigns only while their total stays
//! within `MaxAnswerBlocksOwed` blocks of answer space. On time, what is owed before a block
//! assigns is about two blocks' worth (last block's requests, and the reveals of the block
//! before), so the rule costs little; behind, assignment slows at once, and the debt stays
//! bounded instead of growing. Blocks carry more than their answer space in fact (a reveal is
//! charged the heaviest settlement before dispatch and refunded most of it), so a full debt
//! lands within a block or two, inside the commit window. The count corrects itself: answers
//! that can no longer come (an executor that did not commit in time, a dead one) leave it at
//! the request's next reveal or at its deadline.
//!
//! What it does not stop: a flood lengthening everyone's wait in the queue (each request pays
//! its fee); an executor whose own offchain worker falls behind (a miss is still a miss);
//! operational transactions other than answers (root's) taking part of the reserve, which
//! `AnswerWeightPerBlock` leaves room for; and executors that never answer, whose debt slows
//! assignment for everyone until their request's first reveal after its commit deadline (or
//! its deadline, if nobody reveals); bounded by their share of the draws, and they are slashed
//! and, after `MaxConsecutiveMisses`, evicted.

use crate::{
	types::{AnswerLoad, AnswerSpace},
	AnswerSpaceTaken, AnswersOwedTotal, Config, InferenceRequest, Pallet, WeightInfo,
};
use frame_support::{traits::Get, weights::Weight};
use frame_system::pallet_prelude::BlockNumberFor;

/// Bytes one executor's commitment to one request takes in a block: the item (request id,
/// commitment, key and signature) with room for its share of a batch's envelope.
pub const COMMIT_ENVELOPE_BYTES: u32 = 160;

/// Bytes one executor's reveal of one request takes in a block besides its output: the item
/// (request id, outcome header, key and signature) with its share of a batch's envelope.
pub const REVEAL_ENVELOPE_BYTES: u32 = 160;

/// Bytes one executor's answers to one request take in blocks besides its output.
pub const ANSWER_ENVELOPE_BYTES: u32 = COMMIT_ENVELOPE_BYTES + REVEAL_ENVELOPE_BYTES;

/// One executor's answers to one request: its commitment, and its reveal.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AnswerShares {
	/// The commitment, charged with its authorization.
	pub commit: AnswerLoad,
	/// The reveal, charged with its authorization and the settlement it may complete.
	pub reveal: AnswerLoad,
}

impl AnswerShares {
	/// Both answers.
	pub fn both(&self) -> AnswerLoad {
		self.commit.saturating_add(self.reveal)
	}
}

impl<T: Config> Pallet<T> {
	/// The weight one executor's answers to a request with outputs of up to `output_len` bytes
	/// are charged before dispatch: its commitment and its reveal as batch items, the reveal
	/// with the settlement it may complete, each with its authorization.
	pub fn answer_weight(output_len: u32) -> Weight {
		Self::answer_shares(output_len).both().weight
	}

	/// One executor's answers to a request with outputs of up to `output_len` bytes, by step.
	pub fn answer_shares(output_len: u32) -> AnswerShares {
		AnswerShares {
			commit: AnswerLoad {
				weight: T::WeightInfo::submit_commitment()
					.saturating_add(T::WeightInfo::authorize_submit_commitment()),
				length: COMMIT_ENVELOPE_BYTES,
			},
			reveal: AnswerLoad {
				weight: T::WeightInfo::submit_attestation(output_len)
					.saturating_add(T::WeightInfo::authorize_submit_attestation(output_len))
					.saturating_add(Self::settle_weight()),
				length: output_len.saturating_add(REVEAL_ENVELOPE_BYTES),
			},
		}
	}

	/// One executor's answers to `request`, by its model's largest output.
	pub(crate) fn answer_shares_for(request: &InferenceRequest<T>) -> AnswerShares {
		let output_len = Self::output_bound(&request.model_id).min(u64::from(u32::MAX)) as u32;
		Self::answer_shares(output_len)
	}

	/// The answer space `redundancy` executors' answers take, for outputs of up to
	/// `output_len` bytes.
	pub fn answer_space_of(redundancy: u8, output_len: u32) -> (Weight, u32) {
		let load = Self::answer_shares(output_len).both().saturating_mul(u32::from(redundancy));
		(load.weight, load.length)
	}

	/// The answer space `request` calls for, by its redundancy and its model's largest output.
	pub(crate) fn answer_space_for(request: &InferenceRequest<T>) -> (Weight, u32) {
		let load = Self::answer_shares_for(request)
			.both()
			.saturating_mul(u32::from(request.redundancy));
		(load.weight, load.length)
	}

	/// The answer space the requests assigned so far in block `now` take.
	fn answer_space_taken(now: BlockNumberFor<T>) -> (Weight, u32) {
		let taken = AnswerSpaceTaken::<T>::get();
		if taken.block == now {
			(taken.weight, taken.length)
		} else {
			(Weight::zero(), 0)
		}
	}

	/// Whether block `now` has answer space left for `needed`. The first request of a block
	/// always has (the integrity test checks the largest request fits an empty block).
	/// Whether block `now` has answer space left for `needed`, and the answers owed leave
	/// room for it. With nothing owed, a request always has (so none waits at the front for
	/// ever; the integrity test checks the largest request fits an empty block anyway).
	pub(crate) fn has_answer_space(now: BlockNumberFor<T>, needed: (Weight, u32)) -> bool {
		let owed = AnswersOwedTotal::<T>::get();
		if owed.is_zero() {
			return true;
		}
		let needed = AnswerLoad { weight: needed.0, length: needed.1 };
		let max_owed = Self::answer_space_per_block().saturating_mul(T::MaxAnswerBlocksOwed::get());
		if !owed.saturating_add(needed).fits(max_owed) {
			return false;
		}
		let (weight, length) = Self::answer_space_taken(now);
		AnswerLoad { weight, length }
			.saturating_add(needed)
			.fits(Self::answer_space_per_block())
	}

	/// One block's answer space.
	fn answer_space_per_block() -> AnswerLoad {
		AnswerLoad {
			weight: T::AnswerWeightPerBlock::get(),
			length: T::AnswerLengthPerBlock::get(),
		}
	}

	/// What `request`'s assigned executors still owe at block `now`: an executor that has not
	/// committed, its commitment and its reveal while the commit phase is open (nothing once it
	/// closed without it: it can no longer answer); one that committed, its reveal; one that
	/// revealed, nothing; nothing at all from the deadline on.
	pub(crate) fn answers_owed_by(
		request: &InferenceRequest<T>,
		now: BlockNumberFor<T>,
	) -> AnswerLoad {
		let Some(deadline) = request.status.deadline() else { return AnswerLoad::default() };
		if now >= deadline {
			return AnswerLoad::default();
		}
		let shares = Self::answer_shares_for(request);
		let phase_open = !request.commit_phase_closed(now);
		(0..request.assigned.len() as u8).fold(AnswerLoad::default(), |owed, index| {
			let share = if request.attestations.iter().any(|a| a.executor_index == index) {
				AnswerLoad::default()
			} else if request.commitment_of(index).is_some() {
				shares.reveal
			} else if phase_open {
				shares.both()
			} else {
				AnswerLoad::default()
			};
			owed.saturating_add(share)
		})
	}

	/// Count what `request` (just assigned, or just answered) owes now in place of what it was
	/// counted for. A commitment is not recounted (its share is small, and counting it would
	/// cost every commitment a write): it leaves the total at the next reveal of its request.
	pub(crate) fn recount_answers_owed(request: &mut InferenceRequest<T>, now: BlockNumberFor<T>) {
		let owed = Self::answers_owed_by(request, now);
		Self::replace_answers_owed(request, owed);
	}

	/// `request`'s deadline has come: it owes nothing more.
	pub(crate) fn release_answers_owed(request: &mut InferenceRequest<T>) {
		Self::replace_answers_owed(request, AnswerLoad::default());
	}

	/// Count `owed` for `request` in `AnswersOwedTotal` in place of what it was counted for.
	fn replace_answers_owed(request: &mut InferenceRequest<T>, owed: AnswerLoad) {
		if owed == request.answers_owed {
			return;
		}
		AnswersOwedTotal::<T>::mutate(|total| {
			*total = total.saturating_sub(request.answers_owed).saturating_add(owed)
		});
		request.answers_owed = owed;
	}

	/// Record that a request assigned in block `now` takes `taken` of its answer space.
	pub(crate) fn take_answer_space(now: BlockNumberFor<T>, taken: (Weight, u32)) {
		let (weight, length) = Self::answer_space_taken(now);
		AnswerSpaceTaken::<T>::put(AnswerSpace {
			block: now,
			weight: weight.saturating_add(taken.0),
			length: length.saturating_add(taken.1),
		});
	}

	/// The largest request the chain can open: `MaxRedundancy` executors (a challenge's
	/// re-execution draws that many) returning outputs of `MaxOutputLen` bytes.
	pub fn largest_answer_space() -> (Weight, u32) {
		let redundancy = T::MaxRedundancy::get().min(u32::from(u8::MAX)) as u8;
		Self::answer_space_of(redundancy, T::MaxOutputLen::get())
	}
}

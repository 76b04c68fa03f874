//! Answer space: the chain assigns requests only as fast as blocks can carry their answers.
//!
//! Every assigned executor answers twice, a commitment and then a reveal, in operational
//! transactions that its offchain worker submits before the request's deadlines, and the reveal
//! that completes a quorum settles the request. So the answers a block can carry are finite:
//! `AnswerWeightPerBlock` of weight and `AnswerLengthPerBlock` of bytes, the part of a block
//! that ordinary transactions (requests among them) cannot take. Each block assigns requests
//! until what they call for would exceed that space: per assigned executor its commitment and
//! its reveal of the model's largest output, and once per request its settlement at its
//! heaviest for the request's kind, its redundancy and that output (a settlement's weight grows
//! with both: its record holds a candidate per distinct outcome); the next request waits at the
//! front of the assignment queue for the next block.
//!
//! Why the settlement counts once: every reveal is charged the heaviest settlement before
//! dispatch (any of them may be the deciding one) and refunded it after down to what its own
//! settlement weighed, nothing unless it settled, and only one does. Counting it per executor, as an earlier rule did, kept blocks a third full
//! of answers in fact (on real nodes at 300 requests a block: about 45 finalized a block, with
//! executors' capacity idle). Counting it once is what blocks really carry, provided a block
//! full of answers as counted still has room for the charge of a full batch of reveals on top
//! (`reveal_batch_room`; the runtime's tests check its constants). Answers go first, at the
//! top pool priority, so ordinary transactions do not take that room.
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
//! executor its commitment and reveal while it may still commit, its reveal once committed,
//! and the settlement until a quorum settles it; recounted at each reveal, released at the
//! deadline; summed in `AnswersOwedTotal`) and assigns only while their total stays within
//! `MaxAnswerBlocksOwed` blocks of answer space. On time, what is owed before a block assigns
//! is about two blocks' worth (last block's requests, and the reveals of the block before), so
//! the rule costs little; behind, assignment slows at once, and the debt stays bounded instead
//! of growing. Blocks can carry more than their answer space (the space counts the heaviest
//! settlement, most requests settle as ordinary ones, and hooks and requests rarely fill the
//! rest), so a full debt lands within a block or two, inside the commit window. The count
//! corrects itself: answers that can no longer come (an executor that did not commit in time,
//! a dead one) leave it at the request's next reveal or at its deadline.
//!
//! What it does not stop: a flood lengthening everyone's wait in the queue (each request pays
//! its fee); an executor whose own offchain worker falls behind (a miss is still a miss);
//! operational transactions other than answers (root's) taking part of the reserve, which
//! `AnswerWeightPerBlock` leaves room for; and executors that never answer, whose debt slows
//! assignment for everyone until their request's first reveal after its commit deadline (or
//! its deadline, if nobody reveals); bounded by their share of the draws, and they are slashed
//! and, after `MaxConsecutiveMisses`, evicted.

use crate::{
	types::{AnswerLoad, AnswerSpace, RecordShape},
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

/// What one request's answers cost blocks, by step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AnswerShares {
	/// One executor's commitment, charged with its authorization.
	pub commit: AnswerLoad,
	/// One executor's reveal, charged with its authorization.
	pub reveal: AnswerLoad,
	/// The request's settlement, once for all its executors: the reveal that completes the
	/// quorum settles it.
	pub settlement: AnswerLoad,
}

impl AnswerShares {
	/// One executor's answers: its commitment and its reveal.
	pub fn both(&self) -> AnswerLoad {
		self.commit.saturating_add(self.reveal)
	}

	/// All the answers of a request drawing `redundancy` executors, and its settlement.
	pub fn of_request(&self, redundancy: u8) -> AnswerLoad {
		self.both()
			.saturating_mul(u32::from(redundancy))
			.saturating_add(self.settlement)
	}
}

impl<T: Config> Pallet<T> {
	/// What a request's answers cost blocks, for outputs of up to `output_len` bytes and a
	/// settlement weighing `settlement`: each executor's commitment and reveal as batch items,
	/// each with its authorization, and the settlement once (every reveal is charged the
	/// heaviest before dispatch, and all but the deciding one refunded after; the deciding one
	/// keeps what its settlement weighed).
	pub fn answer_shares(output_len: u32, settlement: Weight) -> AnswerShares {
		AnswerShares {
			commit: AnswerLoad {
				weight: T::WeightInfo::submit_commitment()
					.saturating_add(T::WeightInfo::authorize_submit_commitment()),
				length: COMMIT_ENVELOPE_BYTES,
			},
			reveal: AnswerLoad {
				weight: T::WeightInfo::submit_attestation(output_len)
					.saturating_add(T::WeightInfo::authorize_submit_attestation(output_len)),
				length: output_len.saturating_add(REVEAL_ENVELOPE_BYTES),
			},
			settlement: AnswerLoad { weight: settlement, length: 0 },
		}
	}

	/// What `request`'s answers cost blocks, by its model's largest output.
	pub(crate) fn answer_shares_for(request: &InferenceRequest<T>) -> AnswerShares {
		Self::answer_shares_by_bound(request, Self::output_bound(&request.model_id))
	}

	/// What the answers to `request`, a request of `model`, cost blocks.
	pub(crate) fn answer_shares_of(
		request: &InferenceRequest<T>,
		model: &crate::ModelInfoOf<T>,
	) -> AnswerShares {
		Self::answer_shares_by_bound(request, Self::output_bound_of(model))
	}

	/// What `request`'s answers cost blocks, for outputs bounded by `output_bound` bytes: its
	/// settlement as its kind, its redundancy and that bound make it at most.
	fn answer_shares_by_bound(request: &InferenceRequest<T>, output_bound: u64) -> AnswerShares {
		let output_len = output_bound.min(u64::from(u32::MAX)) as u32;
		let shape = RecordShape { redundancy: request.redundancy, largest_output: output_len };
		Self::answer_shares(output_len, Self::settle_weight_of(&request.kind, shape))
	}

	/// The answer space an ordinary request drawing `redundancy` executors takes, for outputs
	/// of up to `output_len` bytes.
	pub fn answer_space_of(redundancy: u8, output_len: u32) -> AnswerLoad {
		let shape = RecordShape { redundancy, largest_output: output_len };
		let settlement = Self::settle_weight_of(&crate::RequestKind::Inference, shape);
		Self::answer_shares(output_len, settlement).of_request(redundancy)
	}

	/// The answer space the requests assigned so far in block `now` take.
	fn answer_space_taken(now: BlockNumberFor<T>) -> AnswerLoad {
		let taken = AnswerSpaceTaken::<T>::get();
		if taken.block == now {
			taken.taken
		} else {
			AnswerLoad::default()
		}
	}

	/// Whether block `now` has answer space left for `needed`, and the answers owed leave
	/// room for it. With nothing owed, a request always has (so none waits at the front for
	/// ever; the integrity test checks the largest request fits an empty block anyway).
	pub(crate) fn has_answer_space(now: BlockNumberFor<T>, needed: AnswerLoad) -> bool {
		let owed = AnswersOwedTotal::<T>::get();
		if owed.is_zero() {
			return true;
		}
		let max_owed = Self::answer_space_per_block().saturating_mul(T::MaxAnswerBlocksOwed::get());
		owed.saturating_add(needed).fits(max_owed)
			&& Self::answer_space_taken(now)
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

	/// What `request`'s assigned executors still owe at block `now`, its answers costing
	/// `shares`: an executor that has not committed, its commitment and its reveal while the
	/// commit phase is open (nothing once it closed without it: it can no longer answer); one
	/// that committed, its reveal; one that revealed, nothing; and the settlement while no
	/// quorum has settled the request and a reveal may still come. Nothing at all from the
	/// deadline on.
	pub(crate) fn answers_owed_by(
		request: &InferenceRequest<T>,
		shares: &AnswerShares,
		now: BlockNumberFor<T>,
	) -> AnswerLoad {
		let Some(deadline) = request.status.deadline() else { return AnswerLoad::default() };
		if now >= deadline {
			return AnswerLoad::default();
		}
		let phase_open = !request.commit_phase_closed(now);
		let answers =
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
			});
		let unsettled = matches!(request.status, crate::RequestStatus::Assigned { .. });
		if unsettled && !answers.is_zero() {
			answers.saturating_add(shares.settlement)
		} else {
			answers
		}
	}

	/// Count what `request` (just assigned, or just answered; its answers costing `shares`)
	/// owes now in place of what it was counted for. A commitment is not recounted (its share
	/// is small, and counting it would cost every commitment a write): it leaves the total at
	/// the next reveal of its request.
	pub(crate) fn recount_answers_owed(
		request: &mut InferenceRequest<T>,
		shares: &AnswerShares,
		now: BlockNumberFor<T>,
	) {
		let owed = Self::answers_owed_by(request, shares, now);
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
	pub(crate) fn take_answer_space(now: BlockNumberFor<T>, taken: AnswerLoad) {
		let taken = Self::answer_space_taken(now).saturating_add(taken);
		AnswerSpaceTaken::<T>::put(AnswerSpace { block: now, taken });
	}

	/// The room a block must keep above its answer space for one full batch of reveals: each
	/// reveal is charged before dispatch the heaviest settlement it may complete, and only the
	/// deciding reveal of a request settles, so a block full of answers as counted still takes
	/// a batch only if it has this much more.
	pub fn reveal_batch_room() -> Weight {
		Self::settle_weight().saturating_mul(u64::from(T::MaxAnswersPerBatch::get()))
	}

	/// The largest request the chain can open: `MaxRedundancy` executors (a challenge's
	/// re-execution draws that many) returning outputs of `MaxOutputLen` bytes.
	pub fn largest_answer_space() -> AnswerLoad {
		let redundancy = T::MaxRedundancy::get().min(u32::from(u8::MAX)) as u8;
		Self::answer_shares(T::MaxOutputLen::get(), Self::settle_weight()).of_request(redundancy)
	}
}

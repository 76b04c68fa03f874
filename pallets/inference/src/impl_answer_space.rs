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
//! What it does not stop: a flood lengthening everyone's wait in the queue (each request pays
//! its fee); an executor whose own offchain worker falls behind (a miss is still a miss);
//! operational transactions other than answers (root's) taking part of the reserve, which
//! `AnswerWeightPerBlock` leaves room for; and a backlog: when answers miss a block (a worker
//! late, two blocks' reveals arriving together), blocks drain it only with the space the bound
//! leaves unassigned, so under a sustained flood deadlines can still pass and honest executors
//! be slashed for misses.

use crate::{types::AnswerSpace, AnswerSpaceTaken, Config, InferenceRequest, Pallet, WeightInfo};
use frame_support::{traits::Get, weights::Weight};
use frame_system::pallet_prelude::BlockNumberFor;
use sp_runtime::traits::Zero;

/// Bytes one executor's answers to one request take in blocks besides its output: a
/// commitment item (request id, commitment, key and signature) and a reveal item (request id,
/// outcome header, key and signature), with room for their share of a batch's envelope.
pub const ANSWER_ENVELOPE_BYTES: u32 = 320;

impl<T: Config> Pallet<T> {
	/// The weight one executor's answers to a request with outputs of up to `output_len` bytes
	/// are charged before dispatch: its commitment and its reveal as batch items, the reveal
	/// with the settlement it may complete, each with its authorization.
	pub fn answer_weight(output_len: u32) -> Weight {
		T::WeightInfo::submit_commitment()
			.saturating_add(T::WeightInfo::authorize_submit_commitment())
			.saturating_add(T::WeightInfo::submit_attestation(output_len))
			.saturating_add(T::WeightInfo::authorize_submit_attestation(output_len))
			.saturating_add(Self::settle_weight())
	}

	/// The answer space `redundancy` executors' answers take, for outputs of up to
	/// `output_len` bytes.
	pub fn answer_space_of(redundancy: u8, output_len: u32) -> (Weight, u32) {
		let executors = u32::from(redundancy);
		(
			Self::answer_weight(output_len).saturating_mul(u64::from(executors)),
			output_len.saturating_add(ANSWER_ENVELOPE_BYTES).saturating_mul(executors),
		)
	}

	/// The answer space `request` calls for, by its redundancy and its model's largest output.
	pub(crate) fn answer_space_for(request: &InferenceRequest<T>) -> (Weight, u32) {
		let output_len = Self::output_bound(&request.model_id).min(u64::from(u32::MAX)) as u32;
		Self::answer_space_of(request.redundancy, output_len)
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
	pub(crate) fn has_answer_space(now: BlockNumberFor<T>, needed: (Weight, u32)) -> bool {
		let (weight, length) = Self::answer_space_taken(now);
		if weight.is_zero() && length == 0 {
			return true;
		}
		weight.saturating_add(needed.0).all_lte(T::AnswerWeightPerBlock::get())
			&& length.saturating_add(needed.1) <= T::AnswerLengthPerBlock::get()
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

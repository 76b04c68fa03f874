//! The assignment queue: requests waiting for executors, first come, first served.
//!
//! A request is never refused for lack of room in a block: it waits in the queue and is
//! assigned when its turn comes, up to `MaxRequestsPerBlock` per block (which bounds the
//! hook's work and the number of deadlines in any block). The queue itself is bounded
//! (`MaxQueuedRequests`). Transactions may fill it up to `2 * MaxRequestsPerBlock` short of
//! that, so the audits the hooks open (at most two per settled or expired request slot,
//! `MaxRequestsPerBlock` of each per block) always find room; a request beyond that is
//! refused, and the transaction extension [`CheckRequestRoom`] refuses it already in the
//! transaction pool and the block builder, so the requester pays no fee for a request that
//! would not run.
//!
//! A request for a model whose pool holds fewer executors than its redundancy is refused by
//! the same extension, in the pool, before inclusion ([`TOO_FEW_EXECUTORS`]): executors
//! leave pools when they unbond or are evicted, and a load sent while that happens would
//! otherwise fail in its blocks with `NotEnoughExecutors`, each request paying its fee.
//!
//! A request whose pool has too few executors with room for another assignment
//! (`MaxOpenAssignments`), or whose answers the block's answer space no longer carries
//! (`impl_answer_space`), keeps its place at the front, and the block assigns no more.
//!
//! What it stops: requests failing, fees paid, because many arrived in the same block. What
//! it does not: a flood of paying requests lengthening everyone's wait (each pays its fee, its
//! storage deposit and the congestion-adjusted length fee, and the queue is served in order).

use crate::{
	impl_assignment::{Assigned, DrawSize},
	AssignmentQueue, AssignmentQueueEnds, Config, Error, Pallet, RequestKind, WeightInfo,
};
use codec::{Decode, DecodeWithMemTracking, Encode};
use core::marker::PhantomData;
use frame_support::{
	pallet_prelude::{
		InvalidTransaction, TransactionSource, TransactionValidityError, ValidTransaction,
	},
	traits::Get,
	weights::Weight,
};
use frame_system::pallet_prelude::BlockNumberFor;
use scale_info::TypeInfo;
use sp_runtime::{
	traits::{DispatchInfoOf, DispatchOriginOf, Implication, TransactionExtension, ValidateResult},
	DispatchError,
};
use verity_primitives::{ModelId, ModelStatus, RequestId};

impl<T: Config> Pallet<T> {
	/// How many requests wait in the assignment queue.
	pub fn queued_requests() -> u32 {
		let (front, back) = AssignmentQueueEnds::<T>::get();
		back.wrapping_sub(front)
	}

	/// How many more requests transactions may queue now (the rest is kept for audits).
	pub fn queue_room_for_transactions() -> u32 {
		let reserve = T::MaxRequestsPerBlock::get().saturating_mul(2);
		T::MaxQueuedRequests::get()
			.saturating_sub(reserve)
			.saturating_sub(Self::queued_requests())
	}

	/// Put `request_id` at the back of the queue, if a request of `kind` may take a place.
	pub(crate) fn enqueue(
		request_id: RequestId,
		kind: &RequestKind<crate::AccountIdOf<T>, crate::BalanceOf<T>>,
	) -> Result<(), DispatchError> {
		Self::ensure_queue_room(kind)?;
		let (front, back) = AssignmentQueueEnds::<T>::get();
		AssignmentQueue::<T>::insert(back, request_id);
		AssignmentQueueEnds::<T>::put((front, back.wrapping_add(1)));
		Ok(())
	}

	/// Whether a request of `kind` may join the queue: audits may use the reserve.
	pub(crate) fn ensure_queue_room(
		kind: &RequestKind<crate::AccountIdOf<T>, crate::BalanceOf<T>>,
	) -> Result<(), DispatchError> {
		let room = match kind {
			RequestKind::Audit { .. } => {
				T::MaxQueuedRequests::get().saturating_sub(Self::queued_requests())
			},
			_ => Self::queue_room_for_transactions(),
		};
		if room == 0 {
			return Err(Error::<T>::RequestQueueFull.into());
		}
		Ok(())
	}

	/// Give the request at the front of the queue its turn: it leaves the queue when it is
	/// assigned (or refunded), and stays at the front when its pool is busy. Returns the turn
	/// and how large its draw was, which sets its weight (`assign_weight`).
	pub(crate) fn assign_next(now: BlockNumberFor<T>) -> TurnTaken {
		let (front, back) = AssignmentQueueEnds::<T>::get();
		if front == back {
			return TurnTaken { turn: Turn::Empty, draw: DrawSize::NONE };
		}
		let mut draw = DrawSize::NONE;
		if let Some(request_id) = AssignmentQueue::<T>::get(front) {
			match Self::assign_request(request_id, now) {
				Assigned::Waits { draw } => return TurnTaken { turn: Turn::Waits, draw },
				Assigned::Done { draw: made } => draw = made,
			}
		}
		AssignmentQueue::<T>::remove(front);
		AssignmentQueueEnds::<T>::put((front.wrapping_add(1), back));
		TurnTaken { turn: Turn::Served, draw }
	}

	/// The weight of one turn of the queue whose draw was `draw`: by the pool it read and the
	/// executors it seated.
	pub(crate) fn assign_weight(draw: DrawSize) -> Weight {
		let (pool, seated) = Self::weighed_draw(draw);
		T::WeightInfo::assign_request(pool, seated)
	}

	/// `draw` within the ranges it was benchmarked over.
	fn weighed_draw(draw: DrawSize) -> (u32, u32) {
		(
			draw.pool.clamp(T::MaxRedundancy::get(), T::MaxExecutorsPerModel::get()),
			draw.seated.clamp(1, T::MaxRedundancy::get()),
		)
	}

	/// Assign `request_id` in the block that carries it, if at most one request waits before it
	/// in the queue, its deadline block has room and its pool has executors with room;
	/// otherwise it waits its turn. Returns whether it served the one before it too, whose
	/// turn costs an assignment more, and how large its own draw was (none if it waits behind
	/// a longer queue).
	///
	/// The one before it is typically an audit a settlement opened earlier in the block: without
	/// serving it first, every request after that settlement would wait for the next block's
	/// hook. Serving it first keeps first come, first served; serving no more than one keeps the
	/// call's weight bounded (a longer queue is the hook's to serve).
	///
	/// Nothing is lost by not waiting a block: the draw's randomness is the same either way
	/// (the VRF output of the author of this block, which a later block's hook would read
	/// too), and so is what the author can do with it (choose which requests meet it).
	pub(crate) fn assign_at_once(request_id: RequestId) -> AtOnce {
		let (front, back) = AssignmentQueueEnds::<T>::get();
		let waits = AtOnce { served_before: ServedBefore::No, draw: DrawSize::NONE };
		if AssignmentQueue::<T>::get(back.wrapping_sub(1)) != Some(request_id) {
			return waits;
		}
		let now = frame_system::Pallet::<T>::block_number();
		match back.wrapping_sub(front) {
			// Alone: a full deadline block or a busy pool leaves it waiting in the queue.
			1 => AtOnce { served_before: ServedBefore::No, draw: Self::assign_next(now).draw },
			2 => {
				let before = Self::assign_next(now);
				let draw = if before.turn == Turn::Served {
					Self::assign_next(now).draw
				} else {
					DrawSize::NONE
				};
				AtOnce { served_before: ServedBefore::Yes, draw }
			},
			_ => waits,
		}
	}

	/// The weight of `request_inference` with an input of `input_len` bytes whose own draw
	/// was `draw`, whose call served the request before it too or not: the benchmarked
	/// request, which draws its own executors in its block (reading every member of the pool
	/// and writing an assignment for each executor it seats, so the weight grows with both),
	/// and the other's assignment (at its most: it may be of another model).
	pub fn request_weight(input_len: u32, served_before: ServedBefore, draw: DrawSize) -> Weight {
		let (pool, seated) = Self::weighed_draw(draw);
		let own = T::WeightInfo::request_inference(input_len, pool, seated);
		match served_before {
			ServedBefore::No => own,
			ServedBefore::Yes => own.saturating_add(Self::max_assign_weight()),
		}
	}

	/// The weight of one turn of the queue at its most: the highest redundancy drawn from a
	/// full pool.
	pub(crate) fn max_assign_weight() -> Weight {
		Self::assign_weight(Self::largest_draw())
	}

	/// The largest draw there is: the highest redundancy from a full pool.
	fn largest_draw() -> DrawSize {
		DrawSize { pool: T::MaxExecutorsPerModel::get(), seated: T::MaxRedundancy::get() }
	}

	/// The weight `request_inference` is charged before dispatch: the largest draw, and the
	/// request before it served too.
	pub fn max_request_weight(input_len: u32) -> Weight {
		Self::request_weight(input_len, ServedBefore::Yes, Self::largest_draw())
	}

	/// Whether the pool of `model_id` holds at least as many executors as the model's
	/// redundancy, in two reads (the model and its pool's length): what the transaction pool
	/// checks before it lets a request in. True for a model that is not registered or not
	/// active: the call refuses those by name, and the requester's mistake costs its fee.
	///
	/// Every member of a pool is live (an executor that unbonds, is evicted or is slashed
	/// below `MinExecutorBond` leaves its pools; `try_state` checks it), so the pool's length
	/// is the count `request_inference` checks.
	pub fn pool_can_run(model_id: &ModelId) -> bool {
		let Some(model) = crate::Models::<T>::get(model_id) else { return true };
		if model.status != ModelStatus::Active {
			return true;
		}
		let members = crate::ModelExecutors::<T>::decode_len(model_id).unwrap_or(0);
		members >= usize::from(model.metadata.redundancy)
	}

	/// The queued request ids, front first.
	pub fn queued_request_ids() -> impl Iterator<Item = RequestId> {
		let (front, back) = AssignmentQueueEnds::<T>::get();
		(0..back.wrapping_sub(front))
			.filter_map(move |offset| AssignmentQueue::<T>::get(front.wrapping_add(offset)))
	}
}

/// What one turn of the assignment queue did.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Turn {
	/// The queue was empty.
	Empty,
	/// The front request left the queue (assigned, refunded, or no longer pending).
	Served,
	/// The front request's pool is busy: it stays at the front, and the block assigns no more.
	Waits,
}

/// One turn of the assignment queue: what it did, and how large its draw was (none if it did
/// not draw).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct TurnTaken {
	/// What the turn did.
	pub turn: Turn,
	/// Its draw.
	pub draw: DrawSize,
}

/// What a request's own call did to assign it: whether it served the request before it too,
/// and how large its own draw was (none if it did not draw).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct AtOnce {
	/// Whether it served the request before it in the queue too.
	pub served_before: ServedBefore,
	/// Its own draw.
	pub draw: DrawSize,
}

/// Whether a request assigned in its own call served the request before it in the queue too.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ServedBefore {
	/// It served only itself, or waits.
	No,
	/// It gave the request before it its turn first.
	Yes,
}

/// Calls that open requests in the assignment queue, and how many.
pub trait OpensRequests {
	/// How many requests this call opens when it succeeds.
	fn requests_opened(&self) -> u32;

	/// The model the request this call opens runs, when the call names it (`request_inference`),
	/// so the pool can check that model's executors; `None` for every other call.
	fn model_requested(&self) -> Option<ModelId> {
		None
	}
}

/// A transaction extension that refuses, in the pool and in the block builder, a transaction
/// that would open more requests than the assignment queue has room for
/// ([`QUEUE_FULL`]), or a request for a model whose pool holds fewer executors than its
/// redundancy ([`TOO_FEW_EXECUTORS`]), so it is never included and pays no fee. It carries
/// no data.
///
/// Attack it stops: none by itself; it keeps honest requesters from paying for requests the
/// chain would refuse for its own state (a full queue, a pool an eviction or unbonding just
/// emptied). What it does not: a request the pool admitted may still fail in its block if
/// that state changed in between (the block builder checks again, so only a block built
/// elsewhere on an older view can include it), and calls that open requests without naming
/// the model (memory's embeddings, challenges, contracts' requests) are checked for queue
/// room only.
#[derive(Encode, Decode, DecodeWithMemTracking, TypeInfo, Clone, PartialEq, Eq)]
#[scale_info(skip_type_params(T))]
pub struct CheckRequestRoom<T>(PhantomData<T>);

impl<T> CheckRequestRoom<T> {
	/// The extension (it has no parameters).
	pub fn new() -> Self {
		Self(PhantomData)
	}
}

impl<T> Default for CheckRequestRoom<T> {
	fn default() -> Self {
		Self::new()
	}
}

impl<T> core::fmt::Debug for CheckRequestRoom<T> {
	fn fmt(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
		write!(f, "CheckRequestRoom")
	}
}

/// The custom validity code of a request refused for a full assignment queue.
pub const QUEUE_FULL: u8 = 1;

/// The custom validity code of a request refused because its model's pool holds fewer
/// executors than the model's redundancy.
pub const TOO_FEW_EXECUTORS: u8 = 2;

impl<T> TransactionExtension<<T as frame_system::Config>::RuntimeCall> for CheckRequestRoom<T>
where
	T: Config + Send + Sync,
	<T as frame_system::Config>::RuntimeCall: OpensRequests,
{
	const IDENTIFIER: &'static str = "CheckRequestRoom";
	type Implicit = ();
	type Val = ();
	type Pre = ();

	fn weight(&self, call: &<T as frame_system::Config>::RuntimeCall) -> Weight {
		if call.model_requested().is_some() {
			T::WeightInfo::check_request_room()
		} else if call.requests_opened() > 0 {
			<T as frame_system::Config>::DbWeight::get().reads(1)
		} else {
			Weight::zero()
		}
	}

	fn validate(
		&self,
		origin: DispatchOriginOf<<T as frame_system::Config>::RuntimeCall>,
		call: &<T as frame_system::Config>::RuntimeCall,
		_info: &DispatchInfoOf<<T as frame_system::Config>::RuntimeCall>,
		_len: usize,
		_self_implicit: Self::Implicit,
		_inherited_implication: &impl Implication,
		_source: TransactionSource,
	) -> ValidateResult<Self::Val, <T as frame_system::Config>::RuntimeCall> {
		let opened = call.requests_opened();
		if opened > 0 && Pallet::<T>::queue_room_for_transactions() < opened {
			return Err(TransactionValidityError::Invalid(InvalidTransaction::Custom(QUEUE_FULL)));
		}
		if call
			.model_requested()
			.is_some_and(|model_id| !Pallet::<T>::pool_can_run(&model_id))
		{
			return Err(TransactionValidityError::Invalid(InvalidTransaction::Custom(
				TOO_FEW_EXECUTORS,
			)));
		}
		Ok((ValidTransaction::default(), (), origin))
	}

	fn prepare(
		self,
		_val: Self::Val,
		_origin: &DispatchOriginOf<<T as frame_system::Config>::RuntimeCall>,
		_call: &<T as frame_system::Config>::RuntimeCall,
		_info: &DispatchInfoOf<<T as frame_system::Config>::RuntimeCall>,
		_len: usize,
	) -> Result<Self::Pre, TransactionValidityError> {
		Ok(())
	}
}

impl<T: Config> crate::Call<T> {
	/// How many requests this call opens in the assignment queue when it succeeds.
	pub fn requests_opened(&self) -> u32 {
		match self {
			Self::request_inference { .. } | Self::challenge { .. } => 1,
			_ => 0,
		}
	}

	/// The model the request this call opens runs, when the call names it.
	pub fn model_requested(&self) -> Option<ModelId> {
		match self {
			Self::request_inference { model_id, .. } => Some(*model_id),
			_ => None,
		}
	}
}

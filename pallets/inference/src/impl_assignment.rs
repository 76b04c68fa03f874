//! Drawing executors for a request.
//!
//! A request opened in block `n` is assigned in block `n` itself when the queue lets it (see
//! `impl_queue`), or in the `on_initialize` of the block where its turn comes, from a seed
//! that hashes the chain's randomness (`Config::Randomness`) with the request id. On the
//! runtime that randomness is the VRF output of the assigning block's author over the
//! randomness before it (`pallet-author-vrf`): it does not exist until that author builds the
//! block, which for block `n` holds the request itself, so a requester cannot predict, let alone choose, who will serve it, and
//! cannot grind by resubmitting without paying a new fee each time. The author cannot grind
//! it either: its VRF has one output per slot, whatever the block contains. What it does not
//! resist: that author knows the output while it builds block `n`, so it can choose which
//! requests meet this draw (include a request of its own only when the draw suits it), once
//! per block it authors; and it can withhold its block, handing the draw to the next slot's
//! author.
//!
//! Executors are drawn without replacement from the live executors serving the model, each
//! with a chance proportional to its bond. Splitting a bond over many accounts therefore buys
//! no extra draws: an adversary holding a share `a = A / (A + H)` of a pool's total bond (its
//! `A` against the honest `H`) fills each seat with probability about `a`, however many
//! accounts it uses, so holding a majority of a request's draw needs a bond comparable to the
//! rest of the pool: for a share `a` it must bond `A = a / (1 - a) * H` (as much as everyone
//! else for a half, three times as much for three quarters). What it does not stop: an
//! adversary with that much bond.
//!
//! A block assigns requests only while the answers they call for fit the block space kept for
//! answers (`impl_answer_space`): the next request waits at the front of the queue.
//!
//! An executor holds at most `MaxOpenAssignments` assignments it has not answered. The draw
//! passes over one at that cap; when too few executors of a pool have room, the request waits
//! at the front of the queue (the hook stops assigning for the block) until reveals or
//! deadlines free some. What it stops: a burst of requests handing executors more work than
//! their answers can carry before the deadlines, which turned overload into misses, slashes and evictions, and requests that
//! failed for it. What it does not stop: a busy pool holding up the requests of other models
//! queued behind its own (the queue is first come, first served), and a pool whose executors
//! never answer, which frees its places only at the deadlines.

use crate::{
	AccountIdOf, Assignee, Assignments, Config, Deadlines, Event, ModelExecutors,
	OnRequestFinalized, Pallet, RequestKind, RequestStatus, Requests,
};
use alloc::vec::Vec;
use codec::Encode;
use frame_support::{
	traits::{Get, Randomness},
	BoundedVec,
};
use frame_system::pallet_prelude::BlockNumberFor;
use sp_runtime::{traits::Saturating, SaturatedConversion};
use verity_primitives::{ModelId, RequestId};

/// The subject the protocol asks the chain's randomness for.
const RANDOMNESS_SUBJECT: &[u8] = b"verity/inference";

/// Domain separation for assignment seeds.
const ASSIGNMENT_DOMAIN: &[u8] = b"verity/assign";

impl<T: Config> Pallet<T> {
	/// The seed drawn for `request_id` in this block: the chain's randomness with the id.
	pub(crate) fn seed(domain: &[u8], request_id: RequestId) -> [u8; 32] {
		let (randomness, _) = T::Randomness::random(RANDOMNESS_SUBJECT);
		sp_io::hashing::blake2_256(&(domain, randomness, request_id).encode())
	}

	/// Draw `count` distinct live executors serving `model_id`, none of them in `excluded`
	/// and none at `MaxOpenAssignments`, each with a chance proportional to its bond.
	pub(crate) fn draw_executors(
		members: Vec<AccountIdOf<T>>,
		count: u8,
		excluded: &[AccountIdOf<T>],
		seed: [u8; 32],
	) -> Draw<T> {
		let cap = T::MaxOpenAssignments::get();
		let mut live = 0usize;
		let mut candidates: Vec<(Assignee<T>, u128)> = members
			.into_iter()
			.filter(|account| !excluded.contains(account))
			.filter_map(|account| {
				let executor = crate::Executors::<T>::get(&account)?;
				if !Self::is_live(&executor) {
					return None;
				}
				live = live.saturating_add(1);
				let weight: u128 = executor.bond.saturated_into();
				(executor.open_assignments < cap).then(|| {
					(Assignee { account, attestation_key: executor.attestation_key }, weight)
				})
			})
			.collect();
		let count = usize::from(count);
		if live < count {
			return Draw::TooFew;
		}
		if candidates.len() < count {
			return Draw::Busy;
		}
		// Seat by seat, a pick weighted by bond among those not seated yet.
		for seat in 0..count {
			let Some(remaining) = candidates.get(seat..) else { break };
			let total =
				remaining.iter().fold(0u128, |sum, (_, weight)| sum.saturating_add(*weight));
			let mut point = if total == 0 { 0 } else { draw(&seed, seat as u32) % total };
			let mut pick = remaining.len().saturating_sub(1);
			for (offset, (_, weight)) in remaining.iter().enumerate() {
				if point < *weight {
					pick = offset;
					break;
				}
				point = point.saturating_sub(*weight);
			}
			candidates.swap(seat, seat.saturating_add(pick));
		}
		candidates.truncate(count);
		Draw::Seated(candidates.into_iter().map(|(assignee, _)| assignee).collect())
	}

	/// Assign a queued request: draw its executors, record their assignments and queue its
	/// deadline; or refund it if too few live executors are left. Returns
	/// [`Assigned::Waits`], touching nothing, when enough executors are live but too few have
	/// room: the request keeps its place at the front of the queue. Either way it says how
	/// large its draw was.
	pub(crate) fn assign_request(request_id: RequestId, now: BlockNumberFor<T>) -> Assigned {
		let Some(mut request) = Requests::<T>::get(request_id) else {
			return Assigned::Done { draw: DrawSize::NONE };
		};
		if request.status != RequestStatus::Pending {
			return Assigned::Done { draw: DrawSize::NONE };
		}
		let (answer_blocks, commit_blocks) = Self::request_windows(&request.model_id);
		let deadline = now.saturating_add(answer_blocks);
		// Models answer in different numbers of blocks, so requests assigned in different
		// blocks can share a deadline: one whose deadline block is full waits a block.
		if Deadlines::<T>::decode_len(deadline).unwrap_or(0) as u32 >= T::MaxRequestsPerBlock::get()
		{
			return Assigned::Waits { draw: DrawSize::NONE };
		}
		// The block carries only as many answers as its answer space: the rest wait a block.
		let shares = Self::answer_shares_for(&request);
		let answer_space = shares.of_request(request.redundancy);
		if !Self::has_answer_space(now, answer_space) {
			return Assigned::Waits { draw: DrawSize::NONE };
		}
		let excluded = Self::excluded_executors(&request.kind);
		let seed = Self::seed(ASSIGNMENT_DOMAIN, request_id);
		let members = ModelExecutors::<T>::get(request.model_id);
		let pool = members.len() as u32;
		let drawn =
			match Self::draw_executors(members.into_inner(), request.redundancy, &excluded, seed) {
				Draw::Busy => return Assigned::Waits { draw: DrawSize::read_only(pool) },
				Draw::Seated(assignees) => Some(assignees),
				Draw::TooFew => None,
			};
		let queued = drawn.as_ref().is_some_and(|_| {
			Deadlines::<T>::mutate(deadline, |queue| queue.try_push(request_id).is_ok())
		});
		let Some(assignees) = drawn.filter(|_| queued) else {
			Self::refund_escrow(&mut request);
			request.status = RequestStatus::Unassignable;
			Self::prune_bytes(request_id, &mut request);
			Requests::<T>::insert(request_id, request.clone());
			Self::deposit_event(Event::RequestUnassignable { request_id });
			if let RequestKind::Inference = request.kind {
				T::OnFinalized::on_request_failed(request_id);
			}
			if let RequestKind::Challenge { original, .. } = &request.kind {
				Self::challenge_inconclusive(*original, &request.kind);
			}
			return Assigned::Done { draw: DrawSize::refunded::<T>(pool) };
		};
		Self::take_answer_space(now, answer_space);
		for assignee in &assignees {
			Assignments::<T>::insert(&assignee.account, request_id, ());
			crate::Executors::<T>::mutate(&assignee.account, |maybe_info| {
				if let Some(info) = maybe_info {
					info.open_assignments.saturating_inc();
				}
			});
		}
		let executors = assignees.iter().map(|assignee| assignee.account.clone()).collect();
		let seated = assignees.len() as u32;
		request.assigned = BoundedVec::truncate_from(assignees);
		request.commit_deadline = now.saturating_add(commit_blocks);
		request.status = RequestStatus::Assigned { deadline };
		Self::recount_answers_owed(&mut request, &shares, now);
		Requests::<T>::insert(request_id, request);
		Self::deposit_event(Event::RequestAssigned { request_id, executors, deadline });
		Assigned::Done { draw: DrawSize { pool, seated } }
	}

	/// The answer and commit windows of a request for `model_id` (the chain's defaults for a
	/// model no longer registered).
	pub(crate) fn request_windows(model_id: &ModelId) -> (BlockNumberFor<T>, BlockNumberFor<T>) {
		crate::Models::<T>::get(model_id)
			.map_or((T::ResponseTimeout::get(), T::CommitTimeout::get()), |model| {
				Self::answer_windows(&model.metadata)
			})
	}

	/// An executor answered (revealed) or saw closed one of its assignments: it has room for
	/// one more.
	pub(crate) fn release_assignment(info: &mut crate::ExecutorInfo<T>) {
		info.open_assignments.saturating_dec();
	}

	/// Executors that may not serve a request of this kind: a re-execution needs fresh eyes,
	/// so it excludes the original's executors and, for a challenge opened by a failed audit,
	/// the auditor.
	pub(crate) fn excluded_executors(
		kind: &RequestKind<AccountIdOf<T>, crate::BalanceOf<T>>,
	) -> Vec<AccountIdOf<T>> {
		let mut excluded = Vec::new();
		let mut kind = kind.clone();
		// Re-executions go two levels deep: the judged requests, their audits, and, for a
		// second-level re-execution, the first-level one's too.
		for _ in 0..2 {
			let (original, audit) = match &kind {
				RequestKind::Inference => break,
				RequestKind::Challenge { original, audit, .. } => (*original, *audit),
				RequestKind::Audit { original } => (*original, None),
			};
			if let Some(audit) = audit.and_then(Requests::<T>::get) {
				excluded.extend(audit.assigned.into_iter().map(|assignee| assignee.account));
			}
			let Some(request) = Requests::<T>::get(original) else { break };
			excluded.extend(request.assigned.into_iter().map(|assignee| assignee.account));
			kind = request.kind;
		}
		excluded
	}
}

/// What a draw found.
pub(crate) enum Draw<T: Config> {
	/// The executors seated, in seat order.
	Seated(Vec<Assignee<T>>),
	/// Enough live executors serve the model, but too few have room for one more assignment.
	Busy,
	/// Too few live executors serve the model (outside the excluded ones).
	TooFew,
}

/// How large a draw was, which sets its weight: the pool members it read (every member of the
/// model's pool) and the executors it seated (an assignment and a counter written for each).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct DrawSize {
	/// The pool members the draw read.
	pub pool: u32,
	/// The executors it seated.
	pub seated: u32,
}

impl DrawSize {
	/// No draw at all.
	pub const NONE: Self = Self { pool: 0, seated: 0 };

	/// A draw that read `pool` members and seated nobody.
	pub(crate) fn read_only(pool: u32) -> Self {
		Self { pool, seated: 0 }
	}

	/// A draw that read `pool` members and found too few live executors, so its request was
	/// refunded: charged as seating the most executors, whose writes cover the refund's and
	/// what the finalization listeners do for a failed request.
	pub(crate) fn refunded<T: Config>(pool: u32) -> Self {
		Self { pool, seated: T::MaxRedundancy::get() }
	}
}

/// What became of a queued request's turn, and how large its draw was (none if it did not
/// draw).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Assigned {
	/// It left the queue: assigned, refunded, or no longer pending.
	Done {
		/// Its draw.
		draw: DrawSize,
	},
	/// Its pool is busy (or its deadline block full, or the block's answer space): it stays at
	/// the front of the queue.
	Waits {
		/// Its draw.
		draw: DrawSize,
	},
}

/// The `index`-th pseudo-random number of `seed`.
fn draw(seed: &[u8; 32], index: u32) -> u128 {
	let hash = sp_io::hashing::blake2_256(&(seed, index).encode());
	let mut bytes = [0u8; 16];
	bytes.copy_from_slice(hash.get(..16).unwrap_or(&[0; 16]));
	u128::from_le_bytes(bytes)
}

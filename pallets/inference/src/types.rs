//! The pallet's stored types and the aliases they are written in.

use crate::Config;
use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use frame_support::{
	traits::fungible::Inspect, weights::Weight, BoundedVec, CloneNoBound, DebugNoBound, EqNoBound,
	PartialEqNoBound,
};
use frame_system::pallet_prelude::BlockNumberFor;
use scale_info::TypeInfo;
use sp_core::H256;
use verity_primitives::{
	ExecutorPublic, InferenceOutcome, ModelId, ModelInfo, RejectionCode, RequestId,
};

/// The balance type of the configured currency.
pub type BalanceOf<T> =
	<<T as Config>::Currency as Inspect<<T as frame_system::Config>::AccountId>>::Balance;

/// An account of this runtime.
pub type AccountIdOf<T> = <T as frame_system::Config>::AccountId;

/// A registered model as this runtime stores it.
pub type ModelInfoOf<T> = ModelInfo<BalanceOf<T>, BlockNumberFor<T>>;

/// The models one executor serves.
pub type ExecutorModels<T> = BoundedVec<ModelId, <T as Config>::MaxModelsPerExecutor>;

/// An executor registered at genesis: `(account, attestation key, models served, bond)`.
pub type GenesisExecutor<T> =
	(AccountIdOf<T>, ExecutorPublic, alloc::vec::Vec<ModelId>, BalanceOf<T>);

/// A request's input: a canonical [`verity_primitives::TensorMap`] encoding.
pub type RequestInput<T> = BoundedVec<u8, <T as Config>::MaxInputLen>;

/// An attested output: a canonical [`verity_primitives::TensorMap`] encoding.
pub type RequestOutput<T> = BoundedVec<u8, <T as Config>::MaxOutputLen>;

/// Whether an executor takes new work.
#[derive(
	Clone,
	Copy,
	Encode,
	Decode,
	DecodeWithMemTracking,
	Eq,
	PartialEq,
	Debug,
	TypeInfo,
	MaxEncodedLen,
)]
#[cfg_attr(feature = "std", derive(serde::Serialize, serde::Deserialize))]
pub enum ExecutorStatus<BlockNumber> {
	/// Registered and eligible for assignments (while its bond is at least `MinExecutorBond`).
	Active,
	/// Unregistered; the bond can be withdrawn from block `until` on, and can still be slashed
	/// until then.
	Unbonding {
		/// First block at which `withdraw_bond` succeeds.
		until: BlockNumber,
	},
}

/// What an executor has done, for anyone judging it.
#[derive(
	Clone,
	Copy,
	Default,
	Encode,
	Decode,
	DecodeWithMemTracking,
	Eq,
	PartialEq,
	Debug,
	TypeInfo,
	MaxEncodedLen,
)]
#[cfg_attr(feature = "std", derive(serde::Serialize, serde::Deserialize))]
pub struct ExecutorStats<Balance> {
	/// Attestations submitted.
	pub answered: u32,
	/// Attestations that matched the quorum.
	pub agreed: u32,
	/// Attestations that contradicted the quorum.
	pub dissented: u32,
	/// Assignments left unanswered past their deadline.
	pub missed: u32,
	/// Blocks whose closings found it had left assignments unanswered, since its last
	/// answer; at `MaxConsecutiveMisses` it leaves its pools. The misses one block judges
	/// count once: a batch of answers lost on the way (a fork, a pool that refused it) misses
	/// up to `MaxAnswersPerBatch` assignments at once, and is not an executor gone.
	pub consecutive_misses: u32,
	/// The block whose closings last counted a miss toward `consecutive_misses` (0: none).
	pub last_miss_block: u32,
	/// Total slashed from the bond.
	pub slashed: Balance,
}

/// A registered executor.
#[derive(
	CloneNoBound, Encode, Decode, EqNoBound, PartialEqNoBound, DebugNoBound, TypeInfo, MaxEncodedLen,
)]
#[scale_info(skip_type_params(T))]
pub struct ExecutorInfo<T: Config> {
	/// The key its attestations are signed with.
	pub attestation_key: ExecutorPublic,
	/// The models it serves.
	pub models: ExecutorModels<T>,
	/// Bond held under `HoldReason::ExecutorBond`.
	pub bond: BalanceOf<T>,
	/// Whether it takes new work.
	pub status: ExecutorStatus<BlockNumberFor<T>>,
	/// Its record.
	pub stats: ExecutorStats<BalanceOf<T>>,
	/// Assignments it holds that it has neither revealed nor seen closed; at
	/// `MaxOpenAssignments` the draw passes over it.
	pub open_assignments: u32,
}

/// Why a request exists.
#[derive(
	Clone, Encode, Decode, DecodeWithMemTracking, Eq, PartialEq, Debug, TypeInfo, MaxEncodedLen,
)]
#[cfg_attr(feature = "std", derive(serde::Serialize, serde::Deserialize))]
pub enum RequestKind<AccountId, Balance> {
	/// An ordinary request from a dApp or agent.
	Inference,
	/// A re-execution of `original` opened by a challenge.
	Challenge {
		/// The finalized request under challenge.
		original: RequestId,
		/// Who challenged, `None` when a failed audit opened the challenge.
		challenger: Option<AccountId>,
		/// The challenger's bond, held under `HoldReason::ChallengeBond`.
		bond: Balance,
		/// The failed audit that opened it, if any; its executor is excluded too.
		audit: Option<RequestId>,
	},
	/// A random audit of `original` by one extra executor.
	Audit {
		/// The finalized request audited.
		original: RequestId,
	},
}

/// Where a request is in its life.
///
/// | state | moved by | to | where |
/// |---|---|---|---|
/// | (none) | `request_inference`, `challenge`, an audit draw | `Pending` | [`Pallet::open_request`](crate::Pallet) (`impl_requests.rs`) |
/// | `Pending` | the next block's hook | `Assigned` (executors drawn, commit phase opens) | `assign_request` (`impl_assignment.rs`) |
/// | `Pending` | the next block's hook, too few live executors | `Unassignable` (escrow returned) | `assign_request` |
/// | `Assigned` | `submit_commitment` | `Assigned` (the commitment recorded) | `do_submit_commitment` (`impl_attestations.rs`) |
/// | `Assigned` | `submit_attestation` (a reveal) reaching the quorum | `QuorumReached`, then at once `Finalized` (agreeing executors paid, dissenters slashed) | `do_submit_attestation`, `settle_request` (`impl_settlement.rs`) |
/// | `Assigned` | the deadline's hook | `Expired` (no quorum: escrow returned, nobody slashed for missing) | `expire_request` |
/// | `Finalized` | the deadline's hook | `Finalized` (late reveals settled, no-shows slashed, the rest of the escrow returned) | `expire_request` |
/// | `Finalized` | `challenge`, a failed audit | `Finalized`, with [`ChallengeState::Open`] | `do_challenge`, `resolve_audit` (`impl_challenges.rs`) |
/// | `Finalized`, challenge `Open` | the re-execution's settlement | `Finalized`, with `Upheld` (slashed, corrected), `Rejected` (bond forfeited); or `Inconclusive` at its deadline without a quorum | `resolve_challenge`, `challenge_inconclusive` |
/// | `Finalized`, challenge `Upheld` or `Rejected` | a challenge of the first-level re-execution, upheld | `Finalized`, judged again against the second level's output (`VerdictRevised`) | `judge_again` |
/// | `Finalized` | the hook `ChallengePeriod` after its deadline | `Finalized`, its input and output bytes pruned, its storage deposit returned | `prune_request` (`impl_settlement.rs`) |
#[derive(
	Clone,
	Copy,
	Encode,
	Decode,
	DecodeWithMemTracking,
	Eq,
	PartialEq,
	Debug,
	TypeInfo,
	MaxEncodedLen,
)]
#[cfg_attr(feature = "std", derive(serde::Serialize, serde::Deserialize))]
pub enum RequestStatus<BlockNumber> {
	/// Waiting for executors: they are drawn at the start of the next block.
	Pending,
	/// Executors are assigned and may answer until `deadline`.
	Assigned {
		/// Block at whose start the request closes; attestations are accepted before it.
		deadline: BlockNumber,
	},
	/// Enough matching attestations arrived; settlement runs at the start of the next block.
	QuorumReached {
		/// Block at whose start the request closes; attestations are accepted before it.
		deadline: BlockNumber,
		/// The output the quorum agreed on.
		output_hash: H256,
	},
	/// Settled on a quorum: the output is final unless a challenge overturns it.
	Finalized {
		/// Block at whose start the request closes; late attestations are accepted before it.
		deadline: BlockNumber,
		/// When it was finalized; challenges are accepted for `ChallengePeriod` after it.
		finalized_at: BlockNumber,
		/// The agreed output's hash.
		output_hash: H256,
	},
	/// The deadline passed without a quorum; the escrow went back to the requester.
	Expired,
	/// Too few live executors serve the model; the escrow went back to the requester.
	Unassignable,
}

impl<BlockNumber: Copy> RequestStatus<BlockNumber> {
	/// The last block attestations are accepted in, for requests that still accept them.
	pub fn deadline(&self) -> Option<BlockNumber> {
		match self {
			Self::Assigned { deadline }
			| Self::QuorumReached { deadline, .. }
			| Self::Finalized { deadline, .. } => Some(*deadline),
			Self::Pending | Self::Expired | Self::Unassignable => None,
		}
	}

	/// For a finalized request: its deadline plus `period`, the block from which nothing may
	/// challenge it any more.
	pub fn deadline_passed_at(&self, period: BlockNumber) -> Option<BlockNumber>
	where
		BlockNumber: sp_runtime::Saturating,
	{
		match self {
			Self::Finalized { deadline, .. } => Some(deadline.saturating_add(period)),
			_ => None,
		}
	}

	/// The output the quorum agreed on, once there is one.
	pub fn agreed_output_hash(&self) -> Option<H256> {
		match self {
			Self::QuorumReached { output_hash, .. } | Self::Finalized { output_hash, .. } => {
				Some(*output_hash)
			},
			_ => None,
		}
	}
}

/// What became of a challenge against a finalized request.
#[derive(
	Clone,
	Copy,
	Encode,
	Decode,
	DecodeWithMemTracking,
	Eq,
	PartialEq,
	Debug,
	TypeInfo,
	MaxEncodedLen,
)]
#[cfg_attr(feature = "std", derive(serde::Serialize, serde::Deserialize))]
pub enum ChallengeState {
	/// Never challenged.
	None,
	/// Being re-executed by request `rerun`.
	Open {
		/// The re-execution.
		rerun: RequestId,
	},
	/// The re-execution disagreed: the output was overturned and its executors slashed.
	Upheld {
		/// The re-execution.
		rerun: RequestId,
		/// The output the re-execution agreed on.
		corrected_output_hash: H256,
	},
	/// The re-execution agreed with the output: the challenger's bond was slashed.
	Rejected {
		/// The re-execution.
		rerun: RequestId,
	},
	/// The re-execution reached no quorum; nothing changed and the bond was returned.
	Inconclusive {
		/// The re-execution.
		rerun: RequestId,
	},
}

/// One executor's answer to a request.
#[derive(
	CloneNoBound, Encode, Decode, EqNoBound, PartialEqNoBound, DebugNoBound, TypeInfo, MaxEncodedLen,
)]
#[scale_info(skip_type_params(T))]
pub struct Attestation<T: Config> {
	/// Index of the executor in the request's `assigned` list.
	pub executor_index: u8,
	/// Hash of the output it attested.
	pub output_hash: H256,
	/// Its signature over the [`verity_primitives::AttestationPayload`].
	pub signature: sp_core::sr25519::Signature,
	/// The block it arrived in.
	pub submitted_at: BlockNumberFor<T>,
	/// Whether it has been paid (agreeing) or slashed (dissenting) yet.
	pub settled: bool,
	/// Whether it hashes to the executor's commitment. A reveal that does not counts for no
	/// outcome and is slashed as dissent.
	pub matches_commitment: bool,
	/// What it cost its executor when it was settled as dissent; refunded if a challenge
	/// later shows it was right.
	pub penalty: BalanceOf<T>,
}

/// One executor's commitment to its answer, made before any answer is revealed.
#[derive(
	CloneNoBound, Encode, Decode, EqNoBound, PartialEqNoBound, DebugNoBound, TypeInfo, MaxEncodedLen,
)]
#[scale_info(skip_type_params(T))]
pub struct Commitment<T: Config> {
	/// Index of the executor in the request's `assigned` list.
	pub executor_index: u8,
	/// [`verity_primitives::commitment`] of the payload it will reveal.
	pub commitment: H256,
	/// The block it arrived in.
	pub submitted_at: BlockNumberFor<T>,
}

/// An attested outcome as the chain stores it.
#[derive(
	CloneNoBound, Encode, Decode, EqNoBound, PartialEqNoBound, DebugNoBound, TypeInfo, MaxEncodedLen,
)]
#[scale_info(skip_type_params(T))]
pub enum StoredOutcome<T: Config> {
	/// The model's output, canonically encoded.
	Output(RequestOutput<T>),
	/// The executors' rejection of the input.
	Rejected(RejectionCode),
	/// An output whose bytes left state after the request's challenge period; they stay in
	/// the body of the block that carried the reveal, and the candidate's hash pins them.
	Pruned,
}

impl<T: Config> StoredOutcome<T> {
	/// The outcome as executors sign it, while its bytes are in state.
	pub fn to_outcome(&self) -> Option<InferenceOutcome> {
		match self {
			Self::Output(output) => Some(InferenceOutcome::Output(output.to_vec())),
			Self::Rejected(code) => Some(InferenceOutcome::Rejected(*code)),
			Self::Pruned => None,
		}
	}
}

/// An executor drawn for a request, with the key it must sign with.
#[derive(
	CloneNoBound, Encode, Decode, EqNoBound, PartialEqNoBound, DebugNoBound, TypeInfo, MaxEncodedLen,
)]
#[scale_info(skip_type_params(T))]
pub struct Assignee<T: Config> {
	/// The executor's account.
	pub account: AccountIdOf<T>,
	/// Its attestation key when it was drawn.
	pub attestation_key: ExecutorPublic,
}

/// One distinct output attested for a request, with its bytes and how many attested it.
#[derive(
	CloneNoBound, Encode, Decode, EqNoBound, PartialEqNoBound, DebugNoBound, TypeInfo, MaxEncodedLen,
)]
#[scale_info(skip_type_params(T))]
pub struct CandidateOutput<T: Config> {
	/// The outcome's hash ([`InferenceOutcome::hash`]).
	pub output_hash: H256,
	/// The outcome: an output or a rejection.
	pub outcome: StoredOutcome<T>,
	/// How many assigned executors attested it.
	pub votes: u8,
}

/// An inference request and everything the chain knows of it.
#[derive(
	CloneNoBound, Encode, Decode, EqNoBound, PartialEqNoBound, DebugNoBound, TypeInfo, MaxEncodedLen,
)]
#[scale_info(skip_type_params(T))]
pub struct InferenceRequest<T: Config> {
	/// Who pays: the requester, the challenger, or the protocol account for audits.
	pub requester: AccountIdOf<T>,
	/// The model to run.
	pub model_id: ModelId,
	/// The canonical input encoding's length; the bytes are in `RequestInputs`, apart, so
	/// that reading the request (every commitment and reveal does) never decodes them.
	pub input_len: u32,
	/// blake2-256 of the input.
	pub input_hash: H256,
	/// Why the request exists.
	pub kind: RequestKind<AccountIdOf<T>, BalanceOf<T>>,
	/// How many executors run it.
	pub redundancy: u8,
	/// What each agreeing executor earns.
	pub fee_per_executor: BalanceOf<T>,
	/// The protocol's cut, paid on finalization.
	pub protocol_fee: BalanceOf<T>,
	/// What is still held from the requester under `HoldReason::RequestEscrow`.
	pub escrow: BalanceOf<T>,
	/// What is held from the requester under `HoldReason::StorageDeposit` for the bytes the
	/// request keeps in state (its input and its attested outputs); returned when they leave.
	pub storage_deposit: BalanceOf<T>,
	/// The block it was submitted in.
	pub created_at: BlockNumberFor<T>,
	/// The executors drawn for it.
	pub assigned: BoundedVec<Assignee<T>, <T as Config>::MaxRedundancy>,
	/// The block from which no more commitments are taken and reveals are, even if some
	/// assigned executors never committed.
	pub commit_deadline: BlockNumberFor<T>,
	/// The commitments received.
	pub commitments: BoundedVec<Commitment<T>, <T as Config>::MaxRedundancy>,
	/// The attestations (reveals) received.
	pub attestations: BoundedVec<Attestation<T>, <T as Config>::MaxRedundancy>,
	/// The distinct outputs attested, with their votes.
	pub candidates: BoundedVec<CandidateOutput<T>, <T as Config>::MaxRedundancy>,
	/// Where it is in its life.
	pub status: RequestStatus<BlockNumberFor<T>>,
	/// Whether it was challenged, and how that ended.
	pub challenge: ChallengeState,
	/// The answers its assigned executors still owe, as counted in `AnswersOwedTotal`:
	/// recounted at each reveal, released at the deadline.
	pub answers_owed: AnswerLoad,
}

impl<T: Config> InferenceRequest<T> {
	/// Attestations needed to finalize: a strict majority of the redundancy.
	pub fn quorum(&self) -> u8 {
		quorum_of(self.redundancy)
	}

	/// The outcome hash that stands: the one a challenge corrected it to, or else the one the
	/// quorum agreed on.
	pub fn standing_output_hash(&self) -> Option<H256> {
		match self.challenge {
			ChallengeState::Upheld { corrected_output_hash, .. } => Some(corrected_output_hash),
			_ => self.status.agreed_output_hash(),
		}
	}

	/// The outcome the quorum agreed on, once there is one.
	pub fn agreed_outcome(&self) -> Option<&StoredOutcome<T>> {
		let hash = self.status.agreed_output_hash()?;
		self.candidates.iter().find(|c| c.output_hash == hash).map(|c| &c.outcome)
	}

	/// The output bytes the quorum agreed on, once there is one and it is not a rejection.
	pub fn agreed_output(&self) -> Option<&RequestOutput<T>> {
		match self.agreed_outcome()? {
			StoredOutcome::Output(output) => Some(output),
			StoredOutcome::Rejected(_) | StoredOutcome::Pruned => None,
		}
	}

	/// The rejection the quorum agreed on, if it agreed on one.
	pub fn agreed_rejection(&self) -> Option<RejectionCode> {
		match self.agreed_outcome()? {
			StoredOutcome::Rejected(code) => Some(*code),
			StoredOutcome::Output(_) | StoredOutcome::Pruned => None,
		}
	}

	/// What reading and writing its record costs grows with: how many executors it runs, and
	/// the longest output it keeps in state.
	pub fn shape(&self) -> RecordShape {
		let largest_output = self
			.candidates
			.iter()
			.map(|candidate| match &candidate.outcome {
				StoredOutcome::Output(output) => output.len() as u32,
				StoredOutcome::Rejected(_) | StoredOutcome::Pruned => 0,
			})
			.max()
			.unwrap_or(0);
		RecordShape { redundancy: self.redundancy, largest_output }
	}

	/// Whether the agreed output's bytes have left state.
	pub fn output_pruned(&self) -> bool {
		matches!(self.agreed_outcome(), Some(StoredOutcome::Pruned))
	}

	/// Whether the commit phase is over: every assigned executor committed, or the commit
	/// deadline passed. Reveals are taken only then, so no answer is visible while another
	/// executor can still commit.
	pub fn commit_phase_closed(&self, now: BlockNumberFor<T>) -> bool {
		now >= self.commit_deadline || self.commitments.len() >= self.assigned.len()
	}

	/// The commitment of the executor at `executor_index`, if it committed.
	pub fn commitment_of(&self, executor_index: u8) -> Option<H256> {
		self.commitments
			.iter()
			.find(|c| c.executor_index == executor_index)
			.map(|c| c.commitment)
	}
}

/// A strict majority of `redundancy`.
pub const fn quorum_of(redundancy: u8) -> u8 {
	redundancy / 2 + 1
}

/// Where the hook's work through its lists by block stands: the oldest block whose list is
/// not done, for deadlines and for prunes.
#[derive(Encode, Decode, Clone, Copy, PartialEq, Eq, Debug, Default, TypeInfo, MaxEncodedLen)]
pub struct DueCursors<BlockNumber> {
	/// The oldest block whose deadlines are not all closed.
	pub deadlines: BlockNumber,
	/// The oldest block whose prunes are not all done.
	pub prunes: BlockNumber,
}

/// What a request's settlement and closing weigh by: its record holds a candidate per distinct
/// outcome, up to one per executor, each up to its longest output.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct RecordShape {
	/// How many executors the request runs.
	pub redundancy: u8,
	/// The bytes of the longest output among its candidates (0 for rejections and pruned
	/// outputs).
	pub largest_output: u32,
}

/// The answer space taken by the requests assigned in `block`.
#[derive(Encode, Decode, Clone, Copy, PartialEq, Eq, Debug, Default, TypeInfo, MaxEncodedLen)]
pub struct AnswerSpace<BlockNumber> {
	/// The block the requests were assigned in.
	pub block: BlockNumber,
	/// What their answers and settlements cost blocks.
	pub taken: AnswerLoad,
}

/// Answers in blocks: the weight they are charged before dispatch and the bytes they take.
#[derive(Encode, Decode, Clone, Copy, PartialEq, Eq, Debug, Default, TypeInfo, MaxEncodedLen)]
pub struct AnswerLoad {
	/// The weight the answers are charged before dispatch.
	pub weight: Weight,
	/// The bytes the answers take.
	pub length: u32,
}

impl AnswerLoad {
	/// Nothing.
	pub fn is_zero(&self) -> bool {
		sp_runtime::traits::Zero::is_zero(&self.weight) && self.length == 0
	}

	/// `self` and `other` together.
	pub fn saturating_add(self, other: Self) -> Self {
		Self {
			weight: self.weight.saturating_add(other.weight),
			length: self.length.saturating_add(other.length),
		}
	}

	/// `self` times `count`.
	pub fn saturating_mul(self, count: u32) -> Self {
		Self {
			weight: self.weight.saturating_mul(u64::from(count)),
			length: self.length.saturating_mul(count),
		}
	}

	/// `self` without `other`, each part at least zero.
	pub fn saturating_sub(self, other: Self) -> Self {
		Self {
			weight: self.weight.saturating_sub(other.weight),
			length: self.length.saturating_sub(other.length),
		}
	}

	/// The part of `other` that `self` holds: each part the smaller of the two.
	pub fn min(self, other: Self) -> Self {
		Self { weight: self.weight.min(other.weight), length: self.length.min(other.length) }
	}

	/// Whether `self` is within `limit` in both parts.
	pub fn fits(&self, limit: Self) -> bool {
		self.weight.all_lte(limit.weight) && self.length <= limit.length
	}
}

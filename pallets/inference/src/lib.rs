#![doc = include_str!("../README.md")]
#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

#[cfg(feature = "runtime-benchmarks")]
pub mod benchmarking;
mod funds;
mod impl_answer_space;
mod impl_assignment;
mod impl_attestations;
mod impl_challenges;
mod impl_executors;
mod impl_hooks;
mod impl_models;
mod impl_queue;
mod impl_requests;
mod impl_settlement;
pub mod interface;
#[cfg(test)]
mod mock;
pub mod offchain;
pub mod runtime_api;
#[cfg(test)]
mod tests;
#[cfg(any(feature = "try-runtime", feature = "std", test))]
mod try_state;
pub mod types;
pub mod weights;

pub use impl_answer_space::ANSWER_ENVELOPE_BYTES;
pub use impl_assignment::DrawSize;
pub use impl_attestations::ANSWER_PRIORITY;
pub use impl_hooks::MIN_WEIGHED_OUTPUT;
pub use impl_queue::{
	CheckRequestRoom, OpensRequests, ServedBefore, QUEUE_FULL, TOO_FEW_EXECUTORS,
};
pub use interface::{
	InferenceProvider, OnRequestFinalized, RequestOutcome, RequestResult, ResultStatus,
};
pub use pallet::*;
pub use types::*;
pub use weights::WeightInfo;

#[frame_support::pallet]
pub mod pallet {
	use super::*;
	use frame_support::{pallet_prelude::*, traits::fungible, PalletId};
	use frame_system::pallet_prelude::*;
	use sp_core::H256;
	use sp_runtime::{Perbill, Permill};
	use verity_primitives::{
		ExecutorPublic, ExecutorSignature, InferenceOutcome, ModelId, ModelMetadata, ModelStatus,
		RejectionCode, RequestId,
	};

	/// The in-code storage version.
	const STORAGE_VERSION: StorageVersion = StorageVersion::new(0);

	#[pallet::pallet]
	#[pallet::storage_version(STORAGE_VERSION)]
	pub struct Pallet<T>(_);

	/// Configuration of the inference protocol.
	#[pallet::config]
	pub trait Config:
		frame_system::Config + frame_system::offchain::CreateAuthorizedTransaction<Call<Self>>
	{
		/// The randomness executors are drawn with: for assignments, re-runs and audits. It
		/// must be unknown when a request is submitted and not choosable by a block author
		/// (the runtime's is each author's VRF output; see `impl_assignment.rs`).
		type Randomness: frame_support::traits::Randomness<Self::Hash, BlockNumberFor<Self>>;
		/// The currency fees are paid in and bonds are held in.
		type Currency: fungible::Inspect<Self::AccountId>
			+ fungible::Mutate<Self::AccountId>
			+ fungible::hold::Inspect<Self::AccountId, Reason = Self::RuntimeHoldReason>
			+ fungible::hold::Mutate<Self::AccountId, Reason = Self::RuntimeHoldReason>;

		/// The overarching hold reason.
		type RuntimeHoldReason: From<HoldReason>;

		/// The origin allowed to register models and change their status: governance.
		type ModelOrigin: EnsureOrigin<Self::RuntimeOrigin>;

		/// The protocol's account: receives the protocol fee and slashed funds, pays for audits.
		#[pallet::constant]
		type PalletId: Get<PalletId>;

		/// The highest redundancy a model may ask for: how many executors run one request.
		#[pallet::constant]
		type MaxRedundancy: Get<u32>;

		/// The largest model artifact, in bytes, the chain accepts for registration.
		#[pallet::constant]
		type MaxArtifactSize: Get<u64>;

		/// The smallest bond an executor must hold to take work.
		#[pallet::constant]
		type MinExecutorBond: Get<BalanceOf<Self>>;

		/// Most models one executor serves.
		#[pallet::constant]
		type MaxModelsPerExecutor: Get<u32>;

		/// Most executors serving one model.
		#[pallet::constant]
		type MaxExecutorsPerModel: Get<u32>;

		/// Blocks between `unregister_executor` and `withdraw_bond`.
		#[pallet::constant]
		type UnbondingPeriod: Get<BlockNumberFor<Self>>;

		/// Largest request input, in bytes.
		#[pallet::constant]
		type MaxInputLen: Get<u32>;

		/// Largest attested output, in bytes.
		#[pallet::constant]
		type MaxOutputLen: Get<u32>;

		/// Blocks executors have to answer (commit, then reveal) after they are assigned, for a
		/// model that declares no `answer_blocks` of its own.
		#[pallet::constant]
		type ResponseTimeout: Get<BlockNumberFor<Self>>;

		/// The most `answer_blocks` a model may declare (at least `ResponseTimeout`).
		#[pallet::constant]
		type MaxAnswerBlocks: Get<u32>;

		/// Blocks after assignment during which commitments are taken; reveals open when every
		/// assigned executor committed or this many blocks passed. Below `ResponseTimeout`.
		#[pallet::constant]
		type CommitTimeout: Get<BlockNumberFor<Self>>;

		/// Blocks with misses in a row (misses judged by one block's closings count once)
		/// after which an executor leaves every pool it is in.
		///
		/// Attack this stops: an executor gone silent holding up every request drawn to it
		/// (each waits out its commit window) for as long as it stays in its pools. What it
		/// does not stop: the assignments it takes before its first deadline comes and the
		/// blocks it takes to reach the count (each miss is still slashed where a quorum
		/// answered, and `MaxOpenAssignments` bounds how many it can hold). Counting blocks
		/// rather than assignments keeps an honest executor whose one batch of answers was
		/// lost (a fork, a pool that refused it under load) in its pools: counted per
		/// assignment, one lost batch of 64 evicted it at once and left its models'
		/// requests failing for want of executors (`bench-capacity` at 300 a block).
		#[pallet::constant]
		type MaxConsecutiveMisses: Get<u32>;

		/// Most requests (including challenges and audits) assigned, settled or expired per
		/// block; bounds every hook's work.
		#[pallet::constant]
		type MaxRequestsPerBlock: Get<u32>;

		/// Most answers (commitments, or reveals) one `submit_commitments` or
		/// `submit_attestations` transaction carries.
		#[pallet::constant]
		type MaxAnswersPerBatch: Get<u32>;

		/// The current block's time (its timestamp). The offchain worker holds back its
		/// answers until `offchain::SUBMIT_FROM_MS_INTO_BLOCK` after it, by when the other
		/// validators have imported the block the answers need.
		type BlockTime: frame_support::traits::UnixTime;

		/// Most assignments one executor holds unanswered (neither revealed nor closed). The
		/// draw passes over an executor at this cap, and a request whose pool has too few
		/// executors with room waits at the front of the assignment queue until answers free
		/// some: overload waits in the queue instead of becoming misses.
		#[pallet::constant]
		type MaxOpenAssignments: Get<u32>;

		/// Block weight kept for executors' answers: the chain assigns, per block, only as many
		/// requests as the answers they call for fit in (each assigned executor's commitment
		/// and reveal, charged as before dispatch, settlement included). Set it to what
		/// ordinary transactions cannot take from answers (the operational reserve), so a
		/// flood of requests cannot crowd answers out of blocks. The module `impl_answer_space` says
		/// why this bound holds and what it does not stop.
		#[pallet::constant]
		type AnswerWeightPerBlock: Get<Weight>;

		/// Block length (bytes) kept for executors' answers, counted like
		/// `AnswerWeightPerBlock`: per assigned executor, its largest output and the envelope
		/// of a commitment and a reveal.
		#[pallet::constant]
		type AnswerLengthPerBlock: Get<u32>;

		/// Blocks of answer space (`AnswerWeightPerBlock`, `AnswerLengthPerBlock`) that the
		/// answers assigned executors still owe may fill before assignment waits for them. On
		/// time, about two blocks' worth are owed when a block assigns; set it a block or two
		/// above, so that late answers slow assignment at once, and low enough that blocks
		/// carry a full debt well before the commit deadlines pass.
		#[pallet::constant]
		type MaxAnswerBlocksOwed: Get<u32>;

		/// The most a block's hook may use: closing requests at their deadlines, pruning them
		/// after their challenge period, and assigning queued requests. An entry is started
		/// only while this leaves room for its heaviest path; the rest waits, in order, for the
		/// next block. Set it to what a block can spare at the load it is built for: closings
		/// falling behind slow assignment (their answers stay owed) but lose nothing.
		#[pallet::constant]
		type HookWeight: Get<Weight>;

		/// Most requests waiting in the assignment queue. Transactions may fill it up to
		/// `2 * MaxRequestsPerBlock` short of this; the rest is kept for the audits the hooks
		/// open. Beyond that, requests are refused in the transaction pool (`CheckRequestRoom`),
		/// before inclusion, so no fee is charged for a request that would not run.
		#[pallet::constant]
		type MaxQueuedRequests: Get<u32>;

		/// The protocol's cut on top of the executors' fees.
		#[pallet::constant]
		type ProtocolFee: Get<Perbill>;

		/// Share of its bond an executor loses for an output that contradicts the quorum.
		#[pallet::constant]
		type DissentSlash: Get<Perbill>;

		/// Share of its bond an executor loses for leaving an assignment unanswered.
		#[pallet::constant]
		type MissSlash: Get<Perbill>;

		/// Share of their bonds the executors of an overturned output lose.
		#[pallet::constant]
		type ChallengeSlash: Get<Perbill>;

		/// Share of an overturn slash paid to the challenger; the rest goes to the protocol
		/// account. Below 100%, so challenging one's own wrong result loses money.
		#[pallet::constant]
		type ChallengeRewardShare: Get<Perbill>;

		/// Blocks after finalization during which anyone may challenge a result.
		#[pallet::constant]
		type ChallengePeriod: Get<BlockNumberFor<Self>>;

		/// The smallest bond a challenger must put up.
		#[pallet::constant]
		type MinChallengeBond: Get<BalanceOf<Self>>;

		/// Held from a request's payer per byte the request may keep in state (its input, and
		/// an output of the model's largest declared size per assigned executor) until the
		/// bytes leave state: at the deadline of a request that did not finalize, else
		/// `ChallengePeriod` after it. Without it, state would grow with every request at no
		/// cost beyond the transaction's length fee.
		#[pallet::constant]
		type ByteDeposit: Get<BalanceOf<Self>>;

		/// Probability that a finalized request is re-executed by one extra executor.
		#[pallet::constant]
		type AuditProbability: Get<Permill>;

		/// Told of every ordinary request's finalization, e.g. to attach an embedding to the
		/// memory entry that asked for it, and of a challenge overturning its output. Its
		/// weight is charged in the settling block's hook.
		type OnFinalized: OnRequestFinalized;

		/// Weights of this pallet's calls and hooks, generated from its benchmarks.
		type WeightInfo: WeightInfo;
	}

	/// Why the pallet holds funds.
	#[pallet::composite_enum]
	pub enum HoldReason {
		/// An executor's bond.
		ExecutorBond,
		/// A request's fee, held until it is paid out or refunded.
		RequestEscrow,
		/// A challenger's bond.
		ChallengeBond,
		/// A request's deposit for the bytes it keeps in state, returned when they leave.
		StorageDeposit,
	}

	/// Every registered model, by the blake2-256 hash of its artifact.
	#[pallet::storage]
	pub type Models<T: Config> =
		StorageMap<_, Blake2_128Concat, ModelId, ModelInfoOf<T>, OptionQuery>;

	/// Every registered executor, by account.
	#[pallet::storage]
	pub type Executors<T: Config> =
		StorageMap<_, Blake2_128Concat, T::AccountId, ExecutorInfo<T>, OptionQuery>;

	/// The account each attestation key belongs to; a key serves one executor only.
	#[pallet::storage]
	pub type ExecutorByKey<T: Config> =
		StorageMap<_, Blake2_128Concat, ExecutorPublic, T::AccountId, OptionQuery>;

	/// The active executors serving each model, the pool assignments are drawn from.
	#[pallet::storage]
	pub type ModelExecutors<T: Config> = StorageMap<
		_,
		Blake2_128Concat,
		ModelId,
		BoundedVec<T::AccountId, T::MaxExecutorsPerModel>,
		ValueQuery,
	>;

	/// The id the next request gets.
	#[pallet::storage]
	pub type NextRequestId<T: Config> = StorageValue<_, RequestId, ValueQuery>;

	/// Every request, by id.
	#[pallet::storage]
	pub type Requests<T: Config> =
		StorageMap<_, Twox64Concat, RequestId, InferenceRequest<T>, OptionQuery>;

	/// Every request's input bytes, apart from the request so that answering a request does
	/// not decode them.
	#[pallet::storage]
	pub type RequestInputs<T: Config> =
		StorageMap<_, Twox64Concat, RequestId, RequestInput<T>, OptionQuery>;

	/// Open assignments: `(executor, request)` for every assignment not yet expired.
	#[pallet::storage]
	pub type Assignments<T: Config> = StorageDoubleMap<
		_,
		Blake2_128Concat,
		T::AccountId,
		Twox64Concat,
		RequestId,
		(),
		OptionQuery,
	>;

	/// Requests waiting for executors, first come, first served, by queue position. At the
	/// start of each block up to `MaxRequestsPerBlock` are assigned from the front, while
	/// their answers fit the block's answer space (`AnswerWeightPerBlock`); a request
	/// opened when the queue is short is assigned in the next block. At most
	/// `MaxQueuedRequests` entries.
	#[pallet::storage]
	pub type AssignmentQueue<T: Config> = StorageMap<_, Twox64Concat, u32, RequestId, OptionQuery>;

	/// The assignment queue's front (the next position to assign) and back (the next free
	/// position); its length is their wrapping difference.
	#[pallet::storage]
	pub type AssignmentQueueEnds<T: Config> = StorageValue<_, (u32, u32), ValueQuery>;

	/// The answer space the requests assigned in one block will take (see
	/// `AnswerWeightPerBlock`), and that block. A value from an earlier block counts as
	/// nothing taken.
	#[pallet::storage]
	pub type AnswerSpaceTaken<T: Config> =
		StorageValue<_, types::AnswerSpace<BlockNumberFor<T>>, ValueQuery>;

	/// The answers assigned executors still owe, summed over the open requests
	/// (`InferenceRequest::answers_owed`): what blocks must still carry for the requests
	/// assigned so far. Requests are assigned only while it stays within `MaxAnswerBlocksOwed` blocks of
	/// answer space.
	#[pallet::storage]
	pub type AnswersOwedTotal<T: Config> = StorageValue<_, types::AnswerLoad, ValueQuery>;

	/// Finalized ordinary requests by the block their input and output bytes leave state in, and their storage deposit returns: their deadline plus
	/// `ChallengePeriod`, once no challenge can copy them any more. The bytes stay in the
	/// bodies of the blocks that carried the request (`created_at`) and the reveals.
	#[pallet::storage]
	pub type PruneAt<T: Config> = StorageMap<
		_,
		Twox64Concat,
		BlockNumberFor<T>,
		BoundedVec<RequestId, T::MaxRequestsPerBlock>,
		ValueQuery,
	>;

	/// Where the hook's work through `Deadlines` and `PruneAt` stands: for each, the oldest
	/// block whose list is not done (the hook stops at `HookWeight` and goes on from there in
	/// the next block).
	#[pallet::storage]
	pub type DueCursor<T: Config> =
		StorageValue<_, types::DueCursors<BlockNumberFor<T>>, ValueQuery>;

	/// Requests by the block their deadline passes in, closed by that block's hook (or, when a
	/// block's hook is out of `HookWeight`, by the next ones, in order).
	#[pallet::storage]
	pub type Deadlines<T: Config> = StorageMap<
		_,
		Twox64Concat,
		BlockNumberFor<T>,
		BoundedVec<RequestId, T::MaxRequestsPerBlock>,
		ValueQuery,
	>;

	/// Models registered at genesis, e.g. the demo models of a development chain.
	#[pallet::genesis_config]
	#[derive(frame_support::DefaultNoBound)]
	pub struct GenesisConfig<T: Config> {
		/// `(model id, metadata)` of each model to register.
		pub models: alloc::vec::Vec<(ModelId, ModelMetadata<BalanceOf<T>>)>,
		/// `(account, attestation key, models served, bond)` of each executor to register,
		/// after the models.
		pub executors: alloc::vec::Vec<GenesisExecutor<T>>,
	}

	#[pallet::genesis_build]
	impl<T: Config> BuildGenesisConfig for GenesisConfig<T> {
		fn build(&self) {
			for (model_id, metadata) in &self.models {
				if let Err(error) = Pallet::<T>::do_register_model(*model_id, metadata.clone()) {
					panic!("genesis model {model_id:?} is invalid: {error:?}");
				}
			}
			for (account, key, models, bond) in &self.executors {
				let models = models.clone().try_into().unwrap_or_else(|_| {
					panic!("genesis executor {account:?} serves too many models")
				});
				if let Err(error) =
					Pallet::<T>::do_register_executor(account.clone(), key.clone(), models, *bond)
				{
					panic!("genesis executor {account:?} is invalid: {error:?}");
				}
			}
		}
	}

	/// Events of the inference protocol.
	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// Governance registered a model.
		ModelRegistered {
			/// The model's id: the hash of its artifact.
			model_id: ModelId,
			/// The model this version replaces, if any.
			predecessor: Option<ModelId>,
		},
		/// Governance changed a model's status.
		ModelStatusChanged {
			/// The model whose status changed.
			model_id: ModelId,
			/// Its status before.
			old_status: ModelStatus,
			/// Its status now.
			new_status: ModelStatus,
		},
		/// An executor registered and bonded.
		ExecutorRegistered {
			/// Its account.
			executor: T::AccountId,
			/// Its attestation key.
			attestation_key: ExecutorPublic,
			/// The bond held.
			bond: BalanceOf<T>,
		},
		/// An executor changed its models or rotated its key.
		ExecutorUpdated {
			/// Its account.
			executor: T::AccountId,
		},
		/// An executor added to its bond.
		ExecutorBonded {
			/// Its account.
			executor: T::AccountId,
			/// The bond now held.
			bond: BalanceOf<T>,
		},
		/// An executor unregistered; its bond unlocks at `until`.
		ExecutorUnregistered {
			/// Its account.
			executor: T::AccountId,
			/// When `withdraw_bond` becomes possible.
			until: BlockNumberFor<T>,
		},
		/// An executor withdrew its bond and left.
		ExecutorBondWithdrawn {
			/// Its account.
			executor: T::AccountId,
			/// The bond released.
			amount: BalanceOf<T>,
		},
		/// An executor left every pool: it missed too many assignments in a row, or its bond
		/// fell below `MinExecutorBond`. `bond_extra` or `update_executor` brings it back.
		ExecutorEvicted {
			/// Its account.
			executor: T::AccountId,
			/// Why.
			reason: EvictionReason,
		},
		/// A model's pool was full and an executor with a larger bond took the place of the
		/// member with the smallest.
		ExecutorDisplaced {
			/// The member that left the pool.
			executor: T::AccountId,
			/// The model.
			model_id: ModelId,
			/// The executor that took its place.
			by: T::AccountId,
		},
		/// An executor was slashed.
		ExecutorSlashed {
			/// Its account.
			executor: T::AccountId,
			/// The request it was slashed over.
			request_id: RequestId,
			/// The amount taken from its bond.
			amount: BalanceOf<T>,
			/// Why.
			reason: SlashReason,
		},
		/// A challenge showed a dissenter was right: its dissent slash came back.
		SlashRefunded {
			/// Its account.
			executor: T::AccountId,
			/// The request it had been slashed over.
			request_id: RequestId,
			/// The amount returned.
			amount: BalanceOf<T>,
			/// Whether it went back into the bond (else it stays free: the executor left).
			rebonded: bool,
		},
		/// A request was submitted and its fee put in escrow.
		InferenceRequested {
			/// The new request.
			request_id: RequestId,
			/// Who pays.
			requester: T::AccountId,
			/// The model to run.
			model_id: ModelId,
			/// The escrowed fee.
			fee: BalanceOf<T>,
		},
		/// Executors were drawn for a request.
		RequestAssigned {
			/// The request.
			request_id: RequestId,
			/// The executors.
			executors: alloc::vec::Vec<T::AccountId>,
			/// The block at whose start the request closes; they answer before it.
			deadline: BlockNumberFor<T>,
		},
		/// Too few live executors served the model when the request was to be assigned; the
		/// escrow was returned.
		RequestUnassignable {
			/// The request.
			request_id: RequestId,
		},
		/// An assigned executor committed to its answer.
		CommitmentSubmitted {
			/// The request.
			request_id: RequestId,
			/// The executor.
			executor: T::AccountId,
		},
		/// An executor revealed its answer (an output or a rejection).
		AttestationSubmitted {
			/// The request.
			request_id: RequestId,
			/// The executor.
			executor: T::AccountId,
			/// The revealed outcome's hash.
			output_hash: H256,
			/// Whether it matches the executor's commitment; a mismatch is slashed as dissent.
			matches_commitment: bool,
		},
		/// A request was finalized on a quorum of matching attestations.
		RequestFinalized {
			/// The request.
			request_id: RequestId,
			/// The agreed outcome's hash.
			output_hash: H256,
			/// The rejection the quorum agreed on, when the input could not be run.
			rejection: Option<RejectionCode>,
		},
		/// A request's deadline passed without a quorum; its escrow was returned.
		RequestExpired {
			/// The request.
			request_id: RequestId,
		},
		/// A finalized request was challenged and will be re-executed.
		ChallengeOpened {
			/// The challenged request.
			request_id: RequestId,
			/// The re-execution.
			rerun: RequestId,
			/// Who challenged; `None` when a failed audit opened it.
			challenger: Option<T::AccountId>,
		},
		/// The re-execution contradicted the finalized output: it is overturned.
		ChallengeUpheld {
			/// The challenged request.
			request_id: RequestId,
			/// The output the re-execution agreed on.
			corrected_output_hash: H256,
		},
		/// The re-execution confirmed the finalized output: the challenger's bond was slashed.
		ChallengeRejected {
			/// The challenged request.
			request_id: RequestId,
		},
		/// The re-execution reached no quorum: nothing changed.
		ChallengeInconclusive {
			/// The challenged request.
			request_id: RequestId,
		},
		/// A second-level challenge overturned the re-execution that had judged this request: it
		/// was judged again, and `standing_output_hash` is the output that stands for it now.
		VerdictRevised {
			/// The request judged again.
			request_id: RequestId,
			/// The output that stands for it now.
			standing_output_hash: H256,
		},
		/// A finalized request was drawn for a random audit.
		AuditOpened {
			/// The audited request.
			request_id: RequestId,
			/// The audit's re-execution.
			audit: RequestId,
		},
		/// An audit matched the finalized output.
		AuditPassed {
			/// The audited request.
			request_id: RequestId,
		},
		/// An audit contradicted the finalized output; a challenge was opened.
		AuditFailed {
			/// The audited request.
			request_id: RequestId,
		},
		/// A drawn audit could not run: the protocol account cannot pay it, or no executor
		/// outside the original set serves the model.
		AuditSkipped {
			/// The request that would have been audited.
			request_id: RequestId,
		},
	}

	/// Why an executor left its pools.
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
	pub enum EvictionReason {
		/// It missed assignments in this many blocks in a row (`MaxConsecutiveMisses`).
		ConsecutiveMisses(u32),
		/// A slash took its bond below `MinExecutorBond`.
		BondBelowMinimum,
	}

	/// Why an executor was slashed.
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
	pub enum SlashReason {
		/// Its output contradicted the quorum.
		Dissent,
		/// It left an assignment unanswered.
		Missed,
		/// A challenge overturned the output it attested.
		Overturned,
	}

	/// Errors of the inference protocol.
	#[pallet::error]
	pub enum Error<T> {
		/// A model with this id is already registered.
		ModelAlreadyRegistered,
		/// No model with this id is registered.
		UnknownModel,
		/// The model name is empty.
		EmptyModelName,
		/// The model version is empty.
		EmptyModelVersion,
		/// The artifact URI is not `file://`, `http://` or `https://` followed by a location.
		UnsupportedArtifactUri,
		/// The artifact size is zero.
		EmptyArtifact,
		/// The artifact is larger than `MaxArtifactSize`.
		ArtifactTooLarge,
		/// The execution profile is empty.
		EmptyExecutionProfile,
		/// The model declares no input tensor.
		NoInputs,
		/// The model declares no output tensor.
		NoOutputs,
		/// A tensor's name is empty.
		EmptyTensorName,
		/// Two inputs, or two outputs, share a name.
		DuplicateTensorName,
		/// A tensor has a fixed dimension of size zero.
		ZeroTensorDimension,
		/// The redundancy is zero or above `MaxRedundancy`.
		InvalidRedundancy,
		/// The predecessor is not a registered model.
		UnknownPredecessor,
		/// The predecessor has a different name: versions of one model share a name.
		PredecessorNameMismatch,
		/// The predecessor already has a successor.
		PredecessorSuperseded,
		/// The model already has the requested status.
		StatusUnchanged,
		/// The model is retired: its status can no longer change, and it serves nothing.
		ModelRetired,
		/// The model is not active: it accepts no new requests.
		ModelNotActive,
		/// This account is already a registered executor.
		ExecutorAlreadyRegistered,
		/// This account is not a registered executor.
		NotExecutor,
		/// Another executor already uses this attestation key.
		AttestationKeyInUse,
		/// The bond is below `MinExecutorBond`.
		BondTooLow,
		/// An executor must serve at least one model.
		NoModels,
		/// A model appears twice in the executor's list.
		DuplicateModel,
		/// The model already has `MaxExecutorsPerModel` executors, none with a smaller bond.
		TooManyExecutorsForModel,
		/// The account cannot afford the bond, fee or deposit.
		InsufficientBalance,
		/// The executor has open assignments.
		HasOpenAssignments,
		/// The executor is unbonding and takes no work.
		ExecutorUnbonding,
		/// The executor has not unregistered.
		NotUnbonding,
		/// The unbonding period has not passed yet.
		StillUnbonding,
		/// The input is longer than `MaxInputLen`.
		InputTooLarge,
		/// The input is not a canonical tensor encoding.
		MalformedInput,
		/// The input's tensors are not the model's declared inputs (names, types or shapes).
		InputSpecMismatch,
		/// The fee is above the caller's `max_fee`.
		FeeAboveMax,
		/// Fewer live executors serve the model than its redundancy. The transaction pool
		/// refuses a `request_inference` for such a model before inclusion
		/// (`CheckRequestRoom`, `TOO_FEW_EXECUTORS`).
		NotEnoughExecutors,
		/// The assignment queue is full (`MaxQueuedRequests`, less the share kept for audits).
		/// The transaction pool refuses such a request before inclusion (`CheckRequestRoom`).
		RequestQueueFull,
		/// No request with this id exists.
		UnknownRequest,
		/// The request does not accept attestations (not assigned yet, or past its deadline).
		RequestNotOpen,
		/// The signer is not an executor assigned to this request.
		NotAssigned,
		/// This executor already attested this request.
		AlreadyAttested,
		/// The output is longer than `MaxOutputLen`.
		OutputTooLarge,
		/// The output is not a canonical tensor encoding of the model's declared outputs.
		MalformedOutput,
		/// The signature does not verify against the executor's attestation key.
		BadSignature,
		/// The input is a text model's `text` but not UTF-8.
		InvalidUtf8Input,
		/// A generation request's parameters are missing or out of range (see
		/// `verity_primitives::GenerationParams`).
		InvalidGenerationParams,
		/// A GGUF model must declare the generation tensors (`verity_primitives::
		/// generation_specs`): a prompt and parameters in, tokens, text and a finish reason out.
		NotAGenerationModel,
		/// `answer_blocks` is neither 0 nor between `ResponseTimeout` and `MaxAnswerBlocks`.
		InvalidAnswerBlocks,
		/// A boolean input tensor holds a byte other than 0 or 1.
		InvalidBoolInput,
		/// An input tensor has an axis of size zero.
		EmptyInputAxis,
		/// The attestation key's proof of possession does not verify for this account and chain.
		BadKeyProof,
		/// Commitments are no longer taken: every assigned executor committed, the commit
		/// deadline passed, or the request is no longer being answered.
		CommitPhaseOver,
		/// Reveals are not taken yet: some assigned executor may still commit.
		CommitPhaseOpen,
		/// This executor already committed to this request.
		AlreadyCommitted,
		/// This executor never committed to this request, so it cannot reveal.
		NotCommitted,
		/// Only a finalized request can be challenged.
		NotFinalized,
		/// The challenge period is over.
		ChallengePeriodOver,
		/// The request was already challenged.
		AlreadyChallenged,
		/// Only an ordinary inference request can be challenged.
		NotChallengeable,
		/// The challenge bond is below `MinChallengeBond`.
		ChallengeBondTooLow,
		/// Fewer live executors outside the original set than a re-execution needs (the
		/// original redundancy plus one).
		NotEnoughFreshExecutors,
		/// A batch of answers with no answer in it.
		EmptyBatch,
		/// A batch of answers signed by more than one executor key: a batch is one executor's.
		MixedBatch,
		/// A batch answering the same request twice.
		DuplicateInBatch,
	}

	#[pallet::hooks]
	impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
		fn on_initialize(now: BlockNumberFor<T>) -> Weight {
			Self::run_block_hooks(now)
		}

		fn offchain_worker(now: BlockNumberFor<T>) {
			Self::run_offchain_worker(now);
		}

		fn integrity_test() {
			Self::check_integrity();
		}

		#[cfg(feature = "try-runtime")]
		fn try_state(_n: BlockNumberFor<T>) -> Result<(), sp_runtime::TryRuntimeError> {
			Self::do_try_state()
		}
	}

	#[pallet::call(weight(<T as Config>::WeightInfo))]
	impl<T: Config> Pallet<T> {
		/// Register a model.
		///
		/// - Origin: `ModelOrigin` (governance).
		/// - `model_id`: blake2-256 of the model artifact's bytes; executors check it on load.
		/// - `metadata`: name, version, format, artifact URI and size, execution profile,
		///   input and output tensor specs, fee per run, redundancy, and optionally the
		///   predecessor this version replaces (same name, not already superseded).
		///
		/// The model starts `Active`. Emits `ModelRegistered`.
		///
		/// Errors: `ModelAlreadyRegistered`, any metadata error (`EmptyModelName`,
		/// `EmptyModelVersion`, `UnsupportedArtifactUri`, `EmptyArtifact`, `ArtifactTooLarge`,
		/// `EmptyExecutionProfile`, `NoInputs`, `NoOutputs`, `EmptyTensorName`,
		/// `DuplicateTensorName`, `ZeroTensorDimension`,
		/// `InvalidRedundancy`), `UnknownPredecessor`, `PredecessorNameMismatch`,
		/// `PredecessorSuperseded`.
		#[pallet::call_index(0)]
		pub fn register_model(
			origin: OriginFor<T>,
			model_id: ModelId,
			metadata: ModelMetadata<BalanceOf<T>>,
		) -> DispatchResult {
			T::ModelOrigin::ensure_origin(origin)?;
			Self::do_register_model(model_id, metadata)
		}

		/// Change a model's life-cycle status.
		///
		/// - Origin: `ModelOrigin` (governance).
		/// - `model_id`: the model.
		/// - `status`: `Active`, `Deprecated` or `Retired`. Retirement is final.
		///
		/// Emits `ModelStatusChanged`.
		///
		/// Errors: `UnknownModel`, `StatusUnchanged`, `ModelRetired`.
		#[pallet::call_index(1)]
		pub fn set_model_status(
			origin: OriginFor<T>,
			model_id: ModelId,
			status: ModelStatus,
		) -> DispatchResult {
			T::ModelOrigin::ensure_origin(origin)?;
			Self::do_set_model_status(model_id, status)
		}

		/// Become an executor: bond, name an attestation key and the models served.
		///
		/// - Origin: signed; the account becomes the executor.
		/// - `attestation_key`: the sr25519 key (key type `vrty`) its attestations are signed
		///   with; unique across executors.
		/// - `key_proof`: the key's signature over
		///   `verity_primitives::key_ownership_message(account, genesis hash)`, proving the
		///   caller holds it.
		/// - `models`: the models it serves: registered, not retired, no duplicates.
		/// - `bond`: held under `HoldReason::ExecutorBond`; at least `MinExecutorBond`.
		///
		/// Emits `ExecutorRegistered`.
		///
		/// Errors: `BadKeyProof`, `ExecutorAlreadyRegistered`, `AttestationKeyInUse`,
		/// `BondTooLow`, `NoModels`, `DuplicateModel`, `UnknownModel`, `ModelRetired`,
		/// `TooManyExecutorsForModel`, `InsufficientBalance`.
		#[pallet::call_index(2)]
		pub fn register_executor(
			origin: OriginFor<T>,
			attestation_key: ExecutorPublic,
			key_proof: ExecutorSignature,
			models: ExecutorModels<T>,
			bond: BalanceOf<T>,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::ensure_key_proof(&who, &attestation_key, &key_proof)?;
			Self::do_register_executor(who, attestation_key, models, bond)
		}

		/// Change the models an executor serves, or rotate its attestation key.
		///
		/// - Origin: signed by a registered, active executor.
		/// - `attestation_key`: a new key, if rotating; refused while assignments are open,
		///   since they were drawn for the old key.
		/// - `key_proof`: with a new key, its proof of possession (as in `register_executor`).
		/// - `models`: the new set of models, if changing it (same rules as registration); this
		///   also brings back an executor evicted for missed assignments.
		///
		/// Emits `ExecutorUpdated`.
		///
		/// Errors: `NotExecutor`, `ExecutorUnbonding`, `BadKeyProof` (also when a key comes
		/// without a proof), `HasOpenAssignments`, `AttestationKeyInUse`, `NoModels`,
		/// `DuplicateModel`, `UnknownModel`, `ModelRetired`, `TooManyExecutorsForModel`.
		#[pallet::call_index(3)]
		pub fn update_executor(
			origin: OriginFor<T>,
			attestation_key: Option<ExecutorPublic>,
			key_proof: Option<ExecutorSignature>,
			models: Option<ExecutorModels<T>>,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_update_executor(who, attestation_key, key_proof, models)
		}

		/// Add to an executor's bond, e.g. to get back above `MinExecutorBond` after a slash.
		///
		/// - Origin: signed by a registered, active executor.
		/// - `amount`: held in addition to the current bond.
		///
		/// Emits `ExecutorBonded`.
		///
		/// Errors: `NotExecutor`, `ExecutorUnbonding`, `InsufficientBalance`.
		#[pallet::call_index(4)]
		pub fn bond_extra(origin: OriginFor<T>, amount: BalanceOf<T>) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_bond_extra(who, amount)
		}

		/// Stop serving: leave every model's pool and start the unbonding period.
		///
		/// - Origin: signed by a registered, active executor with no open assignment.
		///
		/// The bond stays held, and slashable, for `UnbondingPeriod` blocks. Emits
		/// `ExecutorUnregistered`.
		///
		/// Errors: `NotExecutor`, `ExecutorUnbonding`, `HasOpenAssignments`.
		#[pallet::call_index(5)]
		pub fn unregister_executor(origin: OriginFor<T>) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_unregister_executor(who)
		}

		/// Release an unregistered executor's bond once the unbonding period has passed.
		///
		/// - Origin: signed by the unbonding executor.
		///
		/// Removes the executor and frees its attestation key. Emits `ExecutorBondWithdrawn`.
		///
		/// Errors: `NotExecutor`, `NotUnbonding`, `StillUnbonding`.
		#[pallet::call_index(6)]
		pub fn withdraw_bond(origin: OriginFor<T>) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_withdraw_bond(who)
		}

		/// Ask for an inference: the fee is held in escrow and executors are drawn in this very
		/// block, when no request waits before it and the block's assignments leave room;
		/// otherwise the request joins the assignment queue and is drawn as soon as its turn
		/// comes (first come, first served, from the next block's start).
		///
		/// - Origin: signed; pays the fee.
		/// - `model_id`: an active model.
		/// - `input`: the canonical tensor encoding of the model's declared inputs, at most
		///   `MaxInputLen` bytes.
		/// - `max_fee`: the most the caller agrees to pay: the model's fee per run times its
		///   redundancy, plus the protocol fee.
		///
		/// Inputs the chain can cheaply tell no executor could run are refused here, so no
		/// executor is asked to: a text model's `text` that is not UTF-8, a boolean byte other
		/// than 0 or 1, an axis of size zero. Nothing is held when the request is refused.
		/// Emits `InferenceRequested`.
		///
		/// Errors: `UnknownModel`, `ModelNotActive`, `InputTooLarge`, `MalformedInput`,
		/// `InputSpecMismatch`, `InvalidUtf8Input`, `InvalidBoolInput`, `EmptyInputAxis`,
		/// `InvalidGenerationParams`, `FeeAboveMax`, `NotEnoughExecutors`, `RequestQueueFull`,
		/// `InsufficientBalance`.
		#[pallet::call_index(7)]
		#[pallet::weight(Pallet::<T>::max_request_weight(input.len() as u32))]
		pub fn request_inference(
			origin: OriginFor<T>,
			model_id: ModelId,
			input: alloc::vec::Vec<u8>,
			max_fee: BalanceOf<T>,
		) -> DispatchResultWithPostInfo {
			let who = ensure_signed(origin)?;
			let input_len = input.len() as u32;
			let request_id = Self::do_request_inference(who, model_id, input, max_fee)?;
			let at_once = Self::assign_at_once(request_id);
			Ok(Some(Self::request_weight(input_len, at_once.served_before, at_once.draw)).into())
		}

		/// An assigned executor's reveal: its outcome (the output, or a rejection of the
		/// input) and its signature over the attestation payload.
		///
		/// - Origin: none needed. The call is authorized by the signature itself (a general
		///   transaction validated by `#[pallet::authorize]`), so executors pay no fee and need
		///   no funded account. Operational, at the top pool priority.
		/// - `request_id`: the request answered; its commit phase must be over (every assigned
		///   executor committed, or the commit deadline passed) and its deadline not reached.
		/// - `outcome`: `Output(bytes)`, the canonical tensor encoding of the model's declared
		///   outputs, at most `MaxOutputLen` bytes; or `Rejected(code)`.
		/// - `signature`: the executor's attestation key and its signature over the SCALE
		///   encoding of `AttestationPayload { domain, genesis_hash, request_id, model_id,
		///   execution_profile, input_hash, output_hash }`, `output_hash` being the outcome's
		///   hash.
		///
		/// A reveal whose payload does not hash to the executor's commitment is recorded and
		/// slashed as dissent. The reveal that brings matching reveals to the quorum settles
		/// the request at once (its weight covers the settlement; a reveal that settles
		/// nothing is charged less). Emits `AttestationSubmitted`, and `RequestFinalized` when
		/// it settles.
		///
		/// Errors (as transaction validity errors whose custom code is the error's index):
		/// `UnknownRequest`, `RequestNotOpen`, `NotAssigned`, `CommitPhaseOpen`, `NotCommitted`,
		/// `AlreadyAttested`, `OutputTooLarge`, `MalformedOutput`, `BadSignature`.
		#[pallet::call_index(8)]
		#[pallet::weight((
			T::WeightInfo::submit_attestation(outcome_len(outcome))
				.saturating_add(Pallet::<T>::settle_weight()),
			DispatchClass::Operational,
		))]
		#[pallet::authorize(Pallet::<T>::authorize_attestation)]
		#[pallet::weight_of_authorize(T::WeightInfo::authorize_submit_attestation(outcome_len(
			outcome
		)))]
		pub fn submit_attestation(
			origin: OriginFor<T>,
			request_id: RequestId,
			outcome: InferenceOutcome,
			signature: SignedAttestation,
		) -> DispatchResultWithPostInfo {
			frame_system::ensure_authorized(origin)?;
			let recorded = T::WeightInfo::submit_attestation(outcome_len(&outcome));
			let settlement = Self::do_submit_attestation(request_id, outcome, signature)?;
			Ok(Some(recorded.saturating_add(settlement)).into())
		}

		/// Dispute a finalized result: fresh executors re-run the request, twice as many as ran
		/// it (capped by `MaxRedundancy` and the fresh executors live, never fewer than its
		/// redundancy plus one).
		///
		/// - Origin: signed; pays the re-execution fee and holds `bond`.
		/// - `request_id`: an ordinary request finalized less than `ChallengePeriod` blocks ago,
		///   not challenged before or only inconclusively.
		/// - `bond`: at least `MinChallengeBond`, held under `HoldReason::ChallengeBond`.
		///
		/// If the re-execution's quorum contradicts the finalized output, the executors that
		/// attested it are slashed by `ChallengeSlash`, the challenger receives
		/// `ChallengeRewardShare` of it and its bond back, the protocol account the rest; if it
		/// confirms it, the bond is slashed to the protocol account; if it reaches no quorum,
		/// the bond returns and the request may be challenged again. Nothing is held when the
		/// challenge is refused. Emits `ChallengeOpened`.
		///
		/// Errors: `UnknownRequest`, `NotChallengeable`, `NotFinalized`, `ChallengePeriodOver`,
		/// `AlreadyChallenged`, `ChallengeBondTooLow`, `NotEnoughFreshExecutors`,
		/// `RequestQueueFull`, `InsufficientBalance`.
		#[pallet::call_index(9)]
		pub fn challenge(
			origin: OriginFor<T>,
			request_id: RequestId,
			bond: BalanceOf<T>,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_challenge(who, request_id, bond)
		}

		/// An assigned executor's commitment to its answer, before any answer is revealed.
		///
		/// - Origin: none needed; authorized by the signature (a general transaction validated
		///   by `#[pallet::authorize]`, no fee). Operational, at the top pool priority.
		/// - `request_id`: an assigned request still in its commit phase.
		/// - `commitment`: `verity_primitives::commitment(payload, attestation_key)`, blake2-256
		///   of the SCALE `AttestationPayload` it will reveal followed by its key.
		/// - `signature`: the executor's attestation key and its signature over
		///   `verity_primitives::commitment_message(genesis hash, request_id, model id, input
		///   hash, commitment)`, the request's model and input hash as the chain stores them.
		///
		/// Each executor commits once per request. Emits `CommitmentSubmitted`.
		///
		/// Errors (as transaction validity errors whose custom code is the error's index):
		/// `UnknownRequest`, `CommitPhaseOver`, `NotAssigned`, `AlreadyCommitted`,
		/// `BadSignature`.
		#[pallet::call_index(10)]
		#[pallet::weight((T::WeightInfo::submit_commitment(), DispatchClass::Operational))]
		#[pallet::authorize(Pallet::<T>::authorize_commitment)]
		#[pallet::weight_of_authorize(T::WeightInfo::authorize_submit_commitment())]
		pub fn submit_commitment(
			origin: OriginFor<T>,
			request_id: RequestId,
			commitment: H256,
			signature: SignedAttestation,
		) -> DispatchResult {
			frame_system::ensure_authorized(origin)?;
			Self::do_submit_commitment(request_id, commitment, signature)
		}

		/// One executor's commitments to many requests in one transaction: each item is what
		/// `submit_commitment` takes and passes the same checks.
		///
		/// - Origin: none needed; authorized by the items' signatures (a general transaction
		///   validated by `#[pallet::authorize]`, no fee). Operational, at the top pool priority.
		/// - `batch`: at least one and at most `MaxAnswersPerBatch` items, all signed by one
		///   attestation key, no request twice.
		///
		/// Weighs what its items would weigh as single transactions (each item's benchmarked
		/// dispatch and authorization), without an extrinsic's base and envelope per item. A
		/// batch is valid only when every item is, so a free transaction carries no junk; an
		/// item answered meanwhile by a single transaction of the same executor conflicts with
		/// it in the pool (they provide the same tag). Emits `CommitmentSubmitted` per item.
		///
		/// Errors (as transaction validity errors whose custom code is the error's index):
		/// `EmptyBatch`, `MixedBatch`, `DuplicateInBatch`, and any of `submit_commitment`'s.
		#[pallet::call_index(11)]
		#[pallet::weight((
			T::WeightInfo::submit_commitment().saturating_mul(batch.len() as u64),
			DispatchClass::Operational,
		))]
		#[pallet::authorize(Pallet::<T>::authorize_commitments)]
		#[pallet::weight_of_authorize(
			T::WeightInfo::authorize_submit_commitment().saturating_mul(batch.len() as u64)
		)]
		pub fn submit_commitments(
			origin: OriginFor<T>,
			batch: BoundedVec<CommitmentItem, T::MaxAnswersPerBatch>,
		) -> DispatchResult {
			frame_system::ensure_authorized(origin)?;
			for item in batch {
				Self::do_submit_commitment(item.request_id, item.commitment, item.signature)?;
			}
			Ok(())
		}

		/// One executor's reveals for many requests in one transaction: each item is what
		/// `submit_attestation` takes, passes the same checks and has the same effects (a
		/// reveal that completes a quorum settles its request in this transaction).
		///
		/// - Origin: none needed; authorized by the items' signatures, no fee. Operational.
		/// - `batch`: at least one and at most `MaxAnswersPerBatch` items, all signed by one
		///   attestation key, no request twice.
		///
		/// Weighs what its items would weigh as single reveals, settlements included; what no
		/// item settled is refunded. Emits `AttestationSubmitted` per item, and
		/// `RequestFinalized` for each request settled.
		///
		/// Errors (as transaction validity errors whose custom code is the error's index):
		/// `EmptyBatch`, `MixedBatch`, `DuplicateInBatch`, and any of `submit_attestation`'s.
		#[pallet::call_index(12)]
		#[pallet::weight((
			batch.iter().fold(Weight::zero(), |total, item| {
				total
					.saturating_add(T::WeightInfo::submit_attestation(outcome_len(&item.outcome)))
					.saturating_add(Pallet::<T>::settle_weight())
			}),
			DispatchClass::Operational,
		))]
		#[pallet::authorize(Pallet::<T>::authorize_attestations)]
		#[pallet::weight_of_authorize(batch.iter().fold(Weight::zero(), |total, item| {
			total.saturating_add(T::WeightInfo::authorize_submit_attestation(outcome_len(
				&item.outcome,
			)))
		}))]
		pub fn submit_attestations(
			origin: OriginFor<T>,
			batch: BoundedVec<RevealItem, T::MaxAnswersPerBatch>,
		) -> DispatchResultWithPostInfo {
			frame_system::ensure_authorized(origin)?;
			let mut actual = Weight::zero();
			for RevealItem { request_id, outcome, signature } in batch {
				let recorded = T::WeightInfo::submit_attestation(outcome_len(&outcome));
				let settlement = Self::do_submit_attestation(request_id, outcome, signature)?;
				actual = actual.saturating_add(recorded).saturating_add(settlement);
			}
			Ok(Some(actual).into())
		}
	}
}

/// The length that prices a reveal: its output's bytes (a rejection carries none).
pub fn outcome_len(outcome: &verity_primitives::InferenceOutcome) -> u32 {
	match outcome {
		verity_primitives::InferenceOutcome::Output(output) => output.len() as u32,
		verity_primitives::InferenceOutcome::Rejected(_) => 0,
	}
}

/// One commitment of a `submit_commitments` batch: what `submit_commitment` takes.
#[derive(
	Clone,
	codec::Encode,
	codec::Decode,
	codec::DecodeWithMemTracking,
	Eq,
	PartialEq,
	Debug,
	scale_info::TypeInfo,
)]
pub struct CommitmentItem {
	/// The request committed to.
	pub request_id: verity_primitives::RequestId,
	/// The commitment (see `submit_commitment`).
	pub commitment: sp_core::H256,
	/// The executor's key and its signature over the commitment message.
	pub signature: SignedAttestation,
}

/// One reveal of a `submit_attestations` batch: what `submit_attestation` takes.
#[derive(
	Clone,
	codec::Encode,
	codec::Decode,
	codec::DecodeWithMemTracking,
	Eq,
	PartialEq,
	Debug,
	scale_info::TypeInfo,
)]
pub struct RevealItem {
	/// The request answered.
	pub request_id: verity_primitives::RequestId,
	/// The outcome revealed (see `submit_attestation`).
	pub outcome: verity_primitives::InferenceOutcome,
	/// The executor's key and its signature over the attestation payload.
	pub signature: SignedAttestation,
}

/// An executor's attestation key with its signature over an attestation payload or a
/// commitment message.
#[derive(
	Clone,
	codec::Encode,
	codec::Decode,
	codec::DecodeWithMemTracking,
	Eq,
	PartialEq,
	Debug,
	scale_info::TypeInfo,
)]
pub struct SignedAttestation {
	/// The signer's attestation key.
	pub attestation_key: verity_primitives::ExecutorPublic,
	/// The signature over the SCALE-encoded `AttestationPayload` (a reveal) or the
	/// commitment message (a commitment).
	pub signature: verity_primitives::ExecutorSignature,
}

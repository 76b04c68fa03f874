#![doc = include_str!("../README.md")]
#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

#[cfg(feature = "runtime-benchmarks")]
mod benchmarking;
mod impl_embeddings;
mod impl_entries;
mod impl_recall;
mod impl_spaces;
#[cfg(test)]
mod mock;
pub mod runtime_api;
#[cfg(test)]
mod tests;
#[cfg(any(feature = "try-runtime", feature = "std", test))]
mod try_state;
pub mod types;
pub mod weights;

pub use impl_recall::RecallError;
pub use pallet::*;
pub use types::*;
pub use weights::WeightInfo;

#[frame_support::pallet]
pub mod pallet {
	use super::*;
	use frame_support::{pallet_prelude::*, traits::fungible};
	use frame_system::pallet_prelude::*;
	use pallet_inference::InferenceProvider;
	use sp_core::H256;
	use verity_primitives::{ContentKind, EntryId, ModelId, RequestId, SpaceId};

	/// The in-code storage version.
	const STORAGE_VERSION: StorageVersion = StorageVersion::new(0);

	#[pallet::pallet]
	#[pallet::storage_version(STORAGE_VERSION)]
	pub struct Pallet<T>(_);

	/// Configuration of agent memory.
	#[pallet::config]
	pub trait Config: frame_system::Config {
		/// The currency deposits are held in.
		type Currency: fungible::Inspect<Self::AccountId>
			+ fungible::Mutate<Self::AccountId>
			+ fungible::hold::Inspect<Self::AccountId, Reason = Self::RuntimeHoldReason>
			+ fungible::hold::Mutate<Self::AccountId, Reason = Self::RuntimeHoldReason>;

		/// The overarching hold reason.
		type RuntimeHoldReason: From<HoldReason>;

		/// The inference protocol embeddings are computed through.
		type Inference: InferenceProvider<Self::AccountId>;

		/// Deposit held per byte of entry content, from the entry's author.
		#[pallet::constant]
		type DepositPerByte: Get<BalanceOf<Self>>;

		/// Deposit held from a space's owner while the space exists.
		#[pallet::constant]
		type SpaceDeposit: Get<BalanceOf<Self>>;

		/// Longest entry content, in bytes.
		#[pallet::constant]
		type MaxEntryLen: Get<u32>;

		/// Most entries one space holds.
		#[pallet::constant]
		type MaxEntriesPerSpace: Get<u32>;

		/// Most accounts one space grants access to.
		#[pallet::constant]
		type MaxGrantsPerSpace: Get<u32>;

		/// Most dimensions an embedding may have.
		#[pallet::constant]
		type MaxEmbeddingLen: Get<u32>;

		/// Most entries one recall returns.
		#[pallet::constant]
		type MaxRecall: Get<u32>;

		/// Longest recall question, in bytes.
		#[pallet::constant]
		type MaxQueryLen: Get<u32>;

		/// Weights of this pallet's calls, generated from its benchmarks.
		type WeightInfo: WeightInfo;

		/// Sets up what the benchmarks need from the inference protocol.
		#[cfg(feature = "runtime-benchmarks")]
		type BenchmarkHelper: crate::BenchmarkHelper;
	}

	/// Why the pallet holds funds.
	#[pallet::composite_enum]
	pub enum HoldReason {
		/// A space's deposit, held from its owner.
		SpaceDeposit,
		/// An entry's per-byte deposit, held from its author.
		EntryDeposit,
	}

	/// The id the next space gets.
	#[pallet::storage]
	pub type NextSpaceId<T: Config> = StorageValue<_, SpaceId, ValueQuery>;

	/// Every space, by id.
	#[pallet::storage]
	pub type Spaces<T: Config> = StorageMap<_, Twox64Concat, SpaceId, SpaceInfo<T>, OptionQuery>;

	/// Access granted to accounts other than a space's owner.
	#[pallet::storage]
	pub type Grants<T: Config> = StorageDoubleMap<
		_,
		Twox64Concat,
		SpaceId,
		Blake2_128Concat,
		T::AccountId,
		Access,
		OptionQuery,
	>;

	/// Every entry, by space and entry id.
	#[pallet::storage]
	pub type Entries<T: Config> =
		StorageDoubleMap<_, Twox64Concat, SpaceId, Twox64Concat, EntryId, Entry<T>, OptionQuery>;

	/// The leaves of each space's commitment, in entry-id order.
	#[pallet::storage]
	pub type Leaves<T: Config> = StorageMap<_, Twox64Concat, SpaceId, SpaceLeaves<T>, ValueQuery>;

	/// The attached embeddings, by space and entry id.
	#[pallet::storage]
	pub type Embeddings<T: Config> = StorageDoubleMap<
		_,
		Twox64Concat,
		SpaceId,
		Twox64Concat,
		EntryId,
		Embedding<T>,
		OptionQuery,
	>;

	/// The entry each embedding request is for, while the entry waits for it or holds (or
	/// rejected) its output: a challenge that overturns the output corrects the entry through it.
	#[pallet::storage]
	pub type EmbeddingRequests<T: Config> =
		StorageMap<_, Twox64Concat, RequestId, (SpaceId, EntryId), OptionQuery>;

	/// Events of agent memory.
	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// A space was created.
		SpaceCreated {
			/// The new space.
			space: SpaceId,
			/// Its owner.
			owner: T::AccountId,
			/// The model its entries are embedded with.
			embedding_model: ModelId,
		},
		/// An empty space was deleted and its deposit released.
		SpaceDeleted {
			/// The space.
			space: SpaceId,
		},
		/// An account was given access to a space (or its access changed).
		AccessGranted {
			/// The space.
			space: SpaceId,
			/// The account.
			who: T::AccountId,
			/// What it may do.
			access: Access,
		},
		/// An account's access to a space was taken away.
		AccessRevoked {
			/// The space.
			space: SpaceId,
			/// The account.
			who: T::AccountId,
		},
		/// An entry was stored.
		Remembered {
			/// The space.
			space: SpaceId,
			/// The new entry.
			entry: EntryId,
			/// Who wrote it.
			author: T::AccountId,
			/// blake2-256 of its content.
			content_hash: H256,
			/// The space's new commitment.
			root: H256,
			/// The inference request computing its embedding, for text.
			embedding_request: Option<RequestId>,
		},
		/// An entry was removed and its deposit released.
		Forgotten {
			/// The space.
			space: SpaceId,
			/// The removed entry.
			entry: EntryId,
			/// The space's new commitment.
			root: H256,
		},
		/// A new embedding request was opened for an entry whose last one failed.
		EmbeddingRequested {
			/// The space.
			space: SpaceId,
			/// The entry.
			entry: EntryId,
			/// The new request.
			request: RequestId,
		},
		/// A finalized embedding was attached to an entry.
		EmbeddingAttached {
			/// The space.
			space: SpaceId,
			/// The entry.
			entry: EntryId,
			/// The finalized request it came from.
			request: RequestId,
		},
		/// A challenge overturned the output an entry's embedding came from: the corrected
		/// output's embedding replaced it.
		EmbeddingCorrected {
			/// The space.
			space: SpaceId,
			/// The entry.
			entry: EntryId,
			/// The request whose output was overturned.
			request: RequestId,
		},
		/// A finalized (or corrected) request's output was no valid embedding; the entry is not
		/// ranked.
		EmbeddingRejected {
			/// The space.
			space: SpaceId,
			/// The entry.
			entry: EntryId,
			/// The finalized request.
			request: RequestId,
		},
		/// A text question's embedding was requested; recall with the request once finalized.
		RecallRequested {
			/// The space.
			space: SpaceId,
			/// The embedding request of the question.
			request: RequestId,
		},
		/// A recall ranked the space's entries.
		Recalled {
			/// The space.
			space: SpaceId,
			/// The finalized request holding the question's embedding.
			query_request: RequestId,
			/// The best entries and their scores, best first.
			matches: RecallMatches<T>,
		},
	}

	/// Errors of agent memory.
	#[pallet::error]
	pub enum Error<T> {
		/// No space has this id.
		UnknownSpace,
		/// The space has no entry with this id.
		UnknownEntry,
		/// Only the space's owner may do this.
		NotOwner,
		/// The caller may not write to this space.
		NoWriteAccess,
		/// The caller may not recall from this space.
		NoReadAccess,
		/// The owner always has full access; it cannot be granted or revoked.
		OwnerAccessIsImplicit,
		/// The account has no grant on this space.
		NoGrant,
		/// The space already grants access to `MaxGrantsPerSpace` accounts.
		TooManyGrants,
		/// The embedding model is not registered or not active.
		EmbeddingModelUnavailable,
		/// Entry content cannot be empty.
		EmptyContent,
		/// The content is longer than `MaxEntryLen`.
		EntryTooLarge,
		/// Text content or a text question is not valid UTF-8.
		NotUtf8,
		/// The space already holds `MaxEntriesPerSpace` entries.
		SpaceFull,
		/// The space still holds entries; forget them first.
		SpaceNotEmpty,
		/// The caller cannot pay the deposit.
		InsufficientBalance,
		/// `k` must be between 1 and `MaxRecall`.
		InvalidK,
		/// The query's embedding request is not finalized yet.
		EmbeddingNotReady,
		/// The query request does not exist, failed, or is not an ordinary inference request.
		UnknownQuery,
		/// The query request ran another model than the space's embedding model.
		QueryModelMismatch,
		/// The query request's output is not an embedding.
		MalformedEmbedding,
		/// The entry's embedding is ready, pending on a live request, or never computed.
		EmbeddingNotRetryable,
		/// The query request's output left state after its challenge period: ask again.
		QueryPruned,
	}

	#[pallet::hooks]
	impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
		fn integrity_test() {
			Self::check_integrity();
		}

		#[cfg(feature = "try-runtime")]
		fn try_state(_n: BlockNumberFor<T>) -> Result<(), sp_runtime::TryRuntimeError> {
			Self::do_try_state()
		}
	}

	#[pallet::call]
	impl<T: Config> Pallet<T> {
		/// Create a memory space owned by the caller.
		///
		/// - `embedding_model`: the registered, active model its text is embedded with (a text
		///   model whose output is an `i8` tensor called `embedding`).
		///
		/// Holds `SpaceDeposit` from the caller. Emits `SpaceCreated`.
		///
		/// Errors: `EmbeddingModelUnavailable`, `InsufficientBalance`.
		#[pallet::call_index(0)]
		#[pallet::weight(T::WeightInfo::create_space())]
		pub fn create_space(origin: OriginFor<T>, embedding_model: ModelId) -> DispatchResult {
			let owner = ensure_signed(origin)?;
			Self::do_create_space(owner, embedding_model).map(|_| ())
		}

		/// Give `who` read or write access to a space, or change the access it has.
		///
		/// - Origin: the space's owner.
		///
		/// Emits `AccessGranted`.
		///
		/// Errors: `UnknownSpace`, `NotOwner`, `OwnerAccessIsImplicit`, `TooManyGrants`.
		#[pallet::call_index(1)]
		#[pallet::weight(T::WeightInfo::grant())]
		pub fn grant(
			origin: OriginFor<T>,
			space: SpaceId,
			who: T::AccountId,
			access: Access,
		) -> DispatchResult {
			let owner = ensure_signed(origin)?;
			Self::do_grant(owner, space, who, access)
		}

		/// Take away the access `who` has to a space.
		///
		/// - Origin: the space's owner.
		///
		/// Emits `AccessRevoked`.
		///
		/// Errors: `UnknownSpace`, `NotOwner`, `OwnerAccessIsImplicit`, `NoGrant`.
		#[pallet::call_index(2)]
		#[pallet::weight(T::WeightInfo::revoke())]
		pub fn revoke(origin: OriginFor<T>, space: SpaceId, who: T::AccountId) -> DispatchResult {
			let owner = ensure_signed(origin)?;
			Self::do_revoke(owner, space, who)
		}

		/// Store an entry in a space.
		///
		/// - Origin: the owner or an account with write access.
		/// - `content`: at most `MaxEntryLen` bytes, not empty.
		/// - `kind`: `Text` (UTF-8; an inference request for its embedding is opened, paid by
		///   the space's owner) or `Bytes` (opaque, e.g. encrypted; never embedded).
		///
		/// Holds `content.len() * DepositPerByte` from the caller and updates the space's
		/// commitment. Emits `Remembered`.
		///
		/// Errors: `UnknownSpace`, `NoWriteAccess`, `EmptyContent`, `EntryTooLarge`, `NotUtf8`,
		/// `SpaceFull`, `InsufficientBalance`, and the inference protocol's request errors.
		#[pallet::call_index(3)]
		#[pallet::weight(Pallet::<T>::remember_weight(content.len() as u32, T::MaxEntriesPerSpace::get()))]
		pub fn remember(
			origin: OriginFor<T>,
			space: SpaceId,
			content: alloc::vec::Vec<u8>,
			kind: ContentKind,
		) -> DispatchResultWithPostInfo {
			let author = ensure_signed(origin)?;
			let length = content.len() as u32;
			let entries = Self::do_remember(author, space, content, kind)?;
			Ok(Some(Self::remember_weight(length, entries)).into())
		}

		/// Remove an entry, release its deposit to its author and update the commitment.
		///
		/// - Origin: the owner or an account with write access.
		///
		/// Emits `Forgotten`.
		///
		/// Errors: `UnknownSpace`, `UnknownEntry`, `NoWriteAccess`.
		#[pallet::call_index(4)]
		#[pallet::weight(T::WeightInfo::forget(T::MaxEntriesPerSpace::get()))]
		pub fn forget(
			origin: OriginFor<T>,
			space: SpaceId,
			entry: EntryId,
		) -> DispatchResultWithPostInfo {
			let who = ensure_signed(origin)?;
			let entries = Self::do_forget(who, space, entry)?;
			Ok(Some(T::WeightInfo::forget(entries)).into())
		}

		/// Recall the `k` entries closest to a question.
		///
		/// - Origin: the owner or an account with read or write access.
		/// - `query`: `Text` opens an inference request for the question's embedding, paid by
		///   the caller, and emits `RecallRequested`; `Request` ranks the space's embedded
		///   entries against that finalized request's embedding and emits `Recalled`.
		/// - `k`: 1 to `MaxRecall`.
		///
		/// Ranking is the integer dot product of the int8 embeddings, ties to the lower entry
		/// id ([`verity_primitives::rank`]); entries without an embedding are not ranked.
		///
		/// A question longer than `MaxQueryLen` does not decode: the transaction is invalid.
		///
		/// Errors: `UnknownSpace`, `NoReadAccess`, `InvalidK`, `NotUtf8`,
		/// `EmbeddingNotReady`, `UnknownQuery`, `QueryModelMismatch`, `MalformedEmbedding`,
		/// and the inference protocol's request errors.
		#[pallet::call_index(5)]
		#[pallet::weight(Pallet::<T>::recall_weight(query, T::MaxEntriesPerSpace::get()))]
		pub fn recall(
			origin: OriginFor<T>,
			space: SpaceId,
			query: RecallQuery<T>,
			k: u32,
		) -> DispatchResultWithPostInfo {
			let who = ensure_signed(origin)?;
			let entries = Self::do_recall(who, space, &query, k)?;
			Ok(Some(Self::recall_weight(&query, entries)).into())
		}

		/// Open a new embedding request for an entry whose last one failed (expired, found no
		/// executors, or gave no valid embedding), paid by the space's owner.
		///
		/// - Origin: the owner or an account with write access.
		///
		/// Emits `EmbeddingRequested`.
		///
		/// Errors: `UnknownSpace`, `UnknownEntry`, `NoWriteAccess`, `EmbeddingNotRetryable`,
		/// and the inference protocol's request errors.
		#[pallet::call_index(6)]
		#[pallet::weight(T::WeightInfo::retry_embedding())]
		pub fn retry_embedding(
			origin: OriginFor<T>,
			space: SpaceId,
			entry: EntryId,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_retry_embedding(who, space, entry)
		}

		/// Delete an empty space and release its deposit.
		///
		/// - Origin: the space's owner.
		///
		/// Every grant is removed with it. Emits `SpaceDeleted`.
		///
		/// Errors: `UnknownSpace`, `NotOwner`, `SpaceNotEmpty`.
		#[pallet::call_index(7)]
		#[pallet::weight(T::WeightInfo::delete_space(T::MaxGrantsPerSpace::get()))]
		pub fn delete_space(origin: OriginFor<T>, space: SpaceId) -> DispatchResultWithPostInfo {
			let owner = ensure_signed(origin)?;
			let grants = Self::do_delete_space(owner, space)?;
			Ok(Some(T::WeightInfo::delete_space(grants)).into())
		}
	}
}

/// What the benchmarks need from the runtime's inference protocol.
#[cfg(feature = "runtime-benchmarks")]
pub trait BenchmarkHelper {
	/// An active embedding model with enough live executors to take requests.
	fn embedding_model() -> verity_primitives::ModelId;
	/// A finalized ordinary request of `model_id` whose agreed output is `output`.
	fn finalized_request(
		model_id: verity_primitives::ModelId,
		output: alloc::vec::Vec<u8>,
	) -> verity_primitives::RequestId;
}

#![doc = include_str!("../README.md")]
#![cfg_attr(not(feature = "std"), no_std)]

#[cfg(feature = "runtime-benchmarks")]
mod benchmarking;
#[cfg(test)]
mod mock;
#[cfg(test)]
mod tests;
pub mod weights;

pub use pallet::*;
pub use weights::WeightInfo;

use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use scale_info::TypeInfo;
use sp_core::sr25519::{
	self,
	vrf::{VrfSignData, VrfSignature, VrfTranscript},
};
use sp_inherents::InherentIdentifier;

/// Where the block author's VRF signature travels in the inherent data.
pub const INHERENT_IDENTIFIER: InherentIdentifier = *b"authrvrf";

/// The transcript label of the VRF input: domain separation from every other VRF use.
const VRF_LABEL: &[u8] = b"verity/author-vrf/v1";

/// The context the randomness is derived under from the VRF output.
const OUTPUT_CONTEXT: &[u8] = b"verity/author-vrf/output";

/// The VRF input of the block in `slot` whose parent left `previous` as the randomness.
///
/// The author signs it with its consensus key; the node builds it the same way.
pub fn vrf_input(previous: &[u8; 32], slot: u64) -> VrfTranscript {
	VrfTranscript::new(VRF_LABEL, &[(b"previous", previous), (b"slot", &slot.to_le_bytes())])
}

/// What the author signs: the VRF input as sign data.
pub fn vrf_sign_data(previous: &[u8; 32], slot: u64) -> VrfSignData {
	vrf_input(previous, slot).into_sign_data()
}

/// A VRF signature as it travels in a block: the pre-output and the proof, in the bytes
/// `VrfSignature` encodes to (which the call's decoding cannot take directly).
#[derive(
	Clone, PartialEq, Eq, Debug, Encode, Decode, DecodeWithMemTracking, MaxEncodedLen, TypeInfo,
)]
pub struct AuthorVrfSignature {
	/// The VRF pre-output (a compressed Ristretto point).
	pub pre_output: [u8; 32],
	/// The proof that the pre-output is the signer's over the input.
	pub proof: [u8; 64],
}

impl AuthorVrfSignature {
	/// The signature these bytes are, or `None` when they are not a valid point and proof.
	pub fn signature(&self) -> Option<VrfSignature> {
		VrfSignature::decode(&mut &self.encode()[..]).ok()
	}
}

impl From<&VrfSignature> for AuthorVrfSignature {
	fn from(signature: &VrfSignature) -> Self {
		let bytes = signature.encode();
		Self::decode(&mut &bytes[..]).expect("a VRF signature encodes to 96 bytes")
	}
}

/// The block author and the slot it authors, as the consensus engine recorded them.
pub trait BlockAuthor {
	/// The author's sr25519 consensus key and the slot of the block being built, or `None`
	/// when the digest names no author.
	fn author_and_slot() -> Option<(sr25519::Public, u64)>;

	/// Make `key` the author of the block being built, in `slot`.
	#[cfg(feature = "runtime-benchmarks")]
	fn set_author_for_benchmark(key: sr25519::Public, slot: u64);
}

#[frame_support::pallet]
pub mod pallet {
	use super::*;
	use frame_support::pallet_prelude::*;
	use frame_system::pallet_prelude::*;
	use sp_core::crypto::VrfPublic;

	#[pallet::pallet]
	pub struct Pallet<T>(_);

	/// Configuration of the randomness beacon.
	#[pallet::config]
	pub trait Config: frame_system::Config {
		/// Who authors the block being built, and in which slot.
		type BlockAuthor: BlockAuthor;
		/// Weights of this pallet's calls, from its benchmarks.
		type WeightInfo: WeightInfo;
	}

	/// The current randomness: the VRF output of the latest block's author over the randomness
	/// before it. All zeroes at genesis.
	#[pallet::storage]
	pub type Randomness<T: Config> = StorageValue<_, [u8; 32], ValueQuery>;

	/// The block in which [`Randomness`] was last set.
	#[pallet::storage]
	pub type RandomnessSetAt<T: Config> = StorageValue<_, BlockNumberFor<T>, ValueQuery>;

	/// Whether the randomness was set in this block (taken at the end of every block).
	#[pallet::storage]
	pub type SetThisBlock<T: Config> = StorageValue<_, bool, ValueQuery>;

	/// Errors of the randomness beacon. A block carrying one is invalid.
	#[pallet::error]
	pub enum Error<T> {
		/// The randomness was already set in this block.
		AlreadySet,
		/// The consensus digest names no author for this block.
		UnknownAuthor,
		/// The VRF signature is not the author's over the previous randomness and this slot.
		InvalidVrf,
	}

	#[pallet::hooks]
	impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
		fn on_finalize(_: BlockNumberFor<T>) {
			// Like the timestamp: a block without its author's VRF output is invalid, so no
			// author can skip it to leave the previous randomness in place.
			assert!(
				SetThisBlock::<T>::take(),
				"the block author's VRF output must be set once per block"
			);
		}
	}

	#[pallet::call]
	impl<T: Config> Pallet<T> {
		/// Set this block's randomness from its author's VRF `signature` over the previous
		/// randomness and the block's slot (an inherent, once per block, from no origin).
		#[pallet::call_index(0)]
		#[pallet::weight((T::WeightInfo::set_randomness(), DispatchClass::Mandatory))]
		pub fn set_randomness(
			origin: OriginFor<T>,
			signature: AuthorVrfSignature,
		) -> DispatchResult {
			ensure_none(origin)?;
			ensure!(!SetThisBlock::<T>::get(), Error::<T>::AlreadySet);
			let (author, slot) =
				T::BlockAuthor::author_and_slot().ok_or(Error::<T>::UnknownAuthor)?;
			let previous = Randomness::<T>::get();
			let output = Self::verified_output(&author, &previous, slot, &signature)
				.ok_or(Error::<T>::InvalidVrf)?;
			Randomness::<T>::put(output);
			RandomnessSetAt::<T>::put(frame_system::Pallet::<T>::block_number());
			SetThisBlock::<T>::put(true);
			Ok(())
		}
	}

	#[pallet::inherent]
	impl<T: Config> ProvideInherent for Pallet<T> {
		type Call = Call<T>;
		type Error = sp_inherents::MakeFatalError<()>;
		const INHERENT_IDENTIFIER: InherentIdentifier = INHERENT_IDENTIFIER;

		fn create_inherent(data: &InherentData) -> Option<Self::Call> {
			let signature: AuthorVrfSignature =
				data.get_data(&INHERENT_IDENTIFIER).ok().flatten()?;
			Some(Call::set_randomness { signature })
		}

		fn is_inherent_required(_: &InherentData) -> Result<Option<Self::Error>, Self::Error> {
			Ok(Some(sp_inherents::MakeFatalError::from(())))
		}

		fn is_inherent(call: &Self::Call) -> bool {
			matches!(call, Call::set_randomness { .. })
		}
	}

	impl<T: Config> Pallet<T> {
		/// The randomness `signature` proves, when it is `author`'s VRF over `previous` and
		/// `slot`.
		pub fn verified_output(
			author: &sr25519::Public,
			previous: &[u8; 32],
			slot: u64,
			signature: &AuthorVrfSignature,
		) -> Option<[u8; 32]> {
			let signature = signature.signature()?;
			if !author.vrf_verify(&vrf_sign_data(previous, slot), &signature) {
				return None;
			}
			author
				.make_bytes::<32>(OUTPUT_CONTEXT, &vrf_input(previous, slot), &signature.pre_output)
				.ok()
		}
	}

	impl<T: Config> frame_support::traits::Randomness<T::Hash, BlockNumberFor<T>> for Pallet<T> {
		/// The current randomness hashed with `subject`, and the block that fixed it. No one
		/// could know it before that block's author sealed it.
		fn random(subject: &[u8]) -> (T::Hash, BlockNumberFor<T>) {
			let seed = sp_io::hashing::blake2_256(&(Randomness::<T>::get(), subject).encode());
			let hash = T::Hash::decode(&mut &seed[..]).unwrap_or_default();
			(hash, RandomnessSetAt::<T>::get())
		}
	}
}

//! What an executor signs, and the key it signs with.

use crate::{ExecutionProfileId, ModelId};
use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use scale_info::TypeInfo;
use sp_core::H256;

/// Identifies a request for its whole life.
pub type RequestId = u64;

/// The key type of executor attestation keys in a keystore: `vrty`.
pub const EXECUTOR_KEY_TYPE: sp_core::crypto::KeyTypeId = sp_core::crypto::KeyTypeId(*b"vrty");

/// Domain tag that starts every attestation payload, so an attestation signature can never be
/// mistaken for a signature over anything else.
pub const ATTESTATION_DOMAIN: [u8; 16] = *b"verity/attest/v1";

/// An executor's attestation key: sr25519, in its own application crypto namespace.
pub mod executor_crypto {
	use super::EXECUTOR_KEY_TYPE;
	use sp_application_crypto::{app_crypto, sr25519};
	app_crypto!(sr25519, EXECUTOR_KEY_TYPE);
}

/// The public key executors register and sign attestations with.
pub type ExecutorPublic = executor_crypto::Public;
/// A signature by an executor's attestation key.
pub type ExecutorSignature = executor_crypto::Signature;

/// The bytes an executor signs to attest "I ran `model_id` under `execution_profile` on the
/// input hashing to `input_hash` for request `request_id` of chain `genesis_hash`, and got the
/// output hashing to `output_hash`".
///
/// Binding the genesis hash, request id and model id makes a signature useless on any other
/// chain, request or model.
#[derive(
	Clone, Encode, Decode, DecodeWithMemTracking, Eq, PartialEq, Debug, TypeInfo, MaxEncodedLen,
)]
pub struct AttestationPayload {
	/// Always [`ATTESTATION_DOMAIN`].
	pub domain: [u8; 16],
	/// The chain's genesis block hash.
	pub genesis_hash: H256,
	/// The request answered.
	pub request_id: RequestId,
	/// The model run.
	pub model_id: ModelId,
	/// The execution profile it ran under.
	pub execution_profile: ExecutionProfileId,
	/// blake2-256 of the canonical input encoding.
	pub input_hash: H256,
	/// blake2-256 of the canonical output encoding.
	pub output_hash: H256,
}

impl AttestationPayload {
	/// A payload with the domain tag filled in.
	pub fn new(
		genesis_hash: H256,
		request_id: RequestId,
		model_id: ModelId,
		execution_profile: ExecutionProfileId,
		input_hash: H256,
		output_hash: H256,
	) -> Self {
		Self {
			domain: ATTESTATION_DOMAIN,
			genesis_hash,
			request_id,
			model_id,
			execution_profile,
			input_hash,
			output_hash,
		}
	}
}

/// The hash used for inputs, outputs and artifacts: blake2-256.
pub fn content_hash(bytes: &[u8]) -> H256 {
	H256(sp_crypto_hashing::blake2_256(bytes))
}

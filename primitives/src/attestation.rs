//! What an executor signs, and the key it signs with.

use crate::{ExecutionProfileId, ModelId};
use alloc::vec::Vec;
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
	/// The hash of the outcome: blake2-256 of the canonical output encoding, or a
	/// rejection's hash ([`crate::InferenceOutcome::hash`]).
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

/// Domain tag of the message an executor signs with its commitment.
pub const COMMITMENT_DOMAIN: [u8; 16] = *b"verity/commit/v2";

/// Domain tag of the proof that an account holds an attestation key.
pub const KEY_OWNERSHIP_DOMAIN: [u8; 16] = *b"verity/keyown/v1";

/// An executor's commitment to its answer: blake2-256 of the SCALE-encoded payload it will
/// reveal, followed by its own attestation key.
///
/// Binding the key means two executors with the same answer never share a commitment, so an
/// executor that copies another's commitment cannot reveal it: its own reveal hashes to a
/// different value and is slashed as dissent. The payload binds the request, the model, the
/// input and the outcome, so a commitment is worthless anywhere else.
pub fn commitment(payload: &AttestationPayload, key: &ExecutorPublic) -> H256 {
	let mut preimage = payload.encode();
	preimage.extend(key.encode());
	content_hash(&preimage)
}

/// The bytes an executor signs when it commits: the domain tag, the chain, the request (its id,
/// its model and its input's hash) and the commitment.
///
/// The commitment alone hides the request it belongs to, so without the request id in the
/// signed message anyone could replay an executor's commitment from one request onto another
/// it is assigned to, take its one commitment slot there and have its honest reveal slashed.
///
/// The id alone does not name a request everywhere: each fork numbers its own, so blocks of two
/// forks at one height carry different requests under one id. With the model and the input
/// hash in the message, a commitment made on a fork the chain left fails its signature check
/// on the request that reuses the id on the fork that stays, instead of taking the executor's
/// slot there and getting its honest reveal slashed as a broken commitment.
pub fn commitment_message(
	genesis_hash: H256,
	request_id: RequestId,
	model_id: ModelId,
	input_hash: H256,
	commitment: H256,
) -> Vec<u8> {
	(COMMITMENT_DOMAIN, genesis_hash, request_id, model_id, input_hash, commitment).encode()
}

/// The bytes an attestation key signs to prove that `account` holds it on the chain with
/// `genesis_hash`: without this proof anyone could register someone else's key as their own.
pub fn key_ownership_message<AccountId: Encode>(
	account: &AccountId,
	genesis_hash: H256,
) -> Vec<u8> {
	(KEY_OWNERSHIP_DOMAIN, genesis_hash, account).encode()
}

/// The hash used for inputs, outputs and artifacts: blake2-256.
pub fn content_hash(bytes: &[u8]) -> H256 {
	H256(sp_crypto_hashing::blake2_256(bytes))
}

#[cfg(test)]
mod tests {
	use super::*;
	use sp_application_crypto::Pair as _;

	fn key(seed: u8) -> ExecutorPublic {
		let pair = sp_core::sr25519::Pair::from_seed(&[seed; 32]);
		ExecutorPublic::from(pair.public())
	}

	fn payload(output_hash: H256) -> AttestationPayload {
		AttestationPayload::new(
			H256::repeat_byte(1),
			7,
			H256::repeat_byte(2),
			b"tract/generic".to_vec().try_into().unwrap(),
			H256::repeat_byte(3),
			output_hash,
		)
	}

	#[test]
	fn two_executors_with_one_answer_commit_differently() {
		let answer = payload(H256::repeat_byte(4));
		assert_ne!(commitment(&answer, &key(1)), commitment(&answer, &key(2)));
		assert_ne!(
			commitment(&answer, &key(1)),
			commitment(&payload(H256::repeat_byte(5)), &key(1))
		);
		assert_eq!(commitment(&answer, &key(1)), commitment(&answer.clone(), &key(1)));
	}

	#[test]
	fn signed_messages_bind_their_context() {
		let c = H256::repeat_byte(9);
		let (model, input) = (H256::repeat_byte(3), H256::repeat_byte(4));
		let base = commitment_message(H256::repeat_byte(1), 7, model, input, c);
		assert_ne!(base, commitment_message(H256::repeat_byte(1), 8, model, input, c));
		assert_ne!(base, commitment_message(H256::repeat_byte(2), 7, model, input, c));
		assert_ne!(base, commitment_message(H256::repeat_byte(1), 7, input, input, c));
		assert_ne!(base, commitment_message(H256::repeat_byte(1), 7, model, model, c));
		assert!(base.starts_with(&COMMITMENT_DOMAIN));
		let owner = key_ownership_message(&[5u8; 32], H256::repeat_byte(1));
		assert_ne!(owner, key_ownership_message(&[6u8; 32], H256::repeat_byte(1)));
		assert_ne!(owner, key_ownership_message(&[5u8; 32], H256::repeat_byte(2)));
		assert!(owner.starts_with(&KEY_OWNERSHIP_DOMAIN));
	}
}

//! What an executor answers: the model's output, or a canonical rejection of the input.
//!
//! Some inputs pass every check the chain can afford and still cannot be run: a shape the
//! graph cannot take, an operator that fails on these values. Every honest executor fails on
//! them the same way, so "this input cannot be run, for this reason" is an answer like an
//! output: it is attested, it reaches a quorum, it settles the request (the executors are
//! paid, the requester pays). Without it, such an input would leave every assigned executor
//! looking like a no-show.
//!
//! The reason is one of a small closed set of codes, never free text, so two honest executors
//! always give the same bytes for the same failure.

use crate::{content_hash, TensorMap};
use alloc::vec::Vec;
use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use scale_info::TypeInfo;
use sp_core::H256;

/// Why an executor could not run an input.
#[derive(
	Clone,
	Copy,
	Encode,
	Decode,
	DecodeWithMemTracking,
	Eq,
	PartialEq,
	Ord,
	PartialOrd,
	Debug,
	TypeInfo,
	MaxEncodedLen,
	serde::Serialize,
	serde::Deserialize,
)]
pub enum RejectionCode {
	/// A text model's `text` input is not UTF-8.
	InvalidUtf8,
	/// A boolean tensor holds a byte other than 0 or 1.
	InvalidBool,
	/// A tensor has an axis of size zero.
	EmptyAxis,
	/// The graph cannot take the input's shapes.
	UnsupportedShape,
	/// The model failed while running on the input.
	ModelError,
	/// A generation request's prompt, tokenized, leaves no room in the model's context for
	/// the tokens it asks for.
	PromptTooLong,
}

impl RejectionCode {
	/// Every code, in order.
	pub const ALL: [Self; 6] = [
		Self::InvalidUtf8,
		Self::InvalidBool,
		Self::EmptyAxis,
		Self::UnsupportedShape,
		Self::ModelError,
		Self::PromptTooLong,
	];
}

/// Domain tag of a rejection's hash, so a rejection never hashes like an output's bytes.
pub const REJECTION_DOMAIN: [u8; 16] = *b"verity/reject/v1";

/// An executor's answer to a request.
#[derive(
	Clone,
	Encode,
	Decode,
	DecodeWithMemTracking,
	Eq,
	PartialEq,
	Debug,
	TypeInfo,
	serde::Serialize,
	serde::Deserialize,
)]
pub enum InferenceOutcome {
	/// The model ran: the canonical encoding of its outputs.
	Output(Vec<u8>),
	/// The model cannot run on the input, for this reason.
	Rejected(RejectionCode),
}

impl InferenceOutcome {
	/// The hash attested in [`crate::AttestationPayload::output_hash`]: blake2-256 of the
	/// output's bytes, or of the rejection domain tag followed by the code.
	pub fn hash(&self) -> H256 {
		match self {
			Self::Output(output) => content_hash(output),
			Self::Rejected(code) => rejection_hash(*code),
		}
	}
}

/// The attested hash of a rejection with `code`.
///
/// An output is a canonical tensor map, which starts with its tensor count; the 18 bytes
/// hashed here (`verity/reject/v1`, then the code) do not decode as one, so no output shares
/// a rejection's preimage.
pub fn rejection_hash(code: RejectionCode) -> H256 {
	content_hash(&(REJECTION_DOMAIN, code).encode())
}

/// Why the chain refuses an input at submission: the rejections it can check cheaply, so no
/// executor is ever asked to run them.
pub fn cheap_rejection(input: &TensorMap, text_model: bool) -> Option<RejectionCode> {
	for tensor in &input.0 {
		if tensor.shape.contains(&0) {
			return Some(RejectionCode::EmptyAxis);
		}
		if tensor.dtype == crate::DType::Bool && tensor.data.iter().any(|byte| *byte > 1) {
			return Some(RejectionCode::InvalidBool);
		}
	}
	if text_model && input.as_text().is_some_and(|text| core::str::from_utf8(text).is_err()) {
		return Some(RejectionCode::InvalidUtf8);
	}
	None
}

#[cfg(test)]
mod tests {
	use super::*;
	use crate::{DType, Tensor};

	#[test]
	fn every_outcome_hashes_differently() {
		let output = InferenceOutcome::Output(TensorMap::text(b"a").encode());
		let mut hashes: Vec<H256> = RejectionCode::ALL
			.iter()
			.map(|code| InferenceOutcome::Rejected(*code).hash())
			.collect();
		hashes.push(output.hash());
		hashes.push(InferenceOutcome::Output(Vec::new()).hash());
		let count = hashes.len();
		hashes.sort();
		hashes.dedup();
		assert_eq!(hashes.len(), count);
		assert_eq!(output.hash(), content_hash(&TensorMap::text(b"a").encode()));
	}

	#[test]
	fn a_rejection_preimage_is_no_tensor_map() {
		for code in RejectionCode::ALL {
			let preimage = (REJECTION_DOMAIN, code).encode();
			assert!(TensorMap::decode_canonical(&preimage).is_err(), "{code:?}");
		}
	}

	#[test]
	fn the_cheap_checks_find_what_they_name() {
		let tensor = |dtype, shape: Vec<u32>, data: Vec<u8>| Tensor {
			name: b"t".to_vec(),
			dtype,
			shape,
			data,
		};
		assert_eq!(
			cheap_rejection(&TensorMap::text(&[0xff, 0xfe, 0x41]), true),
			Some(RejectionCode::InvalidUtf8)
		);
		assert_eq!(cheap_rejection(&TensorMap::text(&[0xff, 0xfe, 0x41]), false), None);
		assert_eq!(cheap_rejection(&TensorMap::text("héllo".as_bytes()), true), None);
		let empty = TensorMap(vec![tensor(DType::F32, vec![3, 0], vec![])]);
		assert_eq!(cheap_rejection(&empty, false), Some(RejectionCode::EmptyAxis));
		let bad_bool = TensorMap(vec![tensor(DType::Bool, vec![3], vec![0, 1, 2])]);
		assert_eq!(cheap_rejection(&bad_bool, false), Some(RejectionCode::InvalidBool));
		let good_bool = TensorMap(vec![tensor(DType::Bool, vec![3], vec![0, 1, 1])]);
		assert_eq!(cheap_rejection(&good_bool, false), None);
		let bytes = TensorMap(vec![tensor(DType::U8, vec![3], vec![0, 1, 2])]);
		assert_eq!(cheap_rejection(&bytes, false), None);
	}
}

//! The model registry's types: what a registered model is and how its tensors look.

use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use scale_info::TypeInfo;
use serde::{Deserialize, Serialize};
use sp_core::{ConstU32, H256};
use sp_runtime::BoundedVec;

/// A model's identity: the blake2-256 hash of its artifact's bytes.
pub type ModelId = H256;

/// Longest model name, in bytes.
pub const MAX_NAME_LEN: u32 = 64;
/// Longest model version string, in bytes.
pub const MAX_VERSION_LEN: u32 = 32;
/// Longest artifact URI, in bytes.
pub const MAX_URI_LEN: u32 = 256;
/// Longest execution profile identifier, in bytes.
pub const MAX_PROFILE_LEN: u32 = 48;
/// Longest tensor name, in bytes.
pub const MAX_TENSOR_NAME_LEN: u32 = 64;
/// Most input (or output) tensors a model may declare.
pub const MAX_TENSORS: u32 = 8;
/// Highest tensor rank a model may declare.
pub const MAX_RANK: u32 = 8;

/// A model's human-readable name.
pub type ModelName = BoundedVec<u8, ConstU32<MAX_NAME_LEN>>;
/// A model's version string, e.g. `1.0.0`.
pub type ModelVersion = BoundedVec<u8, ConstU32<MAX_VERSION_LEN>>;
/// Where executors fetch the artifact from (`file://`, `http://`, `https://`).
pub type ArtifactUri = BoundedVec<u8, ConstU32<MAX_URI_LEN>>;
/// The execution profile a model must run under, e.g. `tract-0.23/generic`.
pub type ExecutionProfileId = BoundedVec<u8, ConstU32<MAX_PROFILE_LEN>>;
/// A tensor's name as the model graph declares it.
pub type TensorName = BoundedVec<u8, ConstU32<MAX_TENSOR_NAME_LEN>>;
/// A tensor's shape.
pub type TensorShape = BoundedVec<Dim, ConstU32<MAX_RANK>>;
/// A model's input or output tensors.
pub type TensorSpecs = BoundedVec<TensorSpec, ConstU32<MAX_TENSORS>>;

/// The URI schemes an executor knows how to fetch an artifact from.
pub const ARTIFACT_URI_SCHEMES: [&[u8]; 3] = [b"file://", b"http://", b"https://"];

/// The element type of a tensor.
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
	Serialize,
	Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum DType {
	/// 32-bit IEEE-754 float.
	F32,
	/// 64-bit IEEE-754 float.
	F64,
	/// Signed 8-bit integer.
	I8,
	/// Unsigned 8-bit integer.
	U8,
	/// Signed 16-bit integer.
	I16,
	/// Signed 32-bit integer.
	I32,
	/// Signed 64-bit integer.
	I64,
	/// Boolean, one byte per element.
	Bool,
}

impl DType {
	/// Bytes one element of this type takes in the canonical little-endian encoding.
	pub const fn size_of(self) -> u32 {
		match self {
			DType::I8 | DType::U8 | DType::Bool => 1,
			DType::I16 => 2,
			DType::F32 | DType::I32 => 4,
			DType::F64 | DType::I64 => 8,
		}
	}
}

/// One dimension of a tensor's declared shape.
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
	Serialize,
	Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Dim {
	/// The dimension must have exactly this size.
	Fixed(u32),
	/// The dimension may have any size (e.g. a batch or sequence axis).
	Any,
}

impl Dim {
	/// Whether a concrete size satisfies this dimension.
	pub fn admits(&self, size: u32) -> bool {
		match self {
			Dim::Fixed(expected) => *expected == size,
			Dim::Any => true,
		}
	}
}

/// The declared name, element type and shape of one model input or output.
#[derive(
	Clone,
	Encode,
	Decode,
	DecodeWithMemTracking,
	Eq,
	PartialEq,
	Debug,
	TypeInfo,
	MaxEncodedLen,
	Serialize,
	Deserialize,
)]
pub struct TensorSpec {
	/// The tensor's name in the model graph.
	pub name: TensorName,
	/// The element type.
	pub dtype: DType,
	/// The shape; `Dim::Any` marks free axes.
	pub shape: TensorShape,
}

/// The artifact format of a model.
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
	Serialize,
	Deserialize,
)]
pub enum ModelFormat {
	/// An ONNX graph.
	Onnx,
	/// A GGUF language model, run by Verity's own bit-exact decoder: a generation model (see
	/// [`crate::generation`]).
	Gguf,
}

/// Where a model is in its life cycle.
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
	Serialize,
	Deserialize,
)]
pub enum ModelStatus {
	/// Accepts new inference requests.
	Active,
	/// Still served, but callers should move to its successor; accepts no new requests.
	Deprecated,
	/// Withdrawn for good; a retired model never becomes active again.
	Retired,
}

/// What governance supplies when it registers a model.
#[derive(
	Clone,
	Encode,
	Decode,
	DecodeWithMemTracking,
	Eq,
	PartialEq,
	Debug,
	TypeInfo,
	MaxEncodedLen,
	Serialize,
	Deserialize,
)]
pub struct ModelMetadata<Balance> {
	/// Human-readable name; every version of a model shares it.
	pub name: ModelName,
	/// Version string of this artifact.
	pub version: ModelVersion,
	/// Artifact format.
	pub format: ModelFormat,
	/// Where executors fetch the artifact.
	pub artifact_uri: ArtifactUri,
	/// Size of the artifact in bytes.
	pub artifact_size: u64,
	/// The execution profile every executor must run this model under.
	pub execution_profile: ExecutionProfileId,
	/// Declared inputs.
	pub inputs: TensorSpecs,
	/// Declared outputs.
	pub outputs: TensorSpecs,
	/// Fee paid to each executor for one run.
	pub fee_per_run: Balance,
	/// How many executors must run each request and agree on its output.
	pub redundancy: u8,
	/// The model this version replaces, if any.
	pub predecessor: Option<ModelId>,
	/// Blocks its executors get to answer a request, commit and reveal; 0 for the chain's
	/// `ResponseTimeout`. A slow model (a language model generating many tokens) declares
	/// more: the extra blocks lengthen the commit phase, in which executors compute, and the
	/// reveal phase stays the chain's.
	pub answer_blocks: u32,
}

/// A registered model as the chain stores it.
#[derive(
	Clone, Encode, Decode, Eq, PartialEq, Debug, TypeInfo, MaxEncodedLen, Serialize, Deserialize,
)]
pub struct ModelInfo<Balance, BlockNumber> {
	/// The metadata it was registered with.
	pub metadata: ModelMetadata<Balance>,
	/// Its life-cycle status.
	pub status: ModelStatus,
	/// The newer version registered with this model as its predecessor, if any.
	pub successor: Option<ModelId>,
	/// The block it was registered in.
	pub registered_at: BlockNumber,
}

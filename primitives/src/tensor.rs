//! The canonical tensor encoding: how a request's input and an executor's output are written.
//!
//! A [`TensorMap`] is a list of named tensors, each with an element type, a shape and its
//! elements as little-endian bytes, SCALE-encoded. The encoding is canonical: tensors sorted by
//! name with no duplicates, and exactly `product(shape) * dtype.size_of()` data bytes each. So
//! two parties holding the same tensors produce the same bytes and the same hash.

use crate::{DType, TensorSpec, TensorSpecs, MAX_RANK, MAX_TENSORS};
use alloc::vec::Vec;
use codec::{Decode, DecodeLimit, DecodeWithMemTracking, Encode};
use scale_info::TypeInfo;

/// How deeply nested a decoded tensor map may be; guards the decoder.
const DECODE_DEPTH_LIMIT: u32 = 8;

/// One named tensor.
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
pub struct Tensor {
	/// The tensor's name in the model graph.
	pub name: Vec<u8>,
	/// The element type.
	pub dtype: DType,
	/// The concrete shape.
	pub shape: Vec<u32>,
	/// The elements, little-endian, row-major.
	pub data: Vec<u8>,
}

impl Tensor {
	/// Number of elements the shape holds, or `None` if it overflows.
	pub fn element_count(&self) -> Option<u64> {
		self.shape
			.iter()
			.try_fold(1u64, |count, dim| count.checked_mul(u64::from(*dim)))
	}
}

/// Named tensors in canonical order.
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
pub struct TensorMap(pub Vec<Tensor>);

/// The name of a text model's single input: UTF-8 bytes, element type `u8`, shape `[length]`.
///
/// A text model carries its tokenizer inside its artifact; the executor turns this tensor into
/// the token tensors the graph takes.
pub const TEXT_INPUT: &str = "text";

impl TensorMap {
	/// The input of a text model: `text` as one `u8` tensor of shape `[text.len()]`.
	pub fn text(text: &[u8]) -> Self {
		Self(alloc::vec![Tensor {
			name: TEXT_INPUT.as_bytes().to_vec(),
			dtype: DType::U8,
			shape: alloc::vec![text.len() as u32],
			data: text.to_vec(),
		}])
	}

	/// The text of a text model's input, if this map is one.
	pub fn as_text(&self) -> Option<&[u8]> {
		match self.0.as_slice() {
			[tensor]
				if tensor.name == TEXT_INPUT.as_bytes()
					&& tensor.dtype == DType::U8
					&& tensor.shape.len() == 1 =>
			{
				Some(&tensor.data)
			},
			_ => None,
		}
	}
}

/// Why bytes are not a canonical tensor map, or do not match a model's declared tensors.
#[derive(Clone, Copy, Eq, PartialEq, Debug)]
pub enum TensorError {
	/// The bytes do not SCALE-decode as a tensor map (or have trailing bytes).
	Undecodable,
	/// More tensors than [`MAX_TENSORS`].
	TooManyTensors,
	/// Tensors are not sorted by name, or a name repeats.
	NotCanonical,
	/// A tensor has more than [`MAX_RANK`] dimensions.
	RankTooHigh,
	/// A tensor's data length is not its element count times its element size.
	DataLengthMismatch,
	/// A tensor the model declares is missing, or an undeclared one is present.
	NameMismatch,
	/// A tensor's element type is not the declared one.
	DTypeMismatch,
	/// A tensor's rank or a fixed dimension differs from the declaration.
	ShapeMismatch,
}

impl TensorMap {
	/// Decode `bytes` and check that they are canonical.
	pub fn decode_canonical(bytes: &[u8]) -> Result<Self, TensorError> {
		let map = Self::decode_all_with_depth_limit(DECODE_DEPTH_LIMIT, &mut &bytes[..])
			.map_err(|_| TensorError::Undecodable)?;
		map.ensure_canonical()?;
		Ok(map)
	}

	/// Sort into canonical order; fails if names repeat or any tensor is malformed.
	pub fn canonicalize(mut self) -> Result<Self, TensorError> {
		self.0.sort_by(|a, b| a.name.cmp(&b.name));
		self.ensure_canonical()?;
		Ok(self)
	}

	/// Check the canonical form: bounded count and rank, strictly sorted names, exact data.
	pub fn ensure_canonical(&self) -> Result<(), TensorError> {
		if self.0.len() > MAX_TENSORS as usize {
			return Err(TensorError::TooManyTensors);
		}
		if self.0.windows(2).any(|pair| pair[0].name >= pair[1].name) {
			return Err(TensorError::NotCanonical);
		}
		for tensor in &self.0 {
			if tensor.shape.len() > MAX_RANK as usize {
				return Err(TensorError::RankTooHigh);
			}
			let expected = tensor
				.element_count()
				.and_then(|count| count.checked_mul(u64::from(tensor.dtype.size_of())));
			if expected != Some(tensor.data.len() as u64) {
				return Err(TensorError::DataLengthMismatch);
			}
		}
		Ok(())
	}

	/// Check that these tensors are exactly the declared ones, with matching types and shapes.
	pub fn ensure_matches(&self, specs: &TensorSpecs) -> Result<(), TensorError> {
		if self.0.len() != specs.len() {
			return Err(TensorError::NameMismatch);
		}
		for spec in specs.iter() {
			let tensor = self.get(&spec.name).ok_or(TensorError::NameMismatch)?;
			tensor_matches(tensor, spec)?;
		}
		Ok(())
	}

	/// The tensor called `name`.
	pub fn get(&self, name: &[u8]) -> Option<&Tensor> {
		self.0
			.binary_search_by(|tensor| tensor.name.as_slice().cmp(name))
			.ok()
			.and_then(|index| self.0.get(index))
	}
}

/// Whether one tensor has the declared element type and shape.
fn tensor_matches(tensor: &Tensor, spec: &TensorSpec) -> Result<(), TensorError> {
	if tensor.dtype != spec.dtype {
		return Err(TensorError::DTypeMismatch);
	}
	if tensor.shape.len() != spec.shape.len()
		|| !spec.shape.iter().zip(&tensor.shape).all(|(dim, size)| dim.admits(*size))
	{
		return Err(TensorError::ShapeMismatch);
	}
	Ok(())
}

/// The most bytes a canonical encoding of tensors matching `specs` can take, or `None` when a
/// free axis (`Dim::Any`) leaves it unbounded. Every SCALE length prefix is counted at its
/// largest (5 bytes), so the bound is never below the real length.
pub fn max_canonical_len(specs: &[crate::TensorSpec]) -> Option<u64> {
	const PREFIX: u64 = 5;
	specs.iter().try_fold(PREFIX, |total, spec| {
		let elements = spec.shape.iter().try_fold(1u64, |count, dim| match dim {
			crate::Dim::Fixed(size) => count.checked_mul(u64::from(*size)),
			crate::Dim::Any => None,
		})?;
		let data = elements.checked_mul(u64::from(spec.dtype.size_of()))?;
		let name = PREFIX + spec.name.len() as u64;
		let shape = PREFIX + 4 * spec.shape.len() as u64;
		// Name, element type (one byte), shape, data.
		total.checked_add(name + 1 + shape + PREFIX)?.checked_add(data)
	})
}

#[cfg(test)]
mod tests {
	use super::*;
	use crate::{Dim, TensorSpec};

	fn tensor(name: &str, dtype: DType, shape: &[u32]) -> Tensor {
		let count: u32 = shape.iter().product();
		Tensor {
			name: name.as_bytes().to_vec(),
			dtype,
			shape: shape.to_vec(),
			data: vec![0; (count * dtype.size_of()) as usize],
		}
	}

	fn spec(name: &str, dtype: DType, shape: &[Dim]) -> TensorSpec {
		TensorSpec {
			name: name.as_bytes().to_vec().try_into().unwrap(),
			dtype,
			shape: shape.to_vec().try_into().unwrap(),
		}
	}

	#[test]
	fn the_canonical_length_bound_covers_every_matching_map_and_only_fixed_shapes() {
		let specs = [
			spec("probabilities", DType::F32, &[Dim::Fixed(1), Dim::Fixed(2)]),
			spec("state", DType::F32, &[Dim::Fixed(2), Dim::Fixed(1), Dim::Fixed(128)]),
		];
		let map = TensorMap(vec![
			tensor("probabilities", DType::F32, &[1, 2]),
			tensor("state", DType::F32, &[2, 1, 128]),
		]);
		let bound = max_canonical_len(&specs).unwrap();
		let actual = map.encode().len() as u64;
		assert!(actual <= bound, "{actual} bytes above the bound {bound}");
		// Only the length prefixes are over-counted: 4 bytes each of 7.
		assert!(bound - actual <= 7 * 4, "{bound} is loose for {actual} bytes");
		assert_eq!(
			max_canonical_len(&[spec("embedding", DType::I8, &[Dim::Any, Dim::Fixed(384)])]),
			None
		);
	}

	#[test]
	fn canonical_maps_round_trip() {
		let map = TensorMap(vec![tensor("b", DType::I64, &[2]), tensor("a", DType::F32, &[1, 3])])
			.canonicalize()
			.unwrap();
		assert_eq!(map.0[0].name, b"a");
		let bytes = map.encode();
		assert_eq!(TensorMap::decode_canonical(&bytes), Ok(map));
	}

	#[test]
	fn non_canonical_encodings_are_refused() {
		let unsorted = TensorMap(vec![tensor("b", DType::U8, &[1]), tensor("a", DType::U8, &[1])]);
		assert_eq!(TensorMap::decode_canonical(&unsorted.encode()), Err(TensorError::NotCanonical));
		let duplicate = TensorMap(vec![tensor("a", DType::U8, &[1]), tensor("a", DType::U8, &[1])]);
		assert_eq!(duplicate.clone().canonicalize(), Err(TensorError::NotCanonical));
		let mut short = tensor("a", DType::F32, &[2]);
		short.data.pop();
		assert_eq!(TensorMap(vec![short]).ensure_canonical(), Err(TensorError::DataLengthMismatch));
		let mut trailing = TensorMap(vec![tensor("a", DType::U8, &[1])]).encode();
		trailing.push(0);
		assert_eq!(TensorMap::decode_canonical(&trailing), Err(TensorError::Undecodable));
		assert_eq!(TensorMap::decode_canonical(&[0xff; 3]), Err(TensorError::Undecodable));
		let deep = tensor("a", DType::U8, &[1; 9]);
		assert_eq!(TensorMap(vec![deep]).ensure_canonical(), Err(TensorError::RankTooHigh));
		let many = TensorMap((0..9u8).map(|i| tensor(&format!("t{i}"), DType::U8, &[1])).collect());
		assert_eq!(many.ensure_canonical(), Err(TensorError::TooManyTensors));
	}

	#[test]
	fn overflowing_shapes_are_refused() {
		let huge = Tensor {
			name: b"a".to_vec(),
			dtype: DType::F64,
			shape: vec![u32::MAX; 3],
			data: vec![],
		};
		assert_eq!(TensorMap(vec![huge]).ensure_canonical(), Err(TensorError::DataLengthMismatch));
	}

	#[test]
	fn text_inputs_round_trip() {
		let map = TensorMap::text("héllo".as_bytes());
		assert_eq!(map.ensure_canonical(), Ok(()));
		let decoded = TensorMap::decode_canonical(&map.encode()).unwrap();
		assert_eq!(decoded.as_text(), Some("héllo".as_bytes()));
		assert_eq!(TensorMap(vec![tensor("text", DType::I8, &[3])]).as_text(), None);
		assert_eq!(TensorMap(vec![tensor("txt", DType::U8, &[3])]).as_text(), None);
	}

	#[test]
	fn maps_are_checked_against_specs() {
		let specs: crate::TensorSpecs = vec![
			spec("image", DType::F32, &[Dim::Any, Dim::Fixed(3)]),
			spec("mask", DType::Bool, &[Dim::Any]),
		]
		.try_into()
		.unwrap();
		let good = TensorMap(vec![
			tensor("image", DType::F32, &[5, 3]),
			tensor("mask", DType::Bool, &[5]),
		])
		.canonicalize()
		.unwrap();
		assert_eq!(good.ensure_matches(&specs), Ok(()));

		let missing = TensorMap(vec![tensor("image", DType::F32, &[5, 3])]);
		assert_eq!(missing.ensure_matches(&specs), Err(TensorError::NameMismatch));
		let renamed = TensorMap(vec![
			tensor("image", DType::F32, &[5, 3]),
			tensor("masks", DType::Bool, &[5]),
		]);
		assert_eq!(renamed.ensure_matches(&specs), Err(TensorError::NameMismatch));
		let retyped = TensorMap(vec![
			tensor("image", DType::F64, &[5, 3]),
			tensor("mask", DType::Bool, &[5]),
		]);
		assert_eq!(retyped.ensure_matches(&specs), Err(TensorError::DTypeMismatch));
		let reshaped = TensorMap(vec![
			tensor("image", DType::F32, &[5, 4]),
			tensor("mask", DType::Bool, &[5]),
		]);
		assert_eq!(reshaped.ensure_matches(&specs), Err(TensorError::ShapeMismatch));
		let rank =
			TensorMap(vec![tensor("image", DType::F32, &[15]), tensor("mask", DType::Bool, &[5])]);
		assert_eq!(rank.ensure_matches(&specs), Err(TensorError::ShapeMismatch));
	}

	#[test]
	fn the_attestation_payload_binds_every_field() {
		use crate::{AttestationPayload, ATTESTATION_DOMAIN};
		use sp_core::H256;
		let base = AttestationPayload::new(
			H256::repeat_byte(1),
			7,
			H256::repeat_byte(2),
			b"tract/generic".to_vec().try_into().unwrap(),
			H256::repeat_byte(3),
			H256::repeat_byte(4),
		);
		assert_eq!(base.domain, ATTESTATION_DOMAIN);
		let variants = [
			AttestationPayload { genesis_hash: H256::repeat_byte(9), ..base.clone() },
			AttestationPayload { request_id: 8, ..base.clone() },
			AttestationPayload { model_id: H256::repeat_byte(9), ..base.clone() },
			AttestationPayload {
				execution_profile: b"tract/avx2".to_vec().try_into().unwrap(),
				..base.clone()
			},
			AttestationPayload { input_hash: H256::repeat_byte(9), ..base.clone() },
			AttestationPayload { output_hash: H256::repeat_byte(9), ..base.clone() },
		];
		for variant in variants {
			assert_ne!(variant.encode(), base.encode());
		}
	}
}

//! Reading a GGUF file: its metadata, its tensor directory and each tensor's bytes.
//!
//! The file is mapped, not read: a tensor's bytes are a slice of the mapping, so the quantized
//! weights stay in the page cache once and are never copied. Every length, count, offset and
//! shape in the file is checked against the file's size before anything is allocated or
//! sliced, so a truncated or hostile file is refused with a [`GgufError`] instead of a panic or
//! an allocation the size of a lie.
//!
//! Layout (version 3, little-endian): the magic `GGUF`, the version, the tensor count, the
//! metadata count; the metadata as key, type, value; the tensor directory as name, rank,
//! dimensions (the fastest-moving first), type, offset; then, aligned to `general.alignment`
//! (32 by default), the tensor data, each tensor at its offset from the data's start.

use crate::quant::GgmlType;
use std::collections::BTreeMap;
#[cfg(not(target_family = "wasm"))]
use std::path::Path;

/// What is wrong with a GGUF file.
#[derive(Debug, thiserror::Error)]
pub enum GgufError {
	/// The file could not be opened or mapped.
	#[error("reading {path}: {source}")]
	Io {
		/// The file.
		path: String,
		/// Why.
		source: std::io::Error,
	},
	/// The file does not start with `GGUF`.
	#[error("not a GGUF file (magic {0:02x?})")]
	NotGguf([u8; 4]),
	/// A version this reader does not know.
	#[error("GGUF version {0} is not supported (2 and 3 are)")]
	UnsupportedVersion(u32),
	/// The file ends inside a header field.
	#[error("the file ends at byte {at} inside {what}")]
	Truncated {
		/// Where the field starts.
		at: usize,
		/// Which field.
		what: &'static str,
	},
	/// A metadata value type code this reader does not know.
	#[error("metadata {key:?} has unknown value type {code}")]
	UnknownValueType {
		/// The key.
		key: String,
		/// The code.
		code: u32,
	},
	/// A string that is not UTF-8.
	#[error("a string at byte {0} is not UTF-8")]
	NotUtf8(usize),
	/// Arrays nested in arrays, which GGUF files do not use.
	#[error("metadata {0:?} nests arrays")]
	NestedArray(String),
	/// A tensor whose type this reader does not know.
	#[error("tensor {name:?} has unknown type {code}")]
	UnknownTensorType {
		/// The tensor.
		name: String,
		/// The type code.
		code: u32,
	},
	/// A tensor whose shape is not whole blocks of its type, or of an impossible rank or size.
	#[error("tensor {name:?}: {why}")]
	BadTensor {
		/// The tensor.
		name: String,
		/// Why.
		why: String,
	},
	/// Two tensors of the same name.
	#[error("tensor {0:?} appears twice")]
	DuplicateTensor(String),
	/// An alignment that is zero or not a power of two.
	#[error("general.alignment {0} is not a power of two")]
	BadAlignment(u64),
}

/// A metadata value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
	/// An unsigned integer (u8, u16, u32 or u64 in the file).
	Unsigned(u64),
	/// A signed integer (i8, i16, i32 or i64 in the file).
	Signed(i64),
	/// A float (f32 or f64 in the file).
	Float(f64),
	/// A boolean.
	Bool(bool),
	/// A string.
	String(String),
	/// An array of values of one type.
	Array(Vec<Value>),
}

impl Value {
	/// This value as an unsigned integer, if it is a non-negative integer.
	pub fn as_u64(&self) -> Option<u64> {
		match self {
			Self::Unsigned(value) => Some(*value),
			Self::Signed(value) => u64::try_from(*value).ok(),
			_ => None,
		}
	}

	/// This value as a float, if it is a number.
	pub fn as_f64(&self) -> Option<f64> {
		match self {
			Self::Float(value) => Some(*value),
			Self::Unsigned(value) => Some(*value as f64),
			Self::Signed(value) => Some(*value as f64),
			_ => None,
		}
	}

	/// This value as a string, if it is one.
	pub fn as_str(&self) -> Option<&str> {
		match self {
			Self::String(value) => Some(value),
			_ => None,
		}
	}

	/// This value as an array, if it is one.
	pub fn as_array(&self) -> Option<&[Value]> {
		match self {
			Self::Array(values) => Some(values),
			_ => None,
		}
	}
}

/// One tensor of the directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorInfo {
	/// Its name, e.g. `blk.0.attn_q.weight`.
	pub name: String,
	/// Its dimensions, the fastest-moving first (a row's length, then the rows).
	pub dims: Vec<u64>,
	/// Its element type.
	pub ggml_type: GgmlType,
	/// Where its bytes start, from the start of the file.
	pub start: usize,
	/// How many bytes it takes.
	pub len: usize,
}

impl TensorInfo {
	/// Elements in all.
	pub fn elements(&self) -> u64 {
		self.dims.iter().product()
	}

	/// Elements per row (the first dimension).
	pub fn row_len(&self) -> usize {
		self.dims.first().copied().unwrap_or(1) as usize
	}

	/// Rows (the product of the other dimensions).
	pub fn rows(&self) -> usize {
		self.dims.iter().skip(1).product::<u64>() as usize
	}
}

/// A GGUF file's bytes: mapped from disk, or held in memory (where there is no file system,
/// as in a browser).
enum FileBytes {
	/// A read-only mapping.
	#[cfg(not(target_family = "wasm"))]
	Mapped(memmap2::Mmap),
	/// Bytes in memory.
	Owned(Vec<u8>),
}

impl core::ops::Deref for FileBytes {
	type Target = [u8];

	fn deref(&self) -> &[u8] {
		match self {
			#[cfg(not(target_family = "wasm"))]
			Self::Mapped(map) => map,
			Self::Owned(bytes) => bytes,
		}
	}
}

/// A GGUF file, its metadata and its tensor directory.
pub struct GgufFile {
	map: FileBytes,
	/// The format version.
	pub version: u32,
	/// Every metadata key and its value.
	pub metadata: BTreeMap<String, Value>,
	/// The tensors, in the file's order.
	pub tensors: Vec<TensorInfo>,
}

impl GgufFile {
	/// A GGUF file held in memory, its header read.
	pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, GgufError> {
		let (version, metadata, tensors) = parse(&bytes)?;
		Ok(Self { map: FileBytes::Owned(bytes), version, metadata, tensors })
	}

	/// Map the file at `path` and read its header.
	#[cfg(not(target_family = "wasm"))]
	pub fn open(path: &Path) -> Result<Self, GgufError> {
		let io = |source| GgufError::Io { path: path.display().to_string(), source };
		let file = std::fs::File::open(path).map_err(io)?;
		// SAFETY: the mapping is read-only; the file is a model artifact in the store, which
		// is written once under its content hash and not modified while mapped.
		let map = unsafe { memmap2::Mmap::map(&file) }.map_err(io)?;
		let (version, metadata, tensors) = parse(&map)?;
		Ok(Self { map: FileBytes::Mapped(map), version, metadata, tensors })
	}

	/// The value of metadata `key`, if present.
	pub fn get(&self, key: &str) -> Option<&Value> {
		self.metadata.get(key)
	}

	/// The tensor called `name`, if present.
	pub fn tensor(&self, name: &str) -> Option<&TensorInfo> {
		self.tensors.iter().find(|tensor| tensor.name == name)
	}

	/// The bytes of `tensor` (checked to lie within the file when the file was opened).
	pub fn data(&self, tensor: &TensorInfo) -> &[u8] {
		&self.map[tensor.start..tensor.start + tensor.len]
	}
}

/// A GGUF header: the version, the metadata, the tensor directory.
pub type Header = (u32, BTreeMap<String, Value>, Vec<TensorInfo>);

/// Parse a whole GGUF file's header: version, metadata, tensor directory (with each tensor's
/// place checked against `bytes`).
pub fn parse(bytes: &[u8]) -> Result<Header, GgufError> {
	let mut cursor = Cursor { bytes, at: 0 };
	let magic: [u8; 4] = cursor.take(4, "the magic")?.try_into().expect("four bytes");
	if &magic != b"GGUF" {
		return Err(GgufError::NotGguf(magic));
	}
	let version = cursor.u32("the version")?;
	if !(2..=3).contains(&version) {
		return Err(GgufError::UnsupportedVersion(version));
	}
	let tensor_count = cursor.count("the tensor count", 8)?;
	let metadata_count = cursor.count("the metadata count", 8)?;
	let mut metadata = BTreeMap::new();
	for _ in 0..metadata_count {
		let key = cursor.string("a metadata key")?;
		let code = cursor.u32("a metadata type")?;
		let value = cursor.value(&key, code, true)?;
		metadata.insert(key, value);
	}
	let mut directory = Vec::with_capacity(tensor_count);
	for _ in 0..tensor_count {
		let name = cursor.string("a tensor name")?;
		let rank = cursor.u32("a tensor rank")?;
		if !(1..=4).contains(&rank) {
			return Err(GgufError::BadTensor { name, why: format!("rank {rank}") });
		}
		let dims = (0..rank).map(|_| cursor.u64("a dimension")).collect::<Result<Vec<_>, _>>()?;
		let code = cursor.u32("a tensor type")?;
		let ggml_type = GgmlType::from_code(code)
			.ok_or_else(|| GgufError::UnknownTensorType { name: name.clone(), code })?;
		let offset = cursor.u64("a tensor offset")?;
		directory.push((name, dims, ggml_type, offset));
	}
	let alignment = metadata.get("general.alignment").and_then(Value::as_u64).unwrap_or(32);
	if alignment == 0 || !alignment.is_power_of_two() {
		return Err(GgufError::BadAlignment(alignment));
	}
	let data_start = (cursor.at as u64)
		.div_ceil(alignment)
		.checked_mul(alignment)
		.ok_or(GgufError::BadAlignment(alignment))?;
	let mut tensors: Vec<TensorInfo> = Vec::with_capacity(directory.len());
	for (name, dims, ggml_type, offset) in directory {
		if tensors.iter().any(|tensor| tensor.name == name) {
			return Err(GgufError::DuplicateTensor(name));
		}
		let bad = |why: String| GgufError::BadTensor { name: name.clone(), why };
		let elements = dims
			.iter()
			.try_fold(1u64, |product, dim| product.checked_mul(*dim))
			.ok_or_else(|| bad(format!("dimensions {dims:?} overflow")))?;
		let row = dims[0];
		if row % ggml_type.block_len() as u64 != 0 || elements == 0 {
			return Err(bad(format!(
				"rows of {row} are not whole blocks of {} for {ggml_type:?}",
				ggml_type.block_len()
			)));
		}
		let len = (elements / ggml_type.block_len() as u64)
			.checked_mul(ggml_type.block_bytes() as u64)
			.ok_or_else(|| bad(format!("{elements} elements overflow a size")))?;
		let start = data_start
			.checked_add(offset)
			.filter(|start| start % alignment == 0)
			.ok_or_else(|| bad(format!("offset {offset} is not aligned to {alignment}")))?;
		let end =
			start.checked_add(len).filter(|end| *end <= bytes.len() as u64).ok_or_else(|| {
				bad(format!("{len} bytes from {start} run past the file's {} bytes", bytes.len()))
			})?;
		tensors.push(TensorInfo {
			name,
			dims,
			ggml_type,
			start: start as usize,
			len: (end - start) as usize,
		});
	}
	Ok((version, metadata, tensors))
}

/// A reading position in the header.
struct Cursor<'a> {
	bytes: &'a [u8],
	at: usize,
}

impl<'a> Cursor<'a> {
	fn take(&mut self, len: usize, what: &'static str) -> Result<&'a [u8], GgufError> {
		let bytes = self
			.at
			.checked_add(len)
			.and_then(|end| self.bytes.get(self.at..end))
			.ok_or(GgufError::Truncated { at: self.at, what })?;
		self.at += len;
		Ok(bytes)
	}

	fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], GgufError> {
		Ok(self.take(N, what)?.try_into().expect("N bytes"))
	}

	fn u32(&mut self, what: &'static str) -> Result<u32, GgufError> {
		Ok(u32::from_le_bytes(self.array(what)?))
	}

	fn u64(&mut self, what: &'static str) -> Result<u64, GgufError> {
		Ok(u64::from_le_bytes(self.array(what)?))
	}

	/// A count of items each at least `item_bytes` long: at most what the rest of the file
	/// could hold, so that a lie cannot make the reader allocate more than the file's size.
	fn count(&mut self, what: &'static str, item_bytes: usize) -> Result<usize, GgufError> {
		let at = self.at;
		let count = self.u64(what)?;
		let left = (self.bytes.len() - self.at) as u64;
		if count > left / item_bytes as u64 {
			return Err(GgufError::Truncated { at, what });
		}
		Ok(count as usize)
	}

	fn string(&mut self, what: &'static str) -> Result<String, GgufError> {
		let len = self.count(what, 1)?;
		let at = self.at;
		let bytes = self.take(len, what)?;
		String::from_utf8(bytes.to_vec()).map_err(|_| GgufError::NotUtf8(at))
	}

	fn value(&mut self, key: &str, code: u32, may_nest: bool) -> Result<Value, GgufError> {
		const WHAT: &str = "a metadata value";
		Ok(match code {
			0 => Value::Unsigned(u64::from(self.array::<1>(WHAT)?[0])),
			1 => Value::Signed(i64::from(self.array::<1>(WHAT)?[0] as i8)),
			2 => Value::Unsigned(u64::from(u16::from_le_bytes(self.array(WHAT)?))),
			3 => Value::Signed(i64::from(i16::from_le_bytes(self.array(WHAT)?))),
			4 => Value::Unsigned(u64::from(self.u32(WHAT)?)),
			5 => Value::Signed(i64::from(i32::from_le_bytes(self.array(WHAT)?))),
			6 => Value::Float(f64::from(f32::from_le_bytes(self.array(WHAT)?))),
			7 => Value::Bool(self.array::<1>(WHAT)?[0] != 0),
			8 => Value::String(self.string(WHAT)?),
			9 => {
				if !may_nest {
					return Err(GgufError::NestedArray(key.into()));
				}
				let item_code = self.u32(WHAT)?;
				let count = self.count(WHAT, 1)?;
				let mut items = Vec::with_capacity(count.min(1 << 20));
				for _ in 0..count {
					items.push(self.value(key, item_code, false)?);
				}
				Value::Array(items)
			},
			10 => Value::Unsigned(self.u64(WHAT)?),
			11 => Value::Signed(i64::from_le_bytes(self.array(WHAT)?)),
			12 => Value::Float(f64::from_le_bytes(self.array(WHAT)?)),
			_ => return Err(GgufError::UnknownValueType { key: key.into(), code }),
		})
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	/// A GGUF header with one metadata string and one F32 tensor of `dims`, and its data.
	fn small_file(dims: &[u64], data_len: usize) -> Vec<u8> {
		let mut bytes = b"GGUF".to_vec();
		bytes.extend(3u32.to_le_bytes());
		bytes.extend(1u64.to_le_bytes());
		bytes.extend(1u64.to_le_bytes());
		let string = |bytes: &mut Vec<u8>, text: &str| {
			bytes.extend((text.len() as u64).to_le_bytes());
			bytes.extend(text.as_bytes());
		};
		string(&mut bytes, "general.architecture");
		bytes.extend(8u32.to_le_bytes());
		string(&mut bytes, "gemma3");
		string(&mut bytes, "weights");
		bytes.extend((dims.len() as u32).to_le_bytes());
		for dim in dims {
			bytes.extend(dim.to_le_bytes());
		}
		bytes.extend(0u32.to_le_bytes());
		bytes.extend(0u64.to_le_bytes());
		bytes.resize(bytes.len().div_ceil(32) * 32, 0);
		bytes.extend((0..data_len).map(|i| i as u8));
		bytes
	}

	#[test]
	fn a_small_file_reads_back() {
		let bytes = small_file(&[4, 2], 32);
		let (version, metadata, tensors) = parse(&bytes).unwrap();
		assert_eq!(version, 3);
		assert_eq!(metadata["general.architecture"], Value::String("gemma3".into()));
		assert_eq!(tensors.len(), 1);
		assert_eq!((tensors[0].row_len(), tensors[0].rows(), tensors[0].len), (4, 2, 32));
		assert_eq!(tensors[0].start % 32, 0);
	}

	#[test]
	fn every_truncation_is_refused_with_an_error() {
		let bytes = small_file(&[4, 2], 32);
		for len in 0..bytes.len() {
			assert!(parse(&bytes[..len]).is_err(), "a file cut at {len} bytes was accepted");
		}
	}

	#[test]
	fn hostile_counts_and_shapes_are_refused() {
		let mut bytes = small_file(&[4, 2], 32);
		bytes[..4].copy_from_slice(b"GGML");
		assert!(matches!(parse(&bytes), Err(GgufError::NotGguf(_))));
		// A tensor count of 2^60: refused before any allocation.
		let mut bytes = small_file(&[4, 2], 32);
		bytes[8..16].copy_from_slice(&(1u64 << 60).to_le_bytes());
		assert!(matches!(parse(&bytes), Err(GgufError::Truncated { .. })));
		// Dimensions whose product overflows.
		let bytes = small_file(&[u64::MAX, 3], 32);
		assert!(matches!(parse(&bytes), Err(GgufError::BadTensor { .. })));
		// More data than the file holds.
		let bytes = small_file(&[4, 4], 32);
		assert!(matches!(parse(&bytes), Err(GgufError::BadTensor { .. })));
	}

	#[test]
	fn a_flipped_bit_gives_an_error_or_tensors_inside_the_file() {
		let bytes = small_file(&[8, 2], 64);
		let mut refused = 0;
		for at in 0..bytes.len() {
			for bit in 0..8 {
				let mut mutated = bytes.clone();
				mutated[at] ^= 1 << bit;
				match parse(&mutated) {
					Ok((_, _, tensors)) => {
						for tensor in tensors {
							assert!(tensor.start + tensor.len <= mutated.len(), "{tensor:?}");
						}
					},
					Err(_) => refused += 1,
				}
			}
		}
		assert!(refused > 0, "some flips must break the header");
	}
}

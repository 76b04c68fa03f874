//! The content-addressed model store: `<dir>/<model id hex>.onnx`, checked against its hash on
//! every load, fetched from the model's artifact URI when missing.

use sp_core::H256;
use std::{
	io::Read,
	path::{Path, PathBuf},
	time::Duration,
};
use verity_primitives::{content_hash, ModelId};

/// The largest artifact the store fetches or loads.
pub const MAX_ARTIFACT_BYTES: u64 = 256 * 1024 * 1024;

/// How long fetching one artifact over HTTP may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(120);

/// Why an artifact is not available.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
	/// The artifact is not in the store and no URI was given to fetch it from.
	#[error("model {0:?} is not in the model store and no artifact URI was given")]
	UnknownModel(ModelId),
	/// The URI's scheme is not `file://`, `http://` or `https://`.
	#[error("artifact URI {0:?} is not file://, http:// or https://")]
	UnsupportedUri(String),
	/// Fetching or reading failed.
	#[error("cannot read artifact from {uri}: {reason}")]
	Unreadable {
		/// Where from.
		uri: String,
		/// Why.
		reason: String,
	},
	/// The artifact is larger than [`MAX_ARTIFACT_BYTES`].
	#[error("artifact from {0} is larger than {MAX_ARTIFACT_BYTES} bytes")]
	TooLarge(String),
	/// Keeping the artifact would take the store past its disk quota.
	#[error(
		"the artifact store is full: {stored} bytes stored, {incoming} more would pass its \
		 quota of {quota} bytes"
	)]
	QuotaExceeded {
		/// Bytes the store holds.
		stored: u64,
		/// Bytes of the artifact refused.
		incoming: u64,
		/// The quota.
		quota: u64,
	},
	/// The bytes do not hash to the model id: not the registered artifact.
	#[error("artifact for model {expected:?} hashes to {actual:?}: refusing it")]
	HashMismatch {
		/// The model id, i.e. the expected hash.
		expected: ModelId,
		/// What the bytes hash to.
		actual: H256,
	},
}

/// A directory of artifacts named by their hash, holding at most `quota` bytes.
///
/// A fetch that would pass the quota is refused rather than evicting: an artifact in the
/// store may be one that was imported and cannot be fetched again, so freeing room is the
/// operator's call.
#[derive(Clone, Debug)]
pub struct ModelStore {
	dir: PathBuf,
	quota: u64,
}

impl ModelStore {
	/// A store in `dir`, created if missing.
	pub fn open(dir: impl Into<PathBuf>) -> std::io::Result<Self> {
		let dir = dir.into();
		std::fs::create_dir_all(&dir)?;
		Ok(Self { dir, quota: u64::MAX })
	}

	/// The same store, keeping at most `quota` bytes of artifacts.
	pub fn with_quota(mut self, quota: u64) -> Self {
		self.quota = quota;
		self
	}

	/// Bytes of the artifacts in the store.
	pub fn stored_bytes(&self) -> u64 {
		let Ok(entries) = std::fs::read_dir(&self.dir) else { return 0 };
		entries
			.filter_map(|entry| entry.ok())
			.filter(|entry| entry.file_name().to_string_lossy().ends_with(".onnx"))
			.filter_map(|entry| entry.metadata().ok())
			.map(|metadata| metadata.len())
			.sum()
	}

	/// Where the artifact of `model_id` lives: `<id>.gguf` for a GGUF model, `<id>.onnx`
	/// otherwise.
	pub fn path_of(&self, model_id: &ModelId) -> PathBuf {
		let gguf = self.dir.join(format!("{}.gguf", hex(model_id)));
		if gguf.exists() {
			return gguf;
		}
		self.dir.join(format!("{}.onnx", hex(model_id)))
	}

	/// Where an artifact of these bytes is written: named by its id, with the extension of
	/// its format.
	fn path_for(&self, model_id: &ModelId, bytes: &[u8]) -> PathBuf {
		let extension = if bytes.starts_with(b"GGUF") { "gguf" } else { "onnx" };
		self.dir.join(format!("{}.{extension}", hex(model_id)))
	}

	/// The ids of every artifact in the store (unchecked: loading checks).
	pub fn list(&self) -> Vec<ModelId> {
		let Ok(entries) = std::fs::read_dir(&self.dir) else { return Vec::new() };
		let mut ids: Vec<ModelId> = entries
			.filter_map(|entry| entry.ok())
			.filter_map(|entry| {
				let name = entry.file_name().into_string().ok()?;
				let hex = name.strip_suffix(".onnx").or_else(|| name.strip_suffix(".gguf"))?;
				let bytes = sp_core::bytes::from_hex(hex).ok()?;
				(bytes.len() == 32).then(|| H256::from_slice(&bytes))
			})
			.collect();
		ids.sort();
		ids
	}

	/// Add an artifact read from `path`, named by its hash; returns the hash.
	pub fn import(&self, path: &Path) -> Result<ModelId, StoreError> {
		let uri = path.display().to_string();
		let bytes = read_bounded(std::fs::File::open(path), &uri)?;
		let model_id = content_hash(&bytes);
		if !self.path_of(&model_id).exists() {
			self.check_quota(bytes.len() as u64)?;
		}
		self.write(&model_id, &bytes)?;
		Ok(model_id)
	}

	/// The artifact of `model_id`, fetched from `uri` into the store if missing. The bytes are
	/// checked against the id on every load; a mismatching file is refused (and, if it was
	/// just fetched, not kept).
	pub fn load(&self, model_id: &ModelId, uri: Option<&str>) -> Result<Vec<u8>, StoreError> {
		let path = self.path_of(model_id);
		if path.exists() {
			let bytes = read_bounded(std::fs::File::open(&path), &path.display().to_string())?;
			check_hash(model_id, &bytes)?;
			return Ok(bytes);
		}
		let uri = uri.ok_or(StoreError::UnknownModel(*model_id))?;
		let bytes = fetch(uri)?;
		check_hash(model_id, &bytes)?;
		self.check_quota(bytes.len() as u64)?;
		self.write(model_id, &bytes)?;
		Ok(bytes)
	}

	/// Refuse `incoming` more bytes if they would pass the quota.
	fn check_quota(&self, incoming: u64) -> Result<(), StoreError> {
		let stored = self.stored_bytes();
		if stored.saturating_add(incoming) > self.quota {
			return Err(StoreError::QuotaExceeded { stored, incoming, quota: self.quota });
		}
		Ok(())
	}

	fn write(&self, model_id: &ModelId, bytes: &[u8]) -> Result<(), StoreError> {
		let path = self.path_for(model_id, bytes);
		let partial = path.with_extension("partial");
		std::fs::write(&partial, bytes)
			.and_then(|()| std::fs::rename(&partial, &path))
			.map_err(|error| StoreError::Unreadable {
				uri: path.display().to_string(),
				reason: error.to_string(),
			})
	}
}

/// `0x`-less lower-case hex of a hash.
pub fn hex(hash: &H256) -> String {
	sp_core::bytes::to_hex(hash.as_bytes(), false)
		.trim_start_matches("0x")
		.to_string()
}

fn check_hash(model_id: &ModelId, bytes: &[u8]) -> Result<(), StoreError> {
	let actual = content_hash(bytes);
	if actual != *model_id {
		return Err(StoreError::HashMismatch { expected: *model_id, actual });
	}
	Ok(())
}

/// Fetch an artifact from a `file://`, `http://` or `https://` URI.
fn fetch(uri: &str) -> Result<Vec<u8>, StoreError> {
	if let Some(path) = uri.strip_prefix("file://") {
		return read_bounded(std::fs::File::open(path), uri);
	}
	if !(uri.starts_with("http://") || uri.starts_with("https://")) {
		return Err(StoreError::UnsupportedUri(uri.to_string()));
	}
	let agent: ureq::Agent =
		ureq::Agent::config_builder().timeout_global(Some(FETCH_TIMEOUT)).build().into();
	let response = agent.get(uri).call().map_err(|error| StoreError::Unreadable {
		uri: uri.to_string(),
		reason: error.to_string(),
	})?;
	read_bounded(Ok(response.into_body().into_reader()), uri)
}

/// Read at most [`MAX_ARTIFACT_BYTES`] bytes.
fn read_bounded(reader: std::io::Result<impl Read>, uri: &str) -> Result<Vec<u8>, StoreError> {
	let unreadable = |error: std::io::Error| StoreError::Unreadable {
		uri: uri.to_string(),
		reason: error.to_string(),
	};
	let mut bytes = Vec::new();
	reader
		.map_err(unreadable)?
		.take(MAX_ARTIFACT_BYTES + 1)
		.read_to_end(&mut bytes)
		.map_err(unreadable)?;
	if bytes.len() as u64 > MAX_ARTIFACT_BYTES {
		return Err(StoreError::TooLarge(uri.to_string()));
	}
	Ok(bytes)
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn artifacts_are_content_addressed_and_checked() {
		let dir = tempfile::tempdir().unwrap();
		let store = ModelStore::open(dir.path().join("store")).unwrap();
		let source = dir.path().join("model.onnx");
		std::fs::write(&source, b"not really onnx").unwrap();
		let id = content_hash(b"not really onnx");

		assert!(matches!(store.load(&id, None), Err(StoreError::UnknownModel(_))));
		let uri = format!("file://{}", source.display());
		assert_eq!(store.load(&id, Some(&uri)).unwrap(), b"not really onnx");
		assert_eq!(store.list(), vec![id]);

		// A tampered file in the store is refused.
		std::fs::write(store.path_of(&id), b"tampered").unwrap();
		assert!(matches!(store.load(&id, None), Err(StoreError::HashMismatch { .. })));

		// A URI serving other bytes is refused and nothing is kept.
		let other = H256::repeat_byte(1);
		assert!(matches!(store.load(&other, Some(&uri)), Err(StoreError::HashMismatch { .. })));
		assert!(!store.path_of(&other).exists());
		assert!(matches!(store.load(&other, Some("ftp://x")), Err(StoreError::UnsupportedUri(_))));
	}

	#[test]
	fn a_fetch_past_the_quota_is_refused_and_keeps_nothing() {
		let dir = tempfile::tempdir().unwrap();
		let store = ModelStore::open(dir.path().join("store")).unwrap().with_quota(20);
		let write = |name: &str, bytes: &[u8]| {
			let path = dir.path().join(name);
			std::fs::write(&path, bytes).unwrap();
			(content_hash(bytes), format!("file://{}", path.display()))
		};
		let (first, first_uri) = write("first.onnx", b"twelve bytes");
		let (second, second_uri) = write("second.onnx", b"another twelve");
		assert!(store.load(&first, Some(&first_uri)).is_ok());
		assert_eq!(store.stored_bytes(), 12);
		match store.load(&second, Some(&second_uri)) {
			Err(StoreError::QuotaExceeded { stored: 12, incoming: 14, quota: 20 }) => {},
			other => panic!("expected the quota to refuse, got {other:?}"),
		}
		assert!(!store.path_of(&second).exists());
		assert_eq!(store.list(), vec![first], "what was stored stays");
	}
}

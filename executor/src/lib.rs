//! Verity's CPU executor: runs registered ONNX models with tract, byte for byte reproducibly.
//!
//! - [`profile`]: the execution profile a process runs under (engine, version, kernel path),
//!   whose id is signed into every attestation.
//! - [`tensors`]: the canonical tensor encoding to and from tract tensors.
//! - [`store`]: the content-addressed model store, with fetching and a memory-bounded cache.
//! - [`planning`]: planning and running an artifact's bytes, the part every build shares (the
//!   browser's verifier too, built without the `host` feature).
//! - [`engine`]: models from the store, their plans cached.
//! - [`ops`]: Verity's own implementations of tract operators that are slow on small tensors,
//!   with tract's arithmetic.
//! - [`text`]: text models, which carry their tokenizer and take UTF-8 text.
//! - [`generation`]: text generation with GGUF language models on Verity's own bit-exact
//!   decoder.
//! - [`server`]: the HTTP API (`POST /v1/infer`, `GET /v1/models`, `GET /health`).

#[cfg(feature = "host")]
pub mod engine;
pub mod generation;
pub mod ops;
pub mod planning;
#[cfg(feature = "host")]
pub mod profile;
#[cfg(feature = "host")]
pub mod server;
#[cfg(feature = "host")]
pub mod store;
pub mod tensors;
pub mod text;

#[cfg(feature = "host")]
pub use engine::{Engine, InferenceOutput};
#[cfg(feature = "host")]
pub use profile::ExecutionProfile;
#[cfg(feature = "host")]
pub use store::ModelStore;

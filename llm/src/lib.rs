//! Verity's own decoder for an open language model, Gemma 3 270M in GGUF, written to give the
//! same bits on every CPU.
//!
//! This crate has one job: turn a GGUF file into tokens, bit for bit the same wherever it
//! runs. Its parts:
//!
//! - [`gguf`]: reading a GGUF file (metadata, tensor directory, tensor bytes), refusing a corrupt
//!   one with a named error.
//! - [`quant`]: the quantized block formats the model's tensors use (Q8_0, Q5_0, Q4_K, Q6_K, and
//!   plain F32/F16), with their exact dequantization.
//! - [`tokenizer`]: Gemma's SentencePiece tokenizer from the file's metadata.
//! - [`kernels`]: the arithmetic contract below, in code: activation quantization, integer
//!   block dot products on each instruction set ([`kernels::KernelPath`]: scalar, AVX2,
//!   AVX-512 VNNI), fixed-order sums, norms, softmax, GELU.
//! - [`model`]: Gemma 3's forward pass, weights kept quantized, one position at a time or many
//!   in one batched pass, its matrix products split among threads.
//!
//! The arithmetic contract the decoder is built to, and its tests enforce: activations
//! quantized per row deterministically; block dot products in integers (exact, so any SIMD
//! computes them: every path is tested against the scalar sums, extremes included); the float
//! step that scales and adds block sums in one fixed order per output, independent of the
//! instruction set, the thread count and the number of positions in a pass (the tests compare
//! the logits' bytes across all three, and recorded hashes of them); transcendental functions
//! from pure-Rust code identical on every target, never the platform's libm; no approximate
//! reciprocal or square-root instructions; fixed-order reductions for norms and softmax;
//! attention over absolute positions.

pub mod gguf;
pub mod kernels;
pub mod model;
pub mod quant;
pub mod tokenizer;

//! Types shared by every part of Verity: the runtime, the node, the executor and the client.
//!
//! Anything that two parties must agree on byte for byte (a model's metadata, the bounds the
//! chain enforces) is defined here once, so that an off-chain program that depends on this crate
//! encodes exactly what the chain decodes.

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub mod attestation;
pub mod generation;
pub mod memory;
pub mod model;
pub mod outcome;
pub mod tensor;

pub use attestation::*;
pub use generation::*;
pub use memory::*;
pub use model::*;
pub use outcome::*;
pub use tensor::*;

//! The runtime's calls, events, storage items and constants as Rust types, generated when the
//! client is compiled, from `metadata.scale`: the runtime's metadata. The runtime's test
//! `the_clients_metadata_is_the_runtimes` fails when that file falls behind the runtime, and
//! `make metadata` writes it anew; a call, event or field the runtime renames then fails to
//! compile here instead of failing at run time, and subxt refuses to submit a call whose shape
//! differs from the connected node's.

/// The generated interface of the Verity runtime.
#[subxt::subxt(
	runtime_metadata_path = "metadata.scale",
	derive_for_type(
		path = "verity_primitives::model::ModelMetadata",
		derive = "::subxt::ext::codec::Decode",
		recursive
	),
	derive_for_type(
		path = "verity_primitives::attestation::executor_crypto::Public",
		derive = "::subxt::ext::codec::Decode",
		recursive
	),
	derive_for_type(
		path = "verity_primitives::attestation::executor_crypto::Signature",
		derive = "::subxt::ext::codec::Decode",
		recursive
	)
)]
pub mod verity {}

pub use verity::runtime_types;

/// A value of the primitives' type `From`, as the generated type `To` of the same SCALE shape
/// (the generated types are decoded, so a shape that drifted apart is an error, not a guess).
pub fn convert<To: codec::Decode>(value: &impl codec::Encode) -> Result<To, crate::CliError> {
	To::decode(&mut &value.encode()[..]).map_err(|error| {
		crate::CliError::new(format!("the runtime's types differ from this client's: {error}"))
	})
}

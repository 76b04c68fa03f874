//! The built-in chain specifications: `dev`, `local` and `local4`.

use sc_service::ChainType;
use verity_runtime::WASM_BINARY;

/// A Verity chain specification.
pub type ChainSpec = sc_service::GenericChainSpec;

/// The token's properties, as wallets and explorers display it.
fn token_properties() -> sc_service::Properties {
	let mut properties = sc_service::Properties::new();
	properties.insert("tokenSymbol".into(), "VRT".into());
	properties.insert("tokenDecimals".into(), 12.into());
	properties.insert("ss58Format".into(), 42.into());
	properties
}

/// The runtime this node was built with.
fn wasm_binary() -> Result<&'static [u8], String> {
	WASM_BINARY.ok_or_else(|| "the node was built without its Wasm runtime".to_string())
}

/// A single-validator development chain: Alice authors and finalizes every block.
pub fn development_chain_spec() -> Result<ChainSpec, String> {
	Ok(ChainSpec::builder(wasm_binary()?, None)
		.with_name("Verity Development")
		.with_id("verity_dev")
		.with_chain_type(ChainType::Development)
		.with_genesis_config_preset_name(sp_genesis_builder::DEV_RUNTIME_PRESET)
		.with_properties(token_properties())
		.build())
}

/// A local network of three validators: Alice, Bob and Charlie.
pub fn local_chain_spec() -> Result<ChainSpec, String> {
	Ok(ChainSpec::builder(wasm_binary()?, None)
		.with_name("Verity Local Testnet")
		.with_id("verity_local")
		.with_chain_type(ChainType::Local)
		.with_genesis_config_preset_name(sp_genesis_builder::LOCAL_TESTNET_RUNTIME_PRESET)
		.with_properties(token_properties())
		.build())
}

/// A local network of four validators: Alice, Bob, Charlie and Dave; finality goes on with any
/// one of them down.
pub fn local_4_chain_spec() -> Result<ChainSpec, String> {
	Ok(ChainSpec::builder(wasm_binary()?, None)
		.with_name("Verity Local Testnet (4 validators)")
		.with_id("verity_local_4")
		.with_chain_type(ChainType::Local)
		.with_genesis_config_preset_name(
			verity_runtime::genesis_config_presets::LOCAL_TESTNET_4_PRESET,
		)
		.with_properties(token_properties())
		.build())
}

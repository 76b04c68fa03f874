//! Builds the Wasm runtime and makes it available to the node as `WASM_BINARY`.

fn main() {
	#[cfg(feature = "std")]
	{
		#[cfg(not(feature = "metadata-hash"))]
		substrate_wasm_builder::WasmBuilder::build_using_defaults();

		#[cfg(feature = "metadata-hash")]
		substrate_wasm_builder::WasmBuilder::init_with_defaults()
			.enable_metadata_hash("UNIT", 12)
			.build();
	}
}

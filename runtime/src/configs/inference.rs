//! The inference protocol's configuration.

use crate::{configs::ModelOrigin, Balances, Runtime};
use frame_support::parameter_types;

parameter_types! {
	/// At most five executors run one request.
	pub const MaxRedundancy: u8 = 5;
	/// Model artifacts up to 256 MiB.
	pub const MaxArtifactSize: u64 = 256 * 1024 * 1024;
}

impl pallet_inference::Config for Runtime {
	type Currency = Balances;
	type ModelOrigin = ModelOrigin;
	type MaxRedundancy = MaxRedundancy;
	type MaxArtifactSize = MaxArtifactSize;
	type WeightInfo = pallet_inference::weights::SubstrateWeight<Runtime>;
}

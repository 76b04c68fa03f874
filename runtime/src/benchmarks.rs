//! The pallets `verity-node benchmark pallet` can measure.

pub use frame_benchmarking::baseline::Pallet as BaselineBench;
pub use frame_system_benchmarking::extensions::Pallet as SystemExtensionsBench;
pub use frame_system_benchmarking::Pallet as SystemBench;

/// The transaction payment extension's benchmark needs nothing set up: fees go to no author.
impl pallet_transaction_payment::BenchmarkConfig for crate::Runtime {}

frame_benchmarking::define_benchmarks!(
	[frame_benchmarking, BaselineBench::<Runtime>]
	[frame_system, SystemBench::<Runtime>]
	[frame_system_extensions, SystemExtensionsBench::<Runtime>]
	[pallet_transaction_payment, TransactionPayment]
	[pallet_balances, Balances]
	[pallet_timestamp, Timestamp]
	[pallet_sudo, Sudo]
	[pallet_collective, TechnicalCommittee]
	[pallet_author_vrf, AuthorVrf]
	[pallet_inference, Inference]
	[pallet_inference_contracts, InferenceContracts]
	[pallet_memory, Memory]
);

//! A minimal runtime for the pallet's unit tests, with a scripted block author.

use crate as pallet_author_vrf;
use core::cell::RefCell;
use frame_support::derive_impl;
use sp_core::{sr25519, Pair};
use sp_runtime::BuildStorage;

type Block = frame_system::mocking::MockBlock<Test>;

#[frame_support::runtime]
mod runtime {
	#[runtime::runtime]
	#[runtime::derive(
		RuntimeCall,
		RuntimeEvent,
		RuntimeError,
		RuntimeOrigin,
		RuntimeFreezeReason,
		RuntimeHoldReason,
		RuntimeSlashReason,
		RuntimeLockId,
		RuntimeTask,
		RuntimeViewFunction
	)]
	pub struct Test;

	#[runtime::pallet_index(0)]
	pub type System = frame_system;
	#[runtime::pallet_index(1)]
	pub type AuthorVrf = pallet_author_vrf;
}

#[derive_impl(frame_system::config_preludes::TestDefaultConfig)]
impl frame_system::Config for Test {
	type Block = Block;
}

thread_local! {
	/// The author and slot of the block being built.
	static AUTHOR: RefCell<Option<(sr25519::Public, u64)>> = const { RefCell::new(None) };
}

/// The scripted author: whatever [`set_author`] said last.
pub struct ScriptedAuthor;

impl crate::BlockAuthor for ScriptedAuthor {
	fn author_and_slot() -> Option<(sr25519::Public, u64)> {
		AUTHOR.with(|author| *author.borrow())
	}

	#[cfg(feature = "runtime-benchmarks")]
	fn set_author_for_benchmark(key: sr25519::Public, slot: u64) {
		AUTHOR.with(|author| *author.borrow_mut() = Some((key, slot)));
	}
}

impl pallet_author_vrf::Config for Test {
	type BlockAuthor = ScriptedAuthor;
	type WeightInfo = ();
}

/// Make `pair` the author of the block being built, in `slot`.
pub fn set_author(pair: &sr25519::Pair, slot: u64) {
	AUTHOR.with(|author| *author.borrow_mut() = Some((pair.public(), slot)));
}

/// The key of a named test authority.
pub fn authority(name: &str) -> sr25519::Pair {
	sr25519::Pair::from_string(&format!("//{name}"), None).expect("a dev derivation path")
}

/// Externalities at block 1 with no author set.
pub fn new_test_ext() -> sp_io::TestExternalities {
	AUTHOR.with(|author| *author.borrow_mut() = None);
	let storage = frame_system::GenesisConfig::<Test>::default()
		.build_storage()
		.expect("genesis builds");
	let mut ext = sp_io::TestExternalities::new(storage);
	ext.execute_with(|| System::set_block_number(1));
	ext
}

//! Genesis presets: `development` (one validator, Alice), `local_testnet` (Alice, Bob and
//! Charlie validate) and `local_testnet_4` (Dave too, so finality survives one of them down).

use crate::{
	AccountId, BalancesConfig, Inference, InferenceConfig, RuntimeGenesisConfig, SudoConfig,
	TechnicalCommitteeConfig, UNIT,
};
use alloc::{vec, vec::Vec};
use frame_support::build_struct_json_patch;
use serde_json::Value;
use sp_consensus_aura::sr25519::AuthorityId as AuraId;
use sp_consensus_grandpa::AuthorityId as GrandpaId;
use sp_genesis_builder::{self, PresetId};
use sp_keyring::{Ed25519Keyring, Sr25519Keyring};
use verity_primitives::ExecutorPublic;

use crate::demo_models::{demo_model_ids, demo_models, hex_literal};

/// What each development account starts with.
pub const ENDOWMENT: u128 = 1_000_000 * UNIT;
/// What the protocol account starts with on development chains: enough to pay for audits.
pub const PROTOCOL_ENDOWMENT: u128 = 10_000 * UNIT;

/// A validator's block production and finality keys from a development keyring.
fn authority_keys(who: Sr25519Keyring) -> (AuraId, GrandpaId) {
	let ed25519 = match who {
		Sr25519Keyring::Alice => Ed25519Keyring::Alice,
		Sr25519Keyring::Bob => Ed25519Keyring::Bob,
		Sr25519Keyring::Charlie => Ed25519Keyring::Charlie,
		Sr25519Keyring::Dave => Ed25519Keyring::Dave,
		Sr25519Keyring::Eve => Ed25519Keyring::Eve,
		_ => Ed25519Keyring::Ferdie,
	};
	(who.public().into(), ed25519.public().into())
}

/// The Ethereum development accounts Ethereum tools know: the first of Hardhat's and Anvil's
/// default mnemonic (`test test ... junk`), then Alith, Baltathar, Charleth, Dorothy and Ethan
/// (the keys `subxt_signer::eth::dev` and Polkadot's Ethereum tooling use).
pub const ETHEREUM_DEV_ADDRESSES: [[u8; 20]; 6] = [
	hex_literal("f39fd6e51aad88f6f4ce6ab8827279cfffb92266"),
	hex_literal("f24ff3a9cf04c71dbc94d0b566f7a27b94566cac"),
	hex_literal("3cd0a705a2dc65e5b1e1205896baa2be8a07c6e0"),
	hex_literal("798d4ba9baf0064ec19eb4f0a1a45785ae9d6dfc"),
	hex_literal("773539d4ac0e786233d90a233654ccee26a613d9"),
	hex_literal("ff64d3f6efe2317ee2807d223a0bdc4c0c49dfdb"),
];

/// The account of an Ethereum address: the address followed by twelve `0xEE` bytes, which is
/// how Ethereum-signed transactions name their signer here.
pub fn ethereum_account(address: [u8; 20]) -> AccountId {
	let mut raw = [0xEE; 32];
	raw[..20].copy_from_slice(&address);
	AccountId::from(raw)
}

/// The well-known development accounts, each endowed: the Substrate keyring's and the
/// Ethereum tools'.
fn development_accounts() -> Vec<AccountId> {
	Sr25519Keyring::iter()
		.filter(|key| !matches!(key, Sr25519Keyring::One | Sr25519Keyring::Two))
		.map(|key| key.to_account_id())
		.chain(ETHEREUM_DEV_ADDRESSES.into_iter().map(ethereum_account))
		.collect()
}

/// Each development executor's bond.
pub const EXECUTOR_BOND: u128 = 1_000 * UNIT;

/// A genesis with the given validators (each also an executor of the demo models, run with
/// `redundancy`), endowed accounts, sudo key and committee.
fn testnet_genesis(
	validators: Vec<Sr25519Keyring>,
	endowed_accounts: Vec<AccountId>,
	root: AccountId,
	committee: Vec<AccountId>,
	redundancy: u8,
) -> Value {
	let executors: Vec<_> = validators
		.iter()
		.map(|who| {
			let key = ExecutorPublic::from(who.public());
			(who.to_account_id(), key, demo_model_ids(), EXECUTOR_BOND)
		})
		.collect();
	let keys: Vec<_> = validators.into_iter().map(authority_keys).collect();
	build_struct_json_patch!(RuntimeGenesisConfig {
		balances: BalancesConfig {
			balances: endowed_accounts
				.into_iter()
				.map(|who| (who, ENDOWMENT))
				.chain([(Inference::protocol_account(), PROTOCOL_ENDOWMENT)])
				.collect(),
		},
		aura: pallet_aura::GenesisConfig {
			authorities: keys.iter().map(|(aura, _)| aura.clone()).collect(),
		},
		grandpa: pallet_grandpa::GenesisConfig {
			authorities: keys.iter().map(|(_, grandpa)| (grandpa.clone(), 1)).collect(),
		},
		sudo: SudoConfig { key: Some(root) },
		technical_committee: TechnicalCommitteeConfig { members: committee },
		inference: InferenceConfig { models: demo_models(redundancy), executors },
	})
}

/// The committee of the development presets: Alice, Bob and Charlie.
fn development_committee() -> Vec<AccountId> {
	[Sr25519Keyring::Alice, Sr25519Keyring::Bob, Sr25519Keyring::Charlie]
		.into_iter()
		.map(|key| key.to_account_id())
		.collect()
}

/// One validator, Alice, who is also the sudo key.
pub fn development_config_genesis() -> Value {
	testnet_genesis(
		vec![Sr25519Keyring::Alice],
		development_accounts(),
		Sr25519Keyring::Alice.to_account_id(),
		development_committee(),
		1,
	)
}

/// Three validators: Alice, Bob and Charlie.
pub fn local_config_genesis() -> Value {
	testnet_genesis(
		vec![Sr25519Keyring::Alice, Sr25519Keyring::Bob, Sr25519Keyring::Charlie],
		development_accounts(),
		Sr25519Keyring::Alice.to_account_id(),
		development_committee(),
		3,
	)
}

/// The name of the four-validator preset.
pub const LOCAL_TESTNET_4_PRESET: &str = "local_testnet_4";

/// Four validators: Alice, Bob, Charlie and Dave. GRANDPA needs more than two thirds of them,
/// so it keeps finalizing with any one down.
pub fn local_4_config_genesis() -> Value {
	testnet_genesis(
		vec![
			Sr25519Keyring::Alice,
			Sr25519Keyring::Bob,
			Sr25519Keyring::Charlie,
			Sr25519Keyring::Dave,
		],
		development_accounts(),
		Sr25519Keyring::Alice.to_account_id(),
		development_committee(),
		3,
	)
}

/// The JSON patch of the preset named `id`, if there is one.
pub fn get_preset(id: &PresetId) -> Option<Vec<u8>> {
	let patch = match id.as_ref() {
		sp_genesis_builder::DEV_RUNTIME_PRESET => development_config_genesis(),
		sp_genesis_builder::LOCAL_TESTNET_RUNTIME_PRESET => local_config_genesis(),
		LOCAL_TESTNET_4_PRESET => local_4_config_genesis(),
		_ => return None,
	};
	serde_json::to_vec(&patch).ok()
}

/// The presets this runtime provides.
pub fn preset_names() -> Vec<PresetId> {
	vec![
		PresetId::from(sp_genesis_builder::DEV_RUNTIME_PRESET),
		PresetId::from(sp_genesis_builder::LOCAL_TESTNET_RUNTIME_PRESET),
		PresetId::from(LOCAL_TESTNET_4_PRESET),
	]
}

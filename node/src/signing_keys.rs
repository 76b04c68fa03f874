//! The offchain worker's keystore: the node's keystore, with executor key pairs kept in memory
//! once derived.
//!
//! The local keystore stores a key as its secret phrase and derives the pair from it on every
//! signature. For a mnemonic (and the development keys, which are derived from one) that is a
//! PBKDF2 of 2,048 rounds, about a millisecond and a half: one per commitment and one per reveal,
//! which capped an executor at a few hundred answers per block of the worker's time. Here the
//! first signature with an executor key derives its pair once and later ones reuse it. Every
//! other key, and every other operation, goes to the node's keystore unchanged.

use sp_core::{crypto::KeyTypeId, ecdsa, ed25519, sr25519};
use sp_keystore::{Error, Keystore, KeystorePtr};
use std::{
	collections::HashMap,
	sync::{Arc, Mutex},
};
use verity_primitives::{executor_crypto, EXECUTOR_KEY_TYPE};

/// The node's keystore, with the executor key pairs it has signed with kept derived.
pub struct ExecutorSigningKeys {
	/// The node's keystore, which every call other than an executor key's signature goes to.
	inner: KeystorePtr,
	/// The same keystore as a local one, which can hand out a key pair.
	local: Arc<sc_keystore::LocalKeystore>,
	/// Executor key pairs already derived, by public key.
	pairs: Mutex<HashMap<sr25519::Public, sr25519::Pair>>,
}

impl ExecutorSigningKeys {
	/// The keystore `inner` (whose local form is `local`), keeping executor pairs once derived.
	pub fn new(inner: KeystorePtr, local: Arc<sc_keystore::LocalKeystore>) -> Self {
		Self { inner, local, pairs: Mutex::new(HashMap::new()) }
	}

	/// The executor pair of `public`: kept, or derived from the keystore and kept.
	fn executor_pair(&self, public: &sr25519::Public) -> Result<Option<sr25519::Pair>, Error> {
		let mut pairs = self.pairs.lock().map_err(|_| Error::Unavailable)?;
		if let Some(pair) = pairs.get(public) {
			return Ok(Some(pair.clone()));
		}
		let app_public = executor_crypto::Public::from(*public);
		let Some(pair) = self
			.local
			.key_pair::<executor_crypto::Pair>(&app_public)
			.map_err(|error| Error::Other(error.to_string()))?
		else {
			return Ok(None);
		};
		let pair: sr25519::Pair = pair.into();
		pairs.insert(*public, pair.clone());
		Ok(Some(pair))
	}
}

impl Keystore for ExecutorSigningKeys {
	fn sr25519_public_keys(&self, key_type: KeyTypeId) -> Vec<sr25519::Public> {
		self.inner.sr25519_public_keys(key_type)
	}

	fn sr25519_generate_new(
		&self,
		key_type: KeyTypeId,
		seed: Option<&str>,
	) -> Result<sr25519::Public, Error> {
		self.inner.sr25519_generate_new(key_type, seed)
	}

	fn sr25519_sign(
		&self,
		key_type: KeyTypeId,
		public: &sr25519::Public,
		msg: &[u8],
	) -> Result<Option<sr25519::Signature>, Error> {
		if key_type != EXECUTOR_KEY_TYPE {
			return self.inner.sr25519_sign(key_type, public, msg);
		}
		use sp_core::Pair;
		Ok(self.executor_pair(public)?.map(|pair| pair.sign(msg)))
	}

	fn sr25519_vrf_sign(
		&self,
		key_type: KeyTypeId,
		public: &sr25519::Public,
		data: &sr25519::vrf::VrfSignData,
	) -> Result<Option<sr25519::vrf::VrfSignature>, Error> {
		self.inner.sr25519_vrf_sign(key_type, public, data)
	}

	fn sr25519_vrf_pre_output(
		&self,
		key_type: KeyTypeId,
		public: &sr25519::Public,
		input: &sr25519::vrf::VrfInput,
	) -> Result<Option<sr25519::vrf::VrfPreOutput>, Error> {
		self.inner.sr25519_vrf_pre_output(key_type, public, input)
	}

	fn ed25519_public_keys(&self, key_type: KeyTypeId) -> Vec<ed25519::Public> {
		self.inner.ed25519_public_keys(key_type)
	}

	fn ed25519_generate_new(
		&self,
		key_type: KeyTypeId,
		seed: Option<&str>,
	) -> Result<ed25519::Public, Error> {
		self.inner.ed25519_generate_new(key_type, seed)
	}

	fn ed25519_sign(
		&self,
		key_type: KeyTypeId,
		public: &ed25519::Public,
		msg: &[u8],
	) -> Result<Option<ed25519::Signature>, Error> {
		self.inner.ed25519_sign(key_type, public, msg)
	}

	fn ecdsa_public_keys(&self, key_type: KeyTypeId) -> Vec<ecdsa::Public> {
		self.inner.ecdsa_public_keys(key_type)
	}

	fn ecdsa_generate_new(
		&self,
		key_type: KeyTypeId,
		seed: Option<&str>,
	) -> Result<ecdsa::Public, Error> {
		self.inner.ecdsa_generate_new(key_type, seed)
	}

	fn ecdsa_sign(
		&self,
		key_type: KeyTypeId,
		public: &ecdsa::Public,
		msg: &[u8],
	) -> Result<Option<ecdsa::Signature>, Error> {
		self.inner.ecdsa_sign(key_type, public, msg)
	}

	fn ecdsa_sign_prehashed(
		&self,
		key_type: KeyTypeId,
		public: &ecdsa::Public,
		msg: &[u8; 32],
	) -> Result<Option<ecdsa::Signature>, Error> {
		self.inner.ecdsa_sign_prehashed(key_type, public, msg)
	}

	fn insert(&self, key_type: KeyTypeId, suri: &str, public: &[u8]) -> Result<(), ()> {
		self.inner.insert(key_type, suri, public)
	}

	fn keys(&self, key_type: KeyTypeId) -> Result<Vec<Vec<u8>>, Error> {
		self.inner.keys(key_type)
	}

	fn has_keys(&self, public_keys: &[(Vec<u8>, KeyTypeId)]) -> bool {
		self.inner.has_keys(public_keys)
	}
}

#[cfg(test)]
mod tests {
	use super::*;
	use sp_core::Pair;

	fn keystore() -> (ExecutorSigningKeys, sr25519::Public) {
		let local = Arc::new(sc_keystore::LocalKeystore::in_memory());
		let public = local
			.sr25519_generate_new(EXECUTOR_KEY_TYPE, Some("//Alice"))
			.expect("a development key");
		(ExecutorSigningKeys::new(local.clone(), local), public)
	}

	#[test]
	fn an_executor_key_signs_as_its_pair_and_is_derived_once() {
		let (keys, public) = keystore();
		for message in [&b"first"[..], b"second"] {
			let signature = keys
				.sr25519_sign(EXECUTOR_KEY_TYPE, &public, message)
				.expect("signs")
				.expect("the key is held");
			assert!(sr25519::Pair::verify(&signature, message, &public));
		}
		assert_eq!(keys.pairs.lock().expect("not poisoned").len(), 1);
	}

	#[test]
	fn other_keys_and_unknown_keys_go_to_the_keystore() {
		let (keys, public) = keystore();
		let aura = keys
			.sr25519_generate_new(sp_core::crypto::key_types::AURA, Some("//Bob"))
			.expect("a development key");
		let signature = keys
			.sr25519_sign(sp_core::crypto::key_types::AURA, &aura, b"block")
			.expect("signs")
			.expect("the key is held");
		assert!(sr25519::Pair::verify(&signature, b"block", &aura));
		let stranger = sr25519::Pair::from_string("//Eve", None).expect("a key").public();
		assert_eq!(keys.sr25519_sign(EXECUTOR_KEY_TYPE, &stranger, b"x").expect("no error"), None);
		assert!(keys.pairs.lock().expect("not poisoned").keys().all(|kept| *kept == public));
	}
}

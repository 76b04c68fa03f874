//! The block author's VRF output, as inherent data: what makes the chain's randomness one
//! that no author can choose (`pallet-author-vrf`).

use codec::Decode;
use sc_client_api::StorageProvider;
use sp_api::ProvideRuntimeApi;
use sp_consensus_aura::{AuraApi, Slot};
use sp_core::{crypto::key_types::AURA, sr25519::vrf::VrfSignature, storage::StorageKey};
use sp_inherents::{InherentData, InherentIdentifier};
use sp_keystore::KeystorePtr;
use verity_runtime::opaque::Block;

use crate::service::FullClient;

/// Provides the author's VRF signature for a block in a given slot.
///
/// Empty when this node does not hold the slot author's Aura key: it will not author that
/// block then, so there is nothing to sign.
pub struct AuthorVrfProvider(Option<VrfSignature>);

impl AuthorVrfProvider {
	/// Sign the randomness `parent` left, for a block in `slot`, with the slot author's key if
	/// the keystore holds it.
	pub fn new(
		client: &FullClient,
		keystore: &KeystorePtr,
		parent: <Block as sp_runtime::traits::Block>::Hash,
		slot: Slot,
	) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
		let authorities = client.runtime_api().authorities(parent)?;
		let Some(author) = authorities.get((*slot % authorities.len().max(1) as u64) as usize)
		else {
			return Ok(Self(None));
		};
		let key = StorageKey(
			pallet_author_vrf::Randomness::<verity_runtime::Runtime>::hashed_key().to_vec(),
		);
		let previous = match client.storage(parent, &key)? {
			Some(bytes) => <[u8; 32]>::decode(&mut &bytes.0[..])
				.map_err(|error| format!("the chain's randomness does not decode: {error}"))?,
			None => [0; 32],
		};
		let data = pallet_author_vrf::vrf_sign_data(&previous, *slot);
		let signature = keystore.sr25519_vrf_sign(AURA, author.as_ref(), &data)?;
		Ok(Self(signature))
	}
}

#[async_trait::async_trait]
impl sp_inherents::InherentDataProvider for AuthorVrfProvider {
	async fn provide_inherent_data(
		&self,
		inherent_data: &mut InherentData,
	) -> Result<(), sp_inherents::Error> {
		match &self.0 {
			Some(signature) => inherent_data.put_data(
				pallet_author_vrf::INHERENT_IDENTIFIER,
				&pallet_author_vrf::AuthorVrfSignature::from(signature),
			),
			None => Ok(()),
		}
	}

	async fn try_handle_error(
		&self,
		identifier: &InherentIdentifier,
		error: &[u8],
	) -> Option<Result<(), sp_inherents::Error>> {
		(*identifier == pallet_author_vrf::INHERENT_IDENTIFIER).then(|| {
			Err(sp_inherents::Error::Application(Box::from(format!(
				"the block author's VRF output was refused: {}",
				String::from_utf8_lossy(error)
			))))
		})
	}
}

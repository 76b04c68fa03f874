//! Agent memory: what an entry commits to, and the integer ranking every recall uses.
//!
//! Both are defined here once so the chain, the client and anyone else compute them the same
//! way: a space's commitment is the binary Merkle root (blake2-256) over its entries' leaves in
//! entry-id order, and recall ranks entries by the dot product of int8 embeddings, highest
//! first, ties broken by the lower entry id.

use alloc::vec::Vec;
use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use scale_info::TypeInfo;
use sp_core::H256;

/// A memory space's id.
pub type SpaceId = u64;
/// An entry's id within its space.
pub type EntryId = u64;
/// A recall score: the dot product of two int8 embeddings.
pub type Score = i32;

/// The name of the output tensor an embedding model returns: `i8`, shape `[1, dimensions]`.
pub const EMBEDDING_OUTPUT: &str = "embedding";

/// How an entry's content is to be read.
#[derive(
	Clone,
	Copy,
	Encode,
	Decode,
	DecodeWithMemTracking,
	Eq,
	PartialEq,
	Debug,
	TypeInfo,
	MaxEncodedLen,
	serde::Serialize,
	serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum ContentKind {
	/// UTF-8 text: embedded with the space's model and ranked by recall.
	Text,
	/// Opaque bytes (for instance encrypted by the client): committed and proven, never
	/// embedded (that would reveal them to executors), so never ranked.
	Bytes,
}

/// The Merkle leaf of an entry: blake2-256 of the SCALE encoding of
/// `(entry id, kind, blake2-256 of the content)`.
pub fn entry_leaf(entry: EntryId, kind: ContentKind, content_hash: &H256) -> H256 {
	crate::content_hash(&(entry, kind, content_hash).encode())
}

/// A space's commitment: the binary Merkle root (blake2-256) over its entries' leaves, in entry-id
/// order; all zeroes for an empty space.
pub fn space_root(leaves: impl IntoIterator<Item = H256>) -> H256 {
	binary_merkle_tree::merkle_root_raw::<sp_runtime::traits::BlakeTwo256, _>(leaves)
}

/// A proof that the leaf at `index` of `leaves` is under [`space_root`] of `leaves`.
pub fn space_proof(leaves: &[H256], index: u32) -> binary_merkle_tree::MerkleProof<H256, H256> {
	binary_merkle_tree::merkle_proof_raw::<sp_runtime::traits::BlakeTwo256, _>(
		leaves.iter().copied(),
		index,
	)
}

/// Whether `proof` shows that `leaf` is leaf `index` of `leaf_count` under `root`.
pub fn verify_space_proof(
	root: &H256,
	proof: &[H256],
	leaf_count: u32,
	index: u32,
	leaf: H256,
) -> bool {
	binary_merkle_tree::verify_proof::<sp_runtime::traits::BlakeTwo256, _, _>(
		root,
		proof.iter().copied(),
		leaf_count,
		index,
		binary_merkle_tree::Leaf::Hash(leaf),
	)
}

/// The similarity of two embeddings: their integer dot product, or `None` when their
/// dimensions differ.
pub fn similarity(query: &[i8], entry: &[i8]) -> Option<Score> {
	if query.len() != entry.len() {
		return None;
	}
	Some(query.iter().zip(entry).map(|(a, b)| Score::from(*a) * Score::from(*b)).sum())
}

/// The `k` best entries for `query`, best first: highest score, then lowest entry id.
/// Entries whose embedding has another dimension than the query are left out.
pub fn rank<E: AsRef<[i8]>>(
	query: &[i8],
	entries: impl IntoIterator<Item = (EntryId, E)>,
	k: usize,
) -> Vec<(EntryId, Score)> {
	let mut best: Vec<(EntryId, Score)> = Vec::with_capacity(k.saturating_add(1));
	if k == 0 {
		return best;
	}
	for (entry, embedding) in entries {
		let Some(score) = similarity(query, embedding.as_ref()) else { continue };
		let ranks_before = |other: &(EntryId, Score)| (other.1, core::cmp::Reverse(other.0));
		let candidate = (entry, score);
		if best.len() == k && ranks_before(&candidate) <= ranks_before(&best[k - 1]) {
			continue;
		}
		let position = best.partition_point(|held| ranks_before(held) > ranks_before(&candidate));
		best.insert(position, candidate);
		best.truncate(k);
	}
	best
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn ranking_is_by_score_then_lower_id() {
		let a = [1i8, 2, 3];
		let entries: Vec<(EntryId, Vec<i8>)> = vec![
			(7, vec![1, 2, 3]),    // 14
			(3, vec![0, 0, 1]),    // 3
			(5, vec![3, 2, 1]),    // 10
			(4, vec![1, 2, 3]),    // 14, lower id than 7
			(9, vec![1, 1]),       // other dimension: left out
			(2, vec![-1, -1, -1]), // -6
		];
		let iter = || entries.iter().map(|(id, e)| (*id, e.as_slice()));
		assert_eq!(rank(&a, iter(), 3), vec![(4, 14), (7, 14), (5, 10)]);
		assert_eq!(rank(&a, iter(), 10), vec![(4, 14), (7, 14), (5, 10), (3, 3), (2, -6)]);
		assert_eq!(rank(&a, iter(), 0), vec![]);
		// The order entries arrive in does not matter.
		let mut reversed = rank(&a, entries.iter().rev().map(|(id, e)| (*id, e.as_slice())), 3);
		assert_eq!(reversed.split_off(0), vec![(4, 14), (7, 14), (5, 10)]);
	}

	#[test]
	fn extreme_embeddings_do_not_overflow() {
		let query = alloc::vec![-128i8; 4096];
		assert_eq!(similarity(&query, &query), Some(4096 * 128 * 128));
	}

	#[test]
	fn proofs_verify_against_the_root_and_nothing_else() {
		let leaves: Vec<H256> = (0..5u64)
			.map(|i| entry_leaf(i, ContentKind::Text, &H256::repeat_byte(i as u8)))
			.collect();
		let root = space_root(leaves.iter().copied());
		assert_eq!(space_root([]), H256::zero());
		for index in 0..5u32 {
			let proof = space_proof(&leaves, index);
			assert_eq!(proof.root, root);
			assert!(verify_space_proof(&root, &proof.proof, 5, index, leaves[index as usize]));
			let other = leaves[(index as usize + 1) % 5];
			assert!(!verify_space_proof(&root, &proof.proof, 5, index, other));
		}
	}

	#[test]
	fn leaves_bind_id_kind_and_content() {
		let hash = H256::repeat_byte(1);
		let leaf = entry_leaf(1, ContentKind::Text, &hash);
		assert_ne!(leaf, entry_leaf(2, ContentKind::Text, &hash));
		assert_ne!(leaf, entry_leaf(1, ContentKind::Bytes, &hash));
		assert_ne!(leaf, entry_leaf(1, ContentKind::Text, &H256::repeat_byte(2)));
	}
}

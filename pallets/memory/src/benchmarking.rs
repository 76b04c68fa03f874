//! Benchmarks of agent memory's calls, the source of `weights.rs`.
//!
//! Each builds the worst case its weight must cover: the longest content, the fullest space,
//! embeddings of the most dimensions, the most matches.

use super::*;
use alloc::{vec, vec::Vec};
use codec::Encode;
use frame_benchmarking::v2::*;
use frame_support::traits::{fungible::Mutate, Get};
use frame_system::RawOrigin;
use pallet_inference::OnRequestFinalized;
use sp_runtime::traits::Bounded;
use verity_primitives::{
	content_hash, entry_leaf, space_root, ContentKind, DType, EntryId, RequestId, SpaceId, Tensor,
	TensorMap,
};

/// A funded account.
fn funded<T: Config>(name: &'static str) -> T::AccountId {
	let who: T::AccountId = account(name, 0, 0);
	T::Currency::set_balance(&who, BalanceOf::<T>::max_value() / 8u32.into());
	who
}

/// A space owned by a funded account, on the helper's embedding model.
fn new_space<T: Config>() -> (T::AccountId, SpaceId) {
	let owner = funded::<T>("owner");
	let space = Pallet::<T>::do_create_space(owner.clone(), T::BenchmarkHelper::embedding_model())
		.expect("the model is active");
	(owner, space)
}

/// Fill `space` with `count` entries' leaves (and embeddings of `dimensions`, when not zero),
/// as if they had been remembered.
fn fill<T: Config>(space: SpaceId, count: u32, dimensions: u32) {
	let mut leaves = Vec::with_capacity(count as usize);
	for entry in 0..EntryId::from(count) {
		let hash = content_hash(&entry.encode());
		leaves.push((entry, entry_leaf(entry, ContentKind::Text, &hash)));
		if dimensions > 0 {
			let embedding: Vec<i8> =
				(0..dimensions).map(|i| ((entry as u32).wrapping_mul(31) ^ i) as i8).collect();
			Embeddings::<T>::insert(space, entry, Embedding::<T>::truncate_from(embedding));
		}
	}
	Spaces::<T>::mutate(space, |info| {
		let info = info.as_mut().expect("the space exists");
		info.root = space_root(leaves.iter().map(|(_, leaf)| *leaf));
		info.entries = count;
		info.next_entry = EntryId::from(count);
	});
	Leaves::<T>::insert(space, SpaceLeaves::<T>::truncate_from(leaves));
}

/// A new space whose entry 0 is a text waiting for its embedding: the space and the request.
fn entry_awaiting_embedding<T: Config>() -> (SpaceId, RequestId) {
	let (owner, space) = new_space::<T>();
	Pallet::<T>::do_remember(owner, space, text(16), ContentKind::Text).expect("room for an entry");
	match Entries::<T>::get(space, 0).map(|entry| entry.embedding) {
		Some(EmbeddingState::Pending { request }) => (space, request),
		_ => panic!("a text entry waits for its embedding"),
	}
}

/// An embedding model's output of `dimensions` values.
fn embedding_output(dimensions: u32) -> Vec<u8> {
	embedding_output_of(&embedding_output_values(dimensions))
}

/// The canonical output of an embedding model whose embedding is `values`.
fn embedding_output_of(values: &[i8]) -> Vec<u8> {
	TensorMap(vec![Tensor {
		name: b"embedding".to_vec(),
		dtype: DType::I8,
		shape: vec![1, values.len() as u32],
		data: values.iter().map(|v| *v as u8).collect(),
	}])
	.encode()
}

/// Text of `length` bytes.
fn text(length: u32) -> Vec<u8> {
	vec![b'a'; length as usize]
}

#[benchmarks]
mod benchmarks {
	use super::*;

	#[benchmark]
	fn create_space() {
		let owner = funded::<T>("owner");
		let model = T::BenchmarkHelper::embedding_model();
		#[extrinsic_call]
		_(RawOrigin::Signed(owner.clone()), model);
		assert_eq!(Spaces::<T>::get(0).map(|info| info.owner), Some(owner));
	}

	#[benchmark]
	fn grant() {
		let (owner, space) = new_space::<T>();
		let agent: T::AccountId = account("agent", 0, 0);
		#[extrinsic_call]
		_(RawOrigin::Signed(owner), space, agent.clone(), Access::Write);
		assert_eq!(Grants::<T>::get(space, agent), Some(Access::Write));
	}

	#[benchmark]
	fn revoke() {
		let (owner, space) = new_space::<T>();
		let agent: T::AccountId = account("agent", 0, 0);
		Pallet::<T>::do_grant(owner.clone(), space, agent.clone(), Access::Read)
			.expect("room for a grant");
		#[extrinsic_call]
		_(RawOrigin::Signed(owner), space, agent.clone());
		assert!(Grants::<T>::get(space, agent).is_none());
	}

	/// Text of `l` bytes into a space already holding `n` entries, embedding request included.
	#[benchmark]
	fn remember(
		l: Linear<1, { T::MaxEntryLen::get() }>,
		n: Linear<0, { T::MaxEntriesPerSpace::get() - 1 }>,
	) {
		let (owner, space) = new_space::<T>();
		fill::<T>(space, n, 0);
		#[extrinsic_call]
		_(RawOrigin::Signed(owner), space, text(l), ContentKind::Text);
		assert_eq!(Spaces::<T>::get(space).map(|info| info.entries), Some(n + 1));
	}

	/// One entry out of a space of `n`.
	#[benchmark]
	fn forget(n: Linear<1, { T::MaxEntriesPerSpace::get() }>) {
		let (owner, space) = new_space::<T>();
		fill::<T>(space, n - 1, 0);
		Pallet::<T>::do_remember(
			owner.clone(),
			space,
			text(T::MaxEntryLen::get()),
			ContentKind::Text,
		)
		.expect("room for an entry");
		let entry = EntryId::from(n - 1);
		#[extrinsic_call]
		_(RawOrigin::Signed(owner), space, entry);
		assert!(Entries::<T>::get(space, entry).is_none());
	}

	/// Ranking `n` embedded entries of the most dimensions for the most matches.
	#[benchmark]
	fn recall(n: Linear<1, { T::MaxEntriesPerSpace::get() }>) {
		let (owner, space) = new_space::<T>();
		let dimensions = T::MaxEmbeddingLen::get();
		fill::<T>(space, n, dimensions);
		let model = Spaces::<T>::get(space).expect("the space exists").embedding_model;
		let query = T::BenchmarkHelper::finalized_request(model, embedding_output(dimensions));
		let k = T::MaxRecall::get();
		#[extrinsic_call]
		_(RawOrigin::Signed(owner), space, RecallQuery::Request(query), k);
		let matches = Pallet::<T>::rank_space(space, &embedding_output_values(dimensions), k);
		let recalled: <T as frame_system::Config>::RuntimeEvent = Event::<T>::Recalled {
			space,
			query_request: query,
			matches: matches.try_into().expect("at most k"),
		}
		.into();
		frame_system::Pallet::<T>::assert_last_event(recalled);
	}

	/// A question of the longest length: its embedding request.
	#[benchmark]
	fn recall_text() {
		let (owner, space) = new_space::<T>();
		let question = text(T::MaxQueryLen::get()).try_into().expect("within the bound");
		#[extrinsic_call]
		recall(RawOrigin::Signed(owner), space, RecallQuery::Text(question), 1);
	}

	/// A new embedding request for the longest entry.
	#[benchmark]
	fn retry_embedding() {
		let (owner, space) = new_space::<T>();
		Pallet::<T>::do_remember(
			owner.clone(),
			space,
			text(T::MaxEntryLen::get()),
			ContentKind::Text,
		)
		.expect("room for an entry");
		Entries::<T>::mutate(space, 0, |entry| {
			let entry = entry.as_mut().expect("just remembered");
			if let EmbeddingState::Pending { request } = entry.embedding {
				entry.embedding = EmbeddingState::Failed { request };
			}
		});
		#[extrinsic_call]
		_(RawOrigin::Signed(owner), space, 0);
		assert!(matches!(
			Entries::<T>::get(space, 0).map(|entry| entry.embedding),
			Some(EmbeddingState::Pending { .. })
		));
	}

	/// Deleting an empty space with `g` grants.
	#[benchmark]
	fn delete_space(g: Linear<0, { T::MaxGrantsPerSpace::get() }>) {
		let (owner, space) = new_space::<T>();
		for i in 0..g {
			let agent: T::AccountId = account("agent", i, 0);
			Pallet::<T>::do_grant(owner.clone(), space, agent, Access::Read).expect("room");
		}
		#[extrinsic_call]
		_(RawOrigin::Signed(owner), space);
		assert!(Spaces::<T>::get(space).is_none());
	}

	/// Attaching an embedding of the most dimensions when its request is finalized.
	#[benchmark]
	fn attach_embedding() {
		let (space, request) = entry_awaiting_embedding::<T>();
		let output = embedding_output(T::MaxEmbeddingLen::get());
		let model = T::BenchmarkHelper::embedding_model();
		#[block]
		{
			Pallet::<T>::on_request_finalized(request, &model, &output);
		}
		assert!(Embeddings::<T>::contains_key(space, 0));
	}

	/// Replacing an attached embedding of the most dimensions by a corrected one of as many,
	/// when a challenge overturns the output it came from.
	#[benchmark]
	fn correct_embedding() {
		let (space, request) = entry_awaiting_embedding::<T>();
		let dimensions = T::MaxEmbeddingLen::get();
		let model = T::BenchmarkHelper::embedding_model();
		Pallet::<T>::on_request_finalized(request, &model, &embedding_output(dimensions));
		let mut values = embedding_output_values(dimensions);
		values.reverse();
		let corrected = embedding_output_of(&values);
		#[block]
		{
			Pallet::<T>::on_output_corrected(request, &model, &corrected);
		}
		assert_eq!(
			Embeddings::<T>::get(space, 0).map(|embedding| embedding.into_inner()),
			Some(values)
		);
	}

	impl_benchmark_test_suite!(Pallet, crate::mock::new_test_ext(), crate::mock::Test);
}

/// The values [`embedding_output`] holds.
fn embedding_output_values(dimensions: u32) -> Vec<i8> {
	(0..dimensions).map(|i| (i % 255) as u8 as i8).collect()
}

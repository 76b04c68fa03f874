//! Remembering, forgetting, deposits, the commitment and embeddings.

use super::*;
use crate::{
	EmbeddingRequests, EmbeddingState, Embeddings, Entries, Error, HoldReason, Leaves, Spaces,
};
use frame_support::{
	assert_noop,
	traits::{fungible::InspectHold, Get},
};
use pallet_inference::{OnRequestFinalized, RequestOutcome};
use verity_primitives::{
	content_hash, entry_leaf, space_proof, space_root, verify_space_proof, TensorMap,
};

fn entry_deposit(who: AccountId) -> Balance {
	Balances::balance_on_hold(&HoldReason::EntryDeposit.into(), &who)
}

#[test]
fn remember_stores_holds_commits_and_requests_an_embedding_paid_by_the_writer() {
	run_test(|| {
		let space = space_with_grants();
		let (entry, request) = remember_text(WRITER, space, "The sky is blue.");
		let stored = Entries::<Test>::get(space, entry).unwrap();
		assert_eq!(stored.author, WRITER);
		assert_eq!(stored.content.to_vec(), b"The sky is blue.".to_vec());
		assert_eq!(stored.embedding, EmbeddingState::Pending { request });
		// Sixteen bytes at two per byte, held from the writer.
		assert_eq!(entry_deposit(WRITER), 32);
		// The embedding request is the writer's (who caused it pays for it, so a writer's
		// remember/forget loop cannot drain the owner), on the space's model, with the text as
		// input.
		let asked = scripted(request);
		assert_eq!((asked.payer, asked.model_id), (WRITER, EMBEDDER));
		let input = TensorMap::decode_canonical(&asked.input).unwrap();
		assert_eq!(input.as_text(), Some(&b"The sky is blue."[..]));
		// The root commits to the entry.
		let leaf = entry_leaf(entry, ContentKind::Text, &content_hash(b"The sky is blue."));
		let info = Spaces::<Test>::get(space).unwrap();
		assert_eq!(info.root, space_root([leaf]));
		assert_eq!((info.entries, info.bytes), (1, 16));
		assert_eq!(
			last_event(),
			Event::Remembered {
				space,
				entry,
				author: WRITER,
				content_hash: content_hash(b"The sky is blue."),
				root: info.root,
				embedding_request: Some(request),
			}
		);
	});
}

#[test]
fn opaque_bytes_are_committed_but_never_embedded() {
	run_test(|| {
		let space = space_with_grants();
		assert_ok!(Memory::remember(
			RuntimeOrigin::signed(OWNER),
			space,
			vec![0xff, 0x00, 0x13],
			ContentKind::Bytes
		));
		let stored = Entries::<Test>::get(space, 0).unwrap();
		assert_eq!(stored.embedding, EmbeddingState::NotEmbedded);
		assert!(matches!(last_event(), Event::Remembered { embedding_request: None, .. }));
		assert_eq!(entry_deposit(OWNER), 6);
	});
}

#[test]
fn every_proof_of_every_entry_verifies_against_the_root() {
	run_test(|| {
		let space = space_with_grants();
		for text in ["one", "two", "three"] {
			remember_text(OWNER, space, text);
		}
		assert_ok!(Memory::forget(RuntimeOrigin::signed(OWNER), space, 1));
		let leaves: Vec<_> = Leaves::<Test>::get(space).iter().map(|(_, leaf)| *leaf).collect();
		let root = Spaces::<Test>::get(space).unwrap().root;
		assert_eq!(leaves.len(), 2);
		for (index, leaf) in leaves.iter().enumerate() {
			let proof = space_proof(&leaves, index as u32);
			assert!(verify_space_proof(&root, &proof.proof, 2, index as u32, *leaf));
		}
	});
}

#[test]
fn remember_errors() {
	run_test(|| {
		let space = space_with_grants();
		let remember = |who, space, content: Vec<u8>, kind| {
			Memory::remember(RuntimeOrigin::signed(who), space, content, kind)
		};
		assert_noop!(
			remember(OWNER, 9, b"x".to_vec(), ContentKind::Text),
			Error::<Test>::UnknownSpace
		);
		assert_noop!(
			remember(READER, space, b"x".to_vec(), ContentKind::Text),
			Error::<Test>::NoWriteAccess
		);
		assert_noop!(
			remember(STRANGER, space, b"x".to_vec(), ContentKind::Text),
			Error::<Test>::NoWriteAccess
		);
		assert_noop!(
			remember(OWNER, space, vec![], ContentKind::Bytes),
			Error::<Test>::EmptyContent
		);
		assert_noop!(
			remember(OWNER, space, vec![b'a'; 65], ContentKind::Text),
			Error::<Test>::EntryTooLarge
		);
		assert_noop!(
			remember(OWNER, space, vec![0xff, 0xfe], ContentKind::Text),
			Error::<Test>::NotUtf8
		);
		assert_ok!(Memory::grant(RuntimeOrigin::signed(OWNER), space, READER, Access::Write));
		assert_ok!(Balances::transfer_all(RuntimeOrigin::signed(READER), PAUPER, false));
		assert_noop!(
			remember(READER, space, b"costly".to_vec(), ContentKind::Text),
			Error::<Test>::InsufficientBalance
		);
		for text in ["a", "b", "c", "d"] {
			remember_text(OWNER, space, text);
		}
		assert_noop!(
			remember(OWNER, space, b"e".to_vec(), ContentKind::Text),
			Error::<Test>::SpaceFull
		);
	});
}

#[test]
fn a_refused_embedding_request_stores_and_holds_nothing() {
	run_test(|| {
		let space = space_with_grants();
		refuse_requests();
		assert_noop!(
			Memory::remember(
				RuntimeOrigin::signed(WRITER),
				space,
				b"x".to_vec(),
				ContentKind::Text
			),
			sp_runtime::DispatchError::Other("no executors")
		);
	});
}

#[test]
fn forget_releases_the_deposit_to_the_author_and_updates_the_root() {
	run_test(|| {
		let space = space_with_grants();
		let (first, request) = remember_text(WRITER, space, "first");
		let (second, _) = remember_text(OWNER, space, "second");
		let root_with_both = Spaces::<Test>::get(space).unwrap().root;
		// The owner forgets the writer's entry: the writer gets its deposit back.
		assert_ok!(Memory::forget(RuntimeOrigin::signed(OWNER), space, first));
		assert_eq!(entry_deposit(WRITER), 0);
		let info = Spaces::<Test>::get(space).unwrap();
		assert_ne!(info.root, root_with_both);
		let leaf = entry_leaf(second, ContentKind::Text, &content_hash(b"second"));
		assert_eq!(info.root, space_root([leaf]));
		assert_eq!(last_event(), Event::Forgotten { space, entry: first, root: info.root });
		assert!(EmbeddingRequests::<Test>::get(request).is_none());
		// Its embedding arriving later is ignored.
		finalize(request, embedding_output(&[1, 2, 3]));
		assert!(Embeddings::<Test>::get(space, first).is_none());
	});
}

#[test]
fn forget_errors() {
	run_test(|| {
		let space = space_with_grants();
		let (entry, _) = remember_text(OWNER, space, "kept");
		assert_noop!(
			Memory::forget(RuntimeOrigin::signed(OWNER), 9, entry),
			Error::<Test>::UnknownSpace
		);
		assert_noop!(
			Memory::forget(RuntimeOrigin::signed(OWNER), space, 7),
			Error::<Test>::UnknownEntry
		);
		assert_noop!(
			Memory::forget(RuntimeOrigin::signed(READER), space, entry),
			Error::<Test>::NoWriteAccess
		);
		assert_noop!(
			Memory::forget(RuntimeOrigin::signed(STRANGER), space, entry),
			Error::<Test>::NoWriteAccess
		);
	});
}

#[test]
fn a_finalized_embedding_is_attached() {
	run_test(|| {
		let space = space_with_grants();
		let (entry, request) = remember_text(OWNER, space, "fact");
		finalize(request, embedding_output(&[3, -4, 5]));
		assert_eq!(Embeddings::<Test>::get(space, entry).unwrap().to_vec(), vec![3, -4, 5]);
		assert_eq!(
			Entries::<Test>::get(space, entry).unwrap().embedding,
			EmbeddingState::Ready { request }
		);
		assert_eq!(last_event(), Event::EmbeddingAttached { space, entry, request });
	});
}

#[test]
fn a_challenge_that_overturns_an_embedding_corrects_the_entry() {
	run_test(|| {
		let space = space_with_grants();
		let (entry, request) = remember_text(OWNER, space, "fact");
		finalize(request, embedding_output(&[3, -4, 5]));
		correct(request, embedding_output(&[-3, 4, -5]));
		assert_eq!(Embeddings::<Test>::get(space, entry).unwrap().to_vec(), vec![-3, 4, -5]);
		assert_eq!(
			Entries::<Test>::get(space, entry).unwrap().embedding,
			EmbeddingState::Ready { request }
		);
		assert_eq!(last_event(), Event::EmbeddingCorrected { space, entry, request });
		// A corrected output that is no embedding leaves the entry unranked, to be retried.
		correct(request, embedding_output(&[1; 9]));
		assert!(Embeddings::<Test>::get(space, entry).is_none());
		assert_eq!(
			Entries::<Test>::get(space, entry).unwrap().embedding,
			EmbeddingState::Failed { request }
		);
		assert_eq!(last_event(), Event::EmbeddingRejected { space, entry, request });
		// ... and one that is gives it its embedding back.
		correct(request, embedding_output(&[7, 7]));
		assert_eq!(Embeddings::<Test>::get(space, entry).unwrap().to_vec(), vec![7, 7]);
		// Once forgotten, the entry hears of no correction.
		assert_ok!(Memory::forget(RuntimeOrigin::signed(OWNER), space, entry));
		assert!(EmbeddingRequests::<Test>::get(request).is_none());
		correct(request, embedding_output(&[1, 2]));
		assert!(Embeddings::<Test>::get(space, entry).is_none());
	});
}

#[test]
fn a_correction_of_a_request_no_entry_took_changes_nothing() {
	run_test(|| {
		let space = space_with_grants();
		let (entry, request) = remember_text(OWNER, space, "fact");
		// Still pending: a correction is no finalization.
		correct(request, embedding_output(&[1, 2]));
		assert_eq!(
			Entries::<Test>::get(space, entry).unwrap().embedding,
			EmbeddingState::Pending { request }
		);
		assert!(Embeddings::<Test>::get(space, entry).is_none());
		// A request memory never opened.
		finalize(request, embedding_output(&[3, 3]));
		let model = scripted(request).model_id;
		Memory::on_output_corrected(request + 100, &model, &embedding_output(&[1, 2]));
		assert_eq!(Embeddings::<Test>::get(space, entry).unwrap().to_vec(), vec![3, 3]);
	});
}

#[test]
fn an_output_that_is_no_embedding_is_rejected_and_can_be_retried() {
	run_test(|| {
		let space = space_with_grants();
		let (entry, request) = remember_text(OWNER, space, "fact");
		assert_noop!(
			Memory::retry_embedding(RuntimeOrigin::signed(OWNER), space, entry),
			Error::<Test>::EmbeddingNotRetryable
		);
		// Nine values: more than `MaxEmbeddingLen`.
		finalize(request, embedding_output(&[1; 9]));
		assert_eq!(last_event(), Event::EmbeddingRejected { space, entry, request });
		assert_eq!(
			Entries::<Test>::get(space, entry).unwrap().embedding,
			EmbeddingState::Failed { request }
		);
		assert_ok!(Memory::retry_embedding(RuntimeOrigin::signed(WRITER), space, entry));
		let Event::EmbeddingRequested { request: retry, .. } = last_event() else {
			panic!("expected EmbeddingRequested")
		};
		assert_eq!(scripted(retry).payer, WRITER, "the retry is paid by who retries");
		finalize(retry, embedding_output(&[1, 1]));
		assert_eq!(Embeddings::<Test>::get(space, entry).unwrap().to_vec(), vec![1, 1]);
		assert_noop!(
			Memory::retry_embedding(RuntimeOrigin::signed(OWNER), space, entry),
			Error::<Test>::EmbeddingNotRetryable
		);
	});
}

#[test]
fn an_expired_embedding_request_can_be_retried_and_only_then() {
	run_test(|| {
		let space = space_with_grants();
		let (entry, request) = remember_text(OWNER, space, "fact");
		assert_eq!(scripted(request).outcome, RequestOutcome::Open);
		fail(request);
		assert_noop!(
			Memory::retry_embedding(RuntimeOrigin::signed(READER), space, entry),
			Error::<Test>::NoWriteAccess
		);
		assert_noop!(
			Memory::retry_embedding(RuntimeOrigin::signed(OWNER), space, 9),
			Error::<Test>::UnknownEntry
		);
		assert_noop!(
			Memory::retry_embedding(RuntimeOrigin::signed(OWNER), 9, entry),
			Error::<Test>::UnknownSpace
		);
		assert_ok!(Memory::retry_embedding(RuntimeOrigin::signed(OWNER), space, entry));
		assert!(EmbeddingRequests::<Test>::get(request).is_none());
		assert_ok!(Memory::remember(
			RuntimeOrigin::signed(OWNER),
			space,
			b"opaque".to_vec(),
			ContentKind::Bytes
		));
		assert_noop!(
			Memory::retry_embedding(RuntimeOrigin::signed(OWNER), space, 1),
			Error::<Test>::EmbeddingNotRetryable
		);
	});
}

#[test]
fn a_settlement_is_charged_the_embedding_only_for_a_request_memory_opened() {
	// A settlement is charged its listeners' most before dispatch and refunded down to what
	// they used: a request memory never opened (most requests) costs the lookup, not an
	// embedding's attachment.
	run_test(|| {
		use crate::WeightInfo;
		let space = space_with_grants();
		let (entry, request) = remember_text(OWNER, space, "fact");
		let output = embedding_output(&[3, -4, 5]);
		let model = scripted(request).model_id;
		let lookup: frame_support::weights::Weight =
			<<Test as frame_system::Config>::DbWeight as Get<
				frame_support::weights::RuntimeDbWeight,
			>>::get()
			.reads(1);
		assert_eq!(Memory::on_request_finalized(request + 100, &model, &output), lookup);
		assert_eq!(Memory::on_output_corrected(request + 100, &model, &output), lookup);
		assert!(Embeddings::<Test>::get(space, entry).is_none());
		assert_eq!(
			Memory::on_request_finalized(request, &model, &output),
			<Test as crate::Config>::WeightInfo::attach_embedding()
		);
		assert!(Embeddings::<Test>::get(space, entry).is_some());
	});
}

//! Recall: text questions, ranking by a finalized request, and its errors.

use super::*;
use crate::{Error, RecallError, RecallQuery};
use frame_support::assert_noop;
use verity_primitives::TensorMap;

/// A space with three embedded entries and one still waiting for its embedding.
fn space_with_embedded_entries() -> SpaceId {
	let space = space_with_grants();
	for (text, embedding) in
		[("north", [10i8, 0, 0]), ("east", [0, 10, 0]), ("north-east", [7, 7, 0])]
	{
		let (_, request) = remember_text(OWNER, space, text);
		finalize(request, embedding_output(&embedding));
	}
	remember_text(OWNER, space, "not embedded yet");
	space
}

/// A finalized query request for `embedding` on `model`.
fn query_request(model: sp_core::H256, embedding: &[i8]) -> u64 {
	use pallet_inference::InferenceProvider;
	let request =
		ScriptedInference::request(&READER, model, TensorMap::text(b"q").encode_canonical())
			.unwrap();
	finalize(request, embedding_output(embedding));
	request
}

trait EncodeCanonical {
	fn encode_canonical(&self) -> Vec<u8>;
}

impl EncodeCanonical for TensorMap {
	fn encode_canonical(&self) -> Vec<u8> {
		codec::Encode::encode(self)
	}
}

#[test]
fn a_text_question_opens_an_embedding_request_paid_by_the_caller() {
	run_test(|| {
		let space = space_with_embedded_entries();
		let question = b"which way is up?".to_vec().try_into().unwrap();
		assert_ok!(Memory::recall(
			RuntimeOrigin::signed(READER),
			space,
			RecallQuery::Text(question),
			2
		));
		let Event::RecallRequested { request, .. } = last_event() else {
			panic!("expected RecallRequested")
		};
		let asked = scripted(request);
		assert_eq!((asked.payer, asked.model_id), (READER, EMBEDDER));
		assert_eq!(
			TensorMap::decode_canonical(&asked.input).unwrap().as_text(),
			Some(&b"which way is up?"[..])
		);
	});
}

#[test]
fn recall_ranks_by_integer_similarity_and_skips_unembedded_entries() {
	run_test(|| {
		let space = space_with_embedded_entries();
		let query = query_request(EMBEDDER, &[9, 2, 0]);
		assert_ok!(Memory::recall(
			RuntimeOrigin::signed(READER),
			space,
			RecallQuery::Request(query),
			3
		));
		// north 90, north-east 77, east 20; entry 3 has no embedding yet.
		let expected = vec![(0, 90), (2, 77), (1, 20)];
		assert_eq!(
			last_event(),
			Event::Recalled {
				space,
				query_request: query,
				matches: expected.clone().try_into().unwrap()
			}
		);
		assert_eq!(Memory::recall_by_request(space, query, 3), Ok(expected));
		assert_eq!(Memory::recall_by_request(space, query, 1), Ok(vec![(0, 90)]));
	});
}

#[test]
fn recall_errors() {
	run_test(|| {
		let space = space_with_embedded_entries();
		let query = query_request(EMBEDDER, &[1, 0, 0]);
		let recall =
			|who, space, query, k| Memory::recall(RuntimeOrigin::signed(who), space, query, k);
		assert_noop!(
			recall(READER, 9, RecallQuery::Request(query), 1),
			Error::<Test>::UnknownSpace
		);
		assert_noop!(
			recall(STRANGER, space, RecallQuery::Request(query), 1),
			Error::<Test>::NoReadAccess
		);
		assert_noop!(
			recall(READER, space, RecallQuery::Request(query), 0),
			Error::<Test>::InvalidK
		);
		assert_noop!(
			recall(READER, space, RecallQuery::Request(query), 4),
			Error::<Test>::InvalidK
		);
		let not_utf8 = RecallQuery::Text(vec![0xff].try_into().unwrap());
		assert_noop!(recall(READER, space, not_utf8, 1), Error::<Test>::NotUtf8);
		assert_noop!(
			recall(READER, space, RecallQuery::Request(99), 1),
			Error::<Test>::UnknownQuery
		);

		use pallet_inference::InferenceProvider;
		let open = ScriptedInference::request(&READER, EMBEDDER, vec![]).unwrap();
		assert_noop!(
			recall(READER, space, RecallQuery::Request(open), 1),
			Error::<Test>::EmbeddingNotReady
		);
		fail(open);
		assert_noop!(
			recall(READER, space, RecallQuery::Request(open), 1),
			Error::<Test>::UnknownQuery
		);

		let other = query_request(OTHER_MODEL, &[1, 0, 0]);
		assert_noop!(
			recall(READER, space, RecallQuery::Request(other), 1),
			Error::<Test>::QueryModelMismatch
		);
		let garbage = ScriptedInference::request(&READER, EMBEDDER, vec![]).unwrap();
		finalize(garbage, vec![1, 2, 3]);
		assert_noop!(
			recall(READER, space, RecallQuery::Request(garbage), 1),
			Error::<Test>::MalformedEmbedding
		);
		assert_eq!(Memory::recall_by_request(9, query, 1), Err(RecallError::UnknownSpace));
		assert_eq!(Memory::recall_by_request(space, query, 0), Err(RecallError::InvalidK));
		assert_eq!(
			Memory::recall_by_request(space, other, 1),
			Err(RecallError::QueryModelMismatch)
		);
	});
}

#[test]
fn the_runtime_api_views_match_storage() {
	run_test(|| {
		let space = space_with_embedded_entries();
		let view = Memory::space_view(space).unwrap();
		assert_eq!((view.owner, view.entries), (OWNER, 4));
		assert_eq!(view.grants.len(), 2);
		let entries = Memory::entry_views(space);
		assert_eq!(entries.len(), 4);
		assert_eq!(entries[0].embedding, Some(vec![10, 0, 0]));
		assert_eq!(entries[3].embedding, None);
		let leaves: Vec<_> = entries.iter().map(|e| e.leaf).collect();
		assert_eq!(verity_primitives::space_root(leaves), view.root);
	});
}

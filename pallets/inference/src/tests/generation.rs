//! Generation models: registration, the parameters the chain checks, and the answer window a
//! slow model declares.

use super::*;
use crate::{mock::*, Error, RequestStatus, Requests};
use frame_support::{assert_noop, assert_ok};
use verity_primitives::{generation_input, generation_specs, GenerationParams, ModelFormat};

/// A GGUF generation model answering in `answer_blocks`, run by one executor.
fn generation_metadata(answer_blocks: u32) -> verity_primitives::ModelMetadata<Balance> {
	let (inputs, outputs) = generation_specs();
	verity_primitives::ModelMetadata {
		format: ModelFormat::Gguf,
		inputs: inputs.try_into().unwrap(),
		outputs: outputs.try_into().unwrap(),
		execution_profile: b"verity-llm-1/exact".to_vec().try_into().unwrap(),
		answer_blocks,
		..vector_metadata(1)
	}
}

fn register(
	model_id: ModelId,
	metadata: verity_primitives::ModelMetadata<Balance>,
) -> sp_runtime::DispatchResult {
	Inference::register_model(RuntimeOrigin::root(), model_id, metadata)
}

fn request(
	model_id: ModelId,
	prompt: &[u8],
	params: GenerationParams,
) -> sp_runtime::DispatchResult {
	Inference::request_inference(
		RuntimeOrigin::signed(1),
		model_id,
		generation_input(prompt, &params).encode(),
		u64::MAX,
	)
	.map(|_| ())
	.map_err(|error| error.error)
}

#[test]
fn a_gguf_model_must_declare_the_generation_tensors_and_a_sane_answer_window() {
	run_test(|| {
		let model = H256::repeat_byte(0x47);
		// A GGUF file with an ONNX model's tensors: executors could not answer it.
		let mut wrong = generation_metadata(0);
		wrong.inputs = vector_metadata(1).inputs;
		assert_noop!(register(model, wrong), Error::<Test>::NotAGenerationModel);
		// Fewer blocks than the chain's default, or more than its maximum.
		for blocks in [RESPONSE_TIMEOUT as u32 - 1, 9] {
			assert_noop!(
				register(model, generation_metadata(blocks)),
				Error::<Test>::InvalidAnswerBlocks
			);
		}
		assert_ok!(register(model, generation_metadata(8)));
	});
}

#[test]
fn out_of_range_parameters_and_a_prompt_that_is_not_utf8_are_refused_on_chain() {
	// Each of these would make every executor reject the request: the chain refuses it at
	// submission, so it costs the requester the transaction fee and no executor any work.
	run_test(|| {
		let model = H256::repeat_byte(0x47);
		assert_ok!(register(model, generation_metadata(0)));
		executor(10, &[model]);
		let good = GenerationParams { max_new_tokens: 16, ..Default::default() };
		for bad in [
			GenerationParams { max_new_tokens: 0, ..good },
			GenerationParams { max_new_tokens: verity_primitives::MAX_NEW_TOKENS + 1, ..good },
			GenerationParams { temperature_milli: 2_001, ..good },
			GenerationParams { top_p_milli: 0, ..good },
			GenerationParams { top_k: 1_001, ..good },
		] {
			assert_noop!(request(model, b"hello", bad), Error::<Test>::InvalidGenerationParams);
		}
		assert_noop!(request(model, &[0xff, 0xfe], good), Error::<Test>::InvalidUtf8Input);
		// The prompt alone, without parameters, is not a generation request.
		assert_noop!(
			Inference::request_inference(
				RuntimeOrigin::signed(1),
				model,
				TensorMap::text(b"hello").encode(),
				u64::MAX
			),
			Error::<Test>::InputSpecMismatch
		);
		assert_ok!(request(model, "Bonjour ✓".as_bytes(), good));
	});
}

#[test]
fn a_model_that_declares_more_blocks_gets_them_in_its_commit_phase() {
	// A language model generating many tokens needs longer than the chain's default to
	// answer: the extra blocks lengthen the commit phase, the reveal phase stays the chain's.
	run_test(|| {
		let slow = H256::repeat_byte(0x47);
		assert_ok!(register(slow, generation_metadata(8)));
		let fast = vector_model(1, 1);
		executor(10, &[slow, fast]);
		let now = System::block_number();
		assert_ok!(request(slow, b"hello", GenerationParams::default()));
		let slow_id = crate::NextRequestId::<Test>::get() - 1;
		next_block();
		let fast_id = assigned_request(1, fast);
		let slow_request = Requests::<Test>::get(slow_id).unwrap();
		let extra = 8 - RESPONSE_TIMEOUT;
		assert_eq!(slow_request.status, RequestStatus::Assigned { deadline: now + 8 });
		assert_eq!(slow_request.commit_deadline, now + COMMIT_TIMEOUT + extra);
		let fast_request = Requests::<Test>::get(fast_id).unwrap();
		assert_eq!(fast_request.status.deadline(), Some(now + 1 + RESPONSE_TIMEOUT));
		assert_eq!(fast_request.commit_deadline, now + 1 + COMMIT_TIMEOUT);
		// The slow one is still open when the fast one's deadline passed.
		run_to_deadline(fast_id);
		assert!(matches!(status(slow_id), RequestStatus::Assigned { .. }));
	});
}

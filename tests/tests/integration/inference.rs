//! Inference end to end: a dev node with its embedded executor answers a request for a demo
//! model, the chain finalizes it, and the on-chain output hash equals a local re-run through
//! the executor library.

use codec::Encode;
use scale_decode::DecodeAsType;
use std::time::Duration;
use subxt::dynamic;
use subxt_signer::sr25519::dev;
use verity_executor::{Engine, ExecutionProfile, ModelStore};
use verity_primitives::{DType, ModelId, Tensor, TensorMap};
use verity_tests::{
	inference_request, models_dir, wait_for_finalized, wait_for_request_finalized, Node,
};

/// The text-direction classifier of the development genesis.
const TEXT_DIRECTION: &str = "6403dbdaf8b7ba8f18f08e4bb8b12fdbdf63ee0d257548aa9da8d221d5ac9f99";

/// `Inference.InferenceRequested`'s fields this test reads.
#[derive(Debug, DecodeAsType)]
struct InferenceRequested {
	request_id: u64,
}

/// A text-line crop: 1×3×48×192 floats in [-1, 1], a left-to-right gradient with stripes.
fn text_line() -> Vec<u8> {
	let mut data = Vec::with_capacity(3 * 48 * 192 * 4);
	for channel in 0..3u32 {
		for row in 0..48u32 {
			for column in 0..192u32 {
				let stripe = if (row / 6) % 2 == 0 { 0.5 } else { -0.5 };
				let value = (column as f32 / 191.0) * 2.0 - 1.0 + stripe * (channel as f32 / 2.0);
				data.extend(value.clamp(-1.0, 1.0).to_le_bytes());
			}
		}
	}
	TensorMap(vec![Tensor {
		name: b"x".to_vec(),
		dtype: DType::F32,
		shape: vec![1, 3, 48, 192],
		data,
	}])
	.encode()
}

fn model_id(hex: &str) -> ModelId {
	let bytes: Vec<u8> = (0..32)
		.map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
		.collect();
	ModelId::from_slice(&bytes)
}

/// Bob requests `model` on `input`; returns the request id once the request is finalized in a
/// block.
async fn request_inference(client: &verity_tests::Client, model: ModelId, input: Vec<u8>) -> u64 {
	let call = dynamic::transaction("Inference", "request_inference", (model.0, input, u128::MAX));
	let events = client
		.transactions()
		.await
		.expect("a transactions client")
		.sign_and_submit_then_watch_default(&call, &dev::bob())
		.await
		.expect("the request is accepted into the pool")
		.wait_for_finalized_success()
		.await
		.expect("the request succeeds");
	let request_id = events
		.iter()
		.filter_map(Result::ok)
		.find(|event| {
			event.pallet_name() == "Inference" && event.event_name() == "InferenceRequested"
		})
		.map(|event| event.decode_fields_unchecked_as::<InferenceRequested>().expect("decodes"))
		.expect("the block holds InferenceRequested")
		.request_id;
	request_id
}

/// The process ids of the embedded executors the node's log says it started, in order.
fn executor_pids(node: &Node) -> Vec<u32> {
	node.log()
		.lines()
		.filter_map(|line| line.split("embedded executor started (pid ").nth(1))
		.filter_map(|rest| rest.split(')').next()?.parse().ok())
		.collect()
}

/// The attack (or accident): a model aborts its executor process. The embedded executor is a
/// child the node supervises, so block production and finality go on, the node starts a new
/// executor, and a request made afterwards is answered and finalized.
#[tokio::test(flavor = "multi_thread")]
async fn an_executor_that_dies_is_restarted_and_block_production_goes_on() {
	let _machine = verity_tests::shared_machine().await;
	let node = Node::start("executor-restart", &["--dev", "--tmp"]);
	let client = node.client().await;
	let rpc = node.rpc().await;
	let first = wait_until(|| executor_pids(&node).first().copied(), "the executor starts").await;
	let finalized = wait_for_finalized(&client, 1, Duration::from_secs(60)).await;

	let killed = std::process::Command::new("kill").args(["-KILL", &first.to_string()]).status();
	assert!(killed.is_ok_and(|status| status.success()), "the executor {first} can be killed");
	let second = wait_until(
		|| executor_pids(&node).get(1).copied(),
		"the node starts a new executor after the first died",
	)
	.await;
	assert_ne!(first, second);
	wait_for_finalized(&client, finalized + 3, Duration::from_secs(60)).await;

	let request_id = request_inference(&client, model_id(TEXT_DIRECTION), text_line()).await;
	let request = wait_for_request_finalized(&rpc, request_id, Duration::from_secs(120)).await;
	assert_eq!(request["attestations"].as_array().map(Vec::len), Some(1), "{request}");
}

/// Poll `probe` every half second for up to a minute until it gives a value.
async fn wait_until<T>(probe: impl Fn() -> Option<T>, what: &str) -> T {
	for _ in 0..120 {
		if let Some(value) = probe() {
			return value;
		}
		tokio::time::sleep(Duration::from_millis(500)).await;
	}
	panic!("timed out waiting until {what}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dev_node_finalizes_a_real_inference_that_reruns_to_the_same_bytes() {
	let _machine = verity_tests::shared_machine().await;
	let node = Node::start("inference", &["--dev", "--tmp"]);
	let client = node.client().await;
	let rpc = node.rpc().await;
	let model = model_id(TEXT_DIRECTION);
	let input = text_line();

	let request_id = request_inference(&client, model, input.clone()).await;

	let request = wait_for_request_finalized(&rpc, request_id, Duration::from_secs(120)).await;
	let on_chain_hash = request["status"]["Finalized"]["output_hash"]
		.as_str()
		.expect("a finalized request has an output hash")
		.to_string();
	assert_eq!(request["attestations"].as_array().map(Vec::len), Some(1), "{request}");

	// Re-run locally under the model's profile.
	ExecutionProfile::Generic.activate().expect("the generic profile runs anywhere");
	let engine =
		Engine::new(ModelStore::open(models_dir()).unwrap(), ExecutionProfile::Generic, 1 << 30);
	let local = engine.infer(&model, None, &input).expect("the model runs locally");
	assert_eq!(on_chain_hash, format!("{:#x}", local.output_hash), "{request}");
	let output = request["output"].as_str().expect("the output is on chain");
	assert_eq!(output, sp_core_hex(&local.output));
}

fn sp_core_hex(bytes: &[u8]) -> String {
	let mut hex = String::from("0x");
	for byte in bytes {
		hex.push_str(&format!("{byte:02x}"));
	}
	hex
}

/// The all-MiniLM-L6-v2 embedding model of the development genesis.
const SENTENCE_EMBEDDING: &str = "1f42c31ee883956655f447c17dbed65630477333ba87ffa7e9ea94d1073583f6";

/// The attack: a request whose `text` is not UTF-8 (`ff fe 41`), which no executor can run.
/// Before, it was accepted, expired, and cost the honest executor part of its bond for a few
/// thousandths of a unit. Now the chain refuses it at submission with a named error: nothing
/// is held from the requester, no executor is assigned, and Alice's bond and record do not
/// move.
#[tokio::test(flavor = "multi_thread")]
async fn an_unrunnable_text_input_is_refused_and_slashes_nobody() {
	let _machine = verity_tests::shared_machine().await;
	let node = Node::start("invalid-utf8", &["--dev", "--tmp"]);
	let client = node.client().await;
	let rpc = node.rpc().await;
	let alice = dev::alice().public_key().to_account_id().to_string();
	let executor = || async {
		rpc.request::<serde_json::Value>(
			"inference_executor",
			subxt::rpcs::rpc_params![alice.clone()],
		)
		.await
		.expect("inference_executor answers")
	};
	let before = executor().await;

	let model = model_id(SENTENCE_EMBEDDING);
	let input = TensorMap::text(&[0xff, 0xfe, 0x41]).encode();
	let call = dynamic::transaction("Inference", "request_inference", (model.0, input, u128::MAX));
	let outcome = client
		.transactions()
		.await
		.expect("a transactions client")
		.sign_and_submit_then_watch_default(&call, &dev::bob())
		.await
		.expect("the transaction is accepted into the pool")
		.wait_for_finalized_success()
		.await;
	let Err(error) = outcome else { panic!("the request is refused") };
	let error = error.to_string();
	assert!(error.contains("InvalidUtf8Input"), "{error}");

	// Blocks later, still nothing moved.
	let seen = wait_for_finalized(&client, 0, Duration::from_secs(30)).await;
	wait_for_finalized(&client, seen + 3, Duration::from_secs(60)).await;
	let after = executor().await;
	assert_eq!(after["bond"], before["bond"], "{after}");
	assert_eq!(after["stats"], before["stats"], "{after}");
	assert_eq!(after["open_assignments"], serde_json::json!([]), "{after}");
	let request = inference_request(&rpc, 0).await;
	assert!(request.is_null(), "no request was stored: {request}");
}

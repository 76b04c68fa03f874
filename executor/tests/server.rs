//! The HTTP API: answers, status codes, limits.

mod common;

use common::*;
use std::time::Duration;
use verity_executor::{server, Engine, ExecutionProfile, ModelStore};

/// Serve the demo store on a free loopback port; returns its base URL.
fn serve(limits: server::Limits) -> String {
	ExecutionProfile::Generic.activate().expect("the generic profile runs anywhere");
	let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
	listener.set_nonblocking(true).unwrap();
	let address = listener.local_addr().unwrap();
	std::thread::spawn(move || {
		let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
		runtime.block_on(async move {
			let listener = tokio::net::TcpListener::from_std(listener).unwrap();
			let engine = Engine::new(
				ModelStore::open(models_dir()).unwrap(),
				ExecutionProfile::Generic,
				1 << 30,
			);
			server::serve(listener, engine, limits).await.unwrap();
		});
	});
	format!("http://{address}")
}

fn post(url: &str, body: &serde_json::Value) -> (u16, serde_json::Value) {
	let agent: ureq::Agent =
		ureq::Agent::config_builder().http_status_as_error(false).build().into();
	let mut response = agent.post(url).send_json(body).expect("the server answers");
	let status = response.status().as_u16();
	let json = response.body_mut().read_json().unwrap_or(serde_json::Value::Null);
	(status, json)
}

fn hex(bytes: &[u8]) -> String {
	format!("0x{}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

#[test]
fn the_api_answers_and_refuses_with_clear_statuses() {
	let base = serve(server::Limits { max_body_bytes: 256 * 1024, ..Default::default() });
	std::thread::sleep(Duration::from_millis(200));
	let infer = format!("{base}/v1/infer");

	let (status, body) = post(
		&infer,
		&serde_json::json!({
			"model_id": format!("0x{TEXT_DIRECTION}"),
			"input": hex(&text_line()),
		}),
	);
	assert_eq!(status, 200, "{body}");
	assert_eq!(body["profile"], "tract-0.23/generic");
	let output = body["output"].as_str().unwrap();
	let output_bytes: Vec<u8> = (1..output.len() / 2)
		.map(|i| u8::from_str_radix(&output[2 * i..2 * i + 2], 16).unwrap())
		.collect();
	assert_eq!(
		body["output_hash"],
		format!("{:#x}", verity_primitives::content_hash(&output_bytes))
	);

	let (status, body) = post(
		&infer,
		&serde_json::json!({
			"model_id": format!("0x{}", "11".repeat(32)),
			"input": hex(&text_line()),
		}),
	);
	assert_eq!(status, 404, "{body}");
	assert!(body["error"].as_str().unwrap().contains("not in the model store"));

	let (status, body) = post(
		&infer,
		&serde_json::json!({
			"model_id": format!("0x{TEXT_DIRECTION}"),
			"input": "0x010203",
		}),
	);
	assert_eq!(status, 400, "{body}");

	// An input no honest executor can run answers 422 with its canonical rejection code.
	let mut empty = verity_primitives::TensorMap::decode_canonical(&text_line()).unwrap();
	empty.0[0].shape[0] = 0;
	empty.0[0].data.clear();
	let (status, body) = post(
		&infer,
		&serde_json::json!({
			"model_id": format!("0x{TEXT_DIRECTION}"),
			"input": hex(&codec::Encode::encode(&empty)),
		}),
	);
	assert_eq!(status, 422, "{body}");
	assert_eq!(body["rejection"], "EmptyAxis", "{body}");
	assert!(body["error"].as_str().unwrap().contains("EmptyAxis"), "{body}");

	let (status, _) = post(&infer, &serde_json::json!({ "model_id": "nonsense" }));
	assert!((400..500).contains(&status), "a malformed body is a client error, got {status}");

	let oversize = serde_json::json!({
		"model_id": format!("0x{TEXT_DIRECTION}"),
		"input": hex(&vec![0u8; 300 * 1024]),
	});
	let (status, _) = post(&infer, &oversize);
	assert_eq!(status, 413);

	let health: serde_json::Value = ureq::get(&format!("{base}/health"))
		.call()
		.unwrap()
		.body_mut()
		.read_json()
		.unwrap();
	assert_eq!(health["status"], "ok");
	let models: serde_json::Value = ureq::get(&format!("{base}/v1/models"))
		.call()
		.unwrap()
		.body_mut()
		.read_json()
		.unwrap();
	assert!(models["models"]
		.as_array()
		.unwrap()
		.iter()
		.any(|m| m == &format!("0x{TEXT_DIRECTION}")));
}

//! The HTTP API: answers, status codes, limits.

mod common;

use common::*;
use std::time::Duration;
use verity_executor::{server, Engine, ExecutionProfile, ModelStore};

/// Serve the demo store on a free loopback port; returns its base URL.
fn serve(limits: server::Limits) -> String {
	serve_store(models_dir(), limits, server::Access::default())
}

/// Serve the store in `dir` on a free loopback port to callers under `access`.
fn serve_store(dir: std::path::PathBuf, limits: server::Limits, access: server::Access) -> String {
	ExecutionProfile::Generic.activate().expect("the generic profile runs anywhere");
	let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
	listener.set_nonblocking(true).unwrap();
	let address = listener.local_addr().unwrap();
	std::thread::spawn(move || {
		let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
		runtime.block_on(async move {
			let listener = tokio::net::TcpListener::from_std(listener).unwrap();
			let engine =
				Engine::new(ModelStore::open(dir).unwrap(), ExecutionProfile::Generic, 1 << 30);
			server::serve(listener, engine, limits, access).await.unwrap();
		});
	});
	format!("http://{address}")
}

fn post(url: &str, body: &serde_json::Value) -> (u16, serde_json::Value) {
	post_as(url, None, body)
}

/// POST `body` presenting `token` as the bearer, if any.
fn post_as(url: &str, token: Option<&str>, body: &serde_json::Value) -> (u16, serde_json::Value) {
	let agent: ureq::Agent =
		ureq::Agent::config_builder().http_status_as_error(false).build().into();
	let mut request = agent.post(url);
	if let Some(token) = token {
		request = request.header("Authorization", &format!("Bearer {token}"));
	}
	let mut response = request.send_json(body).expect("the server answers");
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
	assert_eq!(body["profile"], "tract-0.23/generic", "a rejection names its profile: {body}");
	assert!(body["error"].as_str().unwrap().contains("EmptyAxis"), "{body}");

	let (status, _) = post(&infer, &serde_json::json!({ "model_id": "nonsense" }));
	assert!((400..500).contains(&status), "a malformed body is a client error, got {status}");

	// A body over the limit is refused with 413 as soon as its length is known; the server
	// then closes the connection, so a client still writing the body may see that instead.
	let oversize = serde_json::json!({
		"model_id": format!("0x{TEXT_DIRECTION}"),
		"input": hex(&vec![0u8; 140 * 1024]),
	});
	let agent: ureq::Agent =
		ureq::Agent::config_builder().http_status_as_error(false).build().into();
	match agent.post(&infer).send_json(&oversize) {
		Ok(response) => assert_eq!(response.status().as_u16(), 413),
		Err(ureq::Error::Io(error)) => assert!(
			matches!(
				error.kind(),
				std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
			),
			"{error}"
		),
		Err(error) => panic!("an oversize body gets 413 or a closed connection, got {error}"),
	}

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

#[test]
fn a_job_past_its_time_limit_keeps_its_slot_until_it_really_ends() {
	// One slot, and a limit no cold run of the 90 MB embedding model meets.
	let base = serve(server::Limits {
		max_concurrent_jobs: 1,
		job_timeout: Duration::from_millis(1),
		..Default::default()
	});
	std::thread::sleep(Duration::from_millis(200));
	let infer = format!("{base}/v1/infer");
	let job = serde_json::json!({
		"model_id": format!("0x{SENTENCE_EMBEDDING}"),
		"input": hex(&codec::Encode::encode(&verity_primitives::TensorMap::text(b"slot"))),
	});
	let (status, body) = post(&infer, &job);
	assert_eq!(status, 504, "{body}");
	// The timed-out job still runs (loading and planning take seconds), so it holds the slot.
	let (status, body) = post(&infer, &job);
	assert_eq!(status, 503, "a timed-out job that still runs keeps its slot: {body}");
	// Once it really ends, the slot is free again.
	let freed = (0..600).any(|_| {
		std::thread::sleep(Duration::from_millis(200));
		post(&infer, &job).0 != 503
	});
	assert!(freed, "the slot came back when the job ended");
}

#[test]
fn fetching_an_artifact_takes_the_auth_token_and_running_a_stored_model_does_not() {
	let empty_store = tempfile::tempdir().unwrap();
	let base = serve_store(
		empty_store.path().to_path_buf(),
		server::Limits::default(),
		server::Access { auth_token: Some("correct horse".into()) },
	);
	std::thread::sleep(Duration::from_millis(200));
	let infer = format!("{base}/v1/infer");
	let artifact = models_dir().join(format!("{TEXT_DIRECTION}.onnx"));
	let job = serde_json::json!({
		"model_id": format!("0x{TEXT_DIRECTION}"),
		"input": hex(&text_line()),
		"artifact_uri": format!("file://{}", artifact.display()),
	});

	// Without the token, or with another, the executor fetches nothing.
	for token in [None, Some("wrong horse"), Some("correct hors")] {
		let (status, body) = post_as(&infer, token, &job);
		assert_eq!(status, 403, "{token:?}: {body}");
		assert!(body["error"].as_str().unwrap().contains("auth token"), "{body}");
		assert!(empty_store.path().read_dir().unwrap().next().is_none(), "nothing was fetched");
	}

	// With it, the artifact is fetched (and checked against the id).
	let (status, body) = post_as(&infer, Some("correct horse"), &job);
	assert_eq!(status, 200, "{body}");

	// Once stored, anyone may run the model; a URI they add is ignored, not fetched.
	let (status, body) = post_as(&infer, None, &job);
	assert_eq!(status, 200, "{body}");
}

#[test]
fn artifacts_are_served_by_id_to_any_origin_and_unknown_ids_are_named() {
	let base = serve(server::Limits::default());
	std::thread::sleep(Duration::from_millis(200));
	let agent: ureq::Agent =
		ureq::Agent::config_builder().http_status_as_error(false).build().into();
	let get = |path: &str| {
		let mut response = agent.get(&format!("{base}{path}")).call().expect("the server answers");
		let cors = response
			.headers()
			.get("access-control-allow-origin")
			.and_then(|value| value.to_str().ok())
			.map(str::to_string);
		let body = response.body_mut().with_config().limit(1 << 30).read_to_vec().unwrap();
		(response.status().as_u16(), cors, body)
	};

	let (status, cors, bytes) = get(&format!("/v1/artifacts/0x{TEXT_DIRECTION}"));
	assert_eq!(status, 200);
	assert_eq!(cors.as_deref(), Some("*"), "a page on any origin may read it");
	assert_eq!(verity_primitives::content_hash(&bytes), id(TEXT_DIRECTION), "the registered bytes");

	let (status, cors, body) = get(&format!("/v1/artifacts/0x{}", "11".repeat(32)));
	assert_eq!(status, 404);
	assert_eq!(cors.as_deref(), Some("*"), "errors are readable by the page too");
	assert!(String::from_utf8_lossy(&body).contains("not in this executor's store"));

	let (status, _, body) = get("/v1/artifacts/not-an-id");
	assert_eq!(status, 400);
	assert!(String::from_utf8_lossy(&body).contains("is not a model id"));
}

#[test]
fn every_job_answer_closes_its_connection() {
	// A kept-alive connection stalls a two-write request on the delayed acknowledgement of its
	// headers; the server ends each job's connection instead, success and error alike.
	let base = serve(server::Limits::default());
	std::thread::sleep(Duration::from_millis(200));
	let agent: ureq::Agent =
		ureq::Agent::config_builder().http_status_as_error(false).build().into();
	let infer = format!("{base}/v1/infer");
	for (model, expected) in
		[(format!("0x{TEXT_DIRECTION}"), 200), (format!("0x{}", "00".repeat(32)), 404)]
	{
		let response = agent
			.post(&infer)
			.send_json(serde_json::json!({ "model_id": model, "input": hex(&text_line()) }))
			.expect("the server answers");
		assert_eq!(response.status().as_u16(), expected);
		assert_eq!(
			response.headers().get("connection").and_then(|value| value.to_str().ok()),
			Some("close")
		);
	}
}

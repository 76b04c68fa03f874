//! The executor's HTTP API.
//!
//! - `POST /v1/infer` `{"model_id": "0x…", "input": "0x…", "artifact_uri": "…"?}` runs a model
//!   on a canonical input and answers `{"output", "output_hash", "profile", "elapsed_ms"}`.
//! - `GET /v1/models` lists the artifacts in the store.
//! - `GET /v1/artifacts/0x…` answers an artifact's bytes from the store (checked against the
//!   id), to anyone, with `Access-Control-Allow-Origin: *`: a browser re-runs the model from
//!   them, and its own hash of them is what makes them trustworthy, not this server.
//! - `GET /health` answers `{"status": "ok", "profile"}`.
//!
//! Errors are JSON `{"error": "…"}` with a 4xx status for bad requests (unknown model 404,
//! fetching an artifact without authentication 403, unusable artifact 422, store full 507, input not matching
//! the model 400, body too large 413) and 503 when every slot is busy, 504 when a job exceeds
//! its time limit (the job keeps its slot until it really ends). An input that cannot be run for
//! a reason every honest executor meets the same way is a 422 that also names the canonical
//! rejection code, `{"error": "…", "rejection": "InvalidUtf8" | "InvalidBool" | "EmptyAxis" |
//! "UnsupportedShape" | "ModelError", "profile"}`: executors attest it as the request's
//! outcome.

use crate::engine::{Engine, EngineError};
use crate::store::{hex, ModelStore, StoreError};
use axum::{
	extract::Path,
	extract::{ConnectInfo, DefaultBodyLimit, State},
	http::{
		header::{ACCESS_CONTROL_ALLOW_ORIGIN, AUTHORIZATION, CONNECTION, CONTENT_TYPE},
		HeaderMap, HeaderValue, StatusCode,
	},
	response::{IntoResponse, Response},
	routing::{get, post},
	Json, Router,
};
use serde::{Deserialize, Serialize};
use sp_core::H256;
use std::{net::SocketAddr, sync::Arc, time::Duration};
use tokio::sync::Semaphore;

/// Limits of a server.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
	/// Largest request body, in bytes.
	pub max_body_bytes: usize,
	/// Jobs running at once; more are refused with 503.
	pub max_concurrent_jobs: usize,
	/// Longest a job may run.
	pub job_timeout: Duration,
}

impl Default for Limits {
	fn default() -> Self {
		Self {
			max_body_bytes: 4 * 1024 * 1024,
			max_concurrent_jobs: 2,
			job_timeout: Duration::from_secs(30),
		}
	}
}

/// Who may have the executor fetch an artifact it does not hold.
///
/// Fetching is what a hostile caller would abuse (the executor downloads and plans whatever it
/// is pointed at), so a request naming an `artifact_uri` for a model outside the store is
/// served only to an authenticated caller: one presenting `Authorization: Bearer <token>`
/// when the executor has a token, or any loopback caller (the node on the same host) when it
/// has none. Everyone else runs only what the store holds. The artifact is checked against
/// the model id (its content hash) whoever asked.
#[derive(Clone, Debug, Default)]
pub struct Access {
	/// The token authenticated callers present; `None` trusts loopback callers only.
	pub auth_token: Option<String>,
}

impl Access {
	/// Whether the caller at `peer` presenting `headers` may have artifacts fetched.
	pub fn may_fetch(&self, peer: &SocketAddr, headers: &HeaderMap) -> bool {
		match &self.auth_token {
			None => peer.ip().is_loopback(),
			Some(token) => headers
				.get(AUTHORIZATION)
				.and_then(|value| value.to_str().ok())
				.and_then(|value| value.strip_prefix("Bearer "))
				.is_some_and(|presented| same_secret(presented.as_bytes(), token.as_bytes())),
		}
	}
}

/// Compare two secrets in time independent of where they differ.
fn same_secret(presented: &[u8], expected: &[u8]) -> bool {
	presented.len() == expected.len()
		&& presented.iter().zip(expected).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

/// `POST /v1/infer`'s body.
#[derive(Debug, Deserialize, Serialize)]
pub struct InferRequest {
	/// The model's id, `0x`-prefixed hex.
	pub model_id: H256,
	/// The canonical input encoding, `0x`-prefixed hex.
	pub input: sp_core::Bytes,
	/// Where to fetch the artifact if the store lacks it.
	#[serde(default)]
	pub artifact_uri: Option<String>,
}

/// `POST /v1/infer`'s answer.
#[derive(Debug, Deserialize, Serialize)]
pub struct InferResponse {
	/// The canonical output encoding, `0x`-prefixed hex.
	pub output: sp_core::Bytes,
	/// Its blake2-256 hash.
	pub output_hash: H256,
	/// The execution profile it ran under.
	pub profile: String,
	/// Milliseconds spent, planning included.
	pub elapsed_ms: u64,
}

/// An error answer.
#[derive(Debug, Deserialize, Serialize)]
pub struct ErrorResponse {
	/// What went wrong.
	pub error: String,
	/// The canonical rejection, when the input cannot be run on any honest executor.
	#[serde(default, skip_serializing_if = "Option::is_none")]
	pub rejection: Option<verity_primitives::RejectionCode>,
	/// The execution profile a rejection was judged under; the chain's workers refuse a
	/// rejection made under another profile than the model's.
	#[serde(default, skip_serializing_if = "Option::is_none")]
	pub profile: Option<String>,
}

struct Shared {
	engine: Engine,
	slots: Arc<Semaphore>,
	limits: Limits,
	access: Access,
}

/// The router serving `engine` within `limits` to callers under `access`. Serve it with
/// connection info (`into_make_service_with_connect_info::<SocketAddr>`): the caller's
/// address decides what it may fetch.
pub fn router(engine: Engine, limits: Limits, access: Access) -> Router {
	let slots = Arc::new(Semaphore::new(limits.max_concurrent_jobs));
	let shared = Arc::new(Shared { engine, slots, limits, access });
	Router::new()
		.route("/v1/infer", post(infer))
		.route("/v1/models", get(models))
		.route("/v1/artifacts/{id}", get(artifact))
		.route("/health", get(health))
		.layer(DefaultBodyLimit::max(limits.max_body_bytes))
		.with_state(shared)
}

/// Serve `engine` on `listener` until the process ends.
pub async fn serve(
	listener: tokio::net::TcpListener,
	engine: Engine,
	limits: Limits,
	access: Access,
) -> std::io::Result<()> {
	let app = router(engine, limits, access);
	axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await
}

fn error(status: StatusCode, message: impl ToString) -> Response {
	(status, Json(ErrorResponse { error: message.to_string(), rejection: None, profile: None }))
		.into_response()
}

/// The answer for an engine error: a rejection carries its code and the `profile` it was
/// judged under.
fn engine_error(error: EngineError, profile: String) -> Response {
	match error.rejection() {
		Some(code) => (
			StatusCode::UNPROCESSABLE_ENTITY,
			Json(ErrorResponse {
				error: error.to_string(),
				rejection: Some(code),
				profile: Some(profile),
			}),
		)
			.into_response(),
		None => self::error(status_of(&error), error),
	}
}

fn status_of(error: &EngineError) -> StatusCode {
	match error {
		EngineError::Store(StoreError::UnknownModel(_)) => StatusCode::NOT_FOUND,
		EngineError::Store(StoreError::HashMismatch { .. })
		| EngineError::Store(StoreError::TooLarge(_))
		| EngineError::MalformedModel { .. } => StatusCode::UNPROCESSABLE_ENTITY,
		EngineError::Store(StoreError::UnsupportedUri(_))
		| EngineError::MalformedInput(_)
		| EngineError::InputMismatch(_)
		| EngineError::Conversion(_) => StatusCode::BAD_REQUEST,
		EngineError::Store(StoreError::Unreadable { .. }) => StatusCode::BAD_GATEWAY,
		EngineError::Store(StoreError::QuotaExceeded { .. }) => StatusCode::INSUFFICIENT_STORAGE,
		EngineError::Execution(_) | EngineError::Rejected { .. } => {
			StatusCode::UNPROCESSABLE_ENTITY
		},
	}
}

/// `POST /v1/infer`, answered with `Connection: close`.
///
/// A job is a small request whose client (the node's offchain worker) sends the headers and the
/// body in two writes without `TCP_NODELAY`; on a kept-alive connection the body then waits for
/// this side's delayed acknowledgement of the headers, about 40 ms on Linux, a hundred times the
/// job itself. A fresh connection per job is acknowledged at once and costs a loopback
/// handshake.
async fn infer(
	state: State<Arc<Shared>>,
	peer: ConnectInfo<SocketAddr>,
	headers: HeaderMap,
	request: Result<Json<InferRequest>, axum::extract::rejection::JsonRejection>,
) -> Response {
	let mut response = run_job(state, peer, headers, request).await;
	response.headers_mut().insert(CONNECTION, HeaderValue::from_static("close"));
	response
}

/// The answer to one job: its outcome, or a JSON error.
async fn run_job(
	State(shared): State<Arc<Shared>>,
	ConnectInfo(peer): ConnectInfo<SocketAddr>,
	headers: HeaderMap,
	request: Result<Json<InferRequest>, axum::extract::rejection::JsonRejection>,
) -> Response {
	let Json(mut request) = match request {
		Ok(request) => request,
		Err(rejection) => return error(rejection.status(), rejection.body_text()),
	};
	if request.artifact_uri.is_some() && !shared.access.may_fetch(&peer, &headers) {
		if !shared.engine.store().path_of(&request.model_id).exists() {
			return error(
				StatusCode::FORBIDDEN,
				"the model is not in the store, and fetching an artifact needs the executor's \
				 auth token (Authorization: Bearer …) or, without a token, a loopback caller",
			);
		}
		request.artifact_uri = None;
	}
	// The slot is held by the job itself: a job past its time limit keeps it until it ends.
	let Ok(permit) = shared.slots.clone().try_acquire_owned() else {
		return error(StatusCode::SERVICE_UNAVAILABLE, "every inference slot is busy; retry later");
	};
	let job_shared = shared.clone();
	let model_id = request.model_id;
	let job = tokio::task::spawn_blocking(move || {
		let outcome = job_shared.engine.infer(
			&request.model_id,
			request.artifact_uri.as_deref(),
			&request.input,
		);
		drop(permit);
		outcome
	});
	let outcome = tokio::time::timeout(shared.limits.job_timeout, job).await;
	match outcome {
		Err(_) => error(
			StatusCode::GATEWAY_TIMEOUT,
			format!("the job exceeded its {:?} limit", shared.limits.job_timeout),
		),
		Ok(Err(panic)) => {
			error(StatusCode::INTERNAL_SERVER_ERROR, format!("the job failed: {panic}"))
		},
		Ok(Ok(Err(failure))) => engine_error(failure, shared.engine.profile_for(&model_id)),
		Ok(Ok(Ok(output))) => Json(InferResponse {
			output: output.output.into(),
			output_hash: output.output_hash,
			profile: shared.engine.profile_for(&model_id),
			elapsed_ms: output.elapsed.as_millis() as u64,
		})
		.into_response(),
	}
}

async fn models(State(shared): State<Arc<Shared>>) -> Response {
	let ids: Vec<String> =
		shared.engine.store().list().iter().map(|id| format!("0x{}", hex(id))).collect();
	Json(serde_json::json!({ "models": ids, "profile": shared.engine.profile().id() }))
		.into_response()
}

/// The artifact `id` from the store, for anyone (a browser's verifier among them). Only
/// artifacts already stored are served; nothing is fetched for the asker.
async fn artifact(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
	artifact_response(shared.engine.store().clone(), &id).await
}

/// The answer to `GET /v1/artifacts/{id}` from `store`: the artifact's bytes (checked against
/// the id), or a JSON error, with `Access-Control-Allow-Origin: *` either way. Only what is
/// stored is served; nothing is fetched for the asker. Shared with `verity explorer`.
pub async fn artifact_response(store: ModelStore, id: &str) -> Response {
	let cors = [(ACCESS_CONTROL_ALLOW_ORIGIN, "*")];
	let Some(model_id) = parse_model_id(id) else {
		let message = format!("{id:?} is not a model id (0x and 64 hex digits)");
		return (cors, error(StatusCode::BAD_REQUEST, message)).into_response();
	};
	match tokio::task::spawn_blocking(move || store.load(&model_id, None)).await {
		Ok(Ok(bytes)) => {
			(cors, [(CONTENT_TYPE, "application/octet-stream")], bytes).into_response()
		},
		Ok(Err(StoreError::UnknownModel(_))) => {
			let message = format!("model {id} is not in this executor's store");
			(cors, error(StatusCode::NOT_FOUND, message)).into_response()
		},
		Ok(Err(problem)) => {
			(cors, error(StatusCode::INTERNAL_SERVER_ERROR, problem)).into_response()
		},
		Err(_) => {
			(cors, error(StatusCode::INTERNAL_SERVER_ERROR, "the read failed")).into_response()
		},
	}
}

/// A model id from `0x` and 64 hex digits.
fn parse_model_id(text: &str) -> Option<H256> {
	let digits = text.strip_prefix("0x")?;
	if digits.len() != 64 {
		return None;
	}
	let bytes: Option<Vec<u8>> = (0..32)
		.map(|i| u8::from_str_radix(digits.get(2 * i..2 * i + 2)?, 16).ok())
		.collect();
	Some(H256::from_slice(&bytes?))
}

async fn health(State(shared): State<Arc<Shared>>) -> Response {
	Json(serde_json::json!({ "status": "ok", "profile": shared.engine.profile().id() }))
		.into_response()
}

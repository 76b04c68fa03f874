//! The worker's HTTP client of the executor: one job in, one checked outcome out.
//!
//! An executor's reply is trusted for nothing it does not prove: its output hash is
//! recomputed, a reply (or rejection) that names another execution profile than the model's
//! is refused, and the reply is read within the job's deadline and up to a size no honest
//! reply exceeds, so a broken or hostile executor can stall or bloat the worker no longer than
//! one deadline and no more than that size.

use alloc::{format, string::String, vec::Vec};
use sp_runtime::offchain::{http, Duration, Timestamp};
use verity_primitives::{InferenceOutcome, ModelId, RejectionCode};

/// How long one inference over HTTP may take, sending, running and reading included.
pub const HTTP_TIMEOUT_MS: u64 = 60_000;

/// Room an honest reply takes beyond its hex output: the hash, the profile, field names.
const REPLY_OVERHEAD_BYTES: usize = 4096;

/// Why a job got no outcome from the executor; logged through `Debug`.
#[derive(Debug, PartialEq)]
pub enum HttpFailure {
	/// The request could not be sent, or no full answer came before the deadline.
	Http,
	/// The executor answered with a status that is no outcome.
	Status(u16),
	/// The answer is not the expected JSON.
	BadReply,
	/// The answer is longer than any honest reply (`limit` bytes).
	ReplyTooLarge {
		/// The most an honest reply takes.
		limit: usize,
	},
	/// The executor ran the job under another profile than the model's.
	ProfileMismatch {
		/// The profile the executor named (empty when it named none).
		executor: String,
	},
}

impl HttpFailure {
	/// Whether the executor refused the job only because every slot it has was taken (503):
	/// the job may go again as soon as one of the worker's own jobs ends.
	pub fn executor_busy(&self) -> bool {
		*self == Self::Status(503)
	}
}

/// One job for the executor.
pub struct Job<'a> {
	/// The executor's base URL.
	pub url: &'a str,
	/// The token to present (`Authorization: Bearer`), if the node has one.
	pub auth_token: Option<&'a str>,
	/// The model to run.
	pub model_id: &'a ModelId,
	/// Where the executor may fetch the model's artifact.
	pub artifact_uri: &'a str,
	/// The execution profile the model names; the reply must name it too.
	pub profile: &'a [u8],
	/// The canonical input.
	pub input: &'a [u8],
	/// The longest output the chain takes, in bytes.
	pub max_output_len: usize,
}

impl Job<'_> {
	/// The most bytes an honest reply to this job takes: the output in hex plus its fields.
	pub fn reply_limit(&self) -> usize {
		self.max_output_len.saturating_mul(2).saturating_add(REPLY_OVERHEAD_BYTES)
	}

	/// The JSON body of `POST /v1/infer`.
	pub fn body(&self) -> Result<String, HttpFailure> {
		Ok(format!(
			"{{\"model_id\":\"{}\",\"input\":\"{}\",\"artifact_uri\":{}}}",
			to_hex(self.model_id.as_bytes()),
			to_hex(self.input),
			serde_json::to_string(self.artifact_uri).map_err(|_| HttpFailure::BadReply)?,
		))
	}

	/// POST the job to `<url>/v1/infer` and return at once: the executor works on it while
	/// the worker sends others, and [`Sent::receive`] reads its outcome.
	pub fn send(&self) -> Result<Sent, HttpFailure> {
		let endpoint = format!("{}/v1/infer", self.url.trim_end_matches('/'));
		let deadline = deadline_from_now();
		let mut request = http::Request::post(&endpoint, alloc::vec![self.body()?.into_bytes()])
			.add_header("Content-Type", "application/json")
			.deadline(deadline);
		let authorization = self.auth_token.map(|token| format!("Bearer {token}"));
		if let Some(authorization) = &authorization {
			request = request.add_header("Authorization", authorization);
		}
		let pending = request.send().map_err(|_| HttpFailure::Http)?;
		Ok(Sent { pending, deadline, check: self.check() })
	}

	/// The outcome an executor's answer (`code`, `body`) gives, if it gives one.
	pub fn outcome_of(&self, code: u16, body: &[u8]) -> Result<InferenceOutcome, HttpFailure> {
		self.check().outcome_of(code, body)
	}

	/// What this job's reply is held to.
	fn check(&self) -> ReplyCheck {
		ReplyCheck { profile: self.profile.to_vec(), reply_limit: self.reply_limit() }
	}
}

/// A job on its way: sent to the executor, its reply not read yet.
pub struct Sent {
	pending: http::PendingRequest,
	deadline: Timestamp,
	check: ReplyCheck,
}

impl Sent {
	/// Wait for the executor's reply, within the job's deadline and size bound, and return
	/// its outcome: the output bytes (200), or the executor's canonical rejection of the input
	/// (422 with a `rejection` code), each under the model's profile. Any other answer is a
	/// failure to retry, never an outcome.
	pub fn receive(self) -> Result<InferenceOutcome, HttpFailure> {
		let response = self
			.pending
			.try_wait(self.deadline)
			.map_err(|_| HttpFailure::Http)?
			.map_err(|_| HttpFailure::Http)?;
		let mut body = response.body();
		body.deadline(self.deadline);
		let limit = self.check.reply_limit;
		let mut bytes = Vec::new();
		for byte in body.by_ref() {
			if bytes.len() == limit {
				return Err(HttpFailure::ReplyTooLarge { limit });
			}
			bytes.push(byte);
		}
		if body.error().is_some() {
			return Err(HttpFailure::Http);
		}
		self.check.outcome_of(response.code, &bytes)
	}
}

/// What an executor's reply to one job is held to: the model's profile, and a size no honest
/// reply exceeds.
struct ReplyCheck {
	profile: Vec<u8>,
	reply_limit: usize,
}

impl ReplyCheck {
	/// The outcome an executor's answer (`code`, `body`) gives, if it gives one.
	fn outcome_of(&self, code: u16, body: &[u8]) -> Result<InferenceOutcome, HttpFailure> {
		match code {
			200 => {
				let reply: ExecutorReply =
					serde_json::from_slice(body).map_err(|_| HttpFailure::BadReply)?;
				self.check_profile(Some(&reply.profile))?;
				from_hex(&reply.output)
					.map(InferenceOutcome::Output)
					.ok_or(HttpFailure::BadReply)
			},
			422 => match serde_json::from_slice::<ExecutorRejection>(body) {
				Ok(ExecutorRejection { rejection: Some(rejection), profile }) => {
					self.check_profile(profile.as_deref())?;
					Ok(InferenceOutcome::Rejected(rejection))
				},
				_ => Err(HttpFailure::Status(code)),
			},
			_ => Err(HttpFailure::Status(code)),
		}
	}

	/// Refuse an answer made under another profile than the model's.
	fn check_profile(&self, named: Option<&str>) -> Result<(), HttpFailure> {
		match named {
			Some(profile) if profile.as_bytes() == self.profile.as_slice() => Ok(()),
			other => Err(HttpFailure::ProfileMismatch { executor: other.unwrap_or("").into() }),
		}
	}
}

/// The deadline of an HTTP exchange starting now.
fn deadline_from_now() -> Timestamp {
	sp_io::offchain::timestamp().add(Duration::from_millis(HTTP_TIMEOUT_MS))
}

/// The part of the executor's answer the worker uses; the hash is recomputed, not trusted.
#[derive(serde::Deserialize)]
struct ExecutorReply {
	output: String,
	profile: String,
}

/// The part of a 422 answer that makes it an outcome: the rejection code, when there is one,
/// and the profile the executor judged it under.
#[derive(serde::Deserialize)]
struct ExecutorRejection {
	#[serde(default)]
	rejection: Option<RejectionCode>,
	#[serde(default)]
	profile: Option<String>,
}

/// `0x`-prefixed lower-case hex.
pub fn to_hex(bytes: &[u8]) -> String {
	const DIGITS: &[u8; 16] = b"0123456789abcdef";
	let mut hex = String::with_capacity(2 + bytes.len() * 2);
	hex.push_str("0x");
	for byte in bytes {
		hex.push(DIGITS[usize::from(byte >> 4)] as char);
		hex.push(DIGITS[usize::from(byte & 0xf)] as char);
	}
	hex
}

/// Bytes of `0x`-prefixed (or bare) hex.
fn from_hex(hex: &str) -> Option<Vec<u8>> {
	let hex = hex.strip_prefix("0x").unwrap_or(hex);
	if !hex.len().is_multiple_of(2) {
		return None;
	}
	let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
	hex.as_bytes()
		.chunks(2)
		.map(|pair| Some(digit(pair[0])? << 4 | digit(pair[1])?))
		.collect()
}

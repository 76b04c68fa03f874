//! What each command does.

use crate::{
	chain::{from_hex, Chain},
	runtime::{convert, runtime_types, verity},
	tensors, verify, Cli, CliError, Command, ExecutorCommand, ModelsCommand, RequestCommand,
};
use codec::Encode;
use serde_json::{json, Value};
use sp_core::H256;
use std::time::Duration;
use subxt::rpcs::rpc_params;
use subxt_signer::{sr25519::Keypair, SecretUri};
use verity_executor::ModelStore;
use verity_primitives::{content_hash, Dim, ModelFormat, ModelMetadata, TensorSpec};

/// The model store in `dir`, by default the one `make setup` fills.
fn open_store(dir: Option<std::path::PathBuf>) -> Result<ModelStore, CliError> {
	let dir = dir.unwrap_or_else(|| {
		std::path::PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
			.join(".cache/verity/models")
	});
	ModelStore::open(&dir)
		.map_err(|error| CliError::new(format!("cannot open {}: {error}", dir.display())))
}

/// How long `infer --wait` waits for a result.
const WAIT_LIMIT: Duration = Duration::from_secs(300);

/// Run the command line.
pub async fn run(cli: Cli) -> Result<(), CliError> {
	// The explorer's page talks to the node itself; the server needs no connection.
	if let Command::Explorer { listen, models_dir, assets } = &cli.command {
		let store = open_store(models_dir.clone())?;
		return crate::explorer::serve(listen, &cli.url, assets.clone(), store).await;
	}
	let chain = Chain::connect(&cli.url).await?;
	let out = Output { json: cli.json };
	match cli.command {
		Command::Memory(command) => {
			crate::memory::run(&chain, cli.suri.as_deref(), &out, command).await?;
		},
		Command::Models(ModelsCommand::List) => {
			let models = serde_json::Value::Array(chain.all_models().await?);
			out.print(&models, || {
				let mut lines = Vec::new();
				for entry in models.as_array().into_iter().flatten() {
					let info = &entry[1];
					lines.push(format!(
						"{}  {} {}  {:?}  fee {} x{}",
						entry[0].as_str().unwrap_or("?"),
						bytes_text(&info["metadata"]["name"]),
						bytes_text(&info["metadata"]["version"]),
						info["status"].as_str().unwrap_or("?"),
						info["metadata"]["fee_per_run"],
						info["metadata"]["redundancy"],
					));
				}
				if lines.is_empty() {
					"no models registered".into()
				} else {
					lines.join("\n")
				}
			});
		},
		Command::Models(ModelsCommand::Show { id }) => {
			let model = chain.model(&normalize_id(&id)?).await?;
			out.print(&model, || {
				serde_json::to_string_pretty(&readable_model(&model)).unwrap_or_default()
			});
		},
		Command::Models(ModelsCommand::Register {
			file,
			name,
			version,
			fee,
			redundancy,
			profile,
			uri,
			predecessor,
			answer_blocks,
		}) => {
			let signer = chain.signer(cli.suri.as_deref()).await?;
			let artifact = std::fs::read(&file).map_err(|error| {
				CliError::new(format!("cannot read {}: {error}", file.display()))
			})?;
			let model_id = content_hash(&artifact);
			let gguf = artifact.starts_with(b"GGUF");
			let (format, (inputs, outputs), default_profile) = if gguf {
				let (inputs, outputs) = verity_primitives::generation_specs();
				let describe = |specs: Vec<TensorSpec>| {
					specs
						.into_iter()
						.map(|spec| verity_executor::engine::DeclaredTensor {
							name: String::from_utf8_lossy(&spec.name).into_owned(),
							dtype: Some(spec.dtype),
							shape: spec
								.shape
								.iter()
								.map(|dim| match dim {
									Dim::Fixed(size) => Some(*size),
									Dim::Any => None,
								})
								.collect(),
						})
						.collect::<Vec<_>>()
				};
				(
					ModelFormat::Gguf,
					(describe(inputs), describe(outputs)),
					verity_executor::generation::PROFILE,
				)
			} else {
				let described = verity_executor::engine::describe(&artifact).map_err(|error| {
					CliError::new(format!("{} is not a usable ONNX model: {error}", file.display()))
				})?;
				(ModelFormat::Onnx, described, "tract-0.23/generic")
			};
			let profile = profile.unwrap_or_else(|| default_profile.to_string());
			let uri = match uri {
				Some(uri) => uri,
				None => format!(
					"file://{}",
					std::fs::canonicalize(&file)
						.map_err(|e| CliError::new(e.to_string()))?
						.display()
				),
			};
			let metadata = ModelMetadata {
				name: bounded(&name, "--name")?,
				version: bounded(&version, "--version")?,
				format,
				artifact_uri: bounded(&uri, "--uri")?,
				artifact_size: artifact.len() as u64,
				execution_profile: bounded(&profile, "--profile")?,
				inputs: specs(&inputs, "input")?,
				outputs: specs(&outputs, "output")?,
				fee_per_run: fee,
				redundancy,
				predecessor: predecessor.as_deref().map(parse_id).transpose()?,
				answer_blocks,
			};
			// The length of the call as the committee stores it: pallet and call index, then
			// the arguments.
			let length_bound = 2 + (model_id, &metadata).encode().len() as u32;
			let register = runtime_types::verity_runtime::RuntimeCall::Inference(
				runtime_types::pallet_inference::pallet::Call::register_model {
					model_id: subxt::utils::H256(model_id.0),
					metadata: convert(&metadata)?,
				},
			);
			let via_sudo = is_sudo(&chain, &signer).await?;
			let progress = |stage: &str| out.progress(stage);
			let events = if via_sudo {
				let call = verity::transactions().sudo().sudo(register);
				chain.submit(&call, &signer, progress).await?
			} else {
				let call =
					verity::transactions().technical_committee().propose(2, register, length_bound);
				chain.submit(&call, &signer, progress).await?
			};
			let registered = events.has::<verity::inference::events::ModelRegistered>();
			let failed = events.find_first::<verity::sudo::events::Sudid>();
			let report = json!({
				"model_id": format!("{model_id:#x}"),
				"via": if via_sudo { "sudo" } else { "technical committee proposal" },
				"registered": registered,
			});
			if via_sudo && !registered {
				let detail = match failed {
					Some(Ok(sudid)) => format!("{:?}", sudid.sudo_result),
					_ => String::new(),
				};
				return Err(CliError::new(format!(
					"sudo ran but the model was not registered (duplicate or invalid metadata?) {detail}"
				)));
			}
			out.print(&report, || {
				if via_sudo {
					format!("registered model {model_id:#x}")
				} else {
					format!("proposed model {model_id:#x} to the technical committee; two thirds must vote aye")
				}
			});
		},
		Command::Executor(ExecutorCommand::Register { models, bond, attestation_suri }) => {
			let signer = chain.signer(cli.suri.as_deref()).await?;
			let key = match attestation_suri {
				Some(suri) => keypair(&suri)?,
				None => signer.clone(),
			};
			let models = models
				.iter()
				.map(|id| parse_id(id).map(|h| h.0))
				.collect::<Result<Vec<_>, _>>()?;
			// The attestation key proves it belongs to this account on this chain.
			let genesis: sp_core::H256 =
				serde_json::from_value(chain.call("inference_genesisHash", rpc_params![]).await?)
					.map_err(|error| {
					CliError::new(format!("bad genesis hash from the node: {error}"))
				})?;
			let message = verity_primitives::key_ownership_message(&signer.public_key().0, genesis);
			let proof = key.sign(&message);
			let call = verity::transactions().inference().register_executor(
				convert(&key.public_key().0)?,
				convert(&proof.0)?,
				runtime_types::bounded_collections::bounded_vec::BoundedVec(
					models.into_iter().map(subxt::utils::H256).collect(),
				),
				bond,
			);
			chain.submit(&call, &signer, |stage| out.progress(stage)).await?;
			let account = signer.public_key().to_account_id().to_string();
			let record = executor_record(&chain, &account).await?;
			out.print(&record, || format!("registered executor {account}\n{}", pretty(&record)));
		},
		Command::Executor(ExecutorCommand::Status { account }) => {
			let account = match account {
				Some(account) => account,
				None => chain
					.signer(cli.suri.as_deref())
					.await?
					.public_key()
					.to_account_id()
					.to_string(),
			};
			let record = executor_record(&chain, &account).await?;
			out.print(&record, || pretty(&record));
		},
		Command::Generate {
			model,
			prompt,
			max_tokens,
			temperature,
			top_p,
			top_k,
			nonce,
			max_fee,
			wait,
		} => {
			let params = crate::generate::params(max_tokens, temperature, top_p, top_k, nonce)?;
			let request = crate::generate::GenerateRequest { model, prompt, params, max_fee, wait };
			crate::generate::run(&chain, cli.suri.as_deref(), &out, request).await?;
		},
		Command::Infer { model, input, max_fee, wait } => {
			let signer = chain.signer(cli.suri.as_deref()).await?;
			let model = normalize_id(&model)?;
			let info = chain.model(&model).await?;
			let input = read_input(&input)?;
			let request_id =
				submit_request(&chain, &signer, parse_id(&model)?, input, max_fee, &out).await?;
			if !wait {
				out.print(&json!({ "request_id": request_id }), || {
					format!("request {request_id} submitted")
				});
				return Ok(());
			}
			let redundancy = info["metadata"]["redundancy"].as_u64().unwrap_or(1);
			let request = wait_for_result(&chain, request_id, redundancy, &out).await?;
			let report = match request["rejection"].as_str() {
				// The executors agreed the input cannot be run: that is the settled answer.
				Some(code) => json!({
					"request_id": request_id,
					"output_hash": request["status"]["Finalized"]["output_hash"],
					"rejection": code,
				}),
				None => json!({
					"request_id": request_id,
					"output_hash": request["status"]["Finalized"]["output_hash"],
					"output": tensors::decode_json(&from_hex(
						request["output"].as_str().unwrap_or("0x")
					)?)?,
				}),
			};
			out.print(&report, || pretty(&report));
		},
		Command::Request(RequestCommand::Show { id }) => {
			let request = chain.request(id).await?;
			let mut readable = request.clone();
			if let Some(output) = request["output"].as_str() {
				readable["output_tensors"] = tensors::decode_json(&from_hex(output)?)?;
			}
			out.print(&readable, || pretty(&readable));
		},
		Command::Explorer { .. } => unreachable!("served above"),
		Command::Verify { id, models_dir, from_blocks } => {
			let store = open_store(models_dir)?;
			let checks = verify::verify(&chain, id, &store, from_blocks).await?;
			let passed = checks.iter().all(|check| check.passed);
			let report = json!({
				"request_id": id,
				"verdict": if passed { "verified" } else { "FAILED" },
				"checks": checks.iter().map(verify::Check::json).collect::<Vec<_>>(),
			});
			out.print(&report, || {
				let mut lines: Vec<String> = checks
					.iter()
					.map(|c| {
						format!(
							"[{}] {}: {}",
							if c.passed { "ok" } else { "FAIL" },
							c.name,
							c.reason
						)
					})
					.collect();
				lines.push(if passed {
					format!("request {id}: verified")
				} else {
					let failed: Vec<_> =
						checks.iter().filter(|c| !c.passed).map(|c| c.name).collect();
					format!("request {id}: FAILED ({})", failed.join(", "))
				});
				lines.join("\n")
			});
			if !passed {
				return Err(CliError {
					message: format!("request {id} failed verification"),
					code: 2,
				});
			}
		},
	}
	Ok(())
}

/// Text or JSON output.
pub(crate) struct Output {
	pub(crate) json: bool,
}

impl Output {
	pub(crate) fn print(&self, value: &Value, text: impl FnOnce() -> String) {
		if self.json {
			println!("{value}");
		} else {
			println!("{}", text());
		}
	}

	pub(crate) fn progress(&self, stage: &str) {
		if !self.json {
			eprintln!("… {stage}");
		}
	}
}

/// Request `model_id` on `input` as `signer`, paying at most `max_fee` (default: whatever
/// the model costs); the new request's id.
pub(crate) async fn submit_request(
	chain: &Chain,
	signer: &Keypair,
	model_id: H256,
	input: Vec<u8>,
	max_fee: Option<u128>,
	out: &Output,
) -> Result<u64, CliError> {
	let call = verity::transactions().inference().request_inference(
		subxt::utils::H256(model_id.0),
		input,
		max_fee.unwrap_or(u128::MAX),
	);
	let events = chain.submit(&call, signer, |stage| out.progress(stage)).await?;
	let request_id = events
		.find_first::<verity::inference::events::InferenceRequested>()
		.and_then(Result::ok)
		.ok_or_else(|| {
			CliError::new("the request was included but no InferenceRequested event was found")
		})?
		.request_id;
	out.progress(&format!("request {request_id}"));
	Ok(request_id)
}

/// Poll the request until it is finalized, reporting assignment and attestations.
pub(crate) async fn wait_for_result(
	chain: &Chain,
	request_id: u64,
	redundancy: u64,
	out: &Output,
) -> Result<Value, CliError> {
	let started = std::time::Instant::now();
	let mut reported = (false, 0usize, 0usize);
	loop {
		let request = chain.request(request_id).await?;
		let status = &request["status"];
		if status.get("Assigned").is_some() && !reported.0 {
			reported.0 = true;
			out.progress("assigned");
		}
		let committed = request["commitments"].as_array().map_or(0, Vec::len);
		if committed > reported.2 {
			reported.2 = committed;
			out.progress(&format!("{committed} of {redundancy} committed"));
		}
		let attested = request["attestations"].as_array().map_or(0, Vec::len);
		if attested > reported.1 {
			reported.1 = attested;
			out.progress(&format!("{attested} of {redundancy} attested"));
		}
		if status.get("Finalized").is_some() {
			out.progress("finalized");
			return Ok(request);
		}
		if status == "Expired" || status == "Unassignable" {
			return Err(CliError::new(format!(
				"request {request_id} ended without a result ({status}); the fee was refunded"
			)));
		}
		if started.elapsed() > WAIT_LIMIT {
			return Err(CliError::new(format!(
				"request {request_id} is not finalized after {WAIT_LIMIT:?}"
			)));
		}
		tokio::time::sleep(Duration::from_millis(500)).await;
	}
}

async fn executor_record(chain: &Chain, account: &str) -> Result<Value, CliError> {
	let record = chain.call("inference_executor", rpc_params![account]).await?;
	if record.is_null() {
		return Err(CliError::new(format!("{account} is not a registered executor")));
	}
	Ok(record)
}

async fn is_sudo(chain: &Chain, signer: &Keypair) -> Result<bool, CliError> {
	let at = chain
		.client
		.at_current_block()
		.await
		.map_err(|e| CliError::new(e.to_string()))?;
	// A chain without a sudo key governs through its technical committee.
	let Ok(entry) = at.storage().entry(verity::storage().sudo().key()) else { return Ok(false) };
	let sudo = entry.try_fetch(()).await.map_err(|e| CliError::new(e.to_string()))?;
	Ok(match sudo {
		Some(value) => {
			value.decode().map_err(|e| CliError::new(e.to_string()))?.0 == signer.public_key().0
		},
		None => false,
	})
}

fn read_input(input: &str) -> Result<Vec<u8>, CliError> {
	let trimmed = input.trim_start();
	if trimmed.starts_with('{') {
		let value: Value = serde_json::from_str(input)
			.map_err(|error| CliError::new(format!("--input is not valid JSON: {error}")))?;
		return tensors::encode_json(&value);
	}
	let bytes = std::fs::read(input)
		.map_err(|error| CliError::new(format!("cannot read {input}: {error}")))?;
	if input.ends_with(".json") {
		let value: Value = serde_json::from_slice(&bytes)
			.map_err(|error| CliError::new(format!("{input} is not valid JSON: {error}")))?;
		tensors::encode_json(&value)
	} else {
		verity_primitives::TensorMap::decode_canonical(&bytes).map_err(|error| {
			CliError::new(format!(
				"{input} is neither JSON nor a canonical tensor encoding ({error:?})"
			))
		})?;
		Ok(bytes)
	}
}

fn keypair(suri: &str) -> Result<Keypair, CliError> {
	let uri: SecretUri = suri.parse().map_err(|e| CliError::new(format!("bad secret URI: {e}")))?;
	Keypair::from_uri(&uri).map_err(|e| CliError::new(format!("bad secret URI: {e}")))
}

pub(crate) fn parse_id(id: &str) -> Result<H256, CliError> {
	let bytes = from_hex(id)?;
	if bytes.len() != 32 {
		return Err(CliError::new(format!("a model id is 32 bytes of hex, {id:?} is not")));
	}
	Ok(H256::from_slice(&bytes))
}

fn normalize_id(id: &str) -> Result<String, CliError> {
	Ok(format!("{:#x}", parse_id(id)?))
}

fn bounded<const N: u32>(
	text: &str,
	flag: &str,
) -> Result<sp_core::bounded::BoundedVec<u8, sp_core::ConstU32<N>>, CliError> {
	text.as_bytes()
		.to_vec()
		.try_into()
		.map_err(|_| CliError::new(format!("{flag} is longer than {N} bytes")))
}

fn specs(
	declared: &[verity_executor::engine::DeclaredTensor],
	what: &str,
) -> Result<verity_primitives::TensorSpecs, CliError> {
	declared
		.iter()
		.map(|tensor| {
			Ok(TensorSpec {
				name: bounded(&tensor.name, "a tensor name")?,
				dtype: tensor.dtype.ok_or_else(|| {
					CliError::new(format!(
						"{what} {:?} has an element type the chain cannot express",
						tensor.name
					))
				})?,
				shape: tensor
					.shape
					.iter()
					.map(|dim| dim.map_or(Dim::Any, Dim::Fixed))
					.collect::<Vec<_>>()
					.try_into()
					.map_err(|_| {
						CliError::new(format!("{what} {:?} has too many dimensions", tensor.name))
					})?,
			})
		})
		.collect::<Result<Vec<_>, CliError>>()?
		.try_into()
		.map_err(|_| CliError::new(format!("the model has too many {what}s")))
}

fn bytes_text(value: &Value) -> String {
	serde_json::from_value::<Vec<u8>>(value.clone())
		.map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
		.unwrap_or_default()
}

/// A model record with its byte strings as text.
fn readable_model(model: &Value) -> Value {
	let mut readable = model.clone();
	for key in ["name", "version", "artifact_uri", "execution_profile"] {
		readable["metadata"][key] = json!(bytes_text(&model["metadata"][key]));
	}
	for side in ["inputs", "outputs"] {
		if let Some(list) = readable["metadata"][side].as_array_mut() {
			for tensor in list {
				tensor["name"] = json!(bytes_text(&tensor["name"]));
			}
		}
	}
	readable
}

pub(crate) fn pretty(value: &Value) -> String {
	serde_json::to_string_pretty(value).unwrap_or_default()
}

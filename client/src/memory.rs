//! `verity memory …`: agent memory spaces, recall re-checked locally, export with Merkle proofs
//! and import into a new space.

use crate::{
	chain::{from_hex, Chain},
	commands::{parse_id, pretty, wait_for_result, Output},
	runtime::{runtime_types, verity},
	CliError, MemoryCommand,
};
use serde_json::{json, Value};
use std::{path::Path, time::Duration};
use subxt::rpcs::rpc_params;
use subxt_signer::sr25519::Keypair;
use verity_primitives::{
	content_hash, entry_leaf, rank, space_proof, verify_space_proof, ContentKind, TensorMap,
	EMBEDDING_OUTPUT,
};

/// The name the demo embedding model is registered under; `memory create` defaults to it.
const DEFAULT_EMBEDDING_MODEL: &str = "all-minilm-l6-v2";
/// How long `remember --wait` waits for an embedding.
const EMBEDDING_WAIT: Duration = Duration::from_secs(300);

/// Run one `verity memory` command.
pub async fn run(
	chain: &Chain,
	suri: Option<&str>,
	out: &Output,
	command: MemoryCommand,
) -> Result<(), CliError> {
	match command {
		MemoryCommand::Create { model } => {
			let signer = chain.signer(suri).await?;
			let model = match model {
				Some(model) => parse_id(&model)?,
				None => default_model(chain).await?,
			};
			let space = create_space(chain, &signer, model, out).await?;
			let report = json!({ "space": space, "embedding_model": format!("{model:#x}") });
			out.print(&report, || format!("created space {space} (embeddings: {model:#x})"));
		},
		MemoryCommand::Grant { space, to, access } => {
			let signer = chain.signer(suri).await?;
			let who = account_bytes(&to)?;
			use runtime_types::pallet_memory::types::Access;
			let (access, granted) = match access.as_str() {
				"read" => ("Read", Access::Read),
				"write" => ("Write", Access::Write),
				other => {
					return Err(CliError::new(format!("--access is read or write, not {other:?}")))
				},
			};
			let call = verity::transactions().memory().grant(
				space,
				subxt::utils::AccountId32(who),
				granted,
			);
			chain.submit(&call, &signer, |stage| out.progress(stage)).await?;
			let report = json!({ "space": space, "account": to, "access": access });
			out.print(&report, || format!("{to} now has {access} access to space {space}"));
		},
		MemoryCommand::Remember { space, text, file, wait } => {
			let signer = chain.signer(suri).await?;
			let (content, kind) = match (text, file) {
				(Some(text), None) => (text.into_bytes(), ContentKind::Text),
				(None, Some(file)) => (read_file(&file)?, ContentKind::Bytes),
				_ => {
					return Err(CliError::new(
						"say what to remember: a text, or --file with opaque bytes",
					))
				},
			};
			ensure_space(chain, space).await?;
			let (entry, request) = remember(chain, &signer, space, &content, kind, out).await?;
			if wait {
				if let Some(request) = request {
					wait_for_embedding(chain, space, entry, request, out).await?;
				}
			}
			let report = json!({ "space": space, "entry": entry, "embedding_request": request });
			out.print(&report, || match request {
				Some(request) => format!(
					"remembered entry {entry} in space {space} (embedding request {request})"
				),
				None => format!("remembered entry {entry} in space {space} (opaque, not embedded)"),
			});
		},
		MemoryCommand::Recall { space, question, k, on_chain: false, models_dir, executor_url } => {
			let info = ensure_space(chain, space).await?;
			let embedder = match executor_url {
				Some(url) => Embedder::Executor(url),
				None => Embedder::InProcess(models_dir),
			};
			let report = recall_locally(chain, &info, &question, k, embedder).await?;
			out.print(&report, || {
				let mut lines = match_lines(&report);
				lines.push(format!(
					"question embedded {} under {} in {} ms, ranked by the chain over {} \
					 entries in {} ms",
					report["embedded_by"].as_str().unwrap_or("here"),
					report["profile"].as_str().unwrap_or("?"),
					report["embedding_ms"],
					report["space_entries"],
					report["ranking_ms"],
				));
				lines.join("\n")
			});
		},
		MemoryCommand::Recall { space, question, k, on_chain: true, .. } => {
			let signer = chain.signer(suri).await?;
			ensure_space(chain, space).await?;
			let report = recall(chain, &signer, space, &question, k, out).await?;
			out.print(&report, || {
				let mut lines = match_lines(&report);
				lines.push(format!(
					"ranking re-checked locally over {} embedded entries: identical",
					report["ranked_entries"]
				));
				lines.join("\n")
			});
		},
		MemoryCommand::List { space } => {
			let info = ensure_space(chain, space).await?;
			let entries = entries(chain, space, None).await?;
			let listed: Vec<Value> = entries.iter().map(readable_entry).collect();
			let report = json!({ "space": info, "entries": listed });
			out.print(&report, || {
				let mut lines = vec![format!(
					"space {space}: {} entries, root {}",
					info["entries"],
					info["root"].as_str().unwrap_or("?")
				)];
				for entry in &listed {
					lines.push(format!(
						"  {}  [{}]  {}",
						entry["entry"],
						entry["embedding"],
						entry["text"].as_str().unwrap_or("(opaque bytes)")
					));
				}
				lines.join("\n")
			});
		},
		MemoryCommand::Forget { space, entry } => {
			let signer = chain.signer(suri).await?;
			ensure_space(chain, space).await?;
			let call = verity::transactions().memory().forget(space, entry);
			chain.submit(&call, &signer, |stage| out.progress(stage)).await?;
			let report = json!({ "space": space, "forgotten": entry });
			out.print(&report, || format!("forgot entry {entry} of space {space}"));
		},
		MemoryCommand::Export { space, out: path } => {
			let export = export(chain, space).await?;
			let text = pretty(&export);
			match path {
				Some(path) => {
					std::fs::write(&path, &text).map_err(|error| {
						CliError::new(format!("cannot write {}: {error}", path.display()))
					})?;
					let report = json!({ "space": space, "file": path, "entries": export["entries"].as_array().map_or(0, Vec::len) });
					out.print(&report, || {
						format!(
							"exported space {space} ({} entries, every proof checked) to {}",
							report["entries"],
							path.display()
						)
					});
				},
				None => println!("{text}"),
			}
		},
		MemoryCommand::Import { file, model } => {
			let signer = chain.signer(suri).await?;
			let export: Value = serde_json::from_slice(&read_file(&file)?).map_err(|error| {
				CliError::new(format!("{} is not an export: {error}", file.display()))
			})?;
			let entries = check_export(chain, &export).await?;
			let model = match model {
				Some(model) => parse_id(&model)?,
				None => parse_id(export["embedding_model"].as_str().unwrap_or_default())?,
			};
			let space = create_space(chain, &signer, model, out).await?;
			let mut imported = Vec::new();
			for (content, kind) in &entries {
				let (entry, request) = remember(chain, &signer, space, content, *kind, out).await?;
				imported.push(json!({ "entry": entry, "embedding_request": request }));
			}
			let report = json!({ "space": space, "from": export["space"], "entries": imported });
			out.print(&report, || {
				format!(
					"checked {} proofs against root {} and imported them into space {space}",
					entries.len(),
					export["root"].as_str().unwrap_or("?")
				)
			});
		},
	}
	Ok(())
}

/// The registered model called [`DEFAULT_EMBEDDING_MODEL`].
async fn default_model(chain: &Chain) -> Result<sp_core::H256, CliError> {
	for entry in chain.all_models().await? {
		let name: Vec<u8> =
			serde_json::from_value(entry[1]["metadata"]["name"].clone()).unwrap_or_default();
		if name == DEFAULT_EMBEDDING_MODEL.as_bytes() {
			return parse_id(entry[0].as_str().unwrap_or_default());
		}
	}
	Err(CliError::new(format!(
		"no model called {DEFAULT_EMBEDDING_MODEL} is registered: name one with --model"
	)))
}

async fn create_space(
	chain: &Chain,
	signer: &Keypair,
	model: sp_core::H256,
	out: &Output,
) -> Result<u64, CliError> {
	let call = verity::transactions().memory().create_space(subxt::utils::H256(model.0));
	let events = chain.submit(&call, signer, |stage| out.progress(stage)).await?;
	events
		.find_first::<verity::memory::events::SpaceCreated>()
		.and_then(Result::ok)
		.map(|created| created.space)
		.ok_or_else(|| CliError::new("the space was created but no SpaceCreated event was found"))
}

async fn remember(
	chain: &Chain,
	signer: &Keypair,
	space: u64,
	content: &[u8],
	kind: ContentKind,
	out: &Output,
) -> Result<(u64, Option<u64>), CliError> {
	let kind = match kind {
		ContentKind::Text => runtime_types::verity_primitives::memory::ContentKind::Text,
		ContentKind::Bytes => runtime_types::verity_primitives::memory::ContentKind::Bytes,
	};
	let call = verity::transactions().memory().remember(space, content.to_vec(), kind);
	let events = chain.submit(&call, signer, |stage| out.progress(stage)).await?;
	let remembered = events
		.find_first::<verity::memory::events::Remembered>()
		.and_then(Result::ok)
		.ok_or_else(|| CliError::new("the entry was stored but no Remembered event was found"))?;
	let (entry, request) = (remembered.entry, remembered.embedding_request);
	Ok((entry, request))
}

/// Wait until the entry's embedding is attached.
async fn wait_for_embedding(
	chain: &Chain,
	space: u64,
	entry: u64,
	request: u64,
	out: &Output,
) -> Result<(), CliError> {
	wait_for_result(chain, request, 1, out).await?;
	let started = std::time::Instant::now();
	loop {
		let listed = entries(chain, space, None).await?;
		let state = listed
			.iter()
			.find(|e| e["entry"] == entry)
			.map(|e| e["embedding_state"].clone())
			.ok_or_else(|| CliError::new(format!("entry {entry} is gone from space {space}")))?;
		if state.get("Ready").is_some() {
			out.progress("embedding attached");
			return Ok(());
		}
		if state.get("Failed").is_some() {
			return Err(CliError::new(format!(
				"entry {entry}'s embedding request {request} gave no valid embedding; run retry"
			)));
		}
		if started.elapsed() > EMBEDDING_WAIT {
			return Err(CliError::new(format!(
				"entry {entry} has no embedding after {EMBEDDING_WAIT:?}"
			)));
		}
		tokio::time::sleep(Duration::from_millis(500)).await;
	}
}

/// Ask the question, wait for its embedding, read the chain's ranking and recompute it here.
async fn recall(
	chain: &Chain,
	signer: &Keypair,
	space: u64,
	question: &str,
	k: u32,
	out: &Output,
) -> Result<Value, CliError> {
	let limit = max_query_len(chain).await?;
	if question.len() as u64 > limit {
		return Err(CliError::new(format!(
			"the question is {} bytes; this chain takes questions of at most {limit} bytes",
			question.len()
		)));
	}
	let query = runtime_types::pallet_memory::types::RecallQuery::Text(
		runtime_types::bounded_collections::bounded_vec::BoundedVec(question.as_bytes().to_vec()),
	);
	let call = verity::transactions().memory().recall(space, query, k);
	let events = chain.submit(&call, signer, |stage| out.progress(stage)).await?;
	let request = events
		.find_first::<verity::memory::events::RecallRequested>()
		.and_then(Result::ok)
		.ok_or_else(|| {
			CliError::new("the question was accepted but no RecallRequested event was found")
		})?
		.request;
	out.progress(&format!("question embedding request {request}"));
	let finalized = wait_for_result(chain, request, 1, out).await?;

	// Read everything at one block so the chain's answer and the local one see the same state.
	let at = chain.call("chain_getBlockHash", rpc_params![]).await?;
	let ranked = chain.call("memory_recall", rpc_params![space, request, k, at.clone()]).await?;
	let listed = entries(chain, space, Some(at)).await?;
	let query = embedding_of(&finalized)?;
	let embedded: Vec<(u64, Vec<i8>)> = listed
		.iter()
		.filter_map(|e| {
			let values: Vec<i8> = serde_json::from_value(e["embedding"].clone()).ok()?;
			Some((e["entry"].as_u64()?, values))
		})
		.collect();
	let local = rank(&query, embedded.iter().map(|(id, e)| (*id, e.as_slice())), k as usize);
	let chain_ranking: Vec<(u64, i32)> = serde_json::from_value(ranked.clone())
		.map_err(|error| CliError::new(format!("memory_recall answered {ranked}: {error}")))?;
	if chain_ranking != local {
		return Err(CliError {
			message: format!(
				"the chain's ranking {chain_ranking:?} differs from the local one {local:?}"
			),
			code: 2,
		});
	}
	let matches = ranked_matches(&local, &listed);
	Ok(json!({
		"space": space,
		"question": question,
		"query_request": request,
		"matches": matches,
		"ranked_entries": embedded.len(),
		"rechecked": true,
	}))
}

/// Where the question's embedding is computed for a local recall.
enum Embedder {
	/// In this process, the artifact from this store (default: `$HOME/.cache/verity/models`).
	InProcess(Option<std::path::PathBuf>),
	/// By the executor serving at this URL.
	Executor(String),
}

/// Embed `question` off chain with the space's model under the model's profile, then have the
/// chain rank it (`memory_rank`, a runtime API read; no transaction, nothing paid).
async fn recall_locally(
	chain: &Chain,
	space: &Value,
	question: &str,
	k: u32,
	embedder: Embedder,
) -> Result<Value, CliError> {
	let space_id = space["space"].clone();
	let model_hex = space["embedding_model"].as_str().unwrap_or_default().to_string();
	let model = chain.model(&model_hex).await?;
	let model_id = parse_id(&model_hex)?;
	let embedded_by = match &embedder {
		Embedder::InProcess(_) => "here".to_string(),
		Embedder::Executor(url) => format!("by {url}"),
	};
	let (embedding, profile, embedding_ms) = match embedder {
		Embedder::InProcess(models_dir) => embed_here(&model, &model_id, question, models_dir)?,
		Embedder::Executor(url) => embed_by_executor(&url, &model, &model_id, question)?,
	};
	let started = std::time::Instant::now();
	let ranked = chain.call("memory_rank", rpc_params![space_id.clone(), embedding, k]).await?;
	let ranking_ms = started.elapsed().as_millis() as u64;
	let ranking: Vec<(u64, i32)> = serde_json::from_value(ranked.clone())
		.map_err(|error| CliError::new(format!("memory_rank answered {ranked}: {error}")))?;
	let listed = match ranking.is_empty() {
		true => Vec::new(),
		false => entries(chain, space_id.as_u64().unwrap_or_default(), None).await?,
	};
	let matches = ranked_matches(&ranking, &listed);
	Ok(json!({
		"space": space_id,
		"question": question,
		"matches": matches,
		"space_entries": space["entries"],
		"embedded_locally": true,
		"embedded_by": embedded_by,
		"profile": profile,
		"embedding_ms": embedding_ms,
		"ranking_ms": ranking_ms,
	}))
}

/// The int8 embedding of `question` by `model`, from the executor at `url`, which must have run
/// it under the model's profile; with the profile's id and the milliseconds it took.
fn embed_by_executor(
	url: &str,
	model: &Value,
	model_id: &sp_core::H256,
	question: &str,
) -> Result<(Vec<i8>, String, u64), CliError> {
	let profile: Vec<u8> =
		serde_json::from_value(model["metadata"]["execution_profile"].clone()).unwrap_or_default();
	let profile = String::from_utf8_lossy(&profile).into_owned();
	let input = codec::Encode::encode(&TensorMap::text(question.as_bytes()));
	let endpoint = format!("{}/v1/infer", url.trim_end_matches('/'));
	let body = json!({
		"model_id": format!("{model_id:#x}"),
		"input": sp_core::bytes::to_hex(&input, false),
	});
	let started = std::time::Instant::now();
	let agent: ureq::Agent = ureq::Agent::config_builder()
		.http_status_as_error(false)
		.timeout_global(Some(Duration::from_secs(60)))
		.build()
		.into();
	let failed = |reason: String| CliError::new(format!("the executor at {url} {reason}"));
	let mut response = agent
		.post(&endpoint)
		.send_json(&body)
		.map_err(|e| failed(format!("is unreachable: {e}")))?;
	let status = response.status().as_u16();
	let reply: Value = response
		.body_mut()
		.read_json()
		.map_err(|e| failed(format!("answered {status} with no JSON: {e}")))?;
	if status != 200 {
		return Err(failed(format!("refused the question ({status}): {}", reply["error"])));
	}
	if reply["profile"].as_str() != Some(profile.as_str()) {
		return Err(failed(format!(
			"ran {} instead of the model's profile {profile}",
			reply["profile"]
		)));
	}
	let output = from_hex(reply["output"].as_str().unwrap_or("0x"))?;
	let elapsed = started.elapsed().as_millis() as u64;
	Ok((embedding_in(&output)?, profile, elapsed))
}

/// The int8 embedding of `question` by `model` (its `inference_model` record), run here under
/// the model's execution profile; with the profile's id and the milliseconds it took.
fn embed_here(
	model: &Value,
	model_id: &sp_core::H256,
	question: &str,
	models_dir: Option<std::path::PathBuf>,
) -> Result<(Vec<i8>, String, u64), CliError> {
	let bytes = |field: &str| -> Vec<u8> {
		serde_json::from_value(model["metadata"][field].clone()).unwrap_or_default()
	};
	let profile_id = String::from_utf8_lossy(&bytes("execution_profile")).into_owned();
	let profile: verity_executor::ExecutionProfile = profile_id
		.parse()
		.and_then(|profile: verity_executor::ExecutionProfile| profile.activate().map(|()| profile))
		.map_err(|error| {
			CliError::new(format!("cannot embed under {profile_id} here: {error}; use --on-chain"))
		})?;
	let dir = models_dir.unwrap_or_else(|| {
		std::path::PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
			.join(".cache/verity/models")
	});
	let store = verity_executor::ModelStore::open(&dir)
		.map_err(|error| CliError::new(format!("cannot open {}: {error}", dir.display())))?;
	let uri = String::from_utf8_lossy(&bytes("artifact_uri")).into_owned();
	let started = std::time::Instant::now();
	let engine = verity_executor::Engine::new(store, profile, 1 << 30);
	let input = codec::Encode::encode(&TensorMap::text(question.as_bytes()));
	let output = engine
		.infer(model_id, Some(&uri), &input)
		.map_err(|error| CliError::new(format!("the question could not be embedded: {error}")))?;
	let elapsed = started.elapsed().as_millis() as u64;
	Ok((embedding_in(&output.output)?, profile_id, elapsed))
}

/// Each ranked entry with its score and, for a text entry, its text (from `listed`).
fn ranked_matches(ranking: &[(u64, i32)], listed: &[Value]) -> Vec<Value> {
	ranking
		.iter()
		.map(|(entry, score)| {
			let text = listed
				.iter()
				.find(|e| e["entry"] == *entry)
				.map(readable_entry)
				.map(|e| e["text"].clone())
				.unwrap_or(Value::Null);
			json!({ "entry": entry, "score": score, "text": text })
		})
		.collect()
}

/// A recall report's matches as numbered lines, best first.
fn match_lines(report: &Value) -> Vec<String> {
	report["matches"]
		.as_array()
		.into_iter()
		.flatten()
		.enumerate()
		.map(|(rank, m)| {
			format!(
				"{}. entry {} score {}: {}",
				rank + 1,
				m["entry"],
				m["score"],
				m["text"].as_str().unwrap_or("(opaque)")
			)
		})
		.collect()
}

/// The int8 embedding in a finalized request's output.
fn embedding_of(request: &Value) -> Result<Vec<i8>, CliError> {
	embedding_in(&from_hex(request["output"].as_str().unwrap_or("0x"))?)
}

/// The int8 embedding in an embedding model's output.
fn embedding_in(output: &[u8]) -> Result<Vec<i8>, CliError> {
	let map = TensorMap::decode_canonical(output)
		.map_err(|error| CliError::new(format!("the query output is not canonical: {error:?}")))?;
	let tensor = map
		.get(EMBEDDING_OUTPUT.as_bytes())
		.ok_or_else(|| CliError::new("the query output holds no embedding"))?;
	Ok(tensor.data.iter().map(|b| *b as i8).collect())
}

/// Every entry and its proof against the space's root at the finalized head, each proof checked.
async fn export(chain: &Chain, space: u64) -> Result<Value, CliError> {
	let at = chain.call("chain_getFinalizedHead", rpc_params![]).await?;
	let info = chain.call("memory_space", rpc_params![space, at.clone()]).await?;
	if info.is_null() {
		return Err(CliError::new(format!("there is no space {space} at the finalized block")));
	}
	let listed = entries(chain, space, Some(at.clone())).await?;
	let root = hash_of(&info["root"])?;
	let leaves: Vec<sp_core::H256> = listed
		.iter()
		.map(|e| {
			let content = from_hex(e["content"].as_str().unwrap_or("0x"))?;
			let kind = kind_of(&e["kind"])?;
			Ok(entry_leaf(e["entry"].as_u64().unwrap_or_default(), kind, &content_hash(&content)))
		})
		.collect::<Result<_, CliError>>()?;
	let count = leaves.len() as u32;
	let mut exported = Vec::new();
	for (index, entry) in listed.iter().enumerate() {
		let proof = space_proof(&leaves, index as u32);
		if proof.root != root
			|| !verify_space_proof(&root, &proof.proof, count, index as u32, leaves[index])
		{
			return Err(CliError::new(format!(
				"entry {} does not prove against the space's root: the node's answer is inconsistent",
				entry["entry"]
			)));
		}
		let mut record = readable_entry(entry);
		record["content"] = entry["content"].clone();
		record["leaf"] = json!(format!("{:#x}", leaves[index]));
		record["leaf_index"] = json!(index);
		record["proof"] = json!(proof.proof.iter().map(|h| format!("{h:#x}")).collect::<Vec<_>>());
		exported.push(record);
	}
	Ok(json!({
		"space": space,
		"block": at,
		"root": format!("{root:#x}"),
		"embedding_model": info["embedding_model"],
		"leaf_count": count,
		"entries": exported,
	}))
}

/// Check every entry of an export against its root (and the root against the chain when it
/// still has that block); return the contents in order.
async fn check_export(
	chain: &Chain,
	export: &Value,
) -> Result<Vec<(Vec<u8>, ContentKind)>, CliError> {
	let root = hash_of(&export["root"])?;
	let count = export["leaf_count"]
		.as_u64()
		.ok_or_else(|| CliError::new("the export has no leaf_count"))? as u32;
	let mut contents = Vec::new();
	for record in export["entries"].as_array().into_iter().flatten() {
		let entry = record["entry"].as_u64().ok_or_else(|| CliError::new("an entry has no id"))?;
		let content = from_hex(record["content"].as_str().unwrap_or("0x"))?;
		let kind = kind_of(&record["kind"])?;
		let leaf = entry_leaf(entry, kind, &content_hash(&content));
		let proof: Vec<sp_core::H256> = record["proof"]
			.as_array()
			.into_iter()
			.flatten()
			.map(hash_of)
			.collect::<Result<_, _>>()?;
		let index = record["leaf_index"].as_u64().unwrap_or(u64::MAX) as u32;
		if !verify_space_proof(&root, &proof, count, index, leaf) {
			return Err(CliError {
				message: format!("entry {entry} of the export does not prove against its root"),
				code: 2,
			});
		}
		contents.push((content, kind));
	}
	if contents.len() as u32 != count {
		return Err(CliError::new(format!(
			"the export lists {} entries but its tree has {count} leaves",
			contents.len()
		)));
	}
	let space = export["space"].as_u64().unwrap_or_default();
	if let Ok(info) = chain.call("memory_space", rpc_params![space, export["block"].clone()]).await
	{
		if !info.is_null() && hash_of(&info["root"])? != root {
			return Err(CliError {
				message: format!(
					"the export's root differs from space {space}'s root on chain at its block"
				),
				code: 2,
			});
		}
	}
	Ok(contents)
}

/// The longest question the chain takes (`Memory.MaxQueryLen`).
async fn max_query_len(chain: &Chain) -> Result<u64, CliError> {
	let at = chain
		.client
		.at_current_block()
		.await
		.map_err(|error| CliError::new(format!("cannot read the chain state: {error}")))?;
	at.constants()
		.entry(verity::constants().memory().max_query_len())
		.map(u64::from)
		.map_err(|error| CliError::new(format!("the runtime has no Memory.MaxQueryLen: {error}")))
}

async fn ensure_space(chain: &Chain, space: u64) -> Result<Value, CliError> {
	let info = chain.call("memory_space", rpc_params![space]).await?;
	if info.is_null() {
		return Err(CliError::new(format!("there is no memory space {space} on this chain")));
	}
	Ok(info)
}

async fn entries(chain: &Chain, space: u64, at: Option<Value>) -> Result<Vec<Value>, CliError> {
	let listed = chain.call("memory_entries", rpc_params![space, at]).await?;
	Ok(listed.as_array().cloned().unwrap_or_default())
}

/// An entry with its content as text where it is text.
fn readable_entry(entry: &Value) -> Value {
	let content = from_hex(entry["content"].as_str().unwrap_or("0x")).unwrap_or_default();
	let text = match entry["kind"].as_str() {
		Some("text") => json!(String::from_utf8_lossy(&content)),
		_ => Value::Null,
	};
	let embedding = match &entry["embedding_state"] {
		Value::String(state) => state.clone(),
		Value::Object(state) => state.keys().next().cloned().unwrap_or_default(),
		_ => String::new(),
	};
	json!({
		"entry": entry["entry"],
		"kind": entry["kind"],
		"text": text,
		"content_hash": entry["content_hash"],
		"author": entry["author"],
		"embedding": embedding,
	})
}

fn kind_of(value: &Value) -> Result<ContentKind, CliError> {
	serde_json::from_value(value.clone())
		.map_err(|_| CliError::new(format!("{value} is not an entry kind (text or bytes)")))
}

fn hash_of(value: &Value) -> Result<sp_core::H256, CliError> {
	let bytes = from_hex(value.as_str().unwrap_or_default())?;
	if bytes.len() != 32 {
		return Err(CliError::new(format!("{value} is not a 32-byte hash")));
	}
	Ok(sp_core::H256::from_slice(&bytes))
}

fn account_bytes(ss58: &str) -> Result<[u8; 32], CliError> {
	use sp_core::crypto::Ss58Codec;
	sp_core::crypto::AccountId32::from_ss58check(ss58)
		.map(|account| account.into())
		.map_err(|error| CliError::new(format!("{ss58:?} is not an SS58 account: {error:?}")))
}

fn read_file(path: &Path) -> Result<Vec<u8>, CliError> {
	std::fs::read(path)
		.map_err(|error| CliError::new(format!("cannot read {}: {error}", path.display())))
}

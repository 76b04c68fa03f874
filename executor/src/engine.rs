//! Loading, planning and running models.
//!
//! A plan is an ONNX graph optimized for concrete input shapes. Plans are cached by model and
//! input shapes in a least-recently-used cache bounded by an estimate of their memory.

pub use crate::planning::EngineError;
use crate::{
	generation::{self, Generator},
	planning::{self, Plan},
	profile::ExecutionProfile,
	store::ModelStore,
	text::TextFrontEnd,
};
use codec::Encode;
use sp_core::H256;
use std::{
	collections::HashMap,
	sync::{Arc, Mutex},
	time::{Duration, Instant},
};
use tract_onnx::prelude::*;
use verity_primitives::{content_hash, ModelId, TensorMap};

/// What one inference produced.
#[derive(Clone, Debug)]
pub struct InferenceOutput {
	/// The canonical output encoding.
	pub output: Vec<u8>,
	/// Its blake2-256 hash.
	pub output_hash: H256,
	/// Time spent planning (zero on a cache hit) and running.
	pub elapsed: Duration,
}

/// A cached plan, with what it needs to name its outputs.
struct CachedPlan {
	key: (ModelId, Vec<(String, Vec<usize>)>),
	plan: Plan,
	output_names: Vec<String>,
	input_names: Vec<String>,
	bytes: usize,
}

/// Runs models from a store under one execution profile.
pub struct Engine {
	store: ModelStore,
	profile: ExecutionProfile,
	cache: Mutex<Vec<CachedPlan>>,
	cache_budget: usize,
	/// Per model: its tokenizer if it is a text model, `None` if it takes tensors.
	front_ends: Mutex<HashMap<ModelId, Option<Arc<TextFrontEnd>>>>,
	/// Per model: its decoder if it is a GGUF generation model, `None` if it is ONNX.
	generators: Mutex<HashMap<ModelId, Option<Arc<Generator>>>>,
	/// Threads a generation splits its matrix products among.
	generation_threads: usize,
	faulty: bool,
}

impl Engine {
	/// An engine over `store`, keeping plans up to about `cache_budget` bytes.
	pub fn new(store: ModelStore, profile: ExecutionProfile, cache_budget: usize) -> Self {
		Self {
			store,
			profile,
			cache: Mutex::new(Vec::new()),
			cache_budget,
			front_ends: Mutex::new(HashMap::new()),
			generators: Mutex::new(HashMap::new()),
			generation_threads: 1,
			faulty: false,
		}
	}

	/// Split a generation's matrix products among `threads` threads (the tokens are the same
	/// bits whatever the count).
	pub fn with_generation_threads(mut self, threads: usize) -> Self {
		self.generation_threads = threads.max(1);
		self
	}

	/// The execution profile `model_id` runs under: the decoder's for a generation model
	/// this engine has loaded, the engine's own otherwise.
	pub fn profile_for(&self, model_id: &ModelId) -> String {
		let generators = self.generators.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
		match generators.get(model_id) {
			Some(Some(_)) => generation::PROFILE.to_string(),
			_ => self.profile.id(),
		}
	}

	/// The decoder of `model_id` if it is a GGUF generation model; loaded once.
	pub fn generator(
		&self,
		model_id: &ModelId,
		artifact_uri: Option<&str>,
	) -> Result<Option<Arc<Generator>>, EngineError> {
		let mut generators =
			self.generators.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
		if let Some(known) = generators.get(model_id) {
			return Ok(known.clone());
		}
		let path = self.store.path_of(model_id);
		let onnx_in_store = path.exists() && path.extension().is_none_or(|e| e != "gguf");
		let gguf = if onnx_in_store {
			false
		} else {
			// Fetched (or checked against its id) once, then mapped from the store.
			self.store.load(model_id, artifact_uri)?.starts_with(b"GGUF")
		};
		let generator = if gguf {
			let generator = Generator::open(&self.store.path_of(model_id), self.generation_threads)
				.map_err(|error| EngineError::MalformedModel {
					model_id: *model_id,
					reason: error.to_string(),
				})?;
			Some(Arc::new(generator))
		} else {
			None
		};
		generators.insert(*model_id, generator.clone());
		Ok(generator)
	}

	/// Run the generation model `generator` on the canonical `input`.
	fn generate(
		&self,
		generator: &Generator,
		input: &[u8],
		started: Instant,
	) -> Result<InferenceOutput, EngineError> {
		let map = TensorMap::decode_canonical(input).map_err(EngineError::MalformedInput)?;
		let generation = generator.generate(input, &map).map_err(EngineError::from)?;
		Ok(self.output(generation.to_tensor_map(), started))
	}

	/// The answer for `map`, the outputs of a run begun at `started` (altered first in the
	/// test-only faulty mode).
	fn output(&self, mut map: TensorMap, started: Instant) -> InferenceOutput {
		if self.faulty {
			corrupt(&mut map);
		}
		let output = map.encode();
		InferenceOutput { output_hash: content_hash(&output), output, elapsed: started.elapsed() }
	}

	/// Test-only faulty mode: every output is altered before it is returned, as a dishonest
	/// or broken executor would. Never use outside tests of the protocol's defences.
	pub fn with_faulty_outputs(mut self, faulty: bool) -> Self {
		self.faulty = faulty;
		self
	}

	/// The profile this engine runs under.
	pub fn profile(&self) -> ExecutionProfile {
		self.profile
	}

	/// The model store.
	pub fn store(&self) -> &ModelStore {
		&self.store
	}

	/// How many plans the cache holds, and the bytes it counts for them (never above the
	/// budget, unless one plan alone is larger).
	pub fn cached_plans(&self) -> (usize, usize) {
		let cache = self.cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
		(cache.len(), cache.iter().map(|entry| entry.bytes).sum())
	}

	/// Run `model_id` on the canonical `input`; the artifact is fetched from `artifact_uri`
	/// if the store lacks it.
	pub fn infer(
		&self,
		model_id: &ModelId,
		artifact_uri: Option<&str>,
		input: &[u8],
	) -> Result<InferenceOutput, EngineError> {
		let started = Instant::now();
		if let Some(generator) = self.generator(model_id, artifact_uri)? {
			return self.generate(&generator, input, started);
		}
		let (plan, output_names, values) = self.prepare(model_id, artifact_uri, input)?;
		Ok(self.output(planning::run(&plan, &output_names, values)?, started))
	}

	/// Where the time of a run goes: per kind of tract operator in the optimized plan, its
	/// mean time per run of `model_id` on `input` over `runs` runs, slowest first.
	pub fn operator_times(
		&self,
		model_id: &ModelId,
		input: &[u8],
		runs: usize,
	) -> Result<Vec<(String, Duration)>, EngineError> {
		let (plan, _, values) = self.prepare(model_id, None, input)?;
		let mut state = plan.spawn().map_err(EngineError::execution)?;
		let mut totals: HashMap<String, Duration> = HashMap::new();
		let runs = runs.max(1);
		for _ in 0..runs {
			state
				.run_plan_with_eval(values.clone(), |context, op_state, node, inputs| {
					let started = Instant::now();
					let outputs =
						tract_onnx::tract_core::plan::eval(context, op_state, node, inputs);
					*totals.entry(node.op().name().to_string()).or_default() += started.elapsed();
					outputs
				})
				.map_err(EngineError::execution)?;
		}
		let mut times: Vec<(String, Duration)> =
			totals.into_iter().map(|(op, total)| (op, total / runs as u32)).collect();
		times.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
		Ok(times)
	}

	/// Decode `input`, pass it through the model's text front end if it has one, and find
	/// (or make) the plan for its shapes: the plan, its output names and its input values.
	fn prepare(
		&self,
		model_id: &ModelId,
		artifact_uri: Option<&str>,
		input: &[u8],
	) -> Result<(Plan, Vec<String>, TVec<TValue>), EngineError> {
		let front_end = self.front_end(model_id, artifact_uri)?;
		let input = planning::prepare_input(input, front_end.as_deref())?;
		let text_model = front_end.is_some();
		// A text model is planned once with a symbolic sequence length, so its key has no
		// shapes; any other model is planned for the concrete input shapes.
		let shapes: Vec<(String, Vec<usize>)> = input
			.0
			.iter()
			.map(|t| {
				let shape = if text_model {
					Vec::new()
				} else {
					t.shape.iter().map(|d| *d as usize).collect()
				};
				(String::from_utf8_lossy(&t.name).into_owned(), shape)
			})
			.collect();
		let key = (*model_id, shapes);
		let (plan, input_names, output_names) = match self.cached(&key) {
			Some(hit) => hit,
			None => self.plan(key, artifact_uri, &input, text_model)?,
		};

		let values = planning::input_values(&input_names, &input)?;
		Ok((plan, output_names, values))
	}

	/// The tokenizer of `model_id` if it is a text model; read from the artifact once.
	fn front_end(
		&self,
		model_id: &ModelId,
		artifact_uri: Option<&str>,
	) -> Result<Option<Arc<TextFrontEnd>>, EngineError> {
		let known = self.front_ends.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
		if let Some(front_end) = known.get(model_id) {
			return Ok(front_end.clone());
		}
		drop(known);
		let bytes = self.store.load(model_id, artifact_uri)?;
		let front_end = TextFrontEnd::from_artifact(&bytes)
			.map_err(|reason| EngineError::MalformedModel { model_id: *model_id, reason })?
			.map(Arc::new);
		self.front_ends
			.lock()
			.unwrap_or_else(|poisoned| poisoned.into_inner())
			.insert(*model_id, front_end.clone());
		Ok(front_end)
	}

	fn cached(
		&self,
		key: &(ModelId, Vec<(String, Vec<usize>)>),
	) -> Option<(Plan, Vec<String>, Vec<String>)> {
		let mut cache = self.cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
		let index = cache.iter().position(|entry| &entry.key == key)?;
		let entry = cache.remove(index);
		let hit = (entry.plan.clone(), entry.input_names.clone(), entry.output_names.clone());
		cache.push(entry);
		Some(hit)
	}

	/// Load, type and optimize the model for these input shapes, and cache the plan.
	fn plan(
		&self,
		key: (ModelId, Vec<(String, Vec<usize>)>),
		artifact_uri: Option<&str>,
		input: &TensorMap,
		symbolic_sequence: bool,
	) -> Result<(Plan, Vec<String>, Vec<String>), EngineError> {
		let bytes = self.store.load(&key.0, artifact_uri)?;
		let planned = planning::plan(&bytes, key.0, input, symbolic_sequence)?;
		let mut cache = self.cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
		// A plan holds the weights once more, plus working memory: twice the artifact.
		let bytes = bytes.len().saturating_mul(2);
		while !cache.is_empty()
			&& cache.iter().map(|entry| entry.bytes).sum::<usize>() + bytes > self.cache_budget
		{
			cache.remove(0);
		}
		cache.push(CachedPlan {
			key,
			plan: planned.plan.clone(),
			output_names: planned.output_names.clone(),
			input_names: planned.input_names.clone(),
			bytes,
		});
		Ok((planned.plan, planned.input_names, planned.output_names))
	}
}

/// Alter an output the way a faulty executor might: flip the low bit of its first data byte.
fn corrupt(map: &mut TensorMap) {
	if let Some(byte) = map.0.iter_mut().find_map(|tensor| tensor.data.first_mut()) {
		*byte ^= 1;
	}
}

/// A model input or output as the ONNX graph declares it: name, element type (if known and
/// representable), and dimensions (`None` for a free axis).
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct DeclaredTensor {
	/// The tensor's name.
	pub name: String,
	/// Its element type.
	pub dtype: Option<verity_primitives::DType>,
	/// Its dimensions; `None` marks a free axis.
	pub shape: Vec<Option<u32>>,
}

/// The inputs and outputs an ONNX artifact declares in its graph.
pub fn describe(artifact: &[u8]) -> Result<(Vec<DeclaredTensor>, Vec<DeclaredTensor>), String> {
	use tract_onnx::pb::{
		tensor_shape_proto::dimension::Value as Dimension, type_proto, ValueInfoProto,
	};
	let proto = tract_onnx::onnx()
		.proto_model_for_read(&mut &artifact[..])
		.map_err(|error| format!("{error:#}"))?;
	let graph = proto.graph.ok_or("the artifact has no graph")?;
	let declared = |value: &ValueInfoProto| {
		let tensor = match value.r#type.as_ref().and_then(|t| t.value.as_ref()) {
			Some(type_proto::Value::TensorType(tensor)) => Some(tensor),
			_ => None,
		};
		DeclaredTensor {
			name: value.name.clone(),
			dtype: tensor.and_then(|t| onnx_dtype(t.elem_type)),
			shape: tensor
				.and_then(|t| t.shape.as_ref())
				.map(|shape| {
					shape
						.dim
						.iter()
						.map(|dim| match dim.value {
							Some(Dimension::DimValue(size)) if size > 0 => u32::try_from(size).ok(),
							_ => None,
						})
						.collect()
				})
				.unwrap_or_default(),
		}
	};
	if proto
		.metadata_props
		.iter()
		.any(|entry| entry.key == crate::text::TOKENIZER_METADATA_KEY)
	{
		let text = DeclaredTensor {
			name: verity_primitives::TEXT_INPUT.to_string(),
			dtype: Some(verity_primitives::DType::U8),
			shape: vec![None],
		};
		return Ok((vec![text], graph.output.iter().map(declared).collect()));
	}
	let initializers: Vec<&str> = graph.initializer.iter().map(|t| t.name.as_str()).collect();
	let inputs = graph
		.input
		.iter()
		.filter(|input| !initializers.contains(&input.name.as_str()))
		.map(declared)
		.collect();
	let outputs = graph.output.iter().map(declared).collect();
	Ok((inputs, outputs))
}

/// The canonical element type of an ONNX `TensorProto.DataType`.
fn onnx_dtype(code: i32) -> Option<verity_primitives::DType> {
	use verity_primitives::DType;
	Some(match code {
		1 => DType::F32,
		2 => DType::U8,
		3 => DType::I8,
		5 => DType::I16,
		6 => DType::I32,
		7 => DType::I64,
		9 => DType::Bool,
		11 => DType::F64,
		_ => return None,
	})
}

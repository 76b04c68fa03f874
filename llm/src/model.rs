//! Gemma 3's forward pass over a GGUF file, position by position, weights kept quantized.
//!
//! Per position: the embedding row times `sqrt(640)`; then each block: RMS-normalized input,
//! query/key/value projections, per-head RMS normalization of queries and keys, rotary
//! positions (NeoX layout: the two halves of each head rotate together; base 1,000,000 on the
//! global blocks, every sixth, and 10,000 on the others), attention of the four query heads
//! over the one key/value head at every earlier position (the last 512 on sliding-window
//! blocks), the output projection, its RMS normalization, the residual; then the feed-forward
//! (`down(gelu_tanh(gate(h)) × up(h))`) the same way; finally the RMS-normalized state times
//! the tied embedding gives the logits.
//!
//! Positions are absolute and each is computed with the same operations in the same order
//! whether it comes alone (decoding) or with others (a prompt, a verification pass): the
//! logits of a position do not depend on how the positions were grouped. A pass over several
//! positions reads each weight row once for all of them, which is what makes checking a
//! completion faster than generating it. Matrix rows are split among threads; each output is
//! still one row's dot product computed whole by one thread, so the thread count changes no
//! bit either, and neither does the kernel path ([`KernelPath`]).

use crate::{
	gguf::{GgufFile, TensorInfo, Value},
	kernels::{
		dot, dot_rows, dots, gelu_each, quantize_row, rms_norm, softmax, KernelPath, QuantizedRow,
	},
	quant::{dequantize, GgmlType},
};

/// Why a file cannot be run as Gemma 3.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
	/// The file is not a Gemma 3 model.
	#[error("not a Gemma 3 model: {0}")]
	NotGemma3(String),
	/// A tensor is missing or has another shape or type than the architecture needs.
	#[error("tensor {0}: {1}")]
	Tensor(String, String),
	/// A position beyond the model's context.
	#[error("position {position} is past the context of {context}")]
	ContextFull {
		/// The position asked for.
		position: usize,
		/// The context length.
		context: usize,
	},
	/// A token id outside the vocabulary.
	#[error("token {0} is not in the vocabulary")]
	UnknownToken(u32),
	/// A kernel path this CPU does not run.
	#[error("this CPU cannot run the {0:?} kernels")]
	KernelUnavailable(KernelPath),
}

/// The architecture's numbers, read from the file.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
	/// Blocks.
	pub blocks: usize,
	/// Width of the residual stream.
	pub embedding: usize,
	/// Width of the feed-forward.
	pub feed_forward: usize,
	/// Query heads.
	pub heads: usize,
	/// Key/value heads.
	pub kv_heads: usize,
	/// Width of a head.
	pub head: usize,
	/// RMS normalization's epsilon.
	pub epsilon: f32,
	/// Positions a sliding-window block attends to.
	pub window: usize,
	/// The rotary base of global blocks.
	pub global_base: f64,
	/// The rotary base of sliding-window blocks.
	pub local_base: f64,
	/// Positions the model takes.
	pub context: usize,
	/// Vocabulary size.
	pub vocabulary: usize,
}

impl Config {
	/// Whether block `index` attends globally (every sixth block) rather than to a window.
	pub fn is_global(&self, index: usize) -> bool {
		index % 6 == 5
	}
}

/// Rows a thread computes at a time before moving their outputs to the positions'.
const ROWS_AT_ONCE: usize = 512;

/// One block's tensors.
struct Block {
	attn_norm: Vec<f32>,
	q: TensorInfo,
	k: TensorInfo,
	v: TensorInfo,
	q_norm: Vec<f32>,
	k_norm: Vec<f32>,
	output: TensorInfo,
	post_attention_norm: Vec<f32>,
	ffn_norm: Vec<f32>,
	gate: TensorInfo,
	up: TensorInfo,
	down: TensorInfo,
	post_ffw_norm: Vec<f32>,
}

/// Gemma 3 over a mapped GGUF file.
pub struct Gemma3 {
	file: GgufFile,
	/// The architecture.
	pub config: Config,
	embedding: TensorInfo,
	output_norm: Vec<f32>,
	blocks: Vec<Block>,
	path: KernelPath,
	threads: usize,
	/// The rotary frequencies of the global blocks.
	global_frequencies: Vec<f64>,
	/// The rotary frequencies of the sliding-window blocks.
	local_frequencies: Vec<f64>,
}

/// The keys and values of every position so far, per block.
pub struct Cache {
	/// Per block, per position, the key (one head).
	keys: Vec<Vec<Vec<f32>>>,
	/// Per block, per position, the value (one head).
	values: Vec<Vec<Vec<f32>>>,
}

impl Cache {
	/// Positions held.
	pub fn len(&self) -> usize {
		self.keys.first().map_or(0, Vec::len)
	}

	/// Whether no position is held.
	pub fn is_empty(&self) -> bool {
		self.len() == 0
	}

	/// Forget every position from `len` on.
	pub fn truncate(&mut self, len: usize) {
		for keys in &mut self.keys {
			keys.truncate(len);
		}
		for values in &mut self.values {
			values.truncate(len);
		}
	}
}

impl Gemma3 {
	/// The model in `file`, its tensors checked against the architecture.
	pub fn new(file: GgufFile) -> Result<Self, ModelError> {
		let arch = file.get("general.architecture").and_then(Value::as_str);
		if arch != Some("gemma3") {
			return Err(ModelError::NotGemma3(format!("architecture {arch:?}")));
		}
		let number = |key: &str| {
			file.get(key)
				.and_then(Value::as_f64)
				.ok_or_else(|| ModelError::NotGemma3(format!("{key} is missing")))
		};
		let heads = number("gemma3.attention.head_count")? as usize;
		let embedding = number("gemma3.embedding_length")? as usize;
		let vocabulary = file
			.get("tokenizer.ggml.tokens")
			.and_then(Value::as_array)
			.map_or(0, <[Value]>::len);
		let config = Config {
			blocks: number("gemma3.block_count")? as usize,
			embedding,
			feed_forward: number("gemma3.feed_forward_length")? as usize,
			heads,
			kv_heads: number("gemma3.attention.head_count_kv")? as usize,
			head: number("gemma3.attention.key_length")? as usize,
			epsilon: number("gemma3.attention.layer_norm_rms_epsilon")? as f32,
			window: number("gemma3.attention.sliding_window")? as usize,
			global_base: number("gemma3.rope.freq_base")?,
			local_base: 10_000.0,
			context: number("gemma3.context_length")? as usize,
			vocabulary,
		};
		if config.kv_heads != 1 || config.heads == 0 || !config.head.is_multiple_of(2) {
			return Err(ModelError::NotGemma3(format!("{config:?}")));
		}
		let c = &config;
		let matrix =
			|name: String, columns: usize, rows: usize| -> Result<TensorInfo, ModelError> {
				let tensor = file
					.tensor(&name)
					.ok_or_else(|| ModelError::Tensor(name.clone(), "missing".into()))?;
				if tensor.dims != [columns as u64, rows as u64] || tensor.ggml_type.block_len() == 1
				{
					return Err(ModelError::Tensor(
						name,
						format!(
							"{:?} {:?}, not [{columns}, {rows}] quantized",
							tensor.dims, tensor.ggml_type
						),
					));
				}
				Ok(tensor.clone())
			};
		let vector = |name: String, len: usize| -> Result<Vec<f32>, ModelError> {
			let tensor = file
				.tensor(&name)
				.ok_or_else(|| ModelError::Tensor(name.clone(), "missing".into()))?;
			if tensor.dims != [len as u64] || tensor.ggml_type != GgmlType::F32 {
				return Err(ModelError::Tensor(
					name,
					format!("{:?}, not [{len}] f32", tensor.dims),
				));
			}
			let mut values = vec![0f32; len];
			dequantize(tensor.ggml_type, file.data(tensor), &mut values)
				.map_err(|e| ModelError::Tensor(name, e.to_string()))?;
			Ok(values)
		};
		let mut blocks = Vec::with_capacity(c.blocks);
		for i in 0..c.blocks {
			let name = |part: &str| format!("blk.{i}.{part}.weight");
			blocks.push(Block {
				attn_norm: vector(name("attn_norm"), c.embedding)?,
				q: matrix(name("attn_q"), c.embedding, c.heads * c.head)?,
				k: matrix(name("attn_k"), c.embedding, c.head)?,
				v: matrix(name("attn_v"), c.embedding, c.head)?,
				q_norm: vector(name("attn_q_norm"), c.head)?,
				k_norm: vector(name("attn_k_norm"), c.head)?,
				output: matrix(name("attn_output"), c.heads * c.head, c.embedding)?,
				post_attention_norm: vector(name("post_attention_norm"), c.embedding)?,
				ffn_norm: vector(name("ffn_norm"), c.embedding)?,
				gate: matrix(name("ffn_gate"), c.embedding, c.feed_forward)?,
				up: matrix(name("ffn_up"), c.embedding, c.feed_forward)?,
				down: matrix(name("ffn_down"), c.feed_forward, c.embedding)?,
				post_ffw_norm: vector(name("post_ffw_norm"), c.embedding)?,
			});
		}
		let embedding = matrix("token_embd.weight".into(), c.embedding, c.vocabulary)?;
		let output_norm = vector("output_norm.weight".into(), c.embedding)?;
		Ok(Self {
			file,
			embedding,
			output_norm,
			blocks,
			path: KernelPath::widest(),
			threads: 1,
			global_frequencies: frequencies(config.global_base, config.head),
			local_frequencies: frequencies(config.local_base, config.head),
			config,
		})
	}

	/// Compute the integer block sums on `path` from now on (the widest available is the
	/// default). The logits are the same bits on every path; this exists to show it.
	pub fn set_kernel_path(&mut self, path: KernelPath) -> Result<(), ModelError> {
		if !path.is_available() {
			return Err(ModelError::KernelUnavailable(path));
		}
		self.path = path;
		Ok(())
	}

	/// The kernel path in use.
	pub fn kernel_path(&self) -> KernelPath {
		self.path
	}

	/// Split matrix products among `threads` threads (at least one; one is the default).
	pub fn set_threads(&mut self, threads: usize) {
		self.threads = threads.max(1);
	}

	/// The GGUF file the model runs from (its metadata holds the tokenizer too).
	pub fn file(&self) -> &GgufFile {
		&self.file
	}

	/// An empty cache for this model.
	pub fn cache(&self) -> Cache {
		Cache {
			keys: vec![Vec::new(); self.config.blocks],
			values: vec![Vec::new(); self.config.blocks],
		}
	}

	/// `matrix × inputs`: per input, one output per matrix row. Rows are split among the
	/// threads in contiguous runs; each output is computed whole by one thread. Each thread
	/// computes [`ROWS_AT_ONCE`] rows at a time into a small buffer and moves them to the
	/// positions' outputs, so no matrix-sized intermediate is ever allocated.
	fn project(&self, matrix: &TensorInfo, inputs: &[QuantizedRow]) -> Vec<Vec<f32>> {
		let data = self.file.data(matrix);
		let row_bytes =
			matrix.row_len() / matrix.ggml_type.block_len() * matrix.ggml_type.block_bytes();
		let rows = data.len() / row_bytes;
		let positions = inputs.len();
		let mut by_position: Vec<Vec<f32>> = (0..positions).map(|_| vec![0f32; rows]).collect();
		if positions == 0 {
			return by_position;
		}
		// Threads only where each has enough work to pay for starting it.
		let threads = self.threads.min(rows * positions / 256).max(1);
		let rows_per_thread = rows.div_ceil(threads);
		// Per thread, its run of rows in every position's outputs.
		let mut runs: Vec<Vec<&mut [f32]>> = (0..threads).map(|_| Vec::new()).collect();
		for outputs in &mut by_position {
			for (run, part) in runs.iter_mut().zip(outputs.chunks_mut(rows_per_thread)) {
				run.push(part);
			}
		}
		let compute = |first_row: usize, mut outputs: Vec<&mut [f32]>| {
			let count = outputs.first().map_or(0, |part| part.len());
			let mut by_row = vec![0f32; ROWS_AT_ONCE.min(count) * positions];
			for start in (0..count).step_by(ROWS_AT_ONCE) {
				let n = (count - start).min(ROWS_AT_ONCE);
				let weights = &data[(first_row + start) * row_bytes..][..n * row_bytes];
				let by_row = &mut by_row[..n * positions];
				dot_rows(self.path, matrix.ggml_type, weights, row_bytes, inputs, by_row);
				for (position, part) in outputs.iter_mut().enumerate() {
					for (value, row) in
						part[start..start + n].iter_mut().zip(by_row.chunks_exact(positions))
					{
						*value = row[position];
					}
				}
			}
		};
		if threads == 1 {
			let run = runs.pop().unwrap_or_default();
			compute(0, run);
			return by_position;
		}
		let mut runs = runs.into_iter().enumerate();
		std::thread::scope(|scope| {
			let compute = &compute;
			let first = runs.next();
			for (index, run) in runs {
				scope.spawn(move || compute(index * rows_per_thread, run));
			}
			if let Some((_, run)) = first {
				compute(0, run);
			}
		});
		by_position
	}

	/// Run `token` at the next position of `cache` and return the logits of what follows it.
	pub fn forward(&self, token: u32, cache: &mut Cache) -> Result<Vec<f32>, ModelError> {
		let mut logits = self.forward_batch(&[token], cache, 0)?;
		Ok(logits.pop().unwrap_or_default())
	}

	/// Run `tokens` at the next positions of `cache` in one pass and return the logits after
	/// each of them from index `logits_from` on (none when it is `tokens.len()`). The bits are
	/// those of running them one by one with [`Gemma3::forward`]. Nothing is run, and the
	/// cache is unchanged, if a token is outside the vocabulary or the positions pass the
	/// context.
	pub fn forward_batch(
		&self,
		tokens: &[u32],
		cache: &mut Cache,
		logits_from: usize,
	) -> Result<Vec<Vec<f32>>, ModelError> {
		let c = &self.config;
		let start = cache.len();
		if start + tokens.len() > c.context {
			return Err(ModelError::ContextFull {
				position: start + tokens.len() - 1,
				context: c.context,
			});
		}
		if let Some(token) = tokens.iter().find(|token| **token as usize >= c.vocabulary) {
			return Err(ModelError::UnknownToken(*token));
		}
		let normalized = |xs: &[Vec<f32>], weight: &[f32]| -> Vec<QuantizedRow> {
			xs.iter()
				.map(|x| {
					let mut h = x.clone();
					rms_norm(&mut h, weight, c.epsilon);
					quantize_row(&h)
				})
				.collect()
		};
		let add_normalized = |xs: &mut [Vec<f32>], mut outs: Vec<Vec<f32>>, weight: &[f32]| {
			for (x, out) in xs.iter_mut().zip(&mut outs) {
				rms_norm(out, weight, c.epsilon);
				for (x, o) in x.iter_mut().zip(out.iter()) {
					*x += o;
				}
			}
		};
		let mut xs: Vec<Vec<f32>> = tokens.iter().map(|token| self.embed(*token)).collect();
		for (index, block) in self.blocks.iter().enumerate() {
			let hs = normalized(&xs, &block.attn_norm);
			let mut qs = self.project(&block.q, &hs);
			let ks = self.project(&block.k, &hs);
			let vs = self.project(&block.v, &hs);
			let frequencies =
				if c.is_global(index) { &self.global_frequencies } else { &self.local_frequencies };
			for (offset, (q, (mut k, v))) in qs.iter_mut().zip(ks.into_iter().zip(vs)).enumerate() {
				let rotation = rotation(start + offset, frequencies);
				for head in q.chunks_exact_mut(c.head) {
					rms_norm(head, &block.q_norm, c.epsilon);
					rotate(head, &rotation);
				}
				rms_norm(&mut k, &block.k_norm, c.epsilon);
				rotate(&mut k, &rotation);
				cache.keys[index].push(k);
				cache.values[index].push(v);
			}
			let attended: Vec<QuantizedRow> = qs
				.iter()
				.enumerate()
				.map(|(offset, q)| {
					let position = start + offset;
					let first = if c.is_global(index) {
						0
					} else {
						(position + 1).saturating_sub(c.window)
					};
					let (keys, values) = (&cache.keys[index], &cache.values[index]);
					quantize_row(&self.attend(
						q,
						&keys[first..=position],
						&values[first..=position],
					))
				})
				.collect();
			let outs = self.project(&block.output, &attended);
			add_normalized(&mut xs, outs, &block.post_attention_norm);
			let hs = normalized(&xs, &block.ffn_norm);
			let gates = self.project(&block.gate, &hs);
			let ups = self.project(&block.up, &hs);
			let hidden: Vec<QuantizedRow> = gates
				.iter()
				.zip(&ups)
				.map(|(gate, up)| {
					let mut hidden = gate.clone();
					gelu_each(&mut hidden);
					hidden.iter_mut().zip(up).for_each(|(h, u)| *h *= u);
					quantize_row(&hidden)
				})
				.collect();
			let outs = self.project(&block.down, &hidden);
			add_normalized(&mut xs, outs, &block.post_ffw_norm);
		}
		let finals = normalized(xs.get(logits_from..).unwrap_or_default(), &self.output_norm);
		Ok(self.project(&self.embedding, &finals))
	}

	/// The embedding row of `token` times `sqrt(embedding width)`.
	fn embed(&self, token: u32) -> Vec<f32> {
		let e = &self.embedding;
		let row_bytes = e.row_len() / e.ggml_type.block_len() * e.ggml_type.block_bytes();
		let bytes = &self.file.data(e)[token as usize * row_bytes..][..row_bytes];
		let mut row = vec![0f32; e.row_len()];
		dequantize(e.ggml_type, bytes, &mut row).expect("a whole row");
		let scale = (self.config.embedding as f32).sqrt();
		row.iter_mut().for_each(|x| *x *= scale);
		row
	}

	/// Attention of each query head over `keys` and `values` (one head, shared).
	fn attend(&self, q: &[f32], keys: &[Vec<f32>], values: &[Vec<f32>]) -> Vec<f32> {
		let head = self.config.head;
		// 1/sqrt(256) = 1/16: a power of two, so the scaling is exact.
		let scale = 1.0 / (head as f32).sqrt();
		let queries: Vec<&[f32]> = q.chunks_exact(head).collect();
		let mut scores: Vec<Vec<f32>> =
			queries.iter().map(|_| Vec::with_capacity(keys.len())).collect();
		// Four heads' scores side by side against each key, then the heads left over.
		let mut fours = queries.chunks_exact(4);
		let mut first = 0;
		for four in &mut fours {
			let four: [&[f32]; 4] = [four[0], four[1], four[2], four[3]];
			for key in keys {
				for (scores, score) in scores[first..].iter_mut().zip(dots(four, key)) {
					scores.push(score * scale);
				}
			}
			first += 4;
		}
		for (query, scores) in fours.remainder().iter().zip(&mut scores[first..]) {
			scores.extend(keys.iter().map(|key| dot(query, key) * scale));
		}
		let mut out = vec![0f32; q.len()];
		for (mut scores, out) in scores.into_iter().zip(out.chunks_exact_mut(head)) {
			softmax(&mut scores);
			for (weight, value) in scores.iter().zip(values) {
				for (out, v) in out.iter_mut().zip(value) {
					*out += weight * v;
				}
			}
		}
		out
	}
}

/// The rotary frequencies of one base: `base^(-2i / head width)` for each pair `i`.
fn frequencies(base: f64, head: usize) -> Vec<f64> {
	(0..head / 2).map(|i| libm::pow(base, -2.0 * i as f64 / head as f64)).collect()
}

/// The `(sin, cos)` of each pair's angle at `position`.
fn rotation(position: usize, frequencies: &[f64]) -> Vec<(f32, f32)> {
	frequencies
		.iter()
		.map(|frequency| {
			let angle = position as f64 * frequency;
			(libm::sin(angle) as f32, libm::cos(angle) as f32)
		})
		.collect()
}

/// Rotate `head` (NeoX layout: element `i` pairs with `i + half`) by `rotation`.
fn rotate(head: &mut [f32], rotation: &[(f32, f32)]) {
	let half = head.len() / 2;
	for (i, (sin, cos)) in rotation.iter().enumerate() {
		let (a, b) = (head[i], head[i + half]);
		head[i] = a * cos - b * sin;
		head[i + half] = a * sin + b * cos;
	}
}

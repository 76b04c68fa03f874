//! Verity's own implementations of a few tract operators, swapped into a model's plan where
//! tract's are slow on small tensors.
//!
//! Each computes exactly what tract computes, operation for operation in the same order (no
//! reassociation; a fused multiply-add exactly where tract's kernels in this process use one,
//! see [`pointwise`]), so a plan gives the same bytes with or without them. They are plain
//! Rust that the compiler vectorises for the host (AVX where present), and the two
//! convolutions walk their blocks once, generic over [`lanes::Lanes`], in 512-bit vectors on
//! CPUs with AVX-512 (see [`allow_512_bit_vectors`]), 256-bit ones with AVX, portable ones
//! elsewhere: the vector width changes how many elements an instruction handles, never what
//! is computed for one.
//!
//! - [`depthwise`]: two-dimensional depthwise convolution (MobileNet's separable blocks).
//! - [`pointwise`]: 1x1 convolution (MobileNet's expansions and projections).
//! - [`max_pool`]: two-dimensional max pooling.
//! - [`elementwise`]: chains of element-wise operations (hard-swish, batch normalisation) and
//!   operations by one value per channel (squeeze-and-excitation scales).
//! - [`epilogue`]: the element-wise steps a convolution takes over from the chains after it.
//! - [`lanes`]: the vectors the convolutions' block walks are written against.
//!
//! [`substitute`] walks a decluttered model and [`substitute_optimized`] an optimized one, and
//! replace the operators these cover; anything they do not cover (other layouts, types,
//! quantized convolutions) stays with tract.

/// Define `fn $name(args)`, which runs `$body` (an `#[inline(always)]` function of the same
/// arguments) compiled with the first of the target feature sets given, in order, whose
/// features the CPU all has, and as baseline code otherwise. The compiler may then use wider
/// vectors; it never changes what is computed for one element (Rust neither reassociates nor
/// contracts float arithmetic), so every version gives the same bits.
macro_rules! with_target_features {
	(
		$(#[$attr:meta])* fn $name:ident($($arg:ident: $ty:ty),* $(,)?) => $body:expr,
		$($features:tt),+
	) => {
		$(#[$attr])*
		fn $name($($arg: $ty),*) {
			#[cfg(target_arch = "x86_64")]
			with_target_features!(@try $body; ($($arg: $ty),*); $($features),+);
			$body($($arg),*)
		}
	};
	(@try $body:expr; ($($arg:ident: $ty:ty),*); [$($feature:tt),+] $(, $rest:tt)*) => {
		{
			$(#[target_feature(enable = $feature)])+
			unsafe fn compiled_for_features($($arg: $ty),*) {
				$body($($arg),*)
			}
			if $(std::arch::is_x86_feature_detected!($feature))&&+ {
				// SAFETY: the CPU has every feature named, checked just above.
				return unsafe { compiled_for_features($($arg),*) };
			}
			with_target_features!(@try $body; ($($arg: $ty),*); $($rest),*);
		}
	};
	(@try $body:expr; ($($arg:ident: $ty:ty),*);) => {};
}

/// Where blocks of `block` consecutive items start in a run of `length` (at least `block`):
/// every `block` items, the last block ending with the run and overlapping the one before it
/// (its items are computed twice, to the same bits).
fn block_starts(length: usize, block: usize) -> impl Iterator<Item = usize> + Clone {
	(0..length).step_by(block).map(move |first| first.min(length - block))
}

/// The first item and size of each group of `length` items: groups of `group`, then single
/// items for what is left.
fn groups(length: usize, group: usize) -> impl Iterator<Item = (usize, usize)> {
	let whole = length / group * group;
	(0..whole)
		.step_by(group)
		.map(move |first| (first, group))
		.chain((whole..length).map(|i| (i, 1)))
}

/// Whether the operators may use 512-bit vectors where the CPU has AVX-512.
static WIDE_VECTORS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

/// Let the operators use 512-bit vectors where the CPU has AVX-512 (the default), or keep them
/// to the 256-bit code every x86-64 CPU with AVX runs. They give the same bytes either way;
/// turning the wide code off measures, or tests, the narrow one on any host.
pub fn allow_512_bit_vectors(allow: bool) {
	WIDE_VECTORS.store(allow, std::sync::atomic::Ordering::Relaxed);
}

/// Whether to take the 512-bit code: allowed, and the CPU has AVX-512F.
/// Whether the process lets the operators use 512-bit vectors (see [`allow_512_bit_vectors`]).
#[cfg(target_arch = "x86_64")]
fn wide_vectors_allowed() -> bool {
	WIDE_VECTORS.load(std::sync::atomic::Ordering::Relaxed)
}

pub mod depthwise;
pub mod elementwise;
pub mod epilogue;
pub mod lanes;
pub mod max_pool;
pub mod pointwise;

use tract_onnx::prelude::*;
use tract_onnx::tract_core::{
	internal::*,
	ops::{
		binary::{OptBinByScalar, OptBinChain},
		cnn::{Conv, MaxPool},
		einsum::EinSum,
	},
};

/// Replace, in a decluttered model, every operator Verity implements itself at that stage by
/// its implementation. Returns how many were replaced.
pub fn substitute(model: &mut TypedModel) -> TractResult<usize> {
	replace_all(model, |model, node| {
		Ok(if let Some(conv) = node.op_as::<Conv>() {
			depthwise::DepthwiseConv::for_conv(model, node, conv)?
				.map(|op| (Box::new(op) as _, vec![0]))
		} else if let Some(einsum) = node.op_as::<EinSum>() {
			pointwise::PointwiseConv::for_einsum(model, node, einsum)?
				.map(|(op, activation)| (Box::new(op) as _, vec![activation]))
		} else if let Some(pool) = node.op_as::<MaxPool>() {
			max_pool::MaxPool2d::for_max_pool(model, node, pool)?
				.map(|op| (Box::new(op) as _, vec![0]))
		} else {
			None
		})
	})
}

/// Replace, in an optimized model, every operator Verity implements itself at that stage (the
/// element-wise chains and operations by one value per block) by its implementation; then fold
/// each chain that alone reads a convolution into that convolution's epilogue, and join each
/// chain that only feeds another into it. Returns how many were replaced.
pub fn substitute_optimized(model: &mut TypedModel) -> TractResult<usize> {
	let count = replace_all(model, |model, node| {
		let chain = if let Some(chain) = node.op_as::<OptBinChain>() {
			elementwise::ElementwiseChain::for_chain(model, node, chain)?
		} else if let Some(op) = node.op_as::<OptBinByScalar>() {
			elementwise::ElementwiseChain::for_by_scalar(model, node, op)?
		} else {
			None
		};
		Ok(chain.map(|op| (Box::new(op) as _, (0..node.inputs.len()).collect())))
	})?;
	while fold_one_chain_into_convolution(model)? || join_one_chain_pair(model)? {}
	Ok(count)
}

/// Fold one chain of per-channel constant steps that alone reads a convolution's output (once
/// as its accumulator, possibly through a reshape, and possibly again as an operand) into that
/// convolution's epilogue. Returns whether it found one.
fn fold_one_chain_into_convolution(model: &mut TypedModel) -> TractResult<bool> {
	use depthwise::DepthwiseConv;
	use elementwise::ElementwiseChain;
	use pointwise::PointwiseConv;
	for id in model.eval_order()? {
		let chain = model.node(id);
		let Some(chain_op) = chain.op_as::<ElementwiseChain>() else { continue };
		// The chain may read the output reshaped (same elements in the same order).
		let (feeder, reshape) = match plain_reshape(model, chain.inputs[0]) {
			Some(reshape) => (model.node(chain.inputs[0].node).inputs[0], Some(reshape)),
			None => (chain.inputs[0], None),
		};
		let producer = model.node(feeder.node);
		let pointwise = producer.op_as::<PointwiseConv>();
		let depthwise = producer.op_as::<DepthwiseConv>();
		let channels = match (pointwise, depthwise) {
			(Some(op), _) => op.single_image_channels(),
			(_, Some(op)) => op.single_image_channels(),
			_ => None,
		};
		let Some(channels) = channels else { continue };
		// Nothing but the chain (and the reshape it reads) may read the output.
		let outputs = model.output_outlets()?;
		let readers_are = |outlet: OutletId, allowed: &[usize]| {
			!outputs.contains(&outlet)
				&& model
					.outlet_successors(outlet)
					.iter()
					.all(|inlet| allowed.contains(&inlet.node))
		};
		let allowed = [id, chain.inputs[0].node];
		if !readers_are(feeder, &allowed) || !readers_are(chain.inputs[0], &[id]) {
			continue;
		}
		let operands: Option<Vec<Option<Arc<Tensor>>>> = chain.inputs[1..]
			.iter()
			.map(|outlet| {
				Ok(if *outlet == feeder || *outlet == chain.inputs[0] {
					Some(None)
				} else {
					model.outlet_fact(*outlet)?.konst.clone().map(Some)
				})
			})
			.collect::<TractResult<_>>()?;
		let Some(operands) = operands else { continue };
		let Some(steps) = chain_op.as_epilogue(&operands, channels)? else { continue };
		let joined: Option<Box<dyn TypedOp>> = match (pointwise, depthwise) {
			(Some(op), _) => op.followed_by(&steps).map(|op| Box::new(op) as _),
			(_, Some(op)) => op.followed_by(&steps).map(|op| Box::new(op) as _),
			_ => None,
		};
		let Some(joined) = joined else { continue };
		let activation = producer.inputs[0];
		let ops = [Some(joined), reshape].into_iter().flatten().collect();
		rewire(model, id, ops, &[activation])?;
		return Ok(true);
	}
	Ok(false)
}

/// The reshape producing `outlet`, if it is one that only gives the same elements, in the
/// same order, another shape.
fn plain_reshape(model: &TypedModel, outlet: OutletId) -> Option<Box<dyn TypedOp>> {
	use tract_onnx::tract_core::ops::change_axes::IntoShape;
	let node = model.node(outlet.node);
	let reshape = node.op_as::<IntoShape>()?;
	let mut stride = 1isize;
	let mut natural = TVec::new();
	for dim in reshape.dims.iter().rev() {
		natural.insert(0, stride);
		stride *= *dim as isize;
	}
	(node.inputs.len() == 1 && reshape.strides == natural).then(|| Box::new(reshape.clone()) as _)
}

/// Join one chain whose output only feeds another chain into that one, so the tensor is walked
/// once. Returns whether it found such a pair.
fn join_one_chain_pair(model: &mut TypedModel) -> TractResult<bool> {
	use elementwise::ElementwiseChain;
	for id in model.eval_order()? {
		let second = model.node(id);
		let Some(second_op) = second.op_as::<ElementwiseChain>() else { continue };
		let lengths = model
			.node_input_facts(id)?
			.iter()
			.map(|fact| fact.shape.as_concrete().map(|shape| shape.iter().product::<usize>()))
			.collect::<Option<Vec<_>>>();
		for (position, feeder) in second.inputs.iter().enumerate().take(2) {
			let first = model.node(feeder.node);
			let Some(first_op) = first.op_as::<ElementwiseChain>() else { continue };
			if !feeds_only_one(model, *feeder)? {
				continue;
			}
			// The first chain's output is the second's accumulator: run one, then the other.
			// Or it is the first step's full-length operand of a commutative operation: swap
			// the two, the operation gives the same bits either way round.
			let joined = match position {
				0 => first_op.then(second_op),
				_ if lengths.as_ref().is_some_and(|l| l[0] == l[1]) => {
					match first_op.then_swapped(second_op) {
						Some(joined) => joined,
						None => continue,
					}
				},
				_ => continue,
			};
			let mut inputs: Vec<OutletId> = first.inputs.clone();
			inputs.extend(
				second
					.inputs
					.iter()
					.enumerate()
					.filter(|(i, _)| *i != position)
					.map(|(_, outlet)| *outlet),
			);
			rewire(model, id, vec![Box::new(joined)], &inputs)?;
			return Ok(true);
		}
	}
	Ok(false)
}

/// A replacement for a node: the operator, and which of the node's inputs it reads, in order.
type Replacement = (Box<dyn TypedOp>, Vec<usize>);

/// Replace every node `replacement` has a replacement for (single-output nodes only).
fn replace_all(
	model: &mut TypedModel,
	replacement: impl Fn(&TypedModel, &TypedNode) -> TractResult<Option<Replacement>>,
) -> TractResult<usize> {
	let mut replacements = Vec::new();
	for id in model.eval_order()? {
		let node = model.node(id);
		if node.outputs.len() == 1 {
			if let Some(found) = replacement(model, node)? {
				replacements.push((id, found));
			}
		}
	}
	let count = replacements.len();
	for (id, (op, reads)) in replacements {
		// Read the node's inputs now: an earlier replacement may have rewired them.
		let inputs: Vec<OutletId> = reads.iter().map(|&at| model.node(id).inputs[at]).collect();
		rewire(model, id, vec![op], &inputs)?;
	}
	Ok(count)
}

/// Replace node `id`'s output with that of `ops` in sequence, the first reading `inputs`, each
/// next one the output of the one before; the first keeps the node's name.
fn rewire(
	model: &mut TypedModel,
	id: usize,
	ops: Vec<Box<dyn TypedOp>>,
	inputs: &[OutletId],
) -> TractResult<()> {
	let name = model.node(id).name.clone();
	let mut patch = TypedModelPatch::default();
	let mut inputs = inputs
		.iter()
		.map(|&input| patch.tap_model(model, input))
		.collect::<TractResult<TVec<_>>>()?;
	for (index, op) in ops.into_iter().enumerate() {
		let name = if index == 0 { name.clone() } else { format!("{name}.{index}") };
		inputs = patch.wire_node(name, op, &inputs)?;
	}
	patch.shunt_outside(model, OutletId::new(id, 0), inputs[0])?;
	patch.apply(model)
}

/// Rename every node whose name an earlier node already has (`name.1`, `name.2`, …): tract's
/// compaction refuses duplicate names in debug builds, and some ONNX imports (the voice
/// activity detector's) leave some. Names carry no meaning for the computation.
pub(crate) fn give_unique_names<'a>(names: impl Iterator<Item = &'a mut String>) {
	let mut seen = std::collections::HashSet::new();
	for name in names {
		if seen.insert(name.clone()) {
			continue;
		}
		let unique = (1..)
			.map(|suffix| format!("{name}.{suffix}"))
			.find(|candidate| !seen.contains(candidate))
			.unwrap_or_default();
		seen.insert(unique.clone());
		*name = unique;
	}
}

/// Whether `outlet` is read by one node input only and is no model output: whatever reads it
/// may take over the work of what produces it.
fn feeds_only_one(model: &TypedModel, outlet: OutletId) -> TractResult<bool> {
	Ok(model.outlet_successors(outlet).len() == 1 && !model.output_outlets()?.contains(&outlet))
}

/// The geometry of a two-dimensional window sliding over NCHW (or CHW) planes: what both
/// operators here need to know about their input and output.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct PlaneGeometry {
	/// Images in the batch (1 for a CHW input).
	pub batch: usize,
	/// Channels.
	pub channels: usize,
	/// Input height and width.
	pub input: (usize, usize),
	/// Output height and width.
	pub output: (usize, usize),
	/// Window height and width.
	pub window: (usize, usize),
	/// Vertical and horizontal strides.
	pub strides: (usize, usize),
	/// Vertical and horizontal dilations.
	pub dilations: (usize, usize),
	/// Padding rows above and columns left of the input.
	pub padding: (usize, usize),
	/// The full output shape, as the model declares it.
	pub output_shape: TVec<usize>,
}

impl PlaneGeometry {
	/// The geometry of `pool_spec` over an input of `input_shape`, if it is a concrete
	/// two-dimensional channels-first one.
	fn of(
		pool_spec: &tract_onnx::tract_core::ops::cnn::PoolSpec,
		input_shape: &[usize],
	) -> TractResult<Option<Self>> {
		if pool_spec.data_format.c_is_last() || pool_spec.kernel_shape.len() != 2 {
			return Ok(None);
		}
		let shape = pool_spec.data_format.shape(input_shape)?;
		let hw = shape.hw_dims();
		if hw.len() != 2 {
			return Ok(None);
		}
		let padding = pool_spec.computed_padding(hw);
		let strides = pool_spec.strides();
		let dilations = pool_spec.dilations();
		let output_shape = pool_spec.output_shape(input_shape)?;
		Ok(Some(Self {
			batch: shape.n().copied().unwrap_or(1),
			channels: *shape.c(),
			input: (hw[0], hw[1]),
			output: (padding[0].convoluted, padding[1].convoluted),
			window: (pool_spec.kernel_shape[0], pool_spec.kernel_shape[1]),
			strides: (strides[0], strides[1]),
			dilations: (dilations[0], dilations[1]),
			padding: (padding[0].pad_before, padding[1].pad_before),
			output_shape: output_shape.shape.clone(),
		}))
	}

	/// Evaluate an operator over these planes: `compute` reads the f32 input and must write
	/// every element of the output.
	fn eval_planes(
		&self,
		inputs: TVec<TValue>,
		compute: impl FnOnce(&[f32], &mut [f32]),
	) -> TractResult<TVec<TValue>> {
		let input = args_1!(inputs);
		let input = input.try_as_plain_ram()?;
		// SAFETY: every operator here writes every output element before anything reads it.
		let mut output = unsafe { Tensor::uninitialized::<f32>(&self.output_shape)? };
		compute(input.as_slice::<f32>()?, output.try_as_plain_ram_mut()?.as_slice_mut::<f32>()?);
		Ok(tvec!(output.into_tvalue()))
	}

	/// The output columns whose input column, for window column `window_column`, lies inside
	/// the input.
	fn columns_inside(&self, window_column: usize) -> std::ops::Range<usize> {
		let shift = self.column_shift(window_column);
		let (width, stride) = (self.input.1 as isize, self.strides.1 as isize);
		let first = if shift >= 0 { 0 } else { (-shift + stride - 1) / stride };
		let end = if shift >= width { 0 } else { (width - shift + stride - 1) / stride };
		let end = (end as usize).min(self.output.1);
		(first as usize).min(end)..end
	}

	/// The input column window column `window_column` reads for output column `column`, if
	/// inside.
	fn input_column(&self, column: usize, window_column: usize) -> Option<usize> {
		let x = (column * self.strides.1) as isize + self.column_shift(window_column);
		(0..self.input.1 as isize).contains(&x).then_some(x as usize)
	}

	/// The input row a window row `window_row` reads for output row `row`, if inside.
	fn input_row(&self, row: usize, window_row: usize) -> Option<usize> {
		let y = (row * self.strides.0 + window_row * self.dilations.0) as isize
			- self.padding.0 as isize;
		(0..self.input.0 as isize).contains(&y).then_some(y as usize)
	}

	/// Where the input column of output column 0 lies for window column `window_column`.
	fn column_shift(&self, window_column: usize) -> isize {
		(window_column * self.dilations.1) as isize - self.padding.1 as isize
	}
}

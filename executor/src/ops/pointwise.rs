//! Pointwise (1x1) convolution over f32 NCHW planes: a matrix product of the weights
//! `[out channels, in channels]` and each image's `[in channels, points]`.
//!
//! tract turns such a convolution into an `EinSum` (a matrix product) while decluttering, and
//! the per-channel scale, offset and activation that follow into separate element-wise
//! operations; this replaces the product, and takes those operations over as an epilogue
//! applied to each sum before it is stored (the same operations in the same order, one pass
//! fewer). Each output point is a sum over the input channels in order, starting from zero:
//! tract's matrix-product arithmetic. Where tract's kernels for this
//! process fuse each multiply-add into one rounding (the host has FMA and the profile keeps
//! it: `native`), so does this; elsewhere (`avx`, `generic`) it multiplies and adds separately.
//! Either way the order is fixed, so the bits do not depend on how the work is blocked.
//!
//! tract packs the activations into panels on every run before multiplying; here the
//! activation rows are already what the product walks along, so blocks of four output channels
//! by twenty-four points (256-bit vectors) or by ninety-six points (512-bit vectors, on CPUs
//! with AVX-512) stay in registers over the input channels, with no packing.

use super::epilogue::Epilogue;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::{internal::*, ops::einsum::EinSum};

/// Output channels and points computed together: twelve of the sixteen 256-bit registers hold
/// sums.
const NARROW: (usize, usize) = (4, 24);

/// A 1x1 convolution with constant weights.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct PointwiseConv {
	/// Images in the batch.
	batch: usize,
	/// Input channels.
	inputs: usize,
	/// Output channels.
	outputs: usize,
	/// Points per plane.
	points: usize,
	/// The full output shape.
	output_shape: TVec<usize>,
	/// `[inputs, outputs]`: the weights transposed, so that the output channels a block
	/// computes read adjacent weights.
	weights: Arc<Tensor>,
	/// Whether each multiply-add rounds once (FMA), as tract's kernels do in this process.
	fused: bool,
	/// Element-wise steps applied to each sum before it is stored (a folded batch
	/// normalisation, an activation).
	epilogue: Epilogue,
}

impl PointwiseConv {
	/// This operator for `einsum`, if it is what tract makes of a float 1x1 convolution: the
	/// product of a constant `[out, in]` weight matrix and an activation `[N?, in, spatial…]`
	/// into `[N?, out, spatial…]` (axes `NIHW,OI->OHW` and the like), with a concrete
	/// activation shape. Returns the operator and which of the node's inputs is the activation.
	pub fn for_einsum(
		model: &TypedModel,
		node: &TypedNode,
		einsum: &EinSum,
	) -> TractResult<Option<(Self, usize)>> {
		let [first, second] = &*node.inputs else { return Ok(None) };
		let facts = [model.outlet_fact(*first)?, model.outlet_fact(*second)?];
		let Some(weights_at) = facts.iter().position(|fact| fact.konst.is_some()) else {
			return Ok(None);
		};
		let activation_at = 1 - weights_at;
		let (activation, weights) = (facts[activation_at], facts[weights_at]);
		let Some(weights) = &weights.konst else { return Ok(None) };
		let output = model.outlet_fact(OutletId::new(node.id, 0))?;
		let (Some(input_shape), Some(output_shape)) =
			(activation.shape.as_concrete(), output.shape.as_concrete())
		else {
			return Ok(None);
		};
		if einsum.q_params.is_some()
			|| einsum.operating_dt != f32::datum_type()
			|| activation.datum_type != f32::datum_type()
			|| weights.datum_type() != f32::datum_type()
			|| activation.konst.is_some()
		{
			return Ok(None);
		}
		let mapping = einsum.axes.to_string();
		let Some((operands, result)) = mapping.split_once("->") else { return Ok(None) };
		let Some((a, b)) = operands.split_once(',') else { return Ok(None) };
		let (activation_axes, weight_axes) = if weights_at == 1 { (a, b) } else { (b, a) };
		// The activation is [N?, I, spatial…], the result [N?, O, spatial…] with the same
		// spatial axes; an N summed away must be 1.
		let Some(spatial) =
			activation_axes.strip_prefix('N').unwrap_or(activation_axes).strip_prefix('I')
		else {
			return Ok(None);
		};
		let batched = activation_axes.starts_with('N');
		// The result is [N?, O, spatial…]: with an N of the batch's size, or of 1 added to an
		// unbatched activation; a batch's N summed away must be 1.
		let result_batched = result.starts_with('N');
		if result.strip_prefix('N').unwrap_or(result) != format!("O{spatial}")
			|| weight_axes != "OI"
			|| spatial.chars().any(|axis| matches!(axis, 'N' | 'I' | 'O'))
		{
			return Ok(None);
		}
		let batch = if batched { input_shape[0] } else { 1 };
		if (batched != result_batched && batch != 1)
			|| (result_batched && output_shape.first() != Some(&batch))
		{
			return Ok(None);
		}
		let channels_at = usize::from(batched);
		let inputs = input_shape[channels_at];
		let points: usize = input_shape[channels_at + 1..].iter().product();
		let outputs = weights.shape().first().copied().unwrap_or(0);
		if weights.shape() != [outputs, inputs]
			|| output_shape.iter().product::<usize>() != batch * outputs * points
		{
			return Ok(None);
		}
		Ok(Some((
			Self {
				batch,
				inputs,
				outputs,
				points,
				output_shape: output_shape.into(),
				weights: transposed(weights, outputs, inputs)?.into_arc_tensor(),
				fused: tract_kernels_fuse_multiply_add(),
				epilogue: Epilogue::default(),
			},
			activation_at,
		)))
	}
}

impl PointwiseConv {
	/// Its output channels, when it computes one image (one value per channel is then one
	/// value per block of the output): what an epilogue's operands are checked against.
	pub fn single_image_channels(&self) -> Option<usize> {
		(self.batch == 1).then_some(self.outputs)
	}

	/// This product followed by `steps` (see [`Self::epilogue`]), if they fit its channels.
	pub fn followed_by(&self, steps: &Epilogue) -> Option<Self> {
		steps
			.fits(self.outputs)
			.then(|| Self { epilogue: self.epilogue.then(steps), ..self.clone() })
	}
}

/// `[rows, columns]` `matrix` as `[columns, rows]`.
fn transposed(matrix: &Tensor, rows: usize, columns: usize) -> TractResult<Tensor> {
	let view = matrix.try_as_plain_ram()?;
	let values = view.as_slice::<f32>()?;
	let mut out = vec![0f32; rows * columns];
	for (row, line) in values.chunks_exact(columns).enumerate() {
		for (column, value) in line.iter().enumerate() {
			out[column * rows + row] = *value;
		}
	}
	Ok(tract_ndarray::Array2::from_shape_vec((columns, rows), out)?.into_tensor())
}

/// Whether tract's f32 matrix kernels in this process round each multiply-add once: its
/// instruction sets (as the execution profile left them) include FMA.
fn tract_kernels_fuse_multiply_add() -> bool {
	use tract_linalg::isa::Isa;
	tract_linalg::isa::native().has(Isa::X86_64Fma)
}

impl Op for PointwiseConv {
	fn name(&self) -> StaticName {
		"VerityPointwiseConv".into()
	}

	fn info(&self) -> TractResult<Vec<String>> {
		Ok(vec![format!(
			"{} -> {} channels over {} points, {}",
			self.inputs,
			self.outputs,
			self.points,
			if self.fused { "fused multiply-add" } else { "multiply, then add" }
		)])
	}

	op_as_typed_op!();
}

impl EvalOp for PointwiseConv {
	op_out_of_plan!();

	fn eval(&self, _context: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
		let input = args_1!(inputs);
		let input = input.try_as_plain_ram()?;
		let input = input.as_slice::<f32>()?;
		let weights = self.weights.try_as_plain_ram()?;
		let weights = weights.as_slice::<f32>()?;
		// SAFETY: `multiply` writes every output element (every channel of every point of
		// every image) before anything reads it.
		let mut output = unsafe { Tensor::uninitialized::<f32>(&self.output_shape)? };
		{
			let mut view = output.try_as_plain_ram_mut()?;
			let output = view.as_slice_mut::<f32>()?;
			let (in_image, out_image) = (self.inputs * self.points, self.outputs * self.points);
			for image in 0..self.batch {
				multiply(
					self,
					weights,
					&self.epilogue,
					&input[image * in_image..][..in_image],
					&mut output[image * out_image..][..out_image],
				);
			}
		}
		Ok(tvec!(output.into_tvalue()))
	}
}

impl TypedOp for PointwiseConv {
	fn output_facts(&self, _inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
		Ok(tvec!(f32::fact(&self.output_shape)))
	}

	fn cost(&self, _inputs: &[&TypedFact]) -> TractResult<TVec<(Cost, TDim)>> {
		let products = self.batch * self.inputs * self.outputs * self.points;
		Ok(tvec!((Cost::FMA(f32::datum_type()), products.to_dim())))
	}

	as_op!();
}

/// One image's product, with the process's rounding.
fn multiply(
	op: &PointwiseConv,
	weights: &[f32],
	epilogue: &Epilogue,
	input: &[f32],
	output: &mut [f32],
) {
	#[cfg(target_arch = "x86_64")]
	if op.points >= wide::POINTS && super::wide_vectors() {
		// SAFETY: the CPU has AVX-512F, checked by `wide_vectors`, and every plane holds a block.
		unsafe {
			if op.fused {
				wide::multiply::<true>(op, weights, epilogue, input, output)
			} else {
				wide::multiply::<false>(op, weights, epilogue, input, output)
			}
		}
		return;
	}
	if op.fused {
		multiply_fused(op, weights, epilogue, input, output)
	} else {
		multiply_separately(op, weights, epilogue, input, output)
	}
}

with_target_features! {
	/// [`multiply_blocks`] with fused multiply-adds, with AVX and FMA where the host has them.
	fn multiply_fused(
		op: &PointwiseConv,
		weights: &[f32],
		epilogue: &Epilogue,
		input: &[f32],
		output: &mut [f32],
	) => multiply_blocks::<true, { NARROW.0 }, { NARROW.1 }>, ["avx", "fma"]
}

with_target_features! {
	/// [`multiply_blocks`] with separate multiplies and adds, with AVX where the host has it.
	fn multiply_separately(
		op: &PointwiseConv,
		weights: &[f32],
		epilogue: &Epilogue,
		input: &[f32],
		output: &mut [f32],
	) => multiply_blocks::<false, { NARROW.0 }, { NARROW.1 }>, ["avx"]
}

/// `output[o][p] = Σ_i weights[o][i] × input[i][p]`, `i` in order from a `+0.0` start, in
/// blocks of `CHANNELS` output channels by `POINTS` points.
#[inline(always)]
fn multiply_blocks<const FUSED: bool, const CHANNELS: usize, const POINTS: usize>(
	op: &PointwiseConv,
	weights: &[f32],
	epilogue: &Epilogue,
	input: &[f32],
	output: &mut [f32],
) {
	let points = op.points;
	if points < POINTS {
		for (o, out) in output.chunks_exact_mut(points).enumerate() {
			for (p, out) in out.iter_mut().enumerate() {
				let mut sum = 0.0f32;
				for i in 0..op.inputs {
					sum = step::<FUSED>(sum, weights[i * op.outputs + o], input[i * points + p]);
				}
				*out = sum;
			}
			epilogue.apply(o, out);
		}
		return;
	}
	let store = |output: &mut [f32], channel: usize, first: usize, sums: &[[f32; POINTS]]| {
		for (c, sums) in sums.iter().enumerate() {
			output[(channel + c) * points + first..][..POINTS].copy_from_slice(sums);
		}
	};
	for (channel, count) in super::groups(op.outputs, CHANNELS) {
		for first in super::block_starts(points, POINTS) {
			if count == CHANNELS {
				let sums = block::<CHANNELS, POINTS, FUSED>(op, weights, input, channel, first);
				store(output, channel, first, &sums);
			} else {
				store(
					output,
					channel,
					first,
					&block::<1, POINTS, FUSED>(op, weights, input, channel, first),
				);
			}
		}
		for c in channel..channel + count {
			epilogue.apply(c, &mut output[c * points..][..points]);
		}
	}
}

/// `POINTS` points from `first` of `C` output channels from `channel`.
#[inline(always)]
fn block<const C: usize, const POINTS: usize, const FUSED: bool>(
	op: &PointwiseConv,
	weights: &[f32],
	input: &[f32],
	channel: usize,
	first: usize,
) -> [[f32; POINTS]; C] {
	let mut sums = [[0.0f32; POINTS]; C];
	let (inputs, points, outputs) = (op.inputs, op.points, op.outputs);
	if inputs == 0 {
		return sums;
	}
	// Every row and weight column read below lies inside its slice: the last row read ends at
	// `first + (inputs - 1) * points + POINTS`, the last column at
	// `channel + (inputs - 1) * outputs + C`.
	assert!(first + (inputs - 1) * points + POINTS <= input.len(), "a row outside the input");
	assert!(channel + (inputs - 1) * outputs + C <= weights.len(), "a weight outside");
	let mut row = input[first..].as_ptr();
	let mut column = weights[channel..].as_ptr();
	for _ in 0..inputs {
		// SAFETY: in bounds by the assertions above (`inputs` rows `points` apart from `first`,
		// `inputs` columns `outputs` apart from `channel`); the loop walks pointers rather than
		// slices so that each input channel costs its multiply-adds and little else.
		let (points_here, w) =
			unsafe { (&*(row as *const [f32; POINTS]), &*(column as *const [f32; C])) };
		for c in 0..C {
			for p in 0..POINTS {
				sums[c][p] = step::<FUSED>(sums[c][p], w[c], points_here[p]);
			}
		}
		// SAFETY: one past the last row or column read at most, within or one past the slice.
		unsafe {
			row = row.add(points);
			column = column.add(outputs);
		}
	}
	sums
}

/// `sum + weight × point`, rounded once (fused) or twice.
#[inline(always)]
fn step<const FUSED: bool>(sum: f32, weight: f32, point: f32) -> f32 {
	if FUSED {
		weight.mul_add(point, sum)
	} else {
		sum + weight * point
	}
}

/// The product in 512-bit vectors, on CPUs with AVX-512: the same sums in the same order, more of
/// them at a time.
#[cfg(target_arch = "x86_64")]
mod wide {
	use super::{Epilogue, PointwiseConv};
	use std::arch::x86_64::*;

	/// Lanes of a vector.
	const LANES: usize = 16;
	/// Vectors of points per block.
	const VECTORS: usize = 6;
	/// Points per block.
	pub const POINTS: usize = LANES * VECTORS;
	/// Output channels per block: with the points, 24 of the 32 vector registers hold sums.
	const CHANNELS: usize = 4;

	/// One image's product, in blocks of [`CHANNELS`] by [`POINTS`] sums held in registers over
	/// the input channels, each output channel's epilogue applied once its plane is done.
	///
	/// # Safety
	///
	/// The CPU must have AVX-512F.
	#[target_feature(enable = "avx512f")]
	pub unsafe fn multiply<const FUSED: bool>(
		op: &PointwiseConv,
		weights: &[f32],
		epilogue: &Epilogue,
		input: &[f32],
		output: &mut [f32],
	) {
		let points = op.points;
		assert!(points >= POINTS, "a plane smaller than a block");
		for (channel, count) in super::super::groups(op.outputs, CHANNELS) {
			for first in super::super::block_starts(points, POINTS) {
				if count == CHANNELS {
					block::<CHANNELS, FUSED>(op, weights, input, channel, first, output);
				} else {
					block::<1, FUSED>(op, weights, input, channel, first, output);
				}
			}
			for c in channel..channel + count {
				epilogue.apply(c, &mut output[c * points..][..points]);
			}
		}
	}

	/// [`POINTS`] points from `first` of `C` output channels from `channel`, stored into the
	/// image's `output`.
	#[target_feature(enable = "avx512f")]
	fn block<const C: usize, const FUSED: bool>(
		op: &PointwiseConv,
		weights: &[f32],
		input: &[f32],
		channel: usize,
		first: usize,
		output: &mut [f32],
	) {
		let (inputs, points, outputs) = (op.inputs, op.points, op.outputs);
		let mut sums = [[_mm512_setzero_ps(); VECTORS]; C];
		if inputs > 0 {
			// Every row, weight column and output row touched below lies inside its slice.
			assert!(first + (inputs - 1) * points + POINTS <= input.len(), "a row outside");
			assert!(channel + (inputs - 1) * outputs + C <= weights.len(), "a weight outside");
			let mut row = input[first..].as_ptr();
			let mut column = weights[channel..].as_ptr();
			for _ in 0..inputs {
				let mut x = [_mm512_setzero_ps(); VECTORS];
				for (v, x) in x.iter_mut().enumerate() {
					// SAFETY: within the row, by the assertion above.
					*x = unsafe { _mm512_loadu_ps(row.add(LANES * v)) };
				}
				for (c, sums) in sums.iter_mut().enumerate() {
					// SAFETY: within the column, by the assertion above.
					let w = _mm512_set1_ps(unsafe { *column.add(c) });
					for (sum, x) in sums.iter_mut().zip(&x) {
						*sum = if FUSED {
							_mm512_fmadd_ps(w, *x, *sum)
						} else {
							_mm512_add_ps(*sum, _mm512_mul_ps(w, *x))
						};
					}
				}
				// SAFETY: one past the last row or column read at most.
				unsafe {
					row = row.add(points);
					column = column.add(outputs);
				}
			}
		}
		for (c, sums) in sums.iter().enumerate() {
			let out = &mut output[(channel + c) * points + first..][..POINTS];
			for (v, sum) in sums.iter().enumerate() {
				// SAFETY: `out` holds POINTS values, LANES from `LANES * v`.
				unsafe { _mm512_storeu_ps(out[LANES * v..].as_mut_ptr(), *sum) };
			}
		}
	}
}

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
//! by twenty-four points (256-bit or portable vectors) or by ninety-six points (512-bit
//! vectors, on CPUs with AVX-512) stay in registers over the input channels, with no packing:
//! one block walk, written against [`super::lanes`].

#[cfg(target_arch = "x86_64")]
use super::lanes::{Avx256, Avx512};
use super::{
	epilogue::Epilogue,
	lanes::{self, Lanes, Portable, VectorPath},
};
use tract_onnx::prelude::*;
use tract_onnx::tract_core::{internal::*, ops::einsum::EinSum};

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
		// One point per plane makes tract's product a matrix-vector one, whose kernels split
		// each sum over several accumulators: other bytes than the in-order sum here.
		if weights.shape() != [outputs, inputs]
			|| output_shape.iter().product::<usize>() != batch * outputs * points
			|| points < 2
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

/// One image's product, with the process's rounding, in the widest lanes the CPU has.
fn multiply(
	op: &PointwiseConv,
	weights: &[f32],
	epilogue: &Epilogue,
	input: &[f32],
	output: &mut [f32],
) {
	if op.points < Portable::LANES * NARROW_VECTORS {
		lanes::record(VectorPath::Scalar);
		return point_by_point(op, weights, epilogue, input, output);
	}
	let product = Product { op, weights, epilogue, input };
	match lanes::widest_available() {
		// SAFETY: the CPU has AVX-512F (`widest_available`); every plane holds a block.
		#[cfg(target_arch = "x86_64")]
		VectorPath::Avx512 if op.points >= Avx512::LANES * WIDE_VECTORS => unsafe {
			if op.fused {
				product.avx512::<true>(output)
			} else {
				product.avx512::<false>(output)
			}
		},
		// SAFETY: the CPU has AVX (`widest_available`); every plane holds a block.
		#[cfg(target_arch = "x86_64")]
		VectorPath::Avx512 | VectorPath::Avx256 if !op.fused => unsafe { product.avx256(output) },
		// SAFETY: the CPU has AVX (`widest_available`) and FMA; every plane holds a block.
		#[cfg(target_arch = "x86_64")]
		VectorPath::Avx512 | VectorPath::Avx256 if lanes::has_fma() => unsafe {
			product.avx256_fused(output)
		},
		_ if op.fused => product.portable::<true>(output),
		_ => product.portable::<false>(output),
	}
}

/// Vectors of points per block in 256-bit and portable lanes: with [`CHANNELS`] output
/// channels, twelve of the sixteen 256-bit registers hold sums.
const NARROW_VECTORS: usize = 3;
/// Vectors of points per block in 512-bit lanes: 24 of the 32 registers hold sums.
#[cfg(target_arch = "x86_64")]
const WIDE_VECTORS: usize = 6;
/// Output channels per block.
const CHANNELS: usize = 4;

with_target_features! {
	/// [`products_point_by_point`], with AVX (and FMA) where the host has them.
	fn point_by_point(
		op: &PointwiseConv,
		weights: &[f32],
		epilogue: &Epilogue,
		input: &[f32],
		output: &mut [f32],
	) => products_point_by_point, ["avx", "fma"], ["avx"]
}

/// `output[o][p] = Σ_i weights[o][i] × input[i][p]`, `i` in order from a `+0.0` start, one
/// point at a time: for planes smaller than a block.
#[inline(always)]
fn products_point_by_point(
	op: &PointwiseConv,
	weights: &[f32],
	epilogue: &Epilogue,
	input: &[f32],
	output: &mut [f32],
) {
	let points = op.points;
	for (o, out) in output.chunks_exact_mut(points).enumerate() {
		for (p, out) in out.iter_mut().enumerate() {
			let mut sum = 0.0f32;
			for i in 0..op.inputs {
				let (weight, point) = (weights[i * op.outputs + o], input[i * points + p]);
				sum = if op.fused { weight.mul_add(point, sum) } else { sum + weight * point };
			}
			*out = sum;
		}
		epilogue.apply(o, out);
	}
}

/// One image's product to compute: what the block walk multiplies, in whichever lanes the CPU
/// has.
struct Product<'a> {
	op: &'a PointwiseConv,
	/// `[inputs, outputs]`.
	weights: &'a [f32],
	epilogue: &'a Epilogue,
	/// `[inputs, points]`.
	input: &'a [f32],
}

impl Product<'_> {
	/// In 512-bit vectors, blocks of four channels by 96 points.
	///
	/// # Safety
	///
	/// The CPU must have AVX-512F.
	#[cfg(target_arch = "x86_64")]
	#[target_feature(enable = "avx512f")]
	unsafe fn avx512<const FUSED: bool>(&self, output: &mut [f32]) {
		// SAFETY: the CPU has AVX-512F, the caller guarantees.
		unsafe { self.walk::<Avx512, FUSED, WIDE_VECTORS>(output) }
	}

	/// In 256-bit vectors, blocks of four channels by 24 points, multiplies and adds apart.
	///
	/// # Safety
	///
	/// The CPU must have AVX.
	#[cfg(target_arch = "x86_64")]
	#[target_feature(enable = "avx")]
	unsafe fn avx256(&self, output: &mut [f32]) {
		// SAFETY: the CPU has AVX, the caller guarantees.
		unsafe { self.walk::<Avx256, false, NARROW_VECTORS>(output) }
	}

	/// In 256-bit vectors, blocks of four channels by 24 points, multiply-adds fused.
	///
	/// # Safety
	///
	/// The CPU must have AVX and FMA.
	#[cfg(target_arch = "x86_64")]
	#[target_feature(enable = "avx,fma")]
	unsafe fn avx256_fused(&self, output: &mut [f32]) {
		// SAFETY: the CPU has AVX and FMA, the caller guarantees.
		unsafe { self.walk::<Avx256, true, NARROW_VECTORS>(output) }
	}

	/// In portable lanes, blocks of four channels by 24 points.
	fn portable<const FUSED: bool>(&self, output: &mut [f32]) {
		// SAFETY: portable lanes run on any CPU.
		unsafe { self.walk::<Portable, FUSED, NARROW_VECTORS>(output) }
	}

	/// Every output, in blocks of [`CHANNELS`] output channels (one for the last ones when
	/// they do not fill a block) by `VECTORS` vectors of `L`, held in registers over the input
	/// channels, each output channel's epilogue applied once its plane is done.
	///
	/// # Safety
	///
	/// The CPU must have `L`'s target features (and FMA for `FUSED` 256-bit lanes).
	#[inline(always)]
	unsafe fn walk<L: Lanes, const FUSED: bool, const VECTORS: usize>(&self, output: &mut [f32]) {
		let points = self.op.points;
		assert!(points >= L::LANES * VECTORS, "a plane smaller than a block");
		lanes::record(L::PATH);
		for (channel, count) in super::groups(self.op.outputs, CHANNELS) {
			for first in super::block_starts(points, L::LANES * VECTORS) {
				// SAFETY: the caller's guarantee; the block lies within the image.
				unsafe {
					if count == CHANNELS {
						self.block::<L, FUSED, CHANNELS, VECTORS>(channel, first, output)
					} else {
						self.block::<L, FUSED, 1, VECTORS>(channel, first, output)
					}
				}
			}
			for c in channel..channel + count {
				self.epilogue.apply(c, &mut output[c * points..][..points]);
			}
		}
	}

	/// `VECTORS` vectors of points from `first` of `C` output channels from `channel`: each
	/// sum from `+0.0` over the input channels in order, stored into the image's `output`.
	///
	/// # Safety
	///
	/// The CPU must have `L`'s target features (and FMA for `FUSED` 256-bit lanes).
	#[inline(always)]
	unsafe fn block<L: Lanes, const FUSED: bool, const C: usize, const VECTORS: usize>(
		&self,
		channel: usize,
		first: usize,
		output: &mut [f32],
	) {
		let (inputs, points, outputs) = (self.op.inputs, self.op.points, self.op.outputs);
		let block = L::LANES * VECTORS;
		// SAFETY (every vector step below): the CPU has `L`'s features, the caller guarantees;
		// the pointers stay in bounds as the assertions below state.
		let mut sums = [[unsafe { L::splat(0.0) }; VECTORS]; C];
		if inputs > 0 {
			// Every row and weight column read below lies inside its slice: the last row read
			// ends at `first + (inputs - 1) * points + block`, the last column at
			// `channel + (inputs - 1) * outputs + C`.
			assert!(first + (inputs - 1) * points + block <= self.input.len(), "a row outside");
			assert!(channel + (inputs - 1) * outputs + C <= self.weights.len(), "a weight outside");
			let mut row = self.input[first..].as_ptr();
			let mut column = self.weights[channel..].as_ptr();
			// The loop walks pointers rather than slices so that each input channel costs its
			// multiply-adds and little else.
			for _ in 0..inputs {
				let x: [L; VECTORS] =
					std::array::from_fn(|v| unsafe { L::load(row.add(L::LANES * v)) });
				for (c, sums) in sums.iter_mut().enumerate() {
					let w = unsafe { L::splat(*column.add(c)) };
					for (sum, x) in sums.iter_mut().zip(&x) {
						*sum = unsafe { sum.step::<FUSED>(w, *x) };
					}
				}
				// One past the last row or column read at most.
				unsafe {
					row = row.add(points);
					column = column.add(outputs);
				}
			}
		}
		for (c, sums) in sums.iter().enumerate() {
			let out = &mut output[(channel + c) * points + first..][..block];
			for (v, sum) in sums.iter().enumerate() {
				unsafe { sum.store(out[L::LANES * v..].as_mut_ptr()) };
			}
		}
	}
}

//! Two-dimensional depthwise convolution over f32 NCHW planes.
//!
//! Each output point is its channel's bias, then, for every window tap in row-major order whose
//! input point lies inside the input (padding is skipped, not multiplied), plus the tap's weight
//! times that input point: one multiply and one add, each rounded. That is tract's own
//! depthwise arithmetic. What differs is the walk: tract visits its padding zones point by
//! point, which on the short planes of small models (three rows, a 5x5 window) is every point;
//! here blocks of output points (two rows of 96 or 32, in 512-bit vectors on CPUs with
//! AVX-512) stay in registers while every tap sweeps them. The batch normalisation and
//! activation that follow run on each finished plane as its epilogue ([`super::epilogue`]).
//!
//! When no bias is `-0.0` and every weight is finite, the plane is first copied into a
//! zero-padded scratch plane and padded taps are added as `0 × weight` like any other: a sum
//! that starts from a bias other than `-0.0` is never `-0.0` (round-to-nearest gives `-0.0`
//! only for `-0.0 + -0.0`), and adding `±0.0` to anything else leaves it unchanged, so the
//! result is bit for bit the one that skips them, without a border case.

use super::{epilogue::Epilogue, PlaneGeometry};
use tract_onnx::prelude::*;
use tract_onnx::tract_core::{
	internal::*,
	ops::cnn::{Conv, KernelFormat},
};

/// A depthwise convolution with constant weights and bias.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct DepthwiseConv {
	geometry: PlaneGeometry,
	/// `[channels, window height * window width]`, row-major taps per channel.
	weights: Arc<Tensor>,
	/// `[channels]`.
	bias: Arc<Tensor>,
	/// Whether padded taps may be added as zeros (see the module documentation).
	padding_is_inert: bool,
	/// Element-wise steps applied to each output plane before it leaves the operator (a batch
	/// normalisation, an activation).
	epilogue: Epilogue,
}

impl DepthwiseConv {
	/// This operator for `conv`, if it is a float depthwise convolution this covers: one
	/// group per channel, OIHW constant weights, a constant bias, a concrete channels-first
	/// input.
	pub fn for_conv(
		model: &TypedModel,
		node: &TypedNode,
		conv: &Conv,
	) -> TractResult<Option<Self>> {
		let [input, weights, bias] = &*node.inputs else { return Ok(None) };
		let input = model.outlet_fact(*input)?;
		let (Some(weights), Some(bias)) =
			(&model.outlet_fact(*weights)?.konst, &model.outlet_fact(*bias)?.konst)
		else {
			return Ok(None);
		};
		let Some(input_shape) = input.shape.as_concrete() else { return Ok(None) };
		if conv.q_params.is_some()
			|| input.datum_type != f32::datum_type()
			|| weights.datum_type() != f32::datum_type()
			|| bias.datum_type() != f32::datum_type()
			|| conv.kernel_fmt != KernelFormat::OIHW
		{
			return Ok(None);
		}
		let Some(geometry) = PlaneGeometry::of(&conv.pool_spec, input_shape)? else {
			return Ok(None);
		};
		let channels = geometry.channels;
		let taps = geometry.window.0 * geometry.window.1;
		if conv.group != channels
			|| conv.pool_spec.output_channels != channels
			|| weights.shape() != [channels, 1, geometry.window.0, geometry.window.1]
		{
			return Ok(None);
		}
		let bias = match bias.len() {
			1 => tensor1(&vec![bias.cast_to_scalar::<f32>()?; channels]),
			n if n == channels => (**bias).clone().into_shape(&[channels])?,
			_ => return Ok(None),
		};
		let weights = (**weights).clone().into_shape(&[channels, taps])?;
		let padding_is_inert =
			weights.try_as_plain_ram()?.as_slice::<f32>()?.iter().all(|w| w.is_finite())
				&& bias
					.try_as_plain_ram()?
					.as_slice::<f32>()?
					.iter()
					.all(|b| b.to_bits() != (-0.0f32).to_bits());
		Ok(Some(Self {
			geometry,
			weights: weights.into_arc_tensor(),
			bias: bias.into_arc_tensor(),
			padding_is_inert,
			epilogue: Epilogue::default(),
		}))
	}

	/// Its output channels, when it computes one image (one value per channel is then one
	/// value per block of the output): what an epilogue's operands are checked against.
	pub fn single_image_channels(&self) -> Option<usize> {
		(self.geometry.batch == 1).then_some(self.geometry.channels)
	}

	/// This convolution followed by `steps` (see [`Self::epilogue`]), if they fit its channels.
	pub fn followed_by(&self, steps: &Epilogue) -> Option<Self> {
		steps
			.fits(self.geometry.channels)
			.then(|| Self { epilogue: self.epilogue.then(steps), ..self.clone() })
	}
}

impl Op for DepthwiseConv {
	fn name(&self) -> StaticName {
		"VerityDepthwiseConv".into()
	}

	fn info(&self) -> TractResult<Vec<String>> {
		Ok(vec![format!("{:?}, {} epilogue steps", self.geometry, self.epilogue.len())])
	}

	op_as_typed_op!();
}

impl EvalOp for DepthwiseConv {
	op_out_of_plan!();

	fn eval(&self, _context: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
		let weights = self.weights.try_as_plain_ram()?;
		let weights = weights.as_slice::<f32>()?;
		let bias = self.bias.try_as_plain_ram()?;
		let bias = bias.as_slice::<f32>()?;
		self.geometry.eval_planes(inputs, |input, output| {
			let g = &self.geometry;
			convolve(g, self.padding_is_inert, input, weights, bias, &self.epilogue, output)
		})
	}
}

impl TypedOp for DepthwiseConv {
	fn output_facts(&self, _inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
		Ok(tvec!(f32::fact(&self.geometry.output_shape)))
	}

	fn cost(&self, _inputs: &[&TypedFact]) -> TractResult<TVec<(Cost, TDim)>> {
		let g = &self.geometry;
		let points = g.batch * g.channels * g.output.0 * g.output.1;
		Ok(tvec!((Cost::FMA(f32::datum_type()), (points * g.window.0 * g.window.1).to_dim())))
	}

	as_op!();
}

with_target_features! {
	/// Convolve every plane, with AVX where the host has it (same arithmetic either way).
	fn convolve(
		g: &PlaneGeometry,
		padding_is_inert: bool,
		input: &[f32],
		weights: &[f32],
		bias: &[f32],
		epilogue: &Epilogue,
		output: &mut [f32],
	) => convolve_planes, ["avx512f"], ["avx"]
}

#[inline(always)]
fn convolve_planes(
	g: &PlaneGeometry,
	padding_is_inert: bool,
	input: &[f32],
	weights: &[f32],
	bias: &[f32],
	epilogue: &Epilogue,
	output: &mut [f32],
) {
	let in_plane = g.input.0 * g.input.1;
	let out_plane = g.output.0 * g.output.1;
	let taps = g.window.0 * g.window.1;
	let padded = PaddedPlane::new(g);
	let mut scratch = vec![0f32; if padding_is_inert { padded.rows * padded.columns } else { 0 }];
	for (index, out) in output.chunks_exact_mut(out_plane).enumerate() {
		let channel = index % g.channels;
		let input = &input[index * in_plane..][..in_plane];
		let taps = &weights[channel * taps..][..taps];
		if padding_is_inert {
			padded.fill(g, input, &mut scratch);
			convolve_padded_plane(g, &padded, &scratch, taps, bias[channel], out);
		} else {
			convolve_plane(g, input, taps, bias[channel], out);
		}
		epilogue.apply(channel, out);
	}
}

/// The zero-padded copy of an input plane that covers every output point's window.
struct PaddedPlane {
	rows: usize,
	columns: usize,
}

impl PaddedPlane {
	fn new(g: &PlaneGeometry) -> Self {
		let span = |output: usize, stride: usize, window: usize, dilation: usize| {
			if output == 0 {
				0
			} else {
				(output - 1) * stride + (window - 1) * dilation + 1
			}
		};
		Self {
			rows: span(g.output.0, g.strides.0, g.window.0, g.dilations.0),
			columns: span(g.output.1, g.strides.1, g.window.1, g.dilations.1),
		}
	}

	/// Copy `input` into `scratch` at the padding offsets. Everything else is zero as long as
	/// `scratch` started all zero and only ever held planes of this geometry: each copy writes
	/// the same places.
	#[inline(always)]
	fn fill(&self, g: &PlaneGeometry, input: &[f32], scratch: &mut [f32]) {
		let (top, left) = g.padding;
		let columns = left.min(self.columns)..(left + g.input.1).min(self.columns);
		for (row, line) in scratch.chunks_exact_mut(self.columns).enumerate().skip(top) {
			let y = row - top;
			if y >= g.input.0 {
				break;
			}
			line[columns.clone()].copy_from_slice(&input[y * g.input.1..][..columns.len()]);
		}
	}
}

/// Rows of output computed together, for independent sums in flight.
const ROWS: usize = 2;

/// Convolve one zero-padded plane: every tap of every output point, in row-major order.
#[inline(always)]
fn convolve_padded_plane(
	g: &PlaneGeometry,
	padded: &PaddedPlane,
	scratch: &[f32],
	taps: &[f32],
	bias: f32,
	output: &mut [f32],
) {
	let width = g.output.1;
	let line = |row: usize, window_row: usize| {
		let y = row * g.strides.0 + window_row * g.dilations.0;
		&scratch[y * padded.columns..][..padded.columns]
	};
	if g.strides.1 == 1 {
		#[cfg(target_arch = "x86_64")]
		if width >= wide::POINTS && super::wide_vectors() {
			// SAFETY: the CPU has AVX-512F, checked by `wide_vectors`.
			return unsafe { wide::convolve_rows(g, padded, scratch, taps, bias, output) };
		}
		// The widest block the rows hold: fewer, longer sweeps of each tap.
		match width {
			96.. => return convolve_padded_rows::<96>(g, &line, taps, bias, output),
			32.. => return convolve_padded_rows::<32>(g, &line, taps, bias, output),
			_ => {},
		}
	}
	for (row, out) in output.chunks_exact_mut(width).enumerate() {
		for (column, out) in out.iter_mut().enumerate() {
			let mut sum = bias;
			for window_row in 0..g.window.0 {
				let line = line(row, window_row);
				for window_column in 0..g.window.1 {
					let x = column * g.strides.1 + window_column * g.dilations.1;
					sum += taps[window_row * g.window.1 + window_column] * line[x];
				}
			}
			*out = sum;
		}
	}
}

/// Convolve a plane whose rows are at least `BLOCK` wide, in blocks of `BLOCK` points of
/// [`ROWS`] rows.
#[inline(always)]
fn convolve_padded_rows<'a, const BLOCK: usize>(
	g: &PlaneGeometry,
	line: &impl Fn(usize, usize) -> &'a [f32],
	taps: &[f32],
	bias: f32,
	output: &mut [f32],
) {
	let width = g.output.1;
	let mut store = |row: usize, first: usize, sums: &[[f32; BLOCK]]| {
		for (r, sums) in sums.iter().enumerate() {
			output[(row + r) * width + first..][..BLOCK].copy_from_slice(sums);
		}
	};
	for (row, rows) in super::groups(g.output.0, ROWS) {
		for first in super::block_starts(width, BLOCK) {
			if rows == ROWS {
				store(row, first, &padded_block::<ROWS, BLOCK>(g, line, taps, bias, row, first));
			} else {
				store(row, first, &padded_block::<1, BLOCK>(g, line, taps, bias, row, first));
			}
		}
	}
}

/// `BLOCK` points from column `first` of `R` consecutive output rows from `row`, kept in
/// registers across all the taps.
#[inline(always)]
fn padded_block<'a, const R: usize, const BLOCK: usize>(
	g: &PlaneGeometry,
	line: &impl Fn(usize, usize) -> &'a [f32],
	taps: &[f32],
	bias: f32,
	row: usize,
	first: usize,
) -> [[f32; BLOCK]; R] {
	let mut sums = [[bias; BLOCK]; R];
	for window_row in 0..g.window.0 {
		let lines: [&[f32]; R] = std::array::from_fn(|r| line(row + r, window_row));
		for window_column in 0..g.window.1 {
			let weight = taps[window_row * g.window.1 + window_column];
			let x = first + window_column * g.dilations.1;
			let points: [&[f32; BLOCK]; R] =
				std::array::from_fn(|r| lines[r][x..x + BLOCK].try_into().expect("BLOCK"));
			for r in 0..R {
				for i in 0..BLOCK {
					sums[r][i] += weight * points[r][i];
				}
			}
		}
	}
	sums
}

/// Convolve one channel plane point by point: `output = bias + Σ weight[tap] * input[tap's
/// point]`, taps in row-major order, outside points skipped. Only planes whose padding is not
/// inert come here (a `-0.0` bias or a non-finite weight), which real models do not have.
#[inline(always)]
fn convolve_plane(g: &PlaneGeometry, input: &[f32], taps: &[f32], bias: f32, output: &mut [f32]) {
	for (row, out) in output.chunks_exact_mut(g.output.1).enumerate() {
		for (column, out) in out.iter_mut().enumerate() {
			*out = convolve_point(g, input, taps, bias, row, column);
		}
	}
}

/// One output point, tap by tap.
#[inline(always)]
fn convolve_point(
	g: &PlaneGeometry,
	input: &[f32],
	taps: &[f32],
	bias: f32,
	row: usize,
	column: usize,
) -> f32 {
	let mut sum = bias;
	for window_row in 0..g.window.0 {
		let Some(y) = g.input_row(row, window_row) else { continue };
		for window_column in 0..g.window.1 {
			if let Some(x) = g.input_column(column, window_column) {
				sum += taps[window_row * g.window.1 + window_column] * input[y * g.input.1 + x];
			}
		}
	}
	sum
}

/// The padded-plane convolution in 512-bit vectors, on CPUs with AVX-512: the same sums in the
/// same order, more of them at a time.
#[cfg(target_arch = "x86_64")]
mod wide {
	use super::{PaddedPlane, PlaneGeometry, ROWS};
	use std::arch::x86_64::*;

	/// Lanes of a vector.
	const LANES: usize = 16;
	/// Vectors of points per block.
	const VECTORS: usize = 6;
	/// Points per block: with [`ROWS`] rows, 12 of the 32 vector registers hold sums.
	pub const POINTS: usize = LANES * VECTORS;

	/// Convolve one zero-padded plane of stride-1 rows at least [`POINTS`] wide.
	///
	/// # Safety
	///
	/// The CPU must have AVX-512F.
	#[target_feature(enable = "avx512f")]
	pub unsafe fn convolve_rows(
		g: &PlaneGeometry,
		padded: &PaddedPlane,
		scratch: &[f32],
		taps: &[f32],
		bias: f32,
		output: &mut [f32],
	) {
		let (height, width) = g.output;
		assert!(width >= POINTS && g.strides.1 == 1, "rows narrower than a block");
		for (row, rows) in super::super::groups(height, ROWS) {
			for first in super::super::block_starts(width, POINTS) {
				if rows == ROWS {
					block::<ROWS>(g, padded, scratch, taps, bias, row, first, output);
				} else {
					block::<1>(g, padded, scratch, taps, bias, row, first, output);
				}
			}
		}
	}

	/// [`POINTS`] points from column `first` of `R` output rows from `row`: the bias, plus
	/// each tap's weight times its point, taps in row-major order.
	#[target_feature(enable = "avx512f")]
	#[allow(clippy::too_many_arguments)]
	fn block<const R: usize>(
		g: &PlaneGeometry,
		padded: &PaddedPlane,
		scratch: &[f32],
		taps: &[f32],
		bias: f32,
		row: usize,
		first: usize,
		output: &mut [f32],
	) {
		let mut sums = [[_mm512_set1_ps(bias); VECTORS]; R];
		for window_row in 0..g.window.0 {
			let mut lines = [&scratch[..0]; R];
			for (r, line) in lines.iter_mut().enumerate() {
				let y = (row + r) * g.strides.0 + window_row * g.dilations.0;
				*line = &scratch[y * padded.columns..][..padded.columns];
			}
			for window_column in 0..g.window.1 {
				let weight = _mm512_set1_ps(taps[window_row * g.window.1 + window_column]);
				let x = first + window_column * g.dilations.1;
				for (sums, line) in sums.iter_mut().zip(&lines) {
					let points = &line[x..][..POINTS];
					for (v, sum) in sums.iter_mut().enumerate() {
						// SAFETY: `points` holds POINTS values, LANES from `LANES * v`.
						let point = unsafe { _mm512_loadu_ps(points[LANES * v..].as_ptr()) };
						*sum = _mm512_add_ps(*sum, _mm512_mul_ps(weight, point));
					}
				}
			}
		}
		let width = g.output.1;
		for (r, sums) in sums.iter().enumerate() {
			let out = &mut output[(row + r) * width + first..][..POINTS];
			for (v, sum) in sums.iter().enumerate() {
				// SAFETY: `out` holds POINTS values, LANES from `LANES * v`.
				unsafe { _mm512_storeu_ps(out[LANES * v..].as_mut_ptr(), *sum) };
			}
		}
	}
}

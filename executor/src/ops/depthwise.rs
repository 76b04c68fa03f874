//! Two-dimensional depthwise convolution over f32 NCHW planes.
//!
//! Each output point is its channel's bias, then, for every window tap in row-major order whose
//! input point lies inside the input (padding is skipped, not multiplied), plus the tap's weight
//! times that input point: one multiply and one add, each rounded. That is tract's own
//! depthwise arithmetic. What differs is the walk: tract visits its padding zones point by
//! point, which on the short planes of small models (three rows, a 5x5 window) is every point;
//! here blocks of output points (two rows of 96, 48 or 32) stay in registers while every tap
//! sweeps them, in one block walk written against [`super::lanes`] and run in 512-bit,
//! 256-bit or portable vectors, whichever the CPU has. The batch normalisation and
//! activation that follow run on each finished plane as its epilogue ([`super::epilogue`]).
//!
//! When no bias is `-0.0` and every weight is finite, the plane is first copied into a
//! zero-padded scratch plane and padded taps are added as `0 × weight` like any other: a sum
//! that starts from a bias other than `-0.0` is never `-0.0` (round-to-nearest gives `-0.0`
//! only for `-0.0 + -0.0`), and adding `±0.0` to anything else leaves it unchanged, so the
//! result is bit for bit the one that skips them, without a border case.

#[cfg(target_arch = "x86_64")]
use super::lanes::{Avx256, Avx512};
use super::{
	epilogue::Epilogue,
	lanes::{self, Lanes, Portable, VectorPath},
	PlaneGeometry,
};
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
	/// group per channel and at least two channels (what tract runs with its own depthwise
	/// operator), OIHW constant weights, a constant bias, a concrete channels-first input.
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
		// tract runs a single-channel convolution (one group) as a matrix product or a direct
		// spatial convolution, with other arithmetic: only its depthwise operator's bytes are
		// the ones this reproduces.
		if channels < 2
			|| conv.group != channels
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
	if g.strides.1 == 1 && width >= Portable::LANES * 4 {
		let rows = PaddedRows { g, padded, scratch, taps, bias };
		match lanes::widest_available() {
			// SAFETY: the CPU has AVX-512F (`widest_available`); the rows hold a block.
			#[cfg(target_arch = "x86_64")]
			VectorPath::Avx512 if width >= Avx512::LANES * 6 => unsafe { rows.avx512(output) },
			// SAFETY: the CPU has AVX (`widest_available`); the rows hold a block.
			#[cfg(target_arch = "x86_64")]
			VectorPath::Avx512 | VectorPath::Avx256 => unsafe { rows.avx256(output) },
			_ => rows.portable(output),
		}
		return;
	}
	lanes::record(VectorPath::Scalar);
	let line = |row: usize, window_row: usize| {
		let y = row * g.strides.0 + window_row * g.dilations.0;
		&scratch[y * padded.columns..][..padded.columns]
	};
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

/// A zero-padded plane of stride-1 rows at least one block wide, and its channel's taps: what
/// the block walk convolves, in whichever lanes the CPU has.
struct PaddedRows<'a> {
	g: &'a PlaneGeometry,
	padded: &'a PaddedPlane,
	scratch: &'a [f32],
	taps: &'a [f32],
	bias: f32,
}

impl PaddedRows<'_> {
	/// In 512-bit vectors, blocks of 96 points.
	///
	/// # Safety
	///
	/// The CPU must have AVX-512F.
	#[cfg(target_arch = "x86_64")]
	#[target_feature(enable = "avx512f")]
	unsafe fn avx512(&self, output: &mut [f32]) {
		// SAFETY: the CPU has AVX-512F, the caller guarantees.
		unsafe { self.walk::<Avx512, 6>(output) }
	}

	/// In 256-bit vectors, blocks of 48 points where the rows hold them, else 32: two rows of
	/// six vectors fill twelve of the sixteen registers.
	///
	/// # Safety
	///
	/// The CPU must have AVX.
	#[cfg(target_arch = "x86_64")]
	#[target_feature(enable = "avx")]
	unsafe fn avx256(&self, output: &mut [f32]) {
		// SAFETY: the CPU has AVX, the caller guarantees.
		unsafe {
			match self.g.output.1 {
				48.. => self.walk::<Avx256, 6>(output),
				_ => self.walk::<Avx256, 4>(output),
			}
		}
	}

	/// In portable lanes, blocks of 96 points where the rows hold them, else 32.
	fn portable(&self, output: &mut [f32]) {
		// SAFETY: portable lanes run on any CPU.
		unsafe {
			match self.g.output.1 {
				96.. => self.walk::<Portable, 12>(output),
				_ => self.walk::<Portable, 4>(output),
			}
		}
	}

	/// Every output point, in blocks of `VECTORS` vectors of `L` by [`ROWS`] rows (one row for
	/// the last when the height is odd), each block held in registers while every tap sweeps
	/// it.
	///
	/// # Safety
	///
	/// The CPU must have `L`'s target features.
	#[inline(always)]
	unsafe fn walk<L: Lanes, const VECTORS: usize>(&self, output: &mut [f32]) {
		let (height, width) = self.g.output;
		assert!(width >= L::LANES * VECTORS && self.g.strides.1 == 1, "rows narrower than a block");
		lanes::record(L::PATH);
		for (row, rows) in super::groups(height, ROWS) {
			for first in super::block_starts(width, L::LANES * VECTORS) {
				// SAFETY: the caller's guarantee; the block lies within the plane.
				unsafe {
					if rows == ROWS {
						self.block::<L, ROWS, VECTORS>(row, first, output)
					} else {
						self.block::<L, 1, VECTORS>(row, first, output)
					}
				}
			}
		}
	}

	/// `VECTORS` vectors of points from column `first` of `R` output rows from `row`: the
	/// bias, plus each tap's weight times its point, taps in row-major order.
	///
	/// # Safety
	///
	/// The CPU must have `L`'s target features.
	#[inline(always)]
	unsafe fn block<L: Lanes, const R: usize, const VECTORS: usize>(
		&self,
		row: usize,
		first: usize,
		output: &mut [f32],
	) {
		let (g, columns) = (self.g, self.padded.columns);
		let points = L::LANES * VECTORS;
		// SAFETY (every vector step below): the CPU has `L`'s features, the caller guarantees;
		// each load reads LANES values of a slice of `points` values from `LANES * v`, each
		// store writes them.
		let mut sums = [[unsafe { L::splat(self.bias) }; VECTORS]; R];
		for window_row in 0..g.window.0 {
			let lines: [&[f32]; R] = std::array::from_fn(|r| {
				let y = (row + r) * g.strides.0 + window_row * g.dilations.0;
				&self.scratch[y * columns..][..columns]
			});
			for window_column in 0..g.window.1 {
				let weight =
					unsafe { L::splat(self.taps[window_row * g.window.1 + window_column]) };
				let x = first + window_column * g.dilations.1;
				for (sums, line) in sums.iter_mut().zip(&lines) {
					let line = &line[x..][..points];
					for (v, sum) in sums.iter_mut().enumerate() {
						let point = unsafe { L::load(line[L::LANES * v..].as_ptr()) };
						*sum = unsafe { sum.add_product(weight, point) };
					}
				}
			}
		}
		let width = g.output.1;
		for (r, sums) in sums.iter().enumerate() {
			let out = &mut output[(row + r) * width + first..][..points];
			for (v, sum) in sums.iter().enumerate() {
				unsafe { sum.store(out[L::LANES * v..].as_mut_ptr()) };
			}
		}
	}
}

/// Convolve one channel plane point by point: `output = bias + Σ weight[tap] * input[tap's
/// point]`, taps in row-major order, outside points skipped. Only planes whose padding is not
/// inert come here (a `-0.0` bias or a non-finite weight), which real models do not have.
#[inline(always)]
fn convolve_plane(g: &PlaneGeometry, input: &[f32], taps: &[f32], bias: f32, output: &mut [f32]) {
	lanes::record(VectorPath::Scalar);
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

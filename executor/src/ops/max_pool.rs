//! Two-dimensional max pooling over f32 NCHW planes.
//!
//! Each output point is the largest of the input points its window covers inside the input
//! (padding is skipped), NaN points ignored, `-inf` for a window that covers none. A maximum is
//! exact, so only that NaN rule could make two implementations disagree. Like
//! [`super::depthwise`], each window tap sweeps a whole output row at once.

use super::PlaneGeometry;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::{internal::*, ops::cnn::MaxPool};

/// Max pooling without index outputs.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct MaxPool2d {
	geometry: PlaneGeometry,
}

impl MaxPool2d {
	/// This operator for `pool`, if it is a float max pooling this covers: no index output, a
	/// concrete channels-first input.
	pub fn for_max_pool(
		model: &TypedModel,
		node: &TypedNode,
		pool: &MaxPool,
	) -> TractResult<Option<Self>> {
		let input = model.outlet_fact(node.inputs[0])?;
		let Some(input_shape) = input.shape.as_concrete() else { return Ok(None) };
		if pool.with_index_outputs.is_some() || input.datum_type != f32::datum_type() {
			return Ok(None);
		}
		Ok(PlaneGeometry::of(&pool.pool_spec, input_shape)?.map(|geometry| Self { geometry }))
	}
}

impl Op for MaxPool2d {
	fn name(&self) -> StaticName {
		"VerityMaxPool".into()
	}

	fn info(&self) -> TractResult<Vec<String>> {
		Ok(vec![format!("{:?}", self.geometry)])
	}

	op_as_typed_op!();
}

impl EvalOp for MaxPool2d {
	op_out_of_plan!();

	fn eval(&self, _context: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
		self.geometry
			.eval_planes(inputs, |input, output| pool(&self.geometry, input, output))
	}
}

impl TypedOp for MaxPool2d {
	fn output_facts(&self, _inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
		Ok(tvec!(f32::fact(&self.geometry.output_shape)))
	}

	as_op!();
}

with_target_features! {
	/// Pool every plane, with AVX where the host has it (same results either way).
	fn pool(g: &PlaneGeometry, input: &[f32], output: &mut [f32]) => pool_planes, ["avx"]
}

#[inline(always)]
fn pool_planes(g: &PlaneGeometry, input: &[f32], output: &mut [f32]) {
	let in_plane = g.input.0 * g.input.1;
	let out_plane = g.output.0 * g.output.1;
	// For each window column that reaches inside the input: the output columns it does, and
	// the input column of the first of them. The same for every row of every plane.
	let columns: TVec<(std::ops::Range<usize>, usize)> = (0..g.window.1)
		.filter_map(|window_column| {
			let columns = g.columns_inside(window_column);
			let first_x = g.input_column(columns.start, window_column)?;
			(!columns.is_empty()).then_some((columns, first_x))
		})
		.collect();
	for (index, out) in output.chunks_exact_mut(out_plane).enumerate() {
		pool_plane(g, &columns, &input[index * in_plane..][..in_plane], out);
	}
}

/// Pool one channel plane.
#[inline(always)]
fn pool_plane(
	g: &PlaneGeometry,
	columns: &[(std::ops::Range<usize>, usize)],
	input: &[f32],
	output: &mut [f32],
) {
	let width = g.input.1;
	for (row, out) in output.chunks_exact_mut(g.output.1).enumerate() {
		out.fill(f32::NEG_INFINITY);
		for window_row in 0..g.window.0 {
			let Some(y) = g.input_row(row, window_row) else { continue };
			let line = &input[y * width..][..width];
			for (columns, first_x) in columns {
				let out = &mut out[columns.clone()];
				let line = &line[*first_x..];
				match g.strides.1 {
					1 => out.iter_mut().zip(line).for_each(|(out, point)| *out = out.max(*point)),
					2 => out
						.iter_mut()
						.zip(line.chunks(2))
						.for_each(|(out, points)| *out = out.max(points[0])),
					stride => out
						.iter_mut()
						.zip(line.iter().step_by(stride))
						.for_each(|(out, point)| *out = out.max(*point)),
				}
			}
		}
	}
}

//! Verity's own operators give tract's bytes: the same small model planned by tract alone and
//! with `ops::substitute` / `ops::substitute_optimized` must produce bit-identical outputs, over
//! paddings, strides, dilations, window sizes and plane widths on both sides of the vector
//! block, biases that force the border-by-border path, and element-wise chains.

use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::{
	cnn::{Conv, KernelFormat, MaxPool, PaddingSpec, PoolSpec},
	nn::DataFormat,
};

/// Deterministic pseudo-random values in [-2, 2), with exact zeros sprinkled in.
fn values(count: usize, seed: u64) -> Vec<f32> {
	let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
	(0..count)
		.map(|_| {
			state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
			let unit = (state >> 40) as f32 / (1u64 << 24) as f32;
			if state.is_multiple_of(11) {
				0.0
			} else {
				unit * 4.0 - 2.0
			}
		})
		.collect()
}

/// One window geometry to check.
#[derive(Clone, Copy, Debug)]
struct Case {
	channels: usize,
	height: usize,
	width: usize,
	window: (usize, usize),
	strides: (usize, usize),
	dilations: (usize, usize),
	/// Top, left, bottom, right.
	padding: (usize, usize, usize, usize),
}

impl Case {
	/// A 1x1 window over `channels` planes of `height` by `width`.
	fn pointwise(channels: usize, height: usize, width: usize) -> Self {
		Self {
			channels,
			height,
			width,
			window: (1, 1),
			strides: (1, 1),
			dilations: (1, 1),
			padding: (0, 0, 0, 0),
		}
	}

	fn pool_spec(&self, output_channels: usize) -> PoolSpec {
		let (top, left, bottom, right) = self.padding;
		PoolSpec {
			data_format: DataFormat::NCHW,
			kernel_shape: tvec![self.window.0, self.window.1],
			padding: PaddingSpec::Explicit(tvec![top, left], tvec![bottom, right]),
			dilations: Some(tvec![self.dilations.0, self.dilations.1]),
			strides: Some(tvec![self.strides.0, self.strides.1]),
			input_channels: self.channels,
			output_channels,
		}
	}

	fn input(&self, seed: u64) -> Tensor {
		let shape = [1, self.channels, self.height, self.width];
		tract_ndarray::Array4::from_shape_vec(shape, values(shape.iter().product(), seed))
			.unwrap()
			.into_tensor()
	}
}

/// Run a small model on `input`, planned with or without Verity's operators; also returns how
/// many operators were substituted and the names of the plan's operators.
fn run(model: &TypedModel, input: &Tensor, substitute: bool) -> (Vec<u32>, usize, Vec<String>) {
	let mut model = model.clone().into_decluttered().unwrap();
	let mut substituted =
		if substitute { verity_executor::ops::substitute(&mut model).unwrap() } else { 0 };
	model.optimize().unwrap();
	if substitute {
		substituted += verity_executor::ops::substitute_optimized(&mut model).unwrap();
	}
	let names = model
		.eval_order()
		.unwrap()
		.into_iter()
		.map(|id| model.node(id).op().name().to_string())
		.collect();
	let plan = model.into_runnable().unwrap();
	let output = plan.run(tvec![input.clone().into_tvalue()]).unwrap().remove(0);
	let bits = output
		.to_plain_array_view::<f32>()
		.unwrap()
		.iter()
		.map(|x| x.to_bits())
		.collect();
	(bits, substituted, names)
}

/// Plan `model` with and without Verity's operators, assert that both give the same output
/// bits on `input` (`what` names the case), and return how many operators were substituted.
fn substitutions_keeping_tracts_bytes(model: &TypedModel, input: &Tensor, what: &str) -> usize {
	let (tract, ..) = run(model, input, false);
	let (verity, substituted, _) = run(model, input, true);
	assert_eq!(verity, tract, "{what}");
	substituted
}

/// A one-convolution model over `case`'s input.
fn conv_model(
	case: &Case,
	outputs: usize,
	group: usize,
	weights: Tensor,
	bias: Tensor,
) -> TypedModel {
	let mut model = TypedModel::default();
	let x = model
		.add_source("x", f32::fact([1, case.channels, case.height, case.width]))
		.unwrap();
	let weights = model.add_const("weights", weights).unwrap();
	let bias = model.add_const("bias", bias).unwrap();
	let conv = Conv {
		pool_spec: case.pool_spec(outputs),
		kernel_fmt: KernelFormat::OIHW,
		group,
		q_params: None,
	};
	let y = model.wire_node("conv", conv, &[x, weights, bias]).unwrap();
	model.select_output_outlets(&y).unwrap();
	model
}

fn depthwise_model(case: &Case) -> TypedModel {
	depthwise_model_with_bias(case, tensor1(&values(case.channels, 11)))
}

fn depthwise_model_with_bias(case: &Case, bias: Tensor) -> TypedModel {
	let weight_shape = [case.channels, 1, case.window.0, case.window.1];
	let weights = tract_ndarray::Array4::from_shape_vec(
		weight_shape,
		values(weight_shape.iter().product(), 7),
	)
	.unwrap()
	.into_tensor();
	conv_model(case, case.channels, case.channels, weights, bias)
}

fn max_pool_model(case: &Case) -> TypedModel {
	let mut model = TypedModel::default();
	let x = model
		.add_source("x", f32::fact([1, case.channels, case.height, case.width]))
		.unwrap();
	let pool = MaxPool { pool_spec: case.pool_spec(case.channels), with_index_outputs: None };
	let y = model.wire_node("pool", pool, &[x]).unwrap();
	model.select_output_outlets(&y).unwrap();
	model
}

/// Windows like MobileNet's (3x3 and 5x5, stride 1 or 2 vertically) on planes as short as
/// three rows, plus dilation, uneven padding and widths under, over and between the vector
/// blocks.
fn cases() -> Vec<Case> {
	let case = |height, width, window, strides, dilations, padding| Case {
		channels: 3,
		height,
		width,
		window,
		strides,
		dilations,
		padding,
	};
	vec![
		case(3, 96, (5, 5), (1, 1), (1, 1), (2, 2, 2, 2)),
		case(6, 96, (5, 5), (2, 1), (1, 1), (2, 2, 2, 2)),
		case(12, 96, (3, 3), (2, 1), (1, 1), (1, 1, 1, 1)),
		case(7, 40, (3, 3), (1, 1), (1, 1), (1, 1, 1, 1)),
		case(5, 33, (3, 3), (1, 2), (1, 1), (1, 1, 1, 1)),
		case(8, 70, (3, 5), (1, 1), (2, 2), (2, 4, 0, 1)),
		case(4, 10, (5, 5), (1, 1), (1, 1), (2, 2, 2, 2)),
		case(4, 130, (3, 3), (1, 1), (1, 1), (1, 1, 1, 1)),
		case(9, 64, (1, 1), (1, 1), (1, 1), (0, 0, 0, 0)),
		case(24, 96, (2, 2), (2, 2), (1, 1), (0, 0, 0, 0)),
	]
}

/// Plan the model `model_for` builds for every case with and without Verity's operators, and
/// compare the output bits.
fn assert_gives_tracts_bytes(model_for: fn(&Case) -> TypedModel) {
	for (index, case) in cases().iter().enumerate() {
		let input = case.input(index as u64);
		let what = format!("{case:?}");
		assert_eq!(
			substitutions_keeping_tracts_bytes(&model_for(case), &input, &what),
			1,
			"{what}"
		);
	}
}

#[test]
fn the_depthwise_convolution_gives_tracts_bytes() {
	assert_gives_tracts_bytes(depthwise_model);
}

#[test]
fn max_pooling_gives_tracts_bytes() {
	assert_gives_tracts_bytes(max_pool_model);
}

#[test]
fn a_convolution_that_is_not_depthwise_stays_with_tract() {
	let case = cases()[3];
	let weights = tract_ndarray::Array4::from_shape_vec([2, 3, 3, 3], values(54, 3))
		.unwrap()
		.into_tensor();
	let model = conv_model(&case, 2, 1, weights, tensor1(&[0.5f32, -0.5]));
	let mut model = model.into_decluttered().unwrap();
	assert_eq!(verity_executor::ops::substitute(&mut model).unwrap(), 0);
}

#[test]
fn a_negative_zero_bias_keeps_padded_taps_skipped_and_tracts_bytes() {
	// A -0.0 bias is the one case where adding a padded tap's 0 × weight could change a sum:
	// the operator then skips padded taps, and must still give tract's bytes.
	for (index, case) in cases().iter().enumerate() {
		let mut bias = values(case.channels, 5);
		bias[0] = -0.0;
		let model = depthwise_model_with_bias(case, tensor1(&bias));
		for input in [
			case.input(index as u64),
			Tensor::zero::<f32>(&[1, case.channels, case.height, case.width]).unwrap(),
		] {
			let what = format!("{case:?}");
			assert_eq!(substitutions_keeping_tracts_bytes(&model, &input, &what), 1, "{what}");
		}
	}
}

/// Wire MobileNetV3's batch normalisation (a per-channel scale and offset) and hard-swish,
/// `x * clip(x + 3, 0, 6) / 6`, after `x` of `channels` channels; then a ReLU if `relu`.
/// Returns the last output.
fn batch_norm_and_hard_swish(
	model: &mut TypedModel,
	x: OutletId,
	channels: usize,
	relu: bool,
) -> OutletId {
	use tract_onnx::tract_core::ops::math;
	let mut constant = |name: &str, values: Vec<f32>| {
		let shape = if values.len() == 1 { [1, 1, 1, 1] } else { [1, values.len(), 1, 1] };
		let tensor = tract_ndarray::Array4::from_shape_vec(shape, values).unwrap().into_tensor();
		model.add_const(name, tensor).unwrap()
	};
	let scale = constant("scale", values(channels, 21));
	let offset = constant("offset", values(channels, 22));
	let three = constant("three", vec![3.0]);
	let zero = constant("zero", vec![0.0]);
	let six = constant("six", vec![6.0]);
	let mut wire = |name: &str, op: tract_onnx::tract_core::ops::binary::TypedBinOp, a, b| {
		model.wire_node(name, op, &[a, b]).unwrap()[0]
	};
	let scaled = wire("scaled", math::mul(), x, scale);
	let normalised = wire("normalised", math::add(), scaled, offset);
	let shifted = wire("shifted", math::add(), normalised, three);
	let low = wire("low", math::max(), shifted, zero);
	let clipped = wire("clipped", math::min(), low, six);
	let product = wire("product", math::mul(), normalised, clipped);
	let swished = wire("swished", math::div(), product, six);
	if relu {
		wire("relu", math::max(), swished, zero)
	} else {
		swished
	}
}

#[test]
fn element_wise_chains_give_tracts_bytes() {
	let (channels, height, width) = (8, 6, 96);
	let mut model = TypedModel::default();
	let x = model.add_source("x", f32::fact([1, channels, height, width])).unwrap();
	let y = batch_norm_and_hard_swish(&mut model, x, channels, true);
	model.select_output_outlets(&[y]).unwrap();
	let case = Case::pointwise(channels, height, width);
	for seed in 0..4 {
		let substituted =
			substitutions_keeping_tracts_bytes(&model, &case.input(seed), "hard-swish chain");
		assert!(substituted >= 1, "the chains are covered");
	}
}

#[test]
fn batch_normalisation_and_hard_swish_run_inside_the_convolutions() {
	let pointwise = Case::pointwise(16, 3, 96);
	let pointwise_weights =
		tract_ndarray::Array4::from_shape_vec([88, 16, 1, 1], values(88 * 16, 41))
			.unwrap()
			.into_tensor();
	let depthwise = Case { channels: 8, ..cases()[1] };
	let convolutions = [
		(
			"VerityPointwiseConv",
			pointwise,
			88,
			conv_model(&pointwise, 88, 1, pointwise_weights, tensor0(0f32)),
		),
		("VerityDepthwiseConv", depthwise, 8, depthwise_model(&depthwise)),
	];
	for (expected, case, channels, mut model) in convolutions {
		let conv = model.output_outlets().unwrap()[0];
		let y = batch_norm_and_hard_swish(&mut model, conv, channels, false);
		model.select_output_outlets(&[y]).unwrap();
		for seed in 0..3 {
			let input = case.input(seed);
			let (tract, ..) = run(&model, &input, false);
			let (verity, _, names) = run(&model, &input, true);
			assert_eq!(verity, tract, "{expected} seed {seed}");
			let computing: Vec<&String> = names
				.iter()
				.filter(|name| !matches!(name.as_str(), "Source" | "Const" | "IntoShape"))
				.collect();
			assert_eq!(computing, [expected], "the steps run as the convolution's epilogue");
		}
	}
}

/// Compare 1x1 convolutions planned with and without Verity's operators.
fn assert_pointwise_gives_tracts_bytes() {
	// (input channels, output channels, height, width): MobileNet's expansions and
	// projections, planes whose last block overlaps the one before (for 512-bit and 256-bit
	// blocks, with a last output channel on its own), and ones too small for any block.
	for (index, (inputs, outputs, height, width)) in [
		(8, 8, 24, 96),
		(16, 88, 3, 96),
		(200, 32, 2, 96),
		(5, 9, 10, 13),
		(6, 10, 5, 11),
		(3, 5, 5, 5),
		(7, 13, 2, 7),
	]
	.into_iter()
	.enumerate()
	{
		let case = Case::pointwise(inputs, height, width);
		let weights = tract_ndarray::Array4::from_shape_vec(
			[outputs, inputs, 1, 1],
			values(outputs * inputs, 31 + index as u64),
		)
		.unwrap()
		.into_tensor();
		let model = conv_model(&case, outputs, 1, weights, tensor0(0f32));
		let what = format!("{inputs} -> {outputs} over {height}x{width}");
		let input = case.input(index as u64);
		assert_eq!(substitutions_keeping_tracts_bytes(&model, &input, &what), 1, "{what}");
	}
}

#[test]
fn the_pointwise_convolution_gives_tracts_bytes() {
	assert_pointwise_gives_tracts_bytes();
}

#[test]
fn the_256_bit_code_gives_tracts_bytes_too() {
	// On a CPU with AVX-512 the convolutions take 512-bit code for wide planes; the 256-bit
	// code must give the same bytes (other tests may run it meanwhile: it is correct for them
	// too).
	verity_executor::ops::allow_512_bit_vectors(false);
	assert_gives_tracts_bytes(depthwise_model);
	assert_pointwise_gives_tracts_bytes();
	verity_executor::ops::allow_512_bit_vectors(true);
}

//! Verity's own operators give tract's bytes: the same small model planned by tract alone and
//! with `ops::substitute` / `ops::substitute_optimized` must produce bit-identical outputs, over
//! paddings, strides, dilations, window sizes and plane widths on both sides of the vector
//! block, biases that force the border-by-border path, and element-wise chains.

use proptest::prelude::*;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::{
	cnn::{Conv, KernelFormat, MaxPool, PaddingSpec, PoolSpec},
	nn::DataFormat,
};
use verity_executor::ops::lanes::{with_widest_path, PathsRan, VectorPath};

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
	substitutions_on_path_keeping_tracts_bytes(model, input, VectorPath::Avx512, what).0
}

/// [`substitutions_keeping_tracts_bytes`] with Verity's operators kept to `widest` or narrower;
/// also returns the vector paths their calls took.
fn substitutions_on_path_keeping_tracts_bytes(
	model: &TypedModel,
	input: &Tensor,
	widest: VectorPath,
	what: &str,
) -> (usize, PathsRan) {
	let (tract, ..) = run(model, input, false);
	let ((verity, substituted, _), paths) = with_widest_path(widest, || run(model, input, true));
	let differing = verity.iter().zip(&tract).filter(|(v, t)| v != t).count();
	let first = verity.iter().zip(&tract).position(|(v, t)| v != t);
	assert!(
		verity.len() == tract.len() && differing == 0,
		"{what}: {differing} of {} values differ, the first at {first:?}, on {paths:?}",
		tract.len()
	);
	(substituted, paths)
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

#[test]
fn the_pointwise_convolution_gives_tracts_bytes() {
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
		let (model, input) = pointwise_model(inputs, outputs, height, width, index as u64);
		let what = format!("{inputs} -> {outputs} over {height}x{width}");
		assert_eq!(substitutions_keeping_tracts_bytes(&model, &input, &what), 1, "{what}");
	}
}

/// The vector paths this host can run, narrowest first: portable lanes everywhere, 256-bit
/// lanes with AVX, 512-bit lanes with AVX-512F.
fn host_paths() -> Vec<VectorPath> {
	let mut paths = vec![VectorPath::Portable];
	#[cfg(target_arch = "x86_64")]
	{
		if std::arch::is_x86_feature_detected!("avx") {
			paths.push(VectorPath::Avx256);
		}
		if std::arch::is_x86_feature_detected!("avx512f") {
			paths.push(VectorPath::Avx512);
		}
	}
	paths
}

/// A 1x1 convolution of `inputs` into `outputs` channels over `height` by `width` planes, with
/// generated weights, and an input for it.
fn pointwise_model(
	inputs: usize,
	outputs: usize,
	height: usize,
	width: usize,
	seed: u64,
) -> (TypedModel, Tensor) {
	let case = Case::pointwise(inputs, height, width);
	let weights = tract_ndarray::Array4::from_shape_vec(
		[outputs, inputs, 1, 1],
		values(outputs * inputs, 31 + seed),
	)
	.unwrap()
	.into_tensor();
	(conv_model(&case, outputs, 1, weights, tensor0(0f32)), case.input(seed))
}

#[test]
fn every_vector_path_gives_tracts_bytes_and_says_it_ran() {
	// The block walks run in whichever lanes the thread allows and the host has; each path
	// must give tract's bytes, and the records must show that path ran, none wider.
	for widest in host_paths() {
		let mut ran = Vec::new();
		for (index, case) in cases().iter().enumerate() {
			let what = format!("{case:?} in {widest:?}");
			let model = depthwise_model(case);
			let input = case.input(index as u64);
			let (substituted, paths) =
				substitutions_on_path_keeping_tracts_bytes(&model, &input, widest, &what);
			assert_eq!(substituted, 1, "{what}");
			ran.extend(paths.paths());
		}
		for (index, (inputs, outputs, width)) in
			[(16, 9, 96), (5, 7, 30), (3, 4, 5)].into_iter().enumerate()
		{
			let (model, input) = pointwise_model(inputs, outputs, 2, width, index as u64);
			let what = format!("{inputs} -> {outputs} over 2x{width} in {widest:?}");
			let (substituted, paths) =
				substitutions_on_path_keeping_tracts_bytes(&model, &input, widest, &what);
			assert_eq!(substituted, 1, "{what}");
			ran.extend(paths.paths());
		}
		ran.sort();
		ran.dedup();
		assert!(ran.contains(&widest), "{widest:?} never ran: {ran:?}");
		assert!(ran.contains(&VectorPath::Scalar), "the cases include planes under a block");
		assert!(ran.iter().all(|path| *path <= widest), "wider than {widest:?}: {ran:?}");
		if widest == VectorPath::Avx512 {
			// Planes 96 wide take 512-bit blocks, narrower ones 256-bit blocks.
			assert!(ran.contains(&VectorPath::Avx256), "{ran:?}");
		}
	}
}

#[test]
fn the_512_bit_switch_keeps_the_process_to_256_bit_lanes() {
	// `--no-512-bit-vectors` turns the wide code off for the whole process. Another test may
	// run its convolutions meanwhile: their bytes are the same either way.
	verity_executor::ops::allow_512_bit_vectors(false);
	let (model, input) = pointwise_model(8, 8, 2, 96, 3);
	let (_, paths) =
		substitutions_on_path_keeping_tracts_bytes(&model, &input, VectorPath::Avx512, "switch");
	verity_executor::ops::allow_512_bit_vectors(true);
	assert_eq!(paths.count(VectorPath::Avx512), 0, "{paths:?}");
	assert_eq!(paths.paths().len(), 1, "{paths:?}");
}

/// A depthwise geometry: the case, whether its bias holds a `-0.0` (padded taps then skipped,
/// point by point), and the widest path allowed.
fn depthwise_geometries() -> impl Strategy<Value = (Case, bool, VectorPath)> {
	let window = (1usize..=5, 1usize..=5);
	let dilations = (1usize..=3, 1usize..=3);
	(window, dilations)
		.prop_flat_map(|(window, dilations)| {
			let extent = ((window.0 - 1) * dilations.0 + 1, (window.1 - 1) * dilations.1 + 1);
			let padding = (0..extent.0, 0..extent.1, 0..extent.0, 0..extent.1);
			(
				Just((window, dilations)),
				1usize..=3,
				(1usize..=12, 1usize..=140),
				(1usize..=3, 1usize..=3),
				padding,
				any::<bool>(),
				proptest::sample::select(host_paths()),
			)
		})
		.prop_filter_map(
			"the window must fit the padded plane",
			|((window, dilations), channels, (height, width), strides, padding, zero, widest)| {
				let case = Case { channels, height, width, window, strides, dilations, padding };
				let extent = ((window.0 - 1) * dilations.0 + 1, (window.1 - 1) * dilations.1 + 1);
				let fits = height + padding.0 + padding.2 >= extent.0
					&& width + padding.1 + padding.3 >= extent.1;
				fits.then_some((case, zero, widest))
			},
		)
}

/// Check one depthwise geometry against tract, byte for byte (tract keeps some geometries,
/// 1x1 windows among them, in other operators; their bytes are checked all the same).
fn check_depthwise(case: Case, negative_zero_bias: bool, widest: VectorPath) {
	let mut bias = values(case.channels, 5);
	if negative_zero_bias {
		bias[0] = -0.0;
	}
	let model = depthwise_model_with_bias(&case, tensor1(&bias));
	let what = format!("{case:?}, -0.0 bias {negative_zero_bias}, {widest:?}");
	substitutions_on_path_keeping_tracts_bytes(&model, &case.input(3), widest, &what);
}

/// Check one pointwise geometry against tract, byte for byte (planes of one point stay with
/// tract; checked all the same).
fn check_pointwise(
	(inputs, outputs): (usize, usize),
	(height, width): (usize, usize),
	widest: VectorPath,
) {
	let (model, input) = pointwise_model(inputs, outputs, height, width, 9);
	let what = format!("{inputs} -> {outputs} over {height}x{width}, {widest:?}");
	substitutions_on_path_keeping_tracts_bytes(&model, &input, widest, &what);
}

/// Randomized geometries per property (fewer in the debug profile, where tract plans slowly;
/// `PROPTEST_CASES` sets another count);
/// a failure's shrunk input is saved next to this file (`ops.proptest-regressions`) and
/// replayed first on every run, until it is kept as a named case below.
fn geometry_cases() -> ProptestConfig {
	ProptestConfig {
		cases: std::env::var("PROPTEST_CASES")
			.ok()
			.and_then(|cases| cases.parse().ok())
			.unwrap_or(if cfg!(debug_assertions) { 16 } else { 160 }),
		failure_persistence: Some(Box::new(
			proptest::test_runner::FileFailurePersistence::WithSource("proptest-regressions"),
		)),
		..ProptestConfig::default()
	}
}

// Shrunk failures of the properties below, kept as named cases.

#[test]
fn a_single_channel_convolution_stays_with_tract() {
	// One channel is one group: tract runs it as a matrix product (fused multiply-adds) or a
	// direct convolution, not as its depthwise operator, so Verity's must not take it. Found
	// as a padded 1x2 window over one point (with a `-0.0` bias) and a strided, dilated 5x5
	// window, which gave other bytes.
	let one_point = Case {
		channels: 1,
		height: 1,
		width: 1,
		window: (1, 2),
		strides: (1, 1),
		dilations: (1, 1),
		padding: (0, 1, 0, 0),
	};
	let strided = Case {
		channels: 1,
		height: 3,
		width: 124,
		window: (5, 5),
		strides: (1, 3),
		dilations: (2, 1),
		padding: (5, 3, 8, 3),
	};
	for (case, negative_zero_bias) in [(one_point, true), (strided, false)] {
		let mut model = depthwise_model(&case).into_decluttered().unwrap();
		assert_eq!(verity_executor::ops::substitute(&mut model).unwrap(), 0, "{case:?}");
		for widest in host_paths() {
			check_depthwise(case, negative_zero_bias, widest);
		}
	}
}

#[test]
fn a_pointwise_convolution_over_one_point_keeps_tracts_bytes() {
	// Found as `2 -> 1 over 1x1` (tract plans it as other operators) and `8 -> 2 over 1x1`
	// (a matrix-vector product, whose kernels split each sum: other bytes than Verity's
	// in-order sum, so Verity's operator leaves one-point planes to tract).
	for (inputs, outputs) in [(2, 1), (8, 2), (40, 17)] {
		let (model, _) = pointwise_model(inputs, outputs, 1, 1, 0);
		let mut model = model.into_decluttered().unwrap();
		assert_eq!(verity_executor::ops::substitute(&mut model).unwrap(), 0);
		for widest in host_paths() {
			check_pointwise((inputs, outputs), (1, 1), widest);
		}
	}
}

proptest! {
	#![proptest_config(geometry_cases())]

	#[test]
	fn random_depthwise_geometries_give_tracts_bytes(
		(case, negative_zero_bias, widest) in depthwise_geometries()
	) {
		check_depthwise(case, negative_zero_bias, widest);
	}

	#[test]
	fn random_pointwise_geometries_give_tracts_bytes(
		channels in (1usize..=40, 1usize..=40),
		plane in (1usize..=6, 1usize..=130),
		widest in proptest::sample::select(host_paths()),
	) {
		check_pointwise(channels, plane, widest);
	}
}

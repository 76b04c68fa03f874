//! Element-wise steps an operator applies to each output channel's values before they leave it.
//!
//! A convolution's output is often read only by a chain of element-wise operations with one
//! operand per channel (a batch normalisation, an activation), and hard-swish reads it twice
//! (`x × min(max(x + 3, 0), 6) × ⅙`). Taken over as the convolution's epilogue, those steps run
//! on each channel's plane while it is in cache, and the tensor in between is never stored.
//! Each step computes what the chain's step computed, in the same order, with Rust's
//! (NaN-ignoring) `min` and `max` as [`super::elementwise`] does; the common runs of steps (a
//! batch normalisation, with or without a ReLU; hard-swish) take every value through all their
//! steps in one pass, which changes how often a value is loaded, never what is computed.

use super::elementwise::{by_scalar, element_wise};
use std::hash::{Hash, Hasher};
use tract_linalg::BinOp;
use tract_onnx::prelude::*;

/// Values taken through the steps together: a saved copy of them fits on the stack.
const CHUNK: usize = 64;

/// One step of an epilogue.
#[derive(Clone, Debug)]
pub enum Step {
	/// `x ∘ values[channel]`.
	PerChannel(BinOp, Arc<[f32]>),
	/// Keep `x`: the input of the chain whose steps follow, which one of them reads again.
	Save,
	/// `x ∘ saved`, the value kept by the last [`Step::Save`].
	BySaved(BinOp),
}

impl Hash for Step {
	fn hash<H: Hasher>(&self, state: &mut H) {
		match self {
			Step::PerChannel(operation, values) => {
				0u8.hash(state);
				operation.hash(state);
				values.iter().for_each(|value| value.to_bits().hash(state));
			},
			Step::Save => 1u8.hash(state),
			Step::BySaved(operation) => {
				2u8.hash(state);
				operation.hash(state);
			},
		}
	}
}

impl PartialEq for Step {
	fn eq(&self, other: &Self) -> bool {
		match (self, other) {
			(Step::PerChannel(a, x), Step::PerChannel(b, y)) => {
				a == b
					&& x.len() == y.len()
					&& x.iter().zip(y.iter()).all(|(x, y)| x.to_bits() == y.to_bits())
			},
			(Step::Save, Step::Save) => true,
			(Step::BySaved(a), Step::BySaved(b)) => a == b,
			_ => false,
		}
	}
}

impl Eq for Step {}

/// How a run of steps is carried out: alone, or one of the common runs in one pass. Each
/// holds the index of its first step.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
enum Stage {
	/// One step.
	Single(usize),
	/// Multiply, then add (a batch normalisation).
	ScaleShift(usize),
	/// Multiply, add, then `max` (a batch normalisation and a ReLU).
	ScaleShiftMax(usize),
	/// Save, add, `max`, `min`, multiply by the saved value, multiply (hard-swish).
	HardSwish(usize),
}

/// The steps, in order, an operator applies to each value of output channel `c` before
/// storing it.
#[derive(Clone, Debug, Default, Hash, PartialEq, Eq)]
pub struct Epilogue {
	steps: Vec<Step>,
	stages: Vec<Stage>,
}

impl Epilogue {
	/// The epilogue running `steps` in order.
	pub fn new(steps: Vec<Step>) -> Self {
		let stages = stages(&steps);
		Self { steps, stages }
	}

	/// This epilogue's steps, then `next`'s.
	pub fn then(&self, next: &Self) -> Self {
		Self::new(self.steps.iter().chain(&next.steps).cloned().collect())
	}

	/// Whether it has no step.
	pub fn is_empty(&self) -> bool {
		self.steps.is_empty()
	}

	/// How many steps it has.
	pub fn len(&self) -> usize {
		self.steps.len()
	}

	/// Whether every per-channel step holds a value for each of `channels` channels.
	pub fn fits(&self, channels: usize) -> bool {
		self.steps.iter().all(|step| match step {
			Step::PerChannel(_, values) => values.len() == channels,
			_ => true,
		})
	}

	/// Run every step over `values`, all of output channel `channel`.
	#[inline(always)]
	pub fn apply(&self, channel: usize, values: &mut [f32]) {
		if self.steps.is_empty() {
			return;
		}
		let mut saved = [0f32; CHUNK];
		for chunk in values.chunks_mut(CHUNK) {
			let saved = &mut saved[..chunk.len()];
			for stage in &self.stages {
				self.run(*stage, channel, chunk, saved);
			}
		}
	}

	/// Run one stage over a chunk.
	#[inline(always)]
	fn run(&self, stage: Stage, channel: usize, chunk: &mut [f32], saved: &mut [f32]) {
		let value = |at: usize| match &self.steps[at] {
			Step::PerChannel(_, values) => values[channel],
			_ => unreachable!("stages are built over per-channel steps"),
		};
		match stage {
			Stage::Single(at) => match &self.steps[at] {
				Step::PerChannel(operation, values) => {
					by_scalar(*operation, chunk, values[channel])
				},
				Step::Save => saved.copy_from_slice(chunk),
				Step::BySaved(operation) => element_wise(*operation, chunk, saved),
			},
			Stage::ScaleShift(at) => {
				let (scale, shift) = (value(at), value(at + 1));
				chunk.iter_mut().for_each(|x| *x = *x * scale + shift);
			},
			Stage::ScaleShiftMax(at) => {
				let (scale, shift, floor) = (value(at), value(at + 1), value(at + 2));
				chunk.iter_mut().for_each(|x| *x = (*x * scale + shift).max(floor));
			},
			Stage::HardSwish(at) => {
				let (shift, floor, ceiling) = (value(at + 1), value(at + 2), value(at + 3));
				let scale = value(at + 5);
				chunk
					.iter_mut()
					.for_each(|x| *x = (*x + shift).max(floor).min(ceiling) * *x * scale);
			},
		}
	}
}

/// The stages that run `steps`: the common runs where they occur, single steps elsewhere.
fn stages(steps: &[Step]) -> Vec<Stage> {
	use BinOp::*;
	let per_channel = |at: usize, operation: BinOp| match steps.get(at) {
		Some(Step::PerChannel(op, _)) => *op == operation,
		_ => false,
	};
	// Whether a step from `at` reads the saved value before another one is saved: a stage
	// that saves must then leave its value in the saved chunk, which the fused ones do not.
	let saved_read_from = |at: usize| {
		steps[at.min(steps.len())..]
			.iter()
			.take_while(|step| !matches!(step, Step::Save))
			.any(|step| matches!(step, Step::BySaved(_)))
	};
	let mut stages = Vec::new();
	let mut at = 0;
	while at < steps.len() {
		let hard_swish = matches!(steps[at], Step::Save)
			&& per_channel(at + 1, Add)
			&& per_channel(at + 2, Max)
			&& per_channel(at + 3, Min)
			&& matches!(steps.get(at + 4), Some(Step::BySaved(Mul)))
			&& per_channel(at + 5, Mul)
			&& !saved_read_from(at + 6);
		let (stage, length) = if hard_swish {
			(Stage::HardSwish(at), 6)
		} else if per_channel(at, Mul) && per_channel(at + 1, Add) && per_channel(at + 2, Max) {
			(Stage::ScaleShiftMax(at), 3)
		} else if per_channel(at, Mul) && per_channel(at + 1, Add) {
			(Stage::ScaleShift(at), 2)
		} else {
			(Stage::Single(at), 1)
		};
		stages.push(stage);
		at += length;
	}
	stages
}

#[cfg(test)]
mod tests {
	use super::*;

	fn per_channel(operation: BinOp, values: &[f32]) -> Step {
		Step::PerChannel(operation, values.into())
	}

	/// The steps one at a time, as a chain runs them.
	fn stepwise(steps: &[Step], channel: usize, values: &mut [f32]) {
		let mut saved = values.to_vec();
		for step in steps {
			match step {
				Step::PerChannel(operation, operand) => {
					by_scalar(*operation, values, operand[channel])
				},
				Step::Save => saved.copy_from_slice(values),
				Step::BySaved(operation) => element_wise(*operation, values, &saved),
			}
		}
	}

	fn values() -> Vec<f32> {
		(0..200)
			.map(|i| ((i * 7919 % 263) as f32 - 131.0) * 0.0731)
			.chain([f32::NAN, -0.0, 0.0, f32::INFINITY, f32::NEG_INFINITY, -3.0, 3.0])
			.collect()
	}

	#[test]
	fn common_runs_are_fused_and_give_the_stepwise_bits() {
		let batch_norm =
			[per_channel(BinOp::Mul, &[1.5, -0.25]), per_channel(BinOp::Add, &[0.1, 2.0])];
		let hard_swish = [
			Step::Save,
			per_channel(BinOp::Add, &[3.0, 3.0]),
			per_channel(BinOp::Max, &[0.0, 0.0]),
			per_channel(BinOp::Min, &[6.0, 6.0]),
			Step::BySaved(BinOp::Mul),
			per_channel(BinOp::Mul, &[1.0 / 6.0, 1.0 / 6.0]),
		];
		let relu = [per_channel(BinOp::Max, &[0.0, -1.0])];
		let cases: Vec<(Vec<Step>, Vec<Stage>)> = vec![
			(
				batch_norm.iter().chain(&hard_swish).cloned().collect(),
				vec![Stage::ScaleShift(0), Stage::HardSwish(2)],
			),
			(batch_norm.iter().chain(&relu).cloned().collect(), vec![Stage::ScaleShiftMax(0)]),
			(
				// The saved value is read again after hard-swish: no fused stage saves it.
				hard_swish.iter().cloned().chain([Step::BySaved(BinOp::Sub)]).collect(),
				(0..7).map(Stage::Single).collect(),
			),
			(
				relu.iter().chain(&batch_norm[..1]).cloned().collect(),
				vec![Stage::Single(0), Stage::Single(1)],
			),
		];
		for (steps, expected_stages) in cases {
			let epilogue = Epilogue::new(steps.clone());
			assert_eq!(epilogue.stages, expected_stages);
			for channel in 0..2 {
				let mut fused = values();
				let mut expected = values();
				epilogue.apply(channel, &mut fused);
				stepwise(&steps, channel, &mut expected);
				let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
				assert_eq!(bits(&fused), bits(&expected), "{steps:?} channel {channel}");
			}
		}
	}

	#[test]
	fn joined_epilogues_run_both_and_check_their_channels() {
		let first = Epilogue::new(vec![per_channel(BinOp::Mul, &[2.0, 3.0])]);
		let second = Epilogue::new(vec![per_channel(BinOp::Add, &[1.0, -1.0])]);
		let joined = first.then(&second);
		assert_eq!(joined.len(), 2);
		assert_eq!(joined.stages, vec![Stage::ScaleShift(0)]);
		assert!(joined.fits(2) && !joined.fits(3));
		let mut values = [1.0, 2.0];
		joined.apply(1, &mut values);
		assert_eq!(values, [2.0, 5.0]);
		assert!(Epilogue::default().is_empty());
	}
}

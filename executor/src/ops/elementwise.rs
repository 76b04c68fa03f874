//! Chains of element-wise binary operations on f32 tensors, in one pass.
//!
//! tract fuses a run of element-wise operations on one tensor (hard-swish's add, max and min,
//! batch normalisation's multiply and add) into a chain, and runs it step by step over chunks
//! through its kernels. This runs the same steps, with the same operands, each element going
//! through every step in order: `a ∘ b` for each step, with `∘` one of `min`, `max`, `+`, `×`,
//! `-` and reversed `-`, `min` and `max` being Rust's (NaN-ignoring), as in tract's portable
//! kernels. A chunk of the tensor stays in the first-level cache while every step runs over
//! it, in loops the compiler vectorises for the host without changing a result.

use super::epilogue::{self, Epilogue};
use tract_linalg::{multithread::BShare, BinOp};
use tract_onnx::prelude::*;
use tract_onnx::tract_core::{
	internal::*,
	ops::binary::{OptBinByScalar, OptBinChain},
};

/// Elements run through every step at a time.
const CHUNK: usize = 256;

/// The shortest run of elements an operand may stay the same over (or, for a per-element
/// operand, the shortest operand): anything shorter stays with tract.
const SHORTEST_RUN: usize = 16;

/// How a step's operand maps onto the chained tensor `a`.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
enum Operand {
	/// `b` repeats along `a`: element `i` reads `b[i % b.len()]`.
	Repeating,
	/// `b` holds one value per block of `a.len() / b.len()` consecutive elements.
	PerBlock,
}

/// One step: an operation and how its operand maps onto the tensor.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
struct Step {
	operation: BinOp,
	operand: Operand,
}

/// A chain of element-wise steps over input 0; input `i + 1` is step `i`'s operand.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct ElementwiseChain {
	steps: Vec<Step>,
}

impl ElementwiseChain {
	/// This operator for `chain`, if all its tensors are f32 of concrete shapes and no
	/// operand changes every few elements.
	pub fn for_chain(
		model: &TypedModel,
		node: &TypedNode,
		chain: &OptBinChain,
	) -> TractResult<Option<Self>> {
		let steps: Vec<_> = chain.steps.iter().map(|step| (step.linalg_op, step.share)).collect();
		Self::for_steps(model, node, &steps)
	}

	/// This operator for tract's operation by one value per block of the tensor (a channel's
	/// scale, say), as a chain of one step, under the same conditions.
	pub fn for_by_scalar(
		model: &TypedModel,
		node: &TypedNode,
		op: &OptBinByScalar,
	) -> TractResult<Option<Self>> {
		Self::for_steps(model, node, &[(op.linalg_op, BShare::PerBlock)])
	}

	/// The chain of `steps` (each an operation and how its operand is shared) over the node's
	/// input 0, the operands being its next inputs in order.
	fn for_steps(
		model: &TypedModel,
		node: &TypedNode,
		chain_steps: &[(BinOp, BShare)],
	) -> TractResult<Option<Self>> {
		let facts = model.node_input_facts(node.id)?;
		let lengths: Option<Vec<usize>> = facts
			.iter()
			.map(|fact| {
				(fact.datum_type == f32::datum_type())
					.then(|| fact.shape.as_concrete().map(|shape| shape.iter().product()))
					.flatten()
			})
			.collect();
		let Some(lengths) = lengths else { return Ok(None) };
		if chain_steps.len() + 1 != lengths.len() {
			return Ok(None);
		}
		let a = lengths[0];
		let mut steps = Vec::with_capacity(chain_steps.len());
		for (&(operation, share), &b) in chain_steps.iter().zip(&lengths[1..]) {
			if b == 0 || a % b != 0 {
				return Ok(None);
			}
			let (operand, run) = match share {
				BShare::Lockstep => (Operand::Repeating, b),
				BShare::PerBlock => (Operand::PerBlock, a / b),
			};
			if run < SHORTEST_RUN {
				return Ok(None);
			}
			steps.push(Step { operation, operand });
		}
		Ok(Some(Self { steps }))
	}

	/// The chain that runs this one's steps, then `next`'s (whose accumulator is this one's
	/// output); its inputs are this one's, then `next`'s operands.
	pub fn then(&self, next: &Self) -> Self {
		Self { steps: self.steps.iter().chain(&next.steps).copied().collect() }
	}

	/// This chain as the epilogue of an operator whose output `[channels, points…]` it reads,
	/// given each step's operand: a constant holding one value for the whole tensor or one per
	/// channel, or `None` where the operand is that output itself (hard-swish's second read).
	pub fn as_epilogue(
		&self,
		operands: &[Option<Arc<Tensor>>],
		channels: usize,
	) -> TractResult<Option<Epilogue>> {
		let mut steps = Vec::with_capacity(self.steps.len() + 1);
		if operands.iter().any(Option::is_none) {
			steps.push(epilogue::Step::Save);
		}
		for (step, b) in self.steps.iter().zip(operands) {
			let Some(b) = b else {
				if step.operand != Operand::Repeating {
					return Ok(None);
				}
				steps.push(epilogue::Step::BySaved(step.operation));
				continue;
			};
			let b = b.cast_to::<f32>()?;
			let b = b.try_as_plain_ram()?;
			let b = b.as_slice::<f32>()?;
			let values: Arc<[f32]> = match (step.operand, b.len()) {
				(Operand::PerBlock, 1) => vec![b[0]; channels].into(),
				(Operand::PerBlock, n) if n == channels => b.into(),
				_ => return Ok(None),
			};
			steps.push(epilogue::Step::PerChannel(step.operation, values));
		}
		Ok(Some(Epilogue::new(steps)))
	}

	/// The chain that runs this one's steps, then `next`'s, where this one's output is the
	/// operand of `next`'s first step rather than its accumulator: that step's accumulator
	/// becomes its operand instead, which gives the same bits when the operation is addition or
	/// multiplication. Its inputs are this one's, then `next`'s accumulator and remaining
	/// operands. `None` for any other first step.
	pub fn then_swapped(&self, next: &Self) -> Option<Self> {
		let (first, rest) = next.steps.split_first()?;
		let commutes = matches!(first.operation, BinOp::Add | BinOp::Mul);
		(commutes && first.operand == Operand::Repeating).then(|| Self {
			steps: self.steps.iter().chain([first]).chain(rest).copied().collect(),
		})
	}
}

impl Op for ElementwiseChain {
	fn name(&self) -> StaticName {
		format!("VerityChain({})", self.steps.len()).into()
	}

	fn info(&self) -> TractResult<Vec<String>> {
		Ok(vec![format!("{:?}", self.steps)])
	}

	op_as_typed_op!();
}

impl EvalOp for ElementwiseChain {
	op_out_of_plan!();

	fn eval(&self, _context: &EvalContext, mut inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
		ensure!(!inputs.is_empty(), "a chain has an input");
		// The steps run in place: in the input itself when nothing else holds it (an operand
		// that is the input too does), in a copy otherwise.
		let mut output = inputs.remove(0).into_tensor();
		let operands = &inputs[..];
		let views: Vec<_> =
			operands.iter().map(|t| t.try_as_plain_ram()).collect::<TractResult<_>>()?;
		let operands: Vec<&[f32]> =
			views.iter().map(|t| t.as_slice::<f32>()).collect::<TractResult<_>>()?;
		{
			let mut view = output.try_as_plain_ram_mut()?;
			let a = view.as_slice_mut::<f32>()?;
			let length = a.len();
			for (step, b) in self.steps.iter().zip(&operands) {
				let run = match step.operand {
					Operand::Repeating => b.len(),
					Operand::PerBlock => length / b.len().max(1),
				};
				ensure!(
					!b.is_empty() && length.is_multiple_of(b.len()) && run > 0,
					"operand does not fit"
				);
			}
			run(&self.steps, a, &operands);
		}
		Ok(tvec!(output.into_tvalue()))
	}
}

impl TypedOp for ElementwiseChain {
	fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
		Ok(tvec!(inputs[0].without_value()))
	}

	as_op!();
}

with_target_features! {
	/// Run the chain over `a`, in place, with AVX where the host has it (same results either
	/// way).
	fn run(steps: &[Step], a: &mut [f32], operands: &[&[f32]]) => run_chunks, ["avx"]
}

/// Where a step's operand stands while walking the tensor.
#[derive(Clone, Copy)]
struct Cursor {
	/// Elements over which the operand keeps one value (per block) or goes through all its
	/// values once (repeating).
	run: usize,
	/// Where the current run started.
	run_start: usize,
	/// Which run this is.
	run_index: usize,
}

/// Walk `a` in chunks no operand changes shape within, and run every step over each while it
/// is in cache.
#[inline(always)]
fn run_chunks(steps: &[Step], a: &mut [f32], operands: &[&[f32]]) {
	let length = a.len();
	let mut cursors: TVec<Cursor> = steps
		.iter()
		.zip(operands)
		.map(|(step, b)| Cursor {
			run: match step.operand {
				Operand::Repeating => b.len(),
				Operand::PerBlock => length / b.len(),
			},
			run_start: 0,
			run_index: 0,
		})
		.collect();
	let mut start = 0;
	while start < length {
		// A chunk ends where a per-block operand moves to its next value or a repeating one
		// wraps around.
		let end = cursors.iter().fold((start + CHUNK).min(length), |end, cursor| {
			end.min(cursor.run_start + cursor.run)
		});
		let chunk = &mut a[start..end];
		for ((step, b), cursor) in steps.iter().zip(operands).zip(&mut cursors) {
			match step.operand {
				Operand::PerBlock => by_scalar(step.operation, chunk, b[cursor.run_index]),
				Operand::Repeating => {
					let offset = start - cursor.run_start;
					element_wise(step.operation, chunk, &b[offset..offset + chunk.len()])
				},
			}
			if end == cursor.run_start + cursor.run {
				cursor.run_start = end;
				cursor.run_index += 1;
			}
		}
		start = end;
	}
}

/// `a[i] = a[i] ∘ s`.
#[inline(always)]
pub(super) fn by_scalar(operation: BinOp, a: &mut [f32], s: f32) {
	match operation {
		BinOp::Min => a.iter_mut().for_each(|x| *x = x.min(s)),
		BinOp::Max => a.iter_mut().for_each(|x| *x = x.max(s)),
		BinOp::Add => a.iter_mut().for_each(|x| *x += s),
		BinOp::Mul => a.iter_mut().for_each(|x| *x *= s),
		BinOp::Sub => a.iter_mut().for_each(|x| *x -= s),
		BinOp::SubF => a.iter_mut().for_each(|x| *x = s - *x),
	}
}

/// `a[i] = a[i] ∘ b[i]`.
#[inline(always)]
pub(super) fn element_wise(operation: BinOp, a: &mut [f32], b: &[f32]) {
	let pairs = a.iter_mut().zip(b);
	match operation {
		BinOp::Min => pairs.for_each(|(x, y)| *x = x.min(*y)),
		BinOp::Max => pairs.for_each(|(x, y)| *x = x.max(*y)),
		BinOp::Add => pairs.for_each(|(x, y)| *x += *y),
		BinOp::Mul => pairs.for_each(|(x, y)| *x *= *y),
		BinOp::Sub => pairs.for_each(|(x, y)| *x -= *y),
		BinOp::SubF => pairs.for_each(|(x, y)| *x = *y - *x),
	}
}

//! Planning and running an ONNX artifact, and generating with a GGUF one: what every build of
//! the executor shares, the host's server and the browser's verifier alike (no file system,
//! network, clock or threads here).
//!
//! A plan is an ONNX graph typed for the input's shapes (a text model's sequence length left
//! symbolic), decluttered, with Verity's own operators swapped in ([`crate::ops`]), optimized
//! and made runnable.

use crate::{
	generation::{GenerationError, Generator},
	tensors::{self, ConversionError},
	text::TextFrontEnd,
};
use std::sync::Arc;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::TractErrorContext as _;
use verity_primitives::{cheap_rejection, ModelId, RejectionCode, TensorError, TensorMap};

/// An optimized, runnable model.
pub type Plan = Arc<TypedRunnableModel>;

/// Why an inference failed.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
	/// The artifact is unavailable or not the registered one.
	#[cfg(feature = "host")]
	#[error(transparent)]
	Store(#[from] crate::store::StoreError),
	/// The artifact is not an ONNX model tract can run.
	#[error("model {model_id:?} is not a usable ONNX model: {reason}")]
	MalformedModel {
		/// The model.
		model_id: ModelId,
		/// tract's explanation.
		reason: String,
	},
	/// The input is not a canonical tensor encoding.
	#[error("input is not a canonical tensor encoding: {0:?}")]
	MalformedInput(TensorError),
	/// The input's tensors are not the model's inputs.
	#[error("input does not match the model: {0}")]
	InputMismatch(String),
	/// A tensor could not be converted.
	#[error(transparent)]
	Conversion(#[from] ConversionError),
	/// tract failed while running the model.
	#[error("the model failed on this input: {0}")]
	Execution(String),
	/// The input cannot be run, for a reason every honest executor finds the same way: the
	/// canonical rejection executors attest instead of an output.
	#[error("the input cannot be run ({code:?}): {reason}")]
	Rejected {
		/// The canonical code.
		code: RejectionCode,
		/// What exactly was wrong, for people.
		reason: String,
	},
}

impl EngineError {
	/// tract's failure while running a plan.
	pub(crate) fn execution(error: TractError) -> Self {
		Self::Execution(format!("{error:#}"))
	}

	/// The canonical rejection this failure is, if it is one: a failure that depends only on
	/// the model and the input (so every honest executor meets it), not on this machine (an
	/// unreadable store, a busy server).
	pub fn rejection(&self) -> Option<RejectionCode> {
		match self {
			Self::Rejected { code, .. } => Some(*code),
			Self::Execution(_) => Some(RejectionCode::ModelError),
			Self::Conversion(ConversionError::InvalidBool(_)) => Some(RejectionCode::InvalidBool),
			Self::Conversion(ConversionError::UnsupportedType { .. }) => {
				Some(RejectionCode::ModelError)
			},
			Self::Conversion(ConversionError::Rejected { .. }) => {
				Some(RejectionCode::UnsupportedShape)
			},
			#[cfg(feature = "host")]
			Self::Store(_) => None,
			Self::MalformedModel { .. } | Self::MalformedInput(_) => None,
			Self::InputMismatch(_) => None,
		}
	}

	/// A rejection for shapes the graph cannot take.
	pub(crate) fn unsupported_shape(reason: String) -> Self {
		Self::Rejected { code: RejectionCode::UnsupportedShape, reason }
	}
}

impl From<GenerationError> for EngineError {
	fn from(error: GenerationError) -> Self {
		match error {
			GenerationError::Rejected { code, reason } => Self::Rejected { code, reason },
			GenerationError::MalformedModel(reason) => Self::Execution(reason),
		}
	}
}

/// A plan with the names of its inputs and outputs, in the graph's order.
pub struct Planned {
	/// The runnable model.
	pub plan: Plan,
	/// Its inputs' names.
	pub input_names: Vec<String>,
	/// Its outputs' names (their labels where the graph gives them).
	pub output_names: Vec<String>,
}

/// The canonical `input` decoded, checked as the chain checks it at submission, and passed
/// through `front_end` (a text model's tokenizer) if there is one.
pub fn prepare_input(
	input: &[u8],
	front_end: Option<&TextFrontEnd>,
) -> Result<TensorMap, EngineError> {
	let input = TensorMap::decode_canonical(input).map_err(EngineError::MalformedInput)?;
	if let Some(code) = cheap_rejection(&input, front_end.is_some()) {
		return Err(EngineError::Rejected {
			code,
			reason: format!("the input fails the check the chain makes at submission: {code:?}"),
		});
	}
	match front_end {
		Some(front_end) => front_end.encode(&input).map_err(EngineError::InputMismatch),
		None => Ok(input),
	}
}

/// Load, type and optimize the ONNX `artifact` of `model_id` for `input`'s shapes (a
/// symbolic sequence length for a text model).
pub fn plan(
	artifact: &[u8],
	model_id: ModelId,
	input: &TensorMap,
	symbolic_sequence: bool,
) -> Result<Planned, EngineError> {
	let malformed =
		|error: TractError| EngineError::MalformedModel { model_id, reason: format!("{error:#}") };
	let mut model = tract_onnx::onnx().model_for_read(&mut &artifact[..]).map_err(malformed)?;

	let input_names: Vec<String> = model
		.input_outlets()
		.map_err(malformed)?
		.iter()
		.map(|outlet| model.node(outlet.node).name.clone())
		.collect();
	if input.0.len() != input_names.len() {
		return Err(EngineError::InputMismatch(format!(
			"the model takes {} inputs {input_names:?}, the request has {}",
			input_names.len(),
			input.0.len()
		)));
	}
	for (index, name) in input_names.iter().enumerate() {
		let tensor = input.get(name.as_bytes()).ok_or_else(|| {
			EngineError::InputMismatch(format!(
				"the model's input {name:?} is missing; it takes {input_names:?}"
			))
		})?;
		let dtype = tensors::datum_type(tensor.dtype);
		let fact = if symbolic_sequence {
			let sequence = model.symbols.sym("S");
			InferenceFact::dt_shape(dtype, tvec![1.to_dim(), sequence.to_dim()])
		} else {
			let shape: Vec<usize> = tensor.shape.iter().map(|d| *d as usize).collect();
			InferenceFact::dt_shape(dtype, shape)
		};
		model.set_input_fact(index, fact).map_err(|error| {
			EngineError::unsupported_shape(format!("input {name:?}: {error:#}"))
		})?;
	}
	let output_names: Vec<String> = model
		.output_outlets()
		.map_err(malformed)?
		.iter()
		.map(|outlet| {
			model
				.outlet_label(*outlet)
				.map(str::to_string)
				.unwrap_or_else(|| model.node(outlet.node).name.clone())
		})
		.collect();
	crate::ops::give_unique_names(model.nodes.iter_mut().map(|node| &mut node.name));
	let plan = model
		.into_typed()
		.and_then(|typed| typed.into_decluttered().context("decluttering"))
		.and_then(|mut typed| {
			crate::ops::substitute(&mut typed).context("substituting")?;
			typed.optimize().context("optimizing")?;
			crate::ops::substitute_optimized(&mut typed).context("substituting optimized")?;
			typed.into_runnable().context("planning")
		})
		.map_err(|error| EngineError::unsupported_shape(format!("{error:#}")))?;

	Ok(Planned { plan, input_names, output_names })
}

/// `input`'s tensors in the order of `input_names`, as tract values.
pub fn input_values(
	input_names: &[String],
	input: &TensorMap,
) -> Result<TVec<TValue>, EngineError> {
	input_names
		.iter()
		.map(|name| {
			let tensor = input.get(name.as_bytes()).ok_or_else(|| {
				EngineError::InputMismatch(format!(
					"the model's input {name:?} is missing; it takes {input_names:?}"
				))
			})?;
			Ok(tensors::to_tract(tensor)?.into_tvalue())
		})
		.collect()
}

/// Run `plan` on `values`; its outputs, named `output_names`, in the canonical encoding.
pub fn run(
	plan: &Plan,
	output_names: &[String],
	values: TVec<TValue>,
) -> Result<TensorMap, EngineError> {
	let outputs = plan.run(values).map_err(EngineError::execution)?;
	let named = output_names.iter().cloned().zip(outputs.iter().map(|value| &**value)).collect();
	Ok(tensors::outputs_to_map(named)?)
}

/// The whole path for one input, from the artifact's bytes: a GGUF artifact generates, an
/// ONNX one is planned for the input and run. The outputs, canonically encoded, are what an
/// executor under the `generic` profile (or the decoder's own) attests.
pub fn run_artifact(
	artifact: Vec<u8>,
	model_id: ModelId,
	input: &[u8],
) -> Result<TensorMap, EngineError> {
	if artifact.starts_with(b"GGUF") {
		let generator = Generator::from_bytes(artifact, 1)
			.map_err(|error| EngineError::MalformedModel { model_id, reason: error.to_string() })?;
		let map = TensorMap::decode_canonical(input).map_err(EngineError::MalformedInput)?;
		return Ok(generator.generate(input, &map)?.to_tensor_map());
	}
	let front_end = TextFrontEnd::from_artifact(&artifact)
		.map_err(|reason| EngineError::MalformedModel { model_id, reason })?;
	let input = prepare_input(input, front_end.as_ref())?;
	let planned = plan(&artifact, model_id, &input, front_end.is_some())?;
	let values = input_values(&planned.input_names, &input)?;
	run(&planned.plan, &planned.output_names, values)
}

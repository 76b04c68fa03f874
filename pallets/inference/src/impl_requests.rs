//! Requests: admission checks, fees and escrow, and opening requests of every kind.

use crate::{
	AccountIdOf, BalanceOf, ChallengeState, Config, Error, Event, HoldReason, InferenceRequest,
	ModelExecutors, Models, NextRequestId, Pallet, RequestInput, RequestInputs, RequestKind,
	RequestStatus, Requests,
};
use frame_support::pallet_prelude::DispatchResult;
use frame_support::{ensure, traits::Get, BoundedVec};
use sp_runtime::{
	traits::{AccountIdConversion, Saturating},
	DispatchError,
};
use verity_primitives::{
	cheap_rejection, content_hash, generation_prompt, max_canonical_len, DType, GenerationParams,
	ModelFormat, ModelId, ModelStatus, RejectionCode, RequestId, TensorMap, TensorSpecs,
	TEXT_INPUT,
};

/// Whether a model with these inputs is a text model: its one input is `text`, `u8` bytes
/// the executor tokenizes (and so must be UTF-8).
pub(crate) fn is_text_model(specs: &TensorSpecs) -> bool {
	matches!(specs.as_slice(), [spec] if spec.name.as_slice() == TEXT_INPUT.as_bytes() && spec.dtype == DType::U8)
}

/// The fees of one request.
pub(crate) struct Fees<Balance> {
	/// What each agreeing executor earns.
	pub per_executor: Balance,
	/// The protocol's cut.
	pub protocol: Balance,
	/// What is held in escrow: every executor's fee plus the protocol's cut.
	pub total: Balance,
}

impl<T: Config> Pallet<T> {
	pub(crate) fn do_request_inference(
		who: AccountIdOf<T>,
		model_id: ModelId,
		input: alloc::vec::Vec<u8>,
		max_fee: BalanceOf<T>,
	) -> Result<RequestId, DispatchError> {
		let model = Models::<T>::get(model_id).ok_or(Error::<T>::UnknownModel)?;
		ensure!(model.status == ModelStatus::Active, Error::<T>::ModelNotActive);
		let input: RequestInput<T> = input.try_into().map_err(|_| Error::<T>::InputTooLarge)?;
		let tensors =
			TensorMap::decode_canonical(&input).map_err(|_| Error::<T>::MalformedInput)?;
		tensors
			.ensure_matches(&model.metadata.inputs)
			.map_err(|_| Error::<T>::InputSpecMismatch)?;
		Self::ensure_runnable(&tensors, &model.metadata.inputs)?;
		if model.metadata.format == ModelFormat::Gguf {
			Self::ensure_generation_runnable(&tensors)?;
		}
		let redundancy = model.metadata.redundancy;
		let fees = Self::fees(model.metadata.fee_per_run, redundancy);
		ensure!(fees.total <= max_fee, Error::<T>::FeeAboveMax);
		ensure!(
			Self::live_executor_count(&model_id, &[]) >= u32::from(redundancy),
			Error::<T>::NotEnoughExecutors
		);
		Self::open_request(who, model_id, input, redundancy, fees, RequestKind::Inference)
	}

	/// Refuse the inputs the chain can cheaply tell no executor could run.
	///
	/// Attack this stops: a requester who sends an input every executor must reject makes them
	/// work for the fee of a request, not for free; those it can check here cost it only the
	/// transaction fee, and no executor is asked to run them at all.
	fn ensure_runnable(tensors: &TensorMap, specs: &TensorSpecs) -> DispatchResult {
		match cheap_rejection(tensors, is_text_model(specs)) {
			None => Ok(()),
			Some(RejectionCode::InvalidUtf8) => Err(Error::<T>::InvalidUtf8Input.into()),
			Some(RejectionCode::InvalidBool) => Err(Error::<T>::InvalidBoolInput.into()),
			Some(_) => Err(Error::<T>::EmptyInputAxis.into()),
		}
	}

	/// Refuse a generation request whose prompt is not UTF-8 or whose parameters are out of
	/// range. What it does not refuse: a prompt longer than the model's context (that takes
	/// the tokenizer, which the chain does not run): executors reject it with
	/// `RejectionCode::PromptTooLong`, and the requester pays them for finding out.
	fn ensure_generation_runnable(tensors: &TensorMap) -> DispatchResult {
		let prompt = generation_prompt(tensors).ok_or(Error::<T>::InputSpecMismatch)?;
		ensure!(core::str::from_utf8(prompt).is_ok(), Error::<T>::InvalidUtf8Input);
		GenerationParams::from_input(tensors).map_err(|_| Error::<T>::InvalidGenerationParams)?;
		Ok(())
	}

	/// The fees of a run of a model charging `fee_per_run` by `redundancy` executors.
	pub(crate) fn fees(fee_per_run: BalanceOf<T>, redundancy: u8) -> Fees<BalanceOf<T>> {
		let executors = fee_per_run.saturating_mul(BalanceOf::<T>::from(u32::from(redundancy)));
		let protocol = T::ProtocolFee::get().mul_ceil(executors);
		Fees { per_executor: fee_per_run, protocol, total: executors.saturating_add(protocol) }
	}

	/// The storage deposit of a request of `model_id` with an input of `input_len` bytes run by
	/// `redundancy` executors: `ByteDeposit` per byte of the input and of an output of the
	/// model's largest declared size (at most `MaxOutputLen`) per executor, the most distinct
	/// outputs the request can keep.
	pub(crate) fn storage_deposit(
		model_id: &ModelId,
		input_len: u32,
		redundancy: u8,
	) -> BalanceOf<T> {
		let output_bound = Self::output_bound(model_id);
		let bytes =
			u64::from(input_len).saturating_add(output_bound.saturating_mul(u64::from(redundancy)));
		T::ByteDeposit::get()
			.saturating_mul(BalanceOf::<T>::from(bytes.min(u64::from(u32::MAX)) as u32))
	}

	/// The largest output `model_id` can return: its outputs' largest canonical encoding, at
	/// most `MaxOutputLen` bytes (that bound for a model not registered or whose outputs have
	/// no fixed size).
	pub(crate) fn output_bound(model_id: &ModelId) -> u64 {
		Models::<T>::get(model_id)
			.map_or(u64::from(T::MaxOutputLen::get()), |model| Self::output_bound_of(&model))
	}

	/// The largest canonical output `model` can return, at most `MaxOutputLen`.
	pub(crate) fn output_bound_of(model: &crate::ModelInfoOf<T>) -> u64 {
		let max_output = u64::from(T::MaxOutputLen::get());
		max_canonical_len(&model.metadata.outputs).map_or(max_output, |bound| bound.min(max_output))
	}

	/// Hold the fees and the storage deposit from `payer`, store the request and queue it for
	/// assignment.
	///
	/// Checks room in this block's queue before holding anything, and releases the deposit if
	/// the fees cannot be held, so a refusal holds nothing (hooks open audits outside any
	/// transactional layer).
	pub(crate) fn open_request(
		payer: AccountIdOf<T>,
		model_id: ModelId,
		input: RequestInput<T>,
		redundancy: u8,
		fees: Fees<BalanceOf<T>>,
		kind: RequestKind<AccountIdOf<T>, BalanceOf<T>>,
	) -> Result<RequestId, DispatchError> {
		Self::ensure_queue_room(&kind)?;
		let storage_deposit = Self::storage_deposit(&model_id, input.len() as u32, redundancy);
		Self::hold(&HoldReason::StorageDeposit, &payer, storage_deposit)?;
		if let Err(error) = Self::hold(&HoldReason::RequestEscrow, &payer, fees.total) {
			Self::release_held(HoldReason::StorageDeposit, &payer, storage_deposit);
			return Err(error);
		}

		let request_id = NextRequestId::<T>::mutate(|next| {
			let id = *next;
			*next = next.saturating_add(1);
			id
		});
		Self::enqueue(request_id, &kind)?;

		let input_hash = content_hash(&input);
		let input_len = input.len() as u32;
		RequestInputs::<T>::insert(request_id, input);
		Requests::<T>::insert(
			request_id,
			InferenceRequest {
				requester: payer.clone(),
				model_id,
				input_len,
				input_hash,
				kind,
				redundancy,
				fee_per_executor: fees.per_executor,
				protocol_fee: fees.protocol,
				escrow: fees.total,
				storage_deposit,
				created_at: frame_system::Pallet::<T>::block_number(),
				assigned: BoundedVec::new(),
				commit_deadline: frame_system::Pallet::<T>::block_number(),
				commitments: BoundedVec::new(),
				attestations: BoundedVec::new(),
				candidates: BoundedVec::new(),
				status: RequestStatus::Pending,
				challenge: ChallengeState::None,
				answers_owed: Default::default(),
			},
		);
		Self::deposit_event(Event::InferenceRequested {
			request_id,
			requester: payer,
			model_id,
			fee: fees.total,
		});
		Ok(request_id)
	}

	/// How many live executors serve `model_id`, not counting those in `excluded`.
	pub(crate) fn live_executor_count(model_id: &ModelId, excluded: &[AccountIdOf<T>]) -> u32 {
		ModelExecutors::<T>::get(model_id)
			.iter()
			.filter(|account| !excluded.contains(account))
			.filter(|account| {
				crate::Executors::<T>::get(account).is_some_and(|executor| Self::is_live(&executor))
			})
			.count() as u32
	}

	/// The input bytes of `request_id` (empty if it has none).
	pub fn request_input(request_id: RequestId) -> RequestInput<T> {
		RequestInputs::<T>::get(request_id).unwrap_or_default()
	}

	/// The protocol's account.
	pub fn protocol_account() -> AccountIdOf<T> {
		T::PalletId::get().into_account_truncating()
	}
}

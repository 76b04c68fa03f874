//! A minimal runtime for the pallet's unit tests, with a scripted inference protocol.

use crate as pallet_memory;
use codec::Encode;
use core::cell::RefCell;
use frame_support::{derive_impl, parameter_types};
use pallet_inference::{InferenceProvider, OnRequestFinalized, RequestOutcome};
use sp_core::H256;
use sp_runtime::{BuildStorage, DispatchError};
use verity_primitives::{DType, ModelId, RequestId, Tensor, TensorMap};

type Block = frame_system::mocking::MockBlock<Test>;

/// Balance of the test currency.
pub type Balance = u64;
/// Accounts are plain numbers.
pub type AccountId = u64;

/// The space owner in most tests.
pub const OWNER: AccountId = 1;
/// An account given write access.
pub const WRITER: AccountId = 2;
/// An account given read access.
pub const READER: AccountId = 3;
/// An account with no access.
pub const STRANGER: AccountId = 4;
/// An account with nothing to pay with.
pub const PAUPER: AccountId = 5;

/// The embedding model every test space uses.
pub const EMBEDDER: ModelId = H256::repeat_byte(0xee);
/// A registered model that is not the spaces' embedder.
pub const OTHER_MODEL: ModelId = H256::repeat_byte(0x0d);

#[frame_support::runtime]
mod runtime {
	#[runtime::runtime]
	#[runtime::derive(
		RuntimeCall,
		RuntimeEvent,
		RuntimeError,
		RuntimeOrigin,
		RuntimeFreezeReason,
		RuntimeHoldReason,
		RuntimeSlashReason,
		RuntimeLockId,
		RuntimeTask,
		RuntimeViewFunction
	)]
	pub struct Test;

	#[runtime::pallet_index(0)]
	pub type System = frame_system;
	#[runtime::pallet_index(1)]
	pub type Balances = pallet_balances;
	#[runtime::pallet_index(2)]
	pub type Memory = pallet_memory;
}

#[derive_impl(frame_system::config_preludes::TestDefaultConfig)]
impl frame_system::Config for Test {
	type Block = Block;
	type AccountData = pallet_balances::AccountData<Balance>;
}

#[derive_impl(pallet_balances::config_preludes::TestDefaultConfig)]
impl pallet_balances::Config for Test {
	type AccountStore = System;
	type RuntimeHoldReason = RuntimeHoldReason;
}

/// One request the scripted protocol was asked for.
#[derive(Clone, Debug)]
pub struct ScriptedRequest {
	/// Who pays for it.
	pub payer: AccountId,
	/// The model.
	pub model_id: ModelId,
	/// The canonical input.
	pub input: Vec<u8>,
	/// Where it stands.
	pub outcome: RequestOutcome,
}

thread_local! {
	static REQUESTS: RefCell<Vec<ScriptedRequest>> = const { RefCell::new(Vec::new()) };
	static REFUSE: RefCell<bool> = const { RefCell::new(false) };
}

/// An inference protocol whose requests the tests finalize or fail by hand.
pub struct ScriptedInference;

impl InferenceProvider<AccountId> for ScriptedInference {
	fn request(
		payer: &AccountId,
		model_id: ModelId,
		input: Vec<u8>,
	) -> Result<RequestId, DispatchError> {
		if REFUSE.with(|refuse| *refuse.borrow()) {
			return Err(DispatchError::Other("no executors"));
		}
		Ok(REQUESTS.with(|requests| {
			let mut requests = requests.borrow_mut();
			requests.push(ScriptedRequest {
				payer: *payer,
				model_id,
				input,
				outcome: RequestOutcome::Open,
			});
			requests.len() as RequestId - 1
		}))
	}

	fn outcome(request_id: RequestId) -> RequestOutcome {
		REQUESTS.with(|requests| {
			requests
				.borrow()
				.get(request_id as usize)
				.map(|request| request.outcome.clone())
				.unwrap_or(RequestOutcome::Unknown)
		})
	}

	fn is_active_model(model_id: &ModelId) -> bool {
		*model_id == EMBEDDER || *model_id == OTHER_MODEL
	}
}

/// The request the scripted protocol got with id `request_id`.
pub fn scripted(request_id: RequestId) -> ScriptedRequest {
	REQUESTS.with(|requests| requests.borrow()[request_id as usize].clone())
}

/// Make the scripted protocol refuse every request from now on.
pub fn refuse_requests() {
	REFUSE.with(|refuse| *refuse.borrow_mut() = true);
}

/// Make `output` the output that stands for `request_id`; returns the request's model.
fn stand(request_id: RequestId, output: &[u8]) -> ModelId {
	REQUESTS.with(|requests| {
		let mut requests = requests.borrow_mut();
		let request = &mut requests[request_id as usize];
		request.outcome =
			RequestOutcome::Finalized { model_id: request.model_id, output: output.to_vec() };
		request.model_id
	})
}

/// Finalize `request_id` with `output`, telling the pallet as the protocol would.
pub fn finalize(request_id: RequestId, output: Vec<u8>) {
	let model_id = stand(request_id, &output);
	Memory::on_request_finalized(request_id, &model_id, &output);
}

/// Let a challenge overturn `request_id`'s output: `corrected` stands instead.
pub fn correct(request_id: RequestId, corrected: Vec<u8>) {
	let model_id = stand(request_id, &corrected);
	Memory::on_output_corrected(request_id, &model_id, &corrected);
}

/// Let `request_id` expire without an output.
pub fn fail(request_id: RequestId) {
	REQUESTS.with(|requests| {
		requests.borrow_mut()[request_id as usize].outcome = RequestOutcome::Failed
	});
}

/// An embedding model's canonical output holding `values`.
pub fn embedding_output(values: &[i8]) -> Vec<u8> {
	TensorMap(vec![Tensor {
		name: b"embedding".to_vec(),
		dtype: DType::I8,
		shape: vec![1, values.len() as u32],
		data: values.iter().map(|value| *value as u8).collect(),
	}])
	.encode()
}

parameter_types! {
	pub const DepositPerByte: Balance = 2;
	pub const SpaceDeposit: Balance = 100;
}

impl pallet_memory::Config for Test {
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type Inference = ScriptedInference;
	type DepositPerByte = DepositPerByte;
	type SpaceDeposit = SpaceDeposit;
	type MaxEntryLen = frame_support::traits::ConstU32<64>;
	type MaxEntriesPerSpace = frame_support::traits::ConstU32<4>;
	type MaxGrantsPerSpace = frame_support::traits::ConstU32<2>;
	type MaxEmbeddingLen = frame_support::traits::ConstU32<8>;
	type MaxRecall = frame_support::traits::ConstU32<3>;
	type MaxQueryLen = frame_support::traits::ConstU32<32>;
	type WeightInfo = ();
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = ScriptedInference;
}

#[cfg(feature = "runtime-benchmarks")]
impl crate::BenchmarkHelper for ScriptedInference {
	fn embedding_model() -> ModelId {
		EMBEDDER
	}

	fn finalized_request(model_id: ModelId, output: Vec<u8>) -> RequestId {
		let request = ScriptedInference::request(&OWNER, model_id, Vec::new()).expect("accepted");
		REQUESTS.with(|requests| {
			requests.borrow_mut()[request as usize].outcome =
				RequestOutcome::Finalized { model_id, output }
		});
		request
	}
}

/// Test externalities with funded accounts; `do_try_state` runs after the test body.
pub fn new_test_ext() -> sp_io::TestExternalities {
	let mut storage = frame_system::GenesisConfig::<Test>::default().build_storage().unwrap();
	pallet_balances::GenesisConfig::<Test> {
		balances: vec![
			(OWNER, 10_000),
			(WRITER, 10_000),
			(READER, 10_000),
			(STRANGER, 10_000),
			(PAUPER, 1),
		],
		..Default::default()
	}
	.assimilate_storage(&mut storage)
	.unwrap();
	REQUESTS.with(|requests| requests.borrow_mut().clear());
	REFUSE.with(|refuse| *refuse.borrow_mut() = false);
	let mut ext = sp_io::TestExternalities::new(storage);
	ext.execute_with(|| System::set_block_number(1));
	ext
}

/// Run `test` in fresh externalities and check the invariants afterwards.
pub fn run_test(test: impl FnOnce()) {
	new_test_ext().execute_with(|| {
		test();
		Memory::do_try_state().expect("invariants hold");
	});
}

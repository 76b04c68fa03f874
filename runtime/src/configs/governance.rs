//! Governance: the technical committee that decides which models the chain serves.

use crate::{AccountId, Runtime, RuntimeCall, RuntimeEvent, RuntimeOrigin, DAYS};
use frame_support::{parameter_types, traits::EitherOfDiverse, weights::Weight};
use frame_system::EnsureRoot;
use sp_runtime::Perbill;

parameter_types! {
	/// How long a committee motion stays open for votes.
	pub const TechnicalMotionDuration: crate::BlockNumber = 3 * DAYS;
	/// Most motions open at once.
	pub const TechnicalMaxProposals: u32 = 100;
	/// Most committee members.
	pub const TechnicalMaxMembers: u32 = 50;
	/// The heaviest call a motion may execute: half a block.
	pub TechnicalMaxProposalWeight: Weight =
		Perbill::from_percent(50) * crate::configs::RuntimeBlockWeights::get().max_block;
}

/// The technical committee's instance of `pallet_collective`.
pub type TechnicalCollective = pallet_collective::Instance1;

impl pallet_collective::Config<TechnicalCollective> for Runtime {
	type RuntimeOrigin = RuntimeOrigin;
	type Proposal = RuntimeCall;
	#[allow(deprecated)]
	type RuntimeEvent = RuntimeEvent;
	type MotionDuration = TechnicalMotionDuration;
	type MaxProposals = TechnicalMaxProposals;
	type MaxMembers = TechnicalMaxMembers;
	type DefaultVote = pallet_collective::PrimeDefaultVote;
	type WeightInfo = pallet_collective::weights::SubstrateWeight<Runtime>;
	type SetMembersOrigin = EnsureRoot<AccountId>;
	type MaxProposalWeight = TechnicalMaxProposalWeight;
	type DisapproveOrigin = EnsureRoot<AccountId>;
	type KillOrigin = EnsureRoot<AccountId>;
	type Consideration = ();
}

/// Who may register models and change their status: root, or two thirds of the technical
/// committee.
pub type ModelOrigin = EitherOfDiverse<
	EnsureRoot<AccountId>,
	pallet_collective::EnsureProportionAtLeast<AccountId, TechnicalCollective, 2, 3>,
>;

//! Spaces and access.

use super::*;
use crate::{Error, Grants, HoldReason, Spaces};
use frame_support::{assert_noop, traits::fungible::InspectHold};

#[test]
fn create_space_holds_the_deposit_and_starts_empty() {
	run_test(|| {
		assert_ok!(Memory::create_space(RuntimeOrigin::signed(OWNER), EMBEDDER));
		let space = Spaces::<Test>::get(0).unwrap();
		assert_eq!((space.owner, space.embedding_model, space.entries), (OWNER, EMBEDDER, 0));
		assert_eq!(space.root, sp_core::H256::zero());
		assert_eq!(Balances::balance_on_hold(&HoldReason::SpaceDeposit.into(), &OWNER), 100);
		assert_eq!(
			last_event(),
			Event::SpaceCreated { space: 0, owner: OWNER, embedding_model: EMBEDDER }
		);
	});
}

#[test]
fn create_space_errors() {
	run_test(|| {
		assert_noop!(
			Memory::create_space(RuntimeOrigin::signed(OWNER), sp_core::H256::repeat_byte(9)),
			Error::<Test>::EmbeddingModelUnavailable
		);
		assert_noop!(
			Memory::create_space(RuntimeOrigin::signed(PAUPER), EMBEDDER),
			Error::<Test>::InsufficientBalance
		);
	});
}

#[test]
fn grant_and_revoke_change_access() {
	run_test(|| {
		let space = space_with_grants();
		assert_eq!(Grants::<Test>::get(space, WRITER), Some(Access::Write));
		assert_eq!(Spaces::<Test>::get(space).unwrap().grants, 2);
		// Changing a grant does not count twice.
		assert_ok!(Memory::grant(RuntimeOrigin::signed(OWNER), space, READER, Access::Write));
		assert_eq!(Spaces::<Test>::get(space).unwrap().grants, 2);
		assert_ok!(Memory::revoke(RuntimeOrigin::signed(OWNER), space, READER));
		assert_eq!(last_event(), Event::AccessRevoked { space, who: READER });
		assert_eq!(Grants::<Test>::get(space, READER), None);
		assert_eq!(Spaces::<Test>::get(space).unwrap().grants, 1);
	});
}

#[test]
fn grant_and_revoke_errors() {
	run_test(|| {
		let space = space_with_grants();
		assert_noop!(
			Memory::grant(RuntimeOrigin::signed(OWNER), 9, WRITER, Access::Read),
			Error::<Test>::UnknownSpace
		);
		assert_noop!(
			Memory::grant(RuntimeOrigin::signed(WRITER), space, STRANGER, Access::Read),
			Error::<Test>::NotOwner
		);
		assert_noop!(
			Memory::grant(RuntimeOrigin::signed(OWNER), space, OWNER, Access::Read),
			Error::<Test>::OwnerAccessIsImplicit
		);
		assert_noop!(
			Memory::grant(RuntimeOrigin::signed(OWNER), space, STRANGER, Access::Read),
			Error::<Test>::TooManyGrants
		);
		assert_noop!(
			Memory::revoke(RuntimeOrigin::signed(OWNER), space, STRANGER),
			Error::<Test>::NoGrant
		);
		assert_noop!(
			Memory::revoke(RuntimeOrigin::signed(OWNER), space, OWNER),
			Error::<Test>::OwnerAccessIsImplicit
		);
		assert_noop!(
			Memory::revoke(RuntimeOrigin::signed(READER), space, WRITER),
			Error::<Test>::NotOwner
		);
		assert_noop!(
			Memory::revoke(RuntimeOrigin::signed(OWNER), 9, WRITER),
			Error::<Test>::UnknownSpace
		);
	});
}

#[test]
fn delete_space_releases_the_deposit_and_grants() {
	run_test(|| {
		let space = space_with_grants();
		let (entry, _) = remember_text(OWNER, space, "a fact");
		assert_noop!(
			Memory::delete_space(RuntimeOrigin::signed(OWNER), space),
			Error::<Test>::SpaceNotEmpty
		);
		assert_noop!(
			Memory::delete_space(RuntimeOrigin::signed(WRITER), space),
			Error::<Test>::NotOwner
		);
		assert_ok!(Memory::forget(RuntimeOrigin::signed(OWNER), space, entry));
		assert_ok!(Memory::delete_space(RuntimeOrigin::signed(OWNER), space));
		assert_eq!(last_event(), Event::SpaceDeleted { space });
		assert!(Spaces::<Test>::get(space).is_none());
		assert_eq!(Grants::<Test>::iter_prefix(space).count(), 0);
		assert_eq!(Balances::balance_on_hold(&HoldReason::SpaceDeposit.into(), &OWNER), 0);
		assert_noop!(
			Memory::delete_space(RuntimeOrigin::signed(OWNER), space),
			Error::<Test>::UnknownSpace
		);
	});
}

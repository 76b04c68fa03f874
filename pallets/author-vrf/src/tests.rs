//! The beacon's rules, each played by the author it is meant to stop.

use crate::{
	mock::*, vrf_sign_data, AuthorVrfSignature, Call, Error, Randomness, RandomnessSetAt,
	SetThisBlock,
};
use frame_support::{
	assert_noop, assert_ok,
	inherent::{InherentData, ProvideInherent},
	traits::{Hooks, Randomness as _},
};
use sp_core::{crypto::VrfSecret, sr25519, Pair};
use sp_runtime::traits::Hash;

/// `pair`'s VRF signature for the block in `slot` on top of the current randomness.
fn sign(pair: &sr25519::Pair, slot: u64) -> AuthorVrfSignature {
	(&pair.vrf_sign(&vrf_sign_data(&Randomness::<Test>::get(), slot))).into()
}

/// End block `n` and start block `n + 1`.
fn next_block() {
	let now = System::block_number();
	AuthorVrf::on_finalize(now);
	System::set_block_number(now + 1);
}

#[test]
fn the_authors_vrf_output_becomes_the_randomness() {
	new_test_ext().execute_with(|| {
		let alice = authority("Alice");
		set_author(&alice, 7);
		let signature = sign(&alice, 7);
		assert_ok!(AuthorVrf::set_randomness(RuntimeOrigin::none(), signature.clone()));
		let expected = AuthorVrf::verified_output(&alice.public(), &[0; 32], 7, &signature);
		assert_eq!(Some(Randomness::<Test>::get()), expected);
		assert_ne!(Randomness::<Test>::get(), [0; 32]);
		assert_eq!(RandomnessSetAt::<Test>::get(), 1);
	});
}

#[test]
fn an_author_gets_one_output_per_slot_however_often_it_signs() {
	// Grinding: an author that signs again (the proof is randomized) hoping for a better seed
	// gets the same randomness every time. Its only choice is to withhold its block.
	new_test_ext().execute_with(|| {
		let alice = authority("Alice");
		let outputs: Vec<_> = (0..5)
			.map(|_| {
				let signature = sign(&alice, 3);
				AuthorVrf::verified_output(&alice.public(), &[0; 32], 3, &signature)
					.expect("a valid signature")
			})
			.collect();
		assert!(outputs.windows(2).all(|pair| pair[0] == pair[1]));
	});
}

#[test]
fn a_signature_by_anyone_but_the_author_is_refused() {
	// An author cannot borrow another key's output to pick among several seeds.
	new_test_ext().execute_with(|| {
		let alice = authority("Alice");
		let bob = authority("Bob");
		set_author(&alice, 4);
		assert_noop!(
			AuthorVrf::set_randomness(RuntimeOrigin::none(), sign(&bob, 4)),
			Error::<Test>::InvalidVrf
		);
		assert!(!SetThisBlock::<Test>::get());
	});
}

#[test]
fn a_signature_over_another_slot_is_refused() {
	// Replaying an earlier block's signature (or signing for a slot of one's choice) would
	// keep a known seed: the slot is part of the input.
	new_test_ext().execute_with(|| {
		let alice = authority("Alice");
		set_author(&alice, 10);
		assert_noop!(
			AuthorVrf::set_randomness(RuntimeOrigin::none(), sign(&alice, 9)),
			Error::<Test>::InvalidVrf
		);
	});
}

#[test]
fn each_block_chains_on_the_previous_randomness() {
	new_test_ext().execute_with(|| {
		let alice = authority("Alice");
		let bob = authority("Bob");
		set_author(&alice, 1);
		let first = sign(&alice, 1);
		assert_ok!(AuthorVrf::set_randomness(RuntimeOrigin::none(), first.clone()));
		let after_first = Randomness::<Test>::get();
		next_block();
		set_author(&bob, 2);
		// The first block's signature no longer verifies: its input was the genesis randomness.
		assert_noop!(
			AuthorVrf::set_randomness(RuntimeOrigin::none(), first),
			Error::<Test>::InvalidVrf
		);
		assert_ok!(AuthorVrf::set_randomness(RuntimeOrigin::none(), sign(&bob, 2)));
		assert_ne!(Randomness::<Test>::get(), after_first);
		assert_eq!(RandomnessSetAt::<Test>::get(), 2);
	});
}

#[test]
fn the_randomness_is_set_at_most_once_per_block() {
	new_test_ext().execute_with(|| {
		let alice = authority("Alice");
		set_author(&alice, 5);
		assert_ok!(AuthorVrf::set_randomness(RuntimeOrigin::none(), sign(&alice, 5)));
		let set = Randomness::<Test>::get();
		assert_noop!(
			AuthorVrf::set_randomness(RuntimeOrigin::none(), sign(&alice, 5)),
			Error::<Test>::AlreadySet
		);
		assert_eq!(Randomness::<Test>::get(), set);
	});
}

#[test]
fn no_author_no_randomness() {
	new_test_ext().execute_with(|| {
		let alice = authority("Alice");
		assert_noop!(
			AuthorVrf::set_randomness(RuntimeOrigin::none(), sign(&alice, 1)),
			Error::<Test>::UnknownAuthor
		);
	});
}

#[test]
fn only_the_none_origin_sets_it() {
	new_test_ext().execute_with(|| {
		let alice = authority("Alice");
		set_author(&alice, 1);
		assert_noop!(
			AuthorVrf::set_randomness(RuntimeOrigin::signed(1), sign(&alice, 1)),
			sp_runtime::DispatchError::BadOrigin
		);
	});
}

#[test]
#[should_panic(expected = "the block author's VRF output must be set once per block")]
fn a_block_without_the_vrf_output_is_invalid() {
	// An author that does not like the seed its VRF gives cannot leave the previous one in
	// place by skipping the inherent.
	new_test_ext().execute_with(|| AuthorVrf::on_finalize(1));
}

#[test]
fn the_inherent_is_built_from_the_authors_signature_and_always_required() {
	new_test_ext().execute_with(|| {
		let alice = authority("Alice");
		let signature = sign(&alice, 2);
		let mut data = InherentData::new();
		assert!(AuthorVrf::create_inherent(&data).is_none());
		assert!(matches!(AuthorVrf::is_inherent_required(&data), Ok(Some(_))));
		data.put_data(crate::INHERENT_IDENTIFIER, &signature).expect("encodes");
		let call = AuthorVrf::create_inherent(&data).expect("an inherent");
		assert!(AuthorVrf::is_inherent(&call));
		assert_eq!(call, Call::set_randomness { signature });
	});
}

#[test]
fn random_values_differ_by_subject_and_name_the_block_that_fixed_them() {
	new_test_ext().execute_with(|| {
		let alice = authority("Alice");
		set_author(&alice, 1);
		assert_ok!(AuthorVrf::set_randomness(RuntimeOrigin::none(), sign(&alice, 1)));
		let (audit, at) = AuthorVrf::random(b"audit");
		let (assign, _) = AuthorVrf::random(b"assign");
		assert_ne!(audit, assign);
		assert_eq!(at, 1);
		let expected = <Test as frame_system::Config>::Hashing::hash_of(&(
			Randomness::<Test>::get(),
			&b"audit"[..],
		));
		assert_eq!(audit, expected);
	});
}

#[cfg(feature = "runtime-benchmarks")]
#[test]
fn the_benchmark_signature_is_valid() {
	use crate::benchmarking::{AUTHOR, SIGNATURE};
	use codec::{Decode, Encode};
	new_test_ext().execute_with(|| {
		let alice = authority("Alice");
		assert_eq!(alice.public().0, AUTHOR);
		let fresh = sign(&alice, 1);
		let fixed = AuthorVrfSignature::decode(&mut &SIGNATURE[..]).ok();
		let valid = fixed
			.and_then(|signature| {
				AuthorVrf::verified_output(&alice.public(), &[0; 32], 1, &signature)
			})
			.is_some();
		assert!(valid, "the benchmark's SIGNATURE must become {:?}", fresh.encode());
	});
}

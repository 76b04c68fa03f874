//! Thousands of random calls from several requesters and executors, honest and dishonest,
//! with blocks in between: no call panics, money is never created or destroyed, and every
//! invariant holds after every call.

use super::*;
use crate::{Executors, RequestStatus};
use frame_support::traits::fungible::Inspect;

/// A small deterministic generator (xorshift64*), so a failure reproduces from its seed.
struct Rng(u64);

impl Rng {
	fn next(&mut self) -> u64 {
		self.0 ^= self.0 >> 12;
		self.0 ^= self.0 << 25;
		self.0 ^= self.0 >> 27;
		self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
	}

	fn below(&mut self, n: u64) -> u64 {
		self.next() % n
	}

	fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
		(!items.is_empty()).then(|| &items[self.below(items.len() as u64) as usize])
	}
}

/// Executors 10..=13 answer honestly, 14 and 15 always lie, 16 never answers.
fn answer_of(executor: AccountId) -> Option<Vec<u8>> {
	match executor {
		10..=13 => Some(honest_output()),
		14 | 15 => Some(wrong_output()),
		_ => None,
	}
}

fn run(seed: u64, steps: u32) {
	new_test_ext().execute_with(|| {
		let mut rng = Rng(seed);
		AuditProbability::set(sp_runtime::Permill::from_percent(20));
		let models = [vector_model(1, 1), vector_model(2, 2), vector_model(3, 3)];
		for who in 10..=16 {
			executor(who, &models);
		}
		let issuance = Balances::total_issuance();

		for step in 0..steps {
			match rng.below(100) {
				0..=29 => {
					let who = 1 + rng.below(5);
					let model = *rng.pick(&models).unwrap();
					let input = if rng.below(10) == 0 { vec![1, 2, 3] } else { input() };
					let max_fee = if rng.below(10) == 0 { 1 } else { u64::MAX };
					let _ = Inference::request_inference(
						RuntimeOrigin::signed(who),
						model,
						input,
						max_fee,
					);
				},
				30..=64 => {
					let open: Vec<RequestId> = Requests::<Test>::iter()
						.filter(|(_, r)| r.status.deadline().is_some())
						.map(|(id, _)| id)
						.collect();
					if let Some(&id) = rng.pick(&open) {
						let drawn = assignees(id);
						if let Some((account, key)) = rng.pick(&drawn) {
							if let Some(output) = answer_of(*account) {
								let _ = attest(id, key, &output);
							}
						}
					}
				},
				65..=69 => {
					let finalized: Vec<RequestId> = Requests::<Test>::iter()
						.filter(|(_, r)| matches!(r.status, RequestStatus::Finalized { .. }))
						.map(|(id, _)| id)
						.collect();
					if let Some(&id) = rng.pick(&finalized) {
						let who = 1 + rng.below(5);
						let bond = MIN_CHALLENGE_BOND + rng.below(2) * 1_000;
						let _ = Inference::challenge(RuntimeOrigin::signed(who), id, bond);
					}
				},
				70..=74 => {
					let who = 10 + rng.below(7);
					let _ = match rng.below(4) {
						0 => Inference::unregister_executor(RuntimeOrigin::signed(who)),
						1 => Inference::withdraw_bond(RuntimeOrigin::signed(who)),
						2 => Inference::bond_extra(RuntimeOrigin::signed(who), rng.below(2_000)),
						_ if !Executors::<Test>::contains_key(who) => Inference::register_executor(
							RuntimeOrigin::signed(who),
							ExecutorPublic::generate_pair(None),
							models.to_vec().try_into().unwrap(),
							MIN_BOND + rng.below(1_000),
						),
						_ => Ok(()),
					};
				},
				_ => next_block(),
			}
			assert_eq!(Balances::total_issuance(), issuance, "seed {seed}, step {step}");
			if let Err(error) = Inference::do_try_state() {
				panic!("seed {seed}, step {step}: {error:?}");
			}
		}
		// Drain everything: every request reaches an end and every escrow is returned.
		run_blocks(3 * RESPONSE_TIMEOUT + 3);
		Inference::do_try_state().unwrap();
		for (_, request) in Requests::<Test>::iter() {
			assert!(
				matches!(
					request.status,
					RequestStatus::Finalized { .. }
						| RequestStatus::Expired
						| RequestStatus::Unassignable
				),
				"seed {seed}: a request is stuck in {:?}",
				request.status
			);
		}
		for who in 1..=5 {
			assert_eq!(held(crate::HoldReason::RequestEscrow, who), 0, "seed {seed}");
		}
		let accounted: Balance = (1..=20)
			.chain([Inference::protocol_account()])
			.map(|who| <Balances as Inspect<_>>::total_balance(&who))
			.sum();
		assert_eq!(accounted, issuance, "seed {seed}: every unit is in some account");
	});
}

#[test]
fn random_call_sequences_keep_issuance_and_invariants() {
	for seed in 1..=6u64 {
		run(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15), 800);
	}
}

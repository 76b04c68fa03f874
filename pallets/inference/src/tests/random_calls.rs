//! Thousands of random calls from several requesters and executors, honest and dishonest,
//! with blocks in between: no call panics, money is never created or destroyed, and every
//! invariant holds after every call.
//!
//! The adversaries: two liars (each with its own wrong output), a no-show, a copycat that
//! copies the first commitment it sees and reveals the first output it sees, and requesters
//! sending malformed or unrunnable inputs. After every call: an honest executor's bond never
//! decreases, and the copycat never earns anything.

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

/// Executors 10..=13 answer honestly (every job, every block, like an offchain worker), 14 and
/// 15 lie (each its own way) when the dice say so, 16 never answers, 17 copies.
fn answer_of(executor: AccountId) -> Option<Vec<u8>> {
	match executor {
		10..=13 => Some(honest_output()),
		14 => Some(wrong_output()),
		15 => Some(vector("y", &[9.0])),
		_ => None,
	}
}

/// The copycat.
const COPYCAT: AccountId = 17;

/// What an executor does next for `id`: commit if it has not, reveal once it may.
fn act(id: RequestId, account: AccountId, key: &ExecutorPublic, output: &[u8]) {
	let Some(request) = Requests::<Test>::get(id) else { return };
	let Some(index) = request.assigned.iter().position(|a| a.account == account) else { return };
	if request.commitment_of(index as u8).is_none() {
		let _ = commit_outcome(id, key, &out(output));
	} else {
		let _ = reveal_outcome(id, key, &out(output));
	}
}

/// Every honest executor does what it can on every job it has.
fn honest_executors_act(keys: &std::collections::BTreeMap<AccountId, ExecutorPublic>) {
	for account in 10..=13 {
		let jobs: Vec<RequestId> = crate::Assignments::<Test>::iter_key_prefix(account).collect();
		for id in jobs {
			act(id, account, &keys[&account], &honest_output());
		}
	}
}

/// The copycat's move on `id`: commit a copy of someone's commitment, then reveal the first
/// output revealed.
fn copycat_acts(id: RequestId, key: &ExecutorPublic) {
	let Some(request) = Requests::<Test>::get(id) else { return };
	let Some(index) = request.assigned.iter().position(|a| a.account == COPYCAT) else { return };
	match request.commitment_of(index as u8) {
		None => {
			if let Some(copied) = request.commitments.first().map(|c| c.commitment) {
				let message = commitment_message(Inference::genesis_hash(), id, copied);
				let signature = SignedAttestation {
					attestation_key: key.clone(),
					signature: key.sign(&message).unwrap(),
				};
				let _ = submit_commitment(id, copied, signature);
			}
		},
		Some(_) => {
			if let Some(seen) = request.candidates.first() {
				let outcome = seen.outcome.to_outcome();
				let _ = reveal_outcome(id, key, &outcome);
			}
		},
	}
}

fn run(seed: u64, steps: u32) {
	new_test_ext().execute_with(|| {
		let mut rng = Rng(seed);
		AuditProbability::set(sp_runtime::Permill::from_percent(20));
		let models = [vector_model(1, 1), vector_model(2, 2), vector_model(3, 3)];
		let mut keys = std::collections::BTreeMap::new();
		for who in 10..=COPYCAT {
			keys.insert(who, executor(who, &models));
		}
		let issuance = Balances::total_issuance();
		let copycat_wealth = <Balances as Inspect<_>>::total_balance(&COPYCAT);
		let mut honest_bonds: Vec<Balance> =
			(10..=13).map(|who| Executors::<Test>::get(who).unwrap().bond).collect();

		for step in 0..steps {
			match rng.below(100) {
				0..=29 => {
					let who = 1 + rng.below(5);
					let model = *rng.pick(&models).unwrap();
					let input = match rng.below(10) {
						0 => vec![1, 2, 3],
						// An input no executor could run: an axis of size zero.
						1 => vector("x", &[]),
						_ => input(),
					};
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
							if *account == COPYCAT {
								copycat_acts(id, key);
							} else if let Some(output) = answer_of(*account) {
								act(id, *account, key, &output);
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
					// Only the dishonest come and go; honest executors stay and answer.
					let who = 14 + rng.below(4);
					let _ = match rng.below(4) {
						0 => Inference::unregister_executor(RuntimeOrigin::signed(who)),
						1 => Inference::withdraw_bond(RuntimeOrigin::signed(who)),
						2 => Inference::bond_extra(RuntimeOrigin::signed(who), rng.below(2_000)),
						_ if !Executors::<Test>::contains_key(who) => {
							let key = ExecutorPublic::generate_pair(None);
							keys.insert(who, key.clone());
							Inference::register_executor(
								RuntimeOrigin::signed(who),
								key.clone(),
								key_proof(who, &key),
								models.to_vec().try_into().unwrap(),
								MIN_BOND + rng.below(1_000),
							)
						},
						_ => Ok(()),
					};
				},
				_ => {
					next_block();
					honest_executors_act(&keys);
				},
			}
			assert_eq!(Balances::total_issuance(), issuance, "seed {seed}, step {step}");
			for (index, who) in (10..=13).enumerate() {
				let bond = Executors::<Test>::get(who).unwrap().bond;
				assert!(bond >= honest_bonds[index], "seed {seed}, step {step}: {who} lost bond");
				honest_bonds[index] = bond;
			}
			assert!(
				<Balances as Inspect<_>>::total_balance(&COPYCAT) <= copycat_wealth,
				"seed {seed}, step {step}: the copycat earned"
			);
			if let Err(error) = Inference::do_try_state() {
				panic!("seed {seed}, step {step}: {error:?}");
			}
		}
		// Drain everything: every request reaches an end and every escrow is returned.
		for _ in 0..3 * RESPONSE_TIMEOUT + 3 {
			next_block();
			honest_executors_act(&keys);
		}
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

//! Thousands of random calls from several requesters and executors, honest and dishonest,
//! with blocks in between: no call panics, money is never created or destroyed, and every
//! invariant holds after every call.
//!
//! The adversaries: two liars (each with its own wrong output; they also lie as auditors and
//! re-executors), a no-show, a copycat that copies the first commitment it sees and reveals
//! the first output it sees, a Sybil pool (three accounts at the minimum bond, each lying its
//! own way), a late executor that reveals only in the last block before a deadline, a
//! self-challenger (the first liar challenging results finalized on its own wrong output), and
//! requesters sending malformed or unrunnable inputs. Storage deposits are on.
//!
//! After every call: the total issuance is unchanged (no balance is created or destroyed, as
//! slashes go to the protocol account), an honest executor's bond never decreases, the copycat
//! never earns anything, a self-challenge that overturned the
//! self-challenger's own result rewarded it less than it lost (slash plus re-run fees), and every
//! invariant of `do_try_state` holds. At the end: every request ended, every escrow and
//! deposit came back, and every ordinary request on which the honest executors held a
//! majority of the seats stands on the honest output, whatever the Sybils and liars did. (A
//! Sybil or liar alone on a request of redundancy 1 does finalize its lie and earn its fee
//! until a challenge or an audit catches it: redundancy 1 trusts one executor.)

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
/// 15 lie (each its own way) when the dice say so, 16 never answers, 17 copies, 18..=20 are
/// the Sybil pool (each its own lie), 9 answers honestly but late.
fn answer_of(executor: AccountId) -> Option<Vec<u8>> {
	match executor {
		LATE | 10..=13 => Some(honest_output()),
		14 => Some(wrong_output()),
		15 => Some(vector("y", &[9.0])),
		SYBILS_START..=SYBILS_END => Some(vector("y", &[executor as f32, 1.0])),
		_ => None,
	}
}

/// The copycat.
const COPYCAT: AccountId = 17;
/// The self-challenger: the first liar.
const SELF_CHALLENGER: AccountId = 14;
/// The Sybil pool: accounts at the minimum bond.
const SYBILS_START: AccountId = 18;
/// The last Sybil.
const SYBILS_END: AccountId = 20;
/// The executor that answers honestly, but only in the last block it may.
const LATE: AccountId = 9;

/// The late executor commits in the last block commitments are taken and reveals in the last
/// block before the deadline.
fn late_executor_acts(key: &ExecutorPublic) {
	let now = System::block_number();
	let jobs: Vec<RequestId> = crate::Assignments::<Test>::iter_key_prefix(LATE).collect();
	for id in jobs {
		let Some(request) = Requests::<Test>::get(id) else { continue };
		let Some(deadline) = request.status.deadline() else { continue };
		if now + 1 == request.commit_deadline || now + 1 == deadline {
			act(id, LATE, key, &honest_output());
		}
	}
}

/// This block's overturn slashes over `request_id`: the self-challenger's, and everyone's.
fn overturn_slashes(request_id: RequestId) -> (Balance, Balance) {
	System::events()
		.into_iter()
		.fold((0, 0), |(own, all), record| match record.event {
			RuntimeEvent::Inference(crate::Event::ExecutorSlashed {
				executor,
				request_id: slashed_over,
				amount,
				reason: crate::SlashReason::Overturned,
			}) if slashed_over == request_id => {
				(own + if executor == SELF_CHALLENGER { amount } else { 0 }, all + amount)
			},
			_ => (own, all),
		})
}

/// The self-challenger challenges a finalized result its own wrong output made; returns the
/// challenged request.
fn self_challenge(rng: &mut Rng) -> Option<RequestId> {
	let own: Vec<RequestId> = Requests::<Test>::iter()
		.filter(|(_, r)| {
			matches!(r.status, RequestStatus::Finalized { .. })
				&& r.standing_output_hash() == Some(content_hash(&wrong_output()))
				&& r.assigned.iter().any(|a| a.account == SELF_CHALLENGER)
		})
		.map(|(id, _)| id)
		.collect();
	let &id = rng.pick(&own)?;
	Inference::challenge(RuntimeOrigin::signed(SELF_CHALLENGER), id, MIN_CHALLENGE_BOND)
		.ok()
		.map(|_| id)
}

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
				let message = Inference::commitment_message_for(id, &request, copied);
				let signature = SignedAttestation {
					attestation_key: key.clone(),
					signature: key.sign(&message).unwrap(),
				};
				let _ = submit_commitment(id, copied, signature);
			}
		},
		Some(_) => {
			if let Some(outcome) = request.candidates.first().and_then(|c| c.outcome.to_outcome()) {
				let _ = reveal_outcome(id, key, &outcome);
			}
		},
	}
}

fn run(seed: u64, steps: u32) {
	new_test_ext().execute_with(|| {
		let mut rng = Rng(seed);
		AuditProbability::set(sp_runtime::Permill::from_percent(20));
		crate::mock::ByteDeposit::set(1);
		let models = [vector_model(1, 1), vector_model(2, 2), vector_model(3, 3)];
		let mut keys = std::collections::BTreeMap::new();
		for who in (LATE..=COPYCAT).chain(SYBILS_START..=SYBILS_END) {
			keys.insert(who, executor(who, &models));
		}
		let issuance = Balances::total_issuance();
		let copycat_wealth = <Balances as Inspect<_>>::total_balance(&COPYCAT);
		let mut self_challenges: Vec<RequestId> = Vec::new();
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
				65..=66 => {
					self_challenges.extend(self_challenge(&mut rng));
				},
				67..=69 => {
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
					late_executor_acts(&keys[&LATE]);
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
			self_challenges.retain(|id| {
				let challenge = Requests::<Test>::get(id).unwrap().challenge;
				if let crate::ChallengeState::Upheld { rerun, .. } = challenge {
					let (own, all) = overturn_slashes(*id);
					let reward = ChallengeRewardShare::get().mul_floor(all);
					let fees = total_fee(Requests::<Test>::get(rerun).unwrap().redundancy);
					assert!(
						reward < own + fees,
						"seed {seed}, step {step}: overturning its own result paid the liar"
					);
				}
				matches!(challenge, crate::ChallengeState::Open { .. })
			});
			if let Err(error) = Inference::do_try_state() {
				panic!("seed {seed}, step {step}: {error:?}");
			}
		}
		// Drain everything: every request reaches an end and every escrow is returned.
		for _ in 0..3 * RESPONSE_TIMEOUT + CHALLENGE_PERIOD + 3 {
			next_block();
			honest_executors_act(&keys);
			late_executor_acts(&keys[&LATE]);
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
			assert_eq!(held(crate::HoldReason::StorageDeposit, who), 0, "seed {seed}");
		}
		// Where the honest executors (late or not) held a majority of an ordinary request's
		// seats, the outcome that stands is the honest one.
		let honest = content_hash(&honest_output());
		for (id, request) in Requests::<Test>::iter() {
			let honest_seats =
				request.assigned.iter().filter(|a| matches!(a.account, LATE | 10..=13)).count();
			if request.kind == crate::RequestKind::Inference
				&& request.input_hash == content_hash(&input())
				&& honest_seats >= usize::from(request.quorum())
			{
				assert_eq!(
					request.standing_output_hash(),
					Some(honest),
					"seed {seed}: request {id} with an honest majority"
				);
			}
		}
		let accounted: Balance = (1..=20)
			.chain([Inference::protocol_account()])
			.map(|who| <Balances as Inspect<_>>::total_balance(&who))
			.sum();
		assert_eq!(accounted, issuance, "seed {seed}: every unit is in some account");
	});
}

/// Six seeds of 800 calls each, in two tests so the harness runs their halves side by side.
fn run_seeds(seeds: core::ops::RangeInclusive<u64>) {
	for seed in seeds {
		run(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15), 800);
	}
}

#[test]
fn random_call_sequences_keep_issuance_and_invariants() {
	run_seeds(1..=3);
}

#[test]
fn more_random_call_sequences_keep_issuance_and_invariants() {
	run_seeds(4..=6);
}

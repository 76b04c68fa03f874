//! A malformed or hostile ONNX artifact cannot take the executor down: 2,000 corrupted
//! artifacts (bits flipped, bytes overwritten, cut short, spliced) each get a clean answer, an
//! error or an output, never a panic. (An abort or an exhausted memory would end only the
//! embedded executor's child process, which the node restarts; that is tested on real nodes.)

mod common;

use common::*;
use std::panic::{catch_unwind, AssertUnwindSafe};
use verity_executor::{Engine, ExecutionProfile, ModelStore};

/// A small deterministic generator (xorshift64*), so a failure names a reproducible case.
struct Rng(u64);

impl Rng {
	fn next(&mut self) -> u64 {
		self.0 ^= self.0 >> 12;
		self.0 ^= self.0 << 25;
		self.0 ^= self.0 >> 27;
		self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
	}

	fn below(&mut self, n: usize) -> usize {
		(self.next() % n.max(1) as u64) as usize
	}
}

/// One corruption of `original`, chosen by `rng`.
fn mutate(original: &[u8], rng: &mut Rng) -> Vec<u8> {
	let mut bytes = original.to_vec();
	match rng.below(4) {
		0 => {
			for _ in 0..1 + rng.below(8) {
				let at = rng.below(bytes.len());
				bytes[at] ^= 1 << rng.below(8);
			}
		},
		1 => {
			let at = rng.below(bytes.len());
			let len = 1 + rng.below(64).min(bytes.len() - at - 1);
			for byte in &mut bytes[at..at + len] {
				*byte = rng.next() as u8;
			}
		},
		2 => bytes.truncate(rng.below(bytes.len())),
		_ => {
			let from = rng.below(bytes.len());
			let len = 1 + rng.below(256).min(bytes.len() - from - 1);
			let slice = bytes[from..from + len].to_vec();
			let at = rng.below(bytes.len());
			bytes.splice(at..at, slice);
		},
	}
	bytes
}

/// Put the process under the generic profile, once: the profile is set in the process's
/// environment, which threads running side by side must not write at the same time.
fn activate_the_generic_profile() {
	static ACTIVATED: std::sync::Once = std::sync::Once::new();
	ACTIVATED.call_once(|| {
		ExecutionProfile::Generic.activate().expect("the generic profile runs anywhere");
	});
}

/// Feed `count` corruptions of the artifact of `model` to one engine, with `input`.
fn corrupted_artifacts_are_refused_cleanly(model: &str, input: &[u8], count: usize, seed: u64) {
	activate_the_generic_profile();
	let original = std::fs::read(models_dir().join(format!("{model}.onnx"))).unwrap();
	let dir = tempfile::tempdir().unwrap();
	let store = ModelStore::open(dir.path().join("store")).unwrap();
	let engine = Engine::new(store, ExecutionProfile::Generic, 256 << 20);
	let artifact = dir.path().join("artifact.onnx");
	let mut rng = Rng(seed);
	let (mut refused, mut ran) = (0, 0);
	for case in 0..count {
		let bytes = mutate(&original, &mut rng);
		std::fs::write(&artifact, &bytes).unwrap();
		let model_id = engine.store().import(&artifact).expect("the store takes any bytes");
		let outcome = catch_unwind(AssertUnwindSafe(|| engine.infer(&model_id, None, input)));
		match outcome {
			Ok(Ok(_)) => ran += 1,
			Ok(Err(error)) => {
				assert!(!error.to_string().is_empty(), "case {case}: an error says what");
				refused += 1;
			},
			Err(_) => panic!("case {case} (seed {seed}) panicked the engine"),
		}
		std::fs::remove_file(engine.store().path_of(&model_id)).unwrap();
	}
	assert_eq!(refused + ran, count);
	// A corruption that only changes weights still runs (to some output): a third or more
	// being caught is what separates checking from not checking.
	assert!(refused > count / 3, "corruptions are refused: {refused} of {count}");
}

#[test]
fn thousands_of_corrupted_classifiers_each_get_a_clean_answer() {
	// tract is tens of times slower in debug builds; the corruptions are the same, fewer.
	let count = if cfg!(debug_assertions) { 60 } else { 1_500 };
	// Two halves side by side, each with an engine and a seed of its own, so the test takes
	// both cores once the recurrent model's shorter test is done.
	std::thread::scope(|scope| {
		for seed in [0x5eed_0001, 0x5eed_0003] {
			scope.spawn(move || {
				corrupted_artifacts_are_refused_cleanly(
					TEXT_DIRECTION,
					&text_line(),
					count / 2,
					seed,
				)
			});
		}
	});
}

#[test]
fn corrupted_recurrent_models_each_get_a_clean_answer() {
	let count = if cfg!(debug_assertions) { 20 } else { 500 };
	corrupted_artifacts_are_refused_cleanly(VOICE_ACTIVITY, &audio_window(), count, 0x5eed_0002);
}

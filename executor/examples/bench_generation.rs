//! Generation speed of Verity's decoder on one thread, for `scripts/bench-generation.py`:
//! prefill and decode tokens per second, and the time to generate 128 tokens against the time
//! to verify them in one batched pass. Prints one JSON object.
//!
//! `bench_generation <model.gguf> [threads] [new tokens]`

use codec::Encode;
use std::{path::PathBuf, time::Instant};
use verity_executor::generation::Generator;
use verity_primitives::{generation_input, GenerationParams};

fn main() {
	let mut args = std::env::args().skip(1);
	let path = PathBuf::from(
		args.next()
			.expect("usage: bench_generation <model.gguf> [threads] [new tokens]"),
	);
	let threads: usize = args.next().map_or(1, |value| value.parse().expect("a thread count"));
	let new_tokens: u32 = args.next().map_or(128, |value| value.parse().expect("a token count"));
	let generator = Generator::open(&path, threads).expect("a generation model");
	let model = generator.model();

	// Prefill: a 64-token prompt in one pass (logits of the last position only).
	let prompt: Vec<u32> = (0..64).map(|i| 1_000 + i * 37).collect();
	let started = Instant::now();
	let mut cache = model.cache();
	let mut logits = model
		.forward_batch(&prompt, &mut cache, prompt.len() - 1)
		.expect("a pass")
		.pop()
		.unwrap();
	let prefill = prompt.len() as f64 / started.elapsed().as_secs_f64();

	// Decode: 128 greedy tokens one at a time, stops ignored.
	let started = Instant::now();
	for _ in 0..new_tokens {
		let next =
			verity_executor::generation::choose(&logits, &GenerationParams::default(), &[0; 32], 0);
		logits = model.forward(next, &mut cache).expect("a position");
	}
	let decode = f64::from(new_tokens) / started.elapsed().as_secs_f64();

	// A sampled request end to end, then its verification in one batched pass.
	let params = GenerationParams {
		max_new_tokens: new_tokens,
		temperature_milli: 900,
		top_p_milli: 950,
		top_k: 64,
		nonce: 1,
	};
	let input = generation_input(
		b"Write a long story about a lighthouse keeper who finds a message in a bottle.",
		&params,
	);
	let bytes = input.encode();
	let started = Instant::now();
	let generation = generator.generate(&bytes, &input).expect("a generation");
	let generate_seconds = started.elapsed().as_secs_f64();
	let started = Instant::now();
	let verdict = generator.verify(&bytes, &input, &generation).expect("the pass runs");
	let verify_seconds = started.elapsed().as_secs_f64();
	assert_eq!(verdict, Ok(generation.tokens.len()), "an honest generation verifies");
	println!(
		"{}",
		serde_json::json!({
			"threads": threads,
			"kernel_path": format!("{:?}", model.kernel_path()),
			"prefill_tokens_per_second": prefill,
			"decode_tokens_per_second": decode,
			"generated_tokens": generation.tokens.len(),
			"generate_seconds": generate_seconds,
			"verify_seconds": verify_seconds,
		})
	);
}

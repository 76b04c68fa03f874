//! Cold and warm latency of one engine serving many models: generated affine ONNX models
//! (the many-models test's), each fetched from a file on first use, planned and run, within a
//! plan cache of a given budget. Prints one JSON object; `scripts/bench-models.py` runs it and
//! compares with onnxruntime on the same files.
//!
//! `bench_models [--models N] [--cache-mib M] [--out DIR]`: `N` models (120), `M` MiB of plan
//! cache (64), the ONNX files written to `DIR` (a temporary directory) for the comparison.

#[path = "../tests/support/affine.rs"]
mod affine;

use std::time::Instant;
use verity_executor::{Engine, ExecutionProfile, ModelStore};

/// Models whose plans the warm pass runs again: the most recently used, all in the cache.
const WARM_MODELS: usize = 32;
/// Timed runs per model in the warm pass.
const WARM_RUNS: usize = 5;

fn main() -> Result<(), String> {
	let mut models = 120u32;
	let mut cache_mib = 64usize;
	let mut out = None;
	let mut args = std::env::args().skip(1);
	while let Some(flag) = args.next() {
		let mut value = || args.next().ok_or(format!("{flag} needs a value"));
		match flag.as_str() {
			"--models" => models = value()?.parse().map_err(|e| format!("--models: {e}"))?,
			"--cache-mib" => {
				cache_mib = value()?.parse().map_err(|e| format!("--cache-mib: {e}"))?
			},
			"--out" => out = Some(std::path::PathBuf::from(value()?)),
			other => return Err(format!("unknown argument {other}")),
		}
	}
	let scratch = tempfile::tempdir().map_err(|e| format!("a temporary directory: {e}"))?;
	let sources = out.unwrap_or_else(|| scratch.path().join("sources"));
	std::fs::create_dir_all(&sources).map_err(|e| format!("{}: {e}", sources.display()))?;
	let store = ModelStore::open(scratch.path().join("store")).map_err(|e| e.to_string())?;
	let profile = ExecutionProfile::Native;
	profile.activate().map_err(|e| format!("the native profile: {e}"))?;
	let engine = Engine::new(store, profile, cache_mib * 1024 * 1024);
	let input = affine::input();

	let mut entries = Vec::new();
	for index in 0..models {
		let bytes = affine::affine_model(index);
		let path = sources.join(format!("affine-{index}.onnx"));
		std::fs::write(&path, &bytes).map_err(|e| format!("{}: {e}", path.display()))?;
		entries
			.push((verity_primitives::content_hash(&bytes), format!("file://{}", path.display())));
	}
	let run = |index: usize, uri: Option<&str>| -> Result<f64, String> {
		let started = Instant::now();
		let output = engine.infer(&entries[index].0, uri, &input).map_err(|e| e.to_string())?;
		let elapsed = started.elapsed().as_secs_f64() * 1000.0;
		if affine::output_values(&output.output) != affine::expected(index as u32) {
			return Err(format!("model {index} answered wrongly"));
		}
		Ok(elapsed)
	};

	// First use: fetched from its file into the store, planned, run.
	let cold = (0..entries.len())
		.map(|index| run(index, Some(&entries[index].1)))
		.collect::<Result<Vec<_>, _>>()?;
	let (plans_kept, cached_bytes) = engine.cached_plans();
	// In the same order again: the least recently used plan is always the next one, so each
	// was evicted and is planned again from the store.
	let replanned = (0..entries.len())
		.map(|index| run(index, None))
		.collect::<Result<Vec<_>, _>>()?;
	// The most recently used, whose plans the cache holds.
	let warm_from = entries.len().saturating_sub(WARM_MODELS.min(plans_kept));
	let mut warm = Vec::new();
	for _ in 0..WARM_RUNS {
		for index in (warm_from..entries.len()).rev() {
			warm.push(run(index, None)?);
		}
	}
	println!(
		"{{\"models\": {models}, \"cache_mib\": {cache_mib}, \"profile\": \"{profile}\", \
		 \"plans_kept\": {plans_kept}, \"cached_mib\": {:.1}, \"sources\": \"{}\", \
		 \"cold_ms\": {}, \"replanned_ms\": {}, \"warm_ms\": {}, \"warm_models\": {}}}",
		cached_bytes as f64 / (1024.0 * 1024.0),
		sources.display(),
		json_list(&cold),
		json_list(&replanned),
		json_list(&warm),
		entries.len() - warm_from,
	);
	Ok(())
}

/// `[a, b, …]` with three decimals.
fn json_list(values: &[f64]) -> String {
	let items: Vec<String> = values.iter().map(|value| format!("{value:.3}")).collect();
	format!("[{}]", items.join(", "))
}

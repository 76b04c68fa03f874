//! The verifier a browser runs: the executor's portable path ([`verity_executor::planning`])
//! and Verity's decoder, compiled to WebAssembly with a small C-like interface for a page's
//! script (no generated bindings).
//!
//! The script copies bytes in with [`verifier_alloc`], calls a function, and reads its result
//! from [`verifier_result_ptr`] / [`verifier_result_len`]; every call returns 0 for success
//! and 1 for failure, the result then being a UTF-8 explanation. What each function computes
//! is in [`checks`], which is plain Rust and tested natively.

pub mod checks;
#[cfg(not(target_family = "wasm"))]
pub mod samples;

use std::cell::RefCell;

thread_local! {
	/// The last call's result bytes.
	static RESULT: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Keep `result` for the script and return its status code.
fn answer(result: Result<Vec<u8>, String>) -> u32 {
	let (status, bytes) = match result {
		Ok(bytes) => (0, bytes),
		Err(message) => (1, message.into_bytes()),
	};
	RESULT.with(|kept| *kept.borrow_mut() = bytes);
	status
}

/// A buffer of `len` bytes for the script to fill; handed back by the call it is passed to
/// (or to [`verifier_free`]).
#[no_mangle]
pub extern "C" fn verifier_alloc(len: usize) -> *mut u8 {
	let mut buffer = Vec::<u8>::with_capacity(len);
	let pointer = buffer.as_mut_ptr();
	std::mem::forget(buffer);
	pointer
}

/// Free a buffer from [`verifier_alloc`] that no call took.
///
/// # Safety
/// `pointer` and `len` must come from one [`verifier_alloc`] call, not yet freed or passed on.
#[no_mangle]
pub unsafe extern "C" fn verifier_free(pointer: *mut u8, len: usize) {
	drop(Vec::from_raw_parts(pointer, 0, len));
}

/// Where the last call's result starts.
#[no_mangle]
pub extern "C" fn verifier_result_ptr() -> *const u8 {
	RESULT.with(|kept| kept.borrow().as_ptr())
}

/// How long the last call's result is.
#[no_mangle]
pub extern "C" fn verifier_result_len() -> usize {
	RESULT.with(|kept| kept.borrow().len())
}

/// The bytes of an allocated buffer, taken over (freed when done).
///
/// # Safety
/// As [`verifier_free`]; the buffer must be filled up to `len`.
unsafe fn take(pointer: *mut u8, len: usize) -> Vec<u8> {
	Vec::from_raw_parts(pointer, len, len)
}

/// blake2-256 of a buffer (taken over): the result is the 32-byte hash.
///
/// # Safety
/// As [`take`].
#[no_mangle]
pub unsafe extern "C" fn verifier_hash(pointer: *mut u8, len: usize) -> u32 {
	answer(Ok(checks::hash(&take(pointer, len)).to_vec()))
}

/// The hash of a rejection named `name` (UTF-8, taken over), as results record it.
///
/// # Safety
/// As [`take`].
#[no_mangle]
pub unsafe extern "C" fn verifier_rejection_hash(name: *mut u8, name_len: usize) -> u32 {
	answer(checks::rejection_hash(&take(name, name_len)).map(|hash| hash.to_vec()))
}

/// The bytes an executor signs for an attestation: every argument a buffer taken over (the
/// hashes 32 bytes each, the profile its id's bytes).
///
/// # Safety
/// As [`take`], for each buffer.
#[no_mangle]
pub unsafe extern "C" fn verifier_attestation_payload(
	genesis: *mut u8,
	request_id: u64,
	model: *mut u8,
	profile: *mut u8,
	profile_len: usize,
	input_hash: *mut u8,
	output_hash: *mut u8,
) -> u32 {
	answer(checks::attestation_payload(
		&take(genesis, 32),
		request_id,
		&take(model, 32),
		&take(profile, profile_len),
		&take(input_hash, 32),
		&take(output_hash, 32),
	))
}

/// Run the model `artifact` (taken over; its id `model`, 32 bytes) on the canonical `input`:
/// the result is the canonical output encoding.
///
/// # Safety
/// As [`take`], for each buffer.
#[no_mangle]
pub unsafe extern "C" fn verifier_run(
	artifact: *mut u8,
	artifact_len: usize,
	model: *mut u8,
	input: *mut u8,
	input_len: usize,
) -> u32 {
	answer(checks::run(take(artifact, artifact_len), &take(model, 32), &take(input, input_len)))
}

/// Re-check a result: run `artifact` on `input` and compare with `output` (a generation's
/// tokens are re-checked in one batched pass instead), or, when `rejection` is set, the
/// rejection named by `output`'s bytes. Success means the result holds; the result text says
/// what was compared.
///
/// # Safety
/// As [`take`], for each buffer.
#[no_mangle]
pub unsafe extern "C" fn verifier_recheck(
	artifact: *mut u8,
	artifact_len: usize,
	model: *mut u8,
	input: *mut u8,
	input_len: usize,
	output: *mut u8,
	output_len: usize,
	rejection: u32,
) -> u32 {
	let outcome = take(output, output_len);
	let verdict = checks::recheck(
		take(artifact, artifact_len),
		&take(model, 32),
		&take(input, input_len),
		if rejection == 0 {
			checks::Claim::Output(&outcome)
		} else {
			checks::Claim::Rejection(&outcome)
		},
	);
	answer(verdict.map(String::into_bytes))
}

/// blake2-256 of a language model's logits after each position of `prompt` (UTF-8, taken
/// over), one position at a time and in one batched pass: the result is the two 32-byte
/// hashes (see [`checks::prompt_logits_hashes`]).
///
/// # Safety
/// As [`take`], for each buffer.
#[no_mangle]
pub unsafe extern "C" fn verifier_prompt_logits_hashes(
	artifact: *mut u8,
	artifact_len: usize,
	prompt: *mut u8,
	prompt_len: usize,
) -> u32 {
	let prompt = String::from_utf8(take(prompt, prompt_len))
		.map_err(|_| "the prompt is not UTF-8".to_string());
	answer(prompt.and_then(|prompt| {
		checks::prompt_logits_hashes(take(artifact, artifact_len), &prompt)
			.map(|hashes| hashes.concat())
	}))
}

/// The decoder's kernels in this build against its plain Rust integer sums, bit for bit, on
/// random blocks drawn from `seed` (see [`verity_llm::kernels::check_kernel_paths`]): the
/// result is the number of outputs compared, as 4 little-endian bytes.
#[no_mangle]
pub extern "C" fn verifier_check_kernels(seed: u64) -> u32 {
	answer(
		verity_llm::kernels::check_kernel_paths(seed)
			.map(|compared| (compared as u32).to_le_bytes().to_vec()),
	)
}

/// Randomness for the libraries that ask for it (hash seeds): the page's `crypto`, through
/// the import `env.random_fill`.
#[cfg(target_family = "wasm")]
mod randomness {
	extern "C" {
		/// Fill `len` bytes at `dest` with random bytes (`crypto.getRandomValues`).
		fn random_fill(dest: *mut u8, len: usize);
	}

	/// getrandom's custom backend.
	///
	/// # Safety
	/// `dest` must be valid for `len` bytes.
	#[no_mangle]
	unsafe extern "Rust" fn __getrandom_v03_custom(
		dest: *mut u8,
		len: usize,
	) -> Result<(), getrandom::Error> {
		random_fill(dest, len);
		Ok(())
	}
}

// The WebAssembly verifier's interface, for a page and for Node.js alike: bytes in, bytes out.
// Every function copies its arguments into the module's memory, calls the export, and returns
// the result bytes, or throws an Error carrying the module's explanation.

/**
 * Instantiate the verifier from its bytes (an ArrayBuffer or typed array), a Response, or a
 * promise of either (such as `fetch("verifier.wasm")`).
 */
export async function loadVerifier(source) {
	let memory = null;
	const imports = {
		env: {
			// Hash seeds for the libraries that want them: the platform's randomness.
			random_fill(pointer, length) {
				for (let at = 0; at < length; at += 65536) {
					const chunk = Math.min(65536, length - at);
					globalThis.crypto.getRandomValues(new Uint8Array(memory.buffer, pointer + at, chunk));
				}
			},
		},
	};
	source = await source;
	const { instance } = source instanceof Response
		? await WebAssembly.instantiateStreaming(source, imports)
		: await WebAssembly.instantiate(source, imports);
	const api = instance.exports;
	memory = api.memory;

	/** Copy `bytes` into a buffer the module takes over. */
	const pass = (bytes) => {
		const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
		const pointer = api.verifier_alloc(view.length);
		new Uint8Array(memory.buffer, pointer, view.length).set(view);
		return [pointer, view.length];
	};
	/** The last call's result: its bytes, or an Error with its explanation. */
	const result = (status) => {
		const bytes = new Uint8Array(memory.buffer, api.verifier_result_ptr(), api.verifier_result_len()).slice();
		if (status !== 0) {
			throw new Error(new TextDecoder().decode(bytes));
		}
		return bytes;
	};
	const text = (bytes) => new TextDecoder().decode(bytes);

	return {
		/** blake2-256 of `bytes` (32 bytes). */
		hash(bytes) {
			return result(api.verifier_hash(...pass(bytes)));
		},
		/** The outcome hash of the rejection called `name` (e.g. "ModelError"). */
		rejectionHash(name) {
			return result(api.verifier_rejection_hash(...pass(new TextEncoder().encode(name))));
		},
		/** The bytes an executor signs when it attests `outputHash` for a request. */
		attestationPayload(genesis, requestId, model, profile, inputHash, outputHash) {
			return result(api.verifier_attestation_payload(
				pass(genesis)[0], BigInt(requestId), pass(model)[0], ...pass(profile),
				pass(inputHash)[0], pass(outputHash)[0],
			));
		},
		/** The canonical output of the model `artifact` (id `model`) on the canonical `input`. */
		run(artifact, model, input) {
			return result(api.verifier_run(...pass(artifact), pass(model)[0], ...pass(input)));
		},
		/**
		 * The decoder's kernels in this build against its plain Rust code on random blocks
		 * from `seed`: the number of outputs compared; throws with the first difference.
		 */
		checkKernels(seed) {
			return new DataView(result(api.verifier_check_kernels(BigInt(seed))).buffer).getUint32(0, true);
		},
		/**
		 * blake2-256 of a language model's logits after each position of `prompt`, one position
		 * at a time and in one batched pass: `[hash, hash]`, 32 bytes each.
		 */
		promptLogitsHashes(artifact, prompt) {
			const bytes = result(api.verifier_prompt_logits_hashes(
				...pass(artifact), ...pass(new TextEncoder().encode(prompt)),
			));
			return [bytes.slice(0, 32), bytes.slice(32)];
		},
		/**
		 * Re-check a result: `claim` is `{ output: bytes }` or `{ rejection: "Name" }`. Returns
		 * what matched; throws with what did not.
		 */
		recheck(artifact, model, input, claim) {
			const rejection = claim.rejection !== undefined;
			const outcome = rejection ? new TextEncoder().encode(claim.rejection) : claim.output;
			return text(result(api.verifier_recheck(
				...pass(artifact), pass(model)[0], ...pass(input), ...pass(outcome), rejection ? 1 : 0,
			)));
		},
	};
}

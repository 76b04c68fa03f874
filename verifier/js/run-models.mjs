// Run models in the WebAssembly verifier from the command line, for the byte-identity test:
//   node run-models.mjs [--repeat N] [--warmup-ms M] <verifier.wasm> <artifact> <model id hex> <input file> [...]
// (three arguments per run). Prints one JSON line per run: {"output": hex, "first": the first
// run's milliseconds, "milliseconds": the fastest of N runs after M milliseconds of warm-up
// runs, planning included in each} or {"error": text}. The engine compiles the module's
// functions quickly at first and optimizes the busy ones while they run, so the first runs are
// slower than later ones; the warm-up lets it finish.
//   node run-models.mjs --logits <prompt> <verifier.wasm> <GGUF artifact>
// prints {"logits": [hex, hex]}: blake2-256 of a language model's logits after each position
// of the prompt, one position at a time and in one batched pass.
//   node run-models.mjs --check-kernels <seeds> <verifier.wasm>
// prints {"compared": n}: the decoder's kernels against its plain Rust code on random blocks
// from seeds 1 to <seeds>, or {"error": the first difference}.

import { readFile } from "node:fs/promises";
import { loadVerifier } from "./verifier.mjs";

const args = process.argv.slice(2);
/** The value after flag `name` (removed from `args`), or `fallback`. */
const option = (name, fallback) => {
	const at = args.indexOf(name);
	return at < 0 ? fallback : args.splice(at, 2)[1];
};
const repeat = Number(option("--repeat", 1));
const warmupMs = Number(option("--warmup-ms", 0));
const checkSeeds = Number(option("--check-kernels", 0));
const logitsPrompt = option("--logits", null);
const [wasmPath, ...runs] = args;
if (!wasmPath || (checkSeeds === 0 && logitsPrompt === null && runs.length % 3 !== 0)) {
	console.error("usage: run-models.mjs <verifier.wasm> (<artifact> <model id hex> <input file>)...");
	process.exit(2);
}
const verifier = await loadVerifier(await readFile(wasmPath));
/** Print `answer()`'s JSON, or the error it throws as `{"error": ...}`. */
const report = async (answer) => {
	try {
		console.log(JSON.stringify(await answer()));
	} catch (error) {
		console.log(JSON.stringify({ error: error.message }));
	}
};
if (checkSeeds > 0) {
	await report(() => {
		let compared = 0;
		for (let seed = 1; seed <= checkSeeds; seed++) compared += verifier.checkKernels(seed);
		return { compared };
	});
	process.exit(0);
}
if (logitsPrompt !== null) {
	await report(async () => {
		const hashes = verifier.promptLogitsHashes(await readFile(runs[0]), logitsPrompt);
		return { logits: hashes.map((hash) => Buffer.from(hash).toString("hex")) };
	});
	process.exit(0);
}
const fromHex = (hex) => Uint8Array.from(hex.replace(/^0x/, "").match(/../g), (pair) => parseInt(pair, 16));
const toHex = (bytes) => Buffer.from(bytes).toString("hex");
for (let at = 0; at < runs.length; at += 3) {
	const [artifact, model, input] = [await readFile(runs[at]), fromHex(runs[at + 1]), await readFile(runs[at + 2])];
	await report(() => {
		const started = performance.now();
		let output = verifier.run(artifact, model, input);
		const first = performance.now() - started;
		while (performance.now() - started < warmupMs) verifier.run(artifact, model, input);
		// Without a warm-up, the first run is one of the N.
		let fastest = warmupMs > 0 ? Infinity : first;
		for (let run = warmupMs > 0 ? 0 : 1; run < repeat; run++) {
			const started = performance.now();
			output = verifier.run(artifact, model, input);
			fastest = Math.min(fastest, performance.now() - started);
		}
		return { output: toHex(output), first, milliseconds: fastest };
	});
}

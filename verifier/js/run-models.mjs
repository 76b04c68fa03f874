// Run models in the WebAssembly verifier from the command line, for the byte-identity test:
//   node run-models.mjs [--repeat N] <verifier.wasm> <artifact> <model id hex> <input file> [...]
// (three arguments per run). Prints one JSON line per run: {"output": hex, "milliseconds": the
// fastest of N runs, planning included} or {"error": text}.

import { readFile } from "node:fs/promises";
import { loadVerifier } from "./verifier.mjs";

const args = process.argv.slice(2);
const repeat = args[0] === "--repeat" ? Number(args.splice(0, 2)[1]) : 1;
const [wasmPath, ...runs] = args;
if (!wasmPath || runs.length % 3 !== 0) {
	console.error("usage: run-models.mjs <verifier.wasm> (<artifact> <model id hex> <input file>)...");
	process.exit(2);
}
const verifier = await loadVerifier(await readFile(wasmPath));
const fromHex = (hex) => Uint8Array.from(hex.replace(/^0x/, "").match(/../g), (pair) => parseInt(pair, 16));
const toHex = (bytes) => Buffer.from(bytes).toString("hex");
for (let at = 0; at < runs.length; at += 3) {
	const [artifact, model, input] = [await readFile(runs[at]), fromHex(runs[at + 1]), await readFile(runs[at + 2])];
	try {
		let output = null;
		let fastest = Infinity;
		for (let run = 0; run < repeat; run++) {
			const started = performance.now();
			output = verifier.run(artifact, model, input);
			fastest = Math.min(fastest, performance.now() - started);
		}
		console.log(JSON.stringify({ output: toHex(output), milliseconds: fastest }));
	} catch (error) {
		console.log(JSON.stringify({ error: error.message }));
	}
}

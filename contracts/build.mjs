// Compiles the contracts with solc-js (the npm `solc` package, no download) to EVM bytecode
// for pallet-revive, and writes one JSON per contract ({ abi, bytecode }) to the output
// directory (default `$CARGO_TARGET_DIR/contracts`). Usage: node contracts/build.mjs [out-dir]
import { readFileSync, writeFileSync, mkdirSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import solc from 'solc';

const here = dirname(fileURLToPath(import.meta.url));
const target = process.env.CARGO_TARGET_DIR ?? join(process.env.HOME, '.cache/verity/target');
const out = resolve(process.argv[2] ?? join(target, 'contracts'));

const sources = {};
for (const dir of ['src', 'test']) {
	for (const file of readdirSync(join(here, dir)).filter((name) => name.endsWith('.sol'))) {
		const path = join(dir, file);
		sources[path] = { content: readFileSync(join(here, path), 'utf8') };
	}
}

const input = {
	language: 'Solidity',
	sources,
	settings: {
		// pallet-revive's EVM implements Cancun.
		evmVersion: 'cancun',
		optimizer: { enabled: true, runs: 200 },
		outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object'] } },
	},
};

function findImports(path) {
	try {
		return { contents: readFileSync(join(here, path), 'utf8') };
	} catch (error) {
		return { error: `import ${path} not found: ${error.message}` };
	}
}

const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));
const errors = (output.errors ?? []).filter((entry) => entry.severity === 'error');
for (const entry of output.errors ?? []) console.error(entry.formattedMessage);
if (errors.length > 0) process.exit(1);

mkdirSync(out, { recursive: true });
let written = 0;
for (const [file, contracts] of Object.entries(output.contracts)) {
	for (const [name, artifact] of Object.entries(contracts)) {
		const bytecode = artifact.evm.bytecode.object;
		if (!bytecode) continue; // interfaces
		writeFileSync(
			join(out, `${name}.json`),
			JSON.stringify({ source: file, abi: artifact.abi, bytecode: `0x${bytecode}` }, null, '\t'),
		);
		written += 1;
	}
}
console.log(`compiled ${written} contracts with solc ${solc.version()} into ${relative(process.cwd(), out) || out}`);

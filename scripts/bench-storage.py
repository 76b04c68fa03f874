#!/usr/bin/env python3
"""The database weights the runtime charges, measured on a chain state the size of a busy chain's.

A storage access costs more the deeper the state's trie, so measuring on a fresh development
chain (a hundred keys) would understate it. This script exports the `local` chain specification,
adds `--accounts` funded accounts to its genesis (200,000 by default: a trie as deep as a chain
with hundreds of thousands of keys), and runs the node's `benchmark storage` on that state in
ParityDB, the node's database. Writes are measured in batches of `--batch-size` keys, about what
one busy block writes, amortised per key; reads one key at a time. The weights it writes
(`runtime/src/db_weights.rs`) are the averages multiplied by `--mul` (1 by default, the SDK's
own default: `bench-capacity` prints how much of a block's weight its authors really spend, the
check that the charge stays above the cost).

Usage: bench-storage.py NODE [--accounts 200000] [--batch-size 1000] [--mul 1]
"""

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile

BASE58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz'
# The generic Substrate SS58 prefix, the runtime's.
SS58_PREFIX = 42
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def base58(data: bytes) -> str:
	number = int.from_bytes(data, 'big')
	text = ''
	while number:
		number, digit = divmod(number, 58)
		text = BASE58[digit] + text
	zeros = len(data) - len(data.lstrip(b'\0'))
	return '1' * zeros + text


def ss58(public: bytes) -> str:
	"""The SS58 address of a 32-byte account id."""
	body = bytes([SS58_PREFIX]) + public
	checksum = hashlib.blake2b(b'SS58PRE' + body, digest_size=64).digest()[:2]
	return base58(body + checksum)


def account(index: int) -> str:
	"""The address of the `index`th generated account (deterministic, owned by nobody)."""
	return ss58(hashlib.blake2b(b'verity/bench-storage' + index.to_bytes(8, 'little'), digest_size=32).digest())


def main() -> int:
	parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
	parser.add_argument('node', help='the verity-node binary, built with the bench-cli feature')
	parser.add_argument('--accounts', type=int, default=200_000)
	parser.add_argument('--batch-size', type=int, default=1000)
	parser.add_argument('--mul', type=float, default=1.0)
	parser.add_argument('--output', default=os.path.join(ROOT, 'runtime', 'src', 'db_weights.rs'))
	args = parser.parse_args()

	if not os.access(args.node, os.X_OK):
		print(f'bench-storage: {args.node} is not an executable node binary (run `make bench-storage`)', file=sys.stderr)
		return 2
	with tempfile.TemporaryDirectory(prefix='verity-storage-') as work:
		exported = subprocess.run(
			[args.node, 'export-chain-spec', '--chain', 'local'], capture_output=True, text=True)
		if exported.returncode != 0:
			print(f'bench-storage: exporting the local chain spec failed: {exported.stderr.strip()}', file=sys.stderr)
			return 1
		spec = json.loads(exported.stdout)
		patch = spec['genesis']['runtimeGenesis']['patch']
		balance = 10 ** 15
		patch['balances']['balances'] += [[account(i), balance] for i in range(args.accounts)]
		spec_path = os.path.join(work, 'spec.json')
		with open(spec_path, 'w') as spec_file:
			json.dump(spec, spec_file)
		print(f'benchmarking storage on the local chain with {args.accounts} more accounts', flush=True)
		benchmark = subprocess.run([
			args.node, 'benchmark', 'storage',
			'--chain', spec_path,
			'--base-path', os.path.join(work, 'db'),
			'--db', 'paritydb',
			'--state-version', '1',
			# A standalone chain records no proofs while importing blocks.
			'--disable-pov-recorder',
			'--batch-size', str(args.batch_size),
			'--mul', str(args.mul),
			'--header', os.path.join(ROOT, 'scripts', 'weights-header.txt'),
			'--template-path', os.path.join(ROOT, 'scripts', 'db-weights-template.hbs'),
			'--weight-path', args.output,
		])
		if benchmark.returncode != 0:
			print(
				f'bench-storage: `benchmark storage` failed (exit {benchmark.returncode}); the node '
				'needs the benchmark CLI (`--features verity-node/bench-cli`, which `make bench-storage` builds)',
				file=sys.stderr)
			return 1
	return 0


if __name__ == '__main__':
	sys.exit(main())

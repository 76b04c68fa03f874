// Capacity of a local Verity network under a steady load, measured from a generic client.
//
// Starts three validators (`--chain local`: Alice, Bob and Charlie, each with its embedded
// executor; the demo models run with redundancy 3), then, for every new best block, submits
// `--rate` `Inference.request_inference` calls for silero-vad through @polkadot/api, for
// `--blocks` blocks (signed before the load starts, so the client's signing does not take the
// validators' cores). Finalized blocks are read back and the script prints:
//
// - requests finalized per block, sustained (mean and median over the load window, after its
//   first three blocks), overall (all the load finalized, over the blocks from the load's first
//   to the last finalization) and peak;
// - latency in blocks from the block that included a request to the block that finalized it
//   (p50, p99);
// - where the latency goes, stage by stage (p50 over the finalized requests, in blocks):
//   inclusion to assignment (the chain's queue), assignment to the last commitment,
//   the last commitment to the first reveal, the first reveal to finalization;
// - requests failed (refused by the pool, by reason; dropped before inclusion; failed in a
//   block, expired, unassignable) and lost (included but never ended), and executors slashed
//   (by reason: under load an honest executor that cannot get its answers into blocks in time
//   is slashed as missing);
// - CPU use of the three nodes and their executors, in cores, over load and drain; and the
//   share of the whole machine busy while the load was sent (the client included);
// - how much of a block's weight its author really spent: for the blocks of the load window,
//   the weight the block was charged (`System.BlockWeight`, all classes) against the time its
//   author took to build it (the node's log), so a reader sees how far the weights stand above
//   the cost they bound.
//
// Usage: node bench-capacity.mjs --node PATH [--rate 300] [--blocks 20] [--drain-blocks 30]
//        [--keep-logs] (keep the validators' base directory, their logs included)
//        [--trace] (print each finalized block's flow: requests, assignments, the queue,
//        commitments and reveals by executor, settlements, weight charged)

import { ApiPromise, WsProvider } from '@polkadot/api';
import { Keyring } from '@polkadot/keyring';
import { cryptoWaitReady } from '@polkadot/util-crypto';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, openSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const SILERO_VAD = '0x5f48eef72eea99cb43e6a018c722c207e8226718a617cc4bb6b94b2916297256';
const ALICE_NODE_KEY = '0000000000000000000000000000000000000000000000000000000000000001';
const ALICE_PEER_ID = '12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp';
const MAX_FEE = (2n ** 128n - 1n).toString();
const SENDERS = ['Alice', 'Bob', 'Charlie', 'Dave', 'Eve', 'Ferdie'].flatMap((name) => [
	`//${name}`,
	`//${name}//stash`,
]);

function options() {
	const args = process.argv.slice(2);
	const value = (flag, fallback) => {
		const at = args.indexOf(flag);
		return at >= 0 ? args[at + 1] : fallback;
	};
	const node = value('--node');
	if (!node) {
		throw new Error('--node PATH (the verity-node binary) is required');
	}
	return {
		node,
		rate: Number(value('--rate', '300')),
		blocks: Number(value('--blocks', '20')),
		drainBlocks: Number(value('--drain-blocks', '30')),
		keepLogs: args.includes('--keep-logs'),
		trace: args.includes('--trace'),
	};
}

// SCALE compact encoding of a length.
function compact(n) {
	if (n < 1 << 6) return Buffer.from([n << 2]);
	if (n < 1 << 14) {
		const b = Buffer.alloc(2);
		b.writeUInt16LE((n << 2) | 1);
		return b;
	}
	const b = Buffer.alloc(4);
	b.writeUInt32LE(((n << 2) | 2) >>> 0);
	return b;
}

// The canonical encoding of one f32 tensor (`DType::F32` is variant 0).
function f32Tensor(name, shape, values) {
	const data = Buffer.alloc(values.length * 4);
	values.forEach((v, i) => data.writeFloatLE(v, i * 4));
	const dims = Buffer.alloc(shape.length * 4);
	shape.forEach((d, i) => dims.writeUInt32LE(d, i * 4));
	const nameBytes = Buffer.from(name, 'utf8');
	return Buffer.concat([
		compact(nameBytes.length), nameBytes,
		Buffer.from([0]),
		compact(shape.length), dims,
		compact(data.length), data,
	]);
}

// A 576-sample window (a tone whose pitch depends on `seed`) and a zero state: silero-vad's
// input.
function vadInput(seed) {
	const samples = Array.from({ length: 576 }, (_, n) =>
		0.3 * Math.sin((2 * Math.PI * (200 + (seed % 800)) * n) / 16000));
	const tensors = [
		f32Tensor('input', [1, 576], samples),
		f32Tensor('state', [2, 1, 128], new Array(256).fill(0)),
	];
	return '0x' + Buffer.concat([compact(tensors.length), ...tensors]).toString('hex');
}

// A progress line on stderr.
function progress(line) {
	console.error(`bench-capacity: ${line}`);
}

function freePort() {
	return new Promise((resolve) => {
		const server = createServer();
		server.listen(0, '127.0.0.1', () => {
			const { port } = server.address();
			server.close(() => resolve(port));
		});
	});
}

async function startValidator(nodeBinary, base, name, bootPort) {
	const ports = { p2p: await freePort(), rpc: await freePort() };
	const args = [
		'--chain', 'local', `--${name}`, '--executor', '--allow-private-ip',
		'--base-path', join(base, name),
		'--port', String(ports.p2p), '--rpc-port', String(ports.rpc),
		'--no-prometheus', '--no-mdns', '--no-telemetry', '-lruntime::inference=debug',
		'--pool-limit', '100000', '--pool-kbytes', '2000000',
	];
	if (bootPort) {
		args.push('--bootnodes', `/ip4/127.0.0.1/tcp/${bootPort}/p2p/${ALICE_PEER_ID}`,
			'--unsafe-force-node-key-generation');
	} else {
		args.push('--node-key', ALICE_NODE_KEY);
	}
	const log = openSync(join(base, `${name}.log`), 'w');
	const child = spawn(nodeBinary, args, { stdio: ['ignore', 'ignore', log] });
	return { name, child, ports };
}

// CPU seconds used so far by `pid` and its descendants (the executors are children).
function cpuSeconds(pid) {
	let ticks = 0;
	const visit = (p) => {
		try {
			const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
			const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
			ticks += Number(fields[11]) + Number(fields[12]);
			for (const task of readdirSync(`/proc/${p}/task`)) {
				const children = readFileSync(`/proc/${p}/task/${task}/children`, 'utf8').trim();
				for (const child of children ? children.split(' ') : []) visit(child);
			}
		} catch {
			// The process ended.
		}
	};
	visit(pid);
	return ticks / 100;
}

// The machine's CPU time so far, busy and all, in clock ticks (/proc/stat): everything counts,
// the client included.
function machineTicks() {
	const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
	const all = fields.reduce((a, b) => a + b, 0);
	// idle and iowait
	return { busy: all - fields[3] - fields[4], all };
}

// Why the pool refused a request: the inference pallet's custom codes by name, else the
// node's message.
function refusalReason(error) {
	const message = String(error && error.message ? error.message : error);
	const code = /custom error: (\d+)/i.exec(message);
	if (code && code[1] === '1') return 'queue_full';
	if (code && code[1] === '2') return 'too_few_executors';
	return message.slice(0, 80);
}

function percentile(sorted, p) {
	if (sorted.length === 0) return null;
	return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

// The blocks of the load window as their authors built them: the weight each was charged (ms of
// compute) against the milliseconds its author's log says it took to prepare, which includes
// executing every transaction and the hooks and computing the state root.
function authoringReport(base, validators, chargedMs, loadStart, loadEnd) {
	const prepared = new Map(); // block -> ms
	const line = /Prepared block for proposing at (\d+) \((\d+) ms\)/;
	for (const { name } of validators) {
		for (const text of readFileSync(join(base, `${name}.log`), 'utf8').split('\n')) {
			const found = line.exec(text);
			if (found) prepared.set(Number(found[1]), Number(found[2]));
		}
	}
	const blocks = [...prepared.keys()]
		.filter((number) => number >= loadStart && number <= loadEnd && chargedMs.has(number));
	if (blocks.length === 0) return null;
	const sorted = (values) => values.sort((a, b) => a - b);
	const charged = sorted(blocks.map((number) => chargedMs.get(number)));
	const real = sorted(blocks.map((number) => prepared.get(number)));
	const ratios = sorted(blocks.map((number) => chargedMs.get(number) / Math.max(1, prepared.get(number))));
	return {
		blocks: blocks.length,
		charged_ms: { p50: Math.round(percentile(charged, 50)), max: Math.round(charged[charged.length - 1]) },
		prepared_ms: { p50: percentile(real, 50), max: real[real.length - 1] },
		charged_over_prepared: { min: Number(ratios[0].toFixed(1)), p50: Number(percentile(ratios, 50).toFixed(1)) },
	};
}

// An API client for the node at `port`, retrying every second until the node is up.
async function connect(port) {
	const provider = new WsProvider(`ws://127.0.0.1:${port}`, 1000);
	return await ApiPromise.create({ provider, noInitWarn: true });
}

async function main() {
	const opts = options();
	await cryptoWaitReady();
	const base = mkdtempSync(join(tmpdir(), 'verity-capacity-'));
	const alice = await startValidator(opts.node, base, 'alice');
	progress(`starting three validators in ${base}`);
	const others = [
		await startValidator(opts.node, base, 'bob', alice.ports.p2p),
		await startValidator(opts.node, base, 'charlie', alice.ports.p2p),
	];
	const validators = [alice, ...others];
	const stop = () => {
		for (const v of validators) v.child.kill('SIGKILL');
		if (opts.keepLogs) progress(`the validators' logs stay in ${base}`);
		else rmSync(base, { recursive: true, force: true });
	};
	process.on('exit', stop);

	try {
		const api = await connect(alice.ports.rpc);
		progress('connected to Alice; waiting for finality');
		const keyring = new Keyring({ type: 'sr25519' });
		const senders = SENDERS.map((uri) => keyring.addFromUri(uri));
		const senderAddresses = new Set(senders.map((sender) => sender.address));
		const nonces = new Map();
		for (const sender of senders) {
			nonces.set(sender.address, (await api.rpc.system.accountNextIndex(sender.address)).toNumber());
		}
		// Wait until the network finalizes, so the load meets a settled network.
		progress('network up');
		await new Promise((resolve) => {
			const unsubscribe = api.rpc.chain.subscribeFinalizedHeads((header) => {
				if (header.number.toNumber() >= 2) {
					unsubscribe.then((u) => u());
					resolve();
				}
			});
		});

		const included = new Map(); // request id -> block
		const ended = new Map(); // request id -> { block, how }
		const finalizedPerBlock = new Map();
		let submitted = 0;
		let refused = 0;
		const refusedBy = new Map();
		let failedInBlock = 0;
		const failures = new Map(); // dispatch error name -> count
		// Per request: the block of its assignment, of its last commitment, of its first reveal.
		const assignedAt = new Map();
		const lastCommitAt = new Map();
		const firstRevealAt = new Map();
		const slashes = new Map(); // slash reason -> count
		let loadStart = null;
		let loadEnd = null;
		let lastFinalized = 0;

		const chargedMs = new Map(); // block -> weight charged, in ms of compute
		const readBlock = async (number) => {
			const hash = await api.rpc.chain.getBlockHash(number);
			const events = await api.query.system.events.at(hash);
			const weight = await api.query.system.blockWeight.at(hash);
			const refTime = ['normal', 'operational', 'mandatory']
				.map((dispatchClass) => Number(weight[dispatchClass].refTime.toString()))
				.reduce((sum, picoseconds) => sum + picoseconds, 0);
			chargedMs.set(number, refTime / 1e9);
			let finalized = 0;
			const flow = { requested: 0, assigned: 0, commits: {}, reveals: {} };
			for (const { event } of events) {
				if (event.section === 'system' && event.method === 'ExtrinsicFailed') {
					failedInBlock++;
					const error = event.data[0];
					const name = error.isModule
						? (({ section, name }) => `${section}.${name}`)(api.registry.findMetaError(error.asModule))
						: error.type;
					failures.set(name, (failures.get(name) ?? 0) + 1);
				}
				if (event.section !== 'inference') continue;
				const id = event.data[0]?.toString();
				// Audits the chain opens itself are requested by the protocol account: not load.
				if (event.method === 'InferenceRequested' && senderAddresses.has(event.data[1].toString())) {
					included.set(id, number);
				}
				if (event.method === 'ExecutorSlashed') {
					const reason = event.data[3].toString();
					slashes.set(reason, (slashes.get(reason) ?? 0) + 1);
					if (opts.keepLogs) {
						progress(`#${number}: ${event.data[0]} slashed (${reason}) over request ${event.data[1]}`);
					}
				}
				if (event.method === 'ExecutorSlashed' || !included.has(id)) continue;
				if (event.method === 'InferenceRequested') flow.requested++;
				if (event.method === 'RequestAssigned') {
					assignedAt.set(id, number);
					flow.assigned++;
				}
				if (event.method === 'CommitmentSubmitted') {
					lastCommitAt.set(id, number);
					const by = event.data[1].toString().slice(0, 6);
					flow.commits[by] = (flow.commits[by] ?? 0) + 1;
				}
				if (event.method === 'AttestationSubmitted') {
					const by = event.data[1].toString().slice(0, 6);
					flow.reveals[by] = (flow.reveals[by] ?? 0) + 1;
				}
				if (event.method === 'AttestationSubmitted' && !firstRevealAt.has(id)) {
					firstRevealAt.set(id, number);
				}
				if (event.method === 'RequestFinalized') {
					ended.set(id, { block: number, how: 'finalized' });
					finalized++;
				}
				if (event.method === 'RequestExpired') ended.set(id, { block: number, how: 'expired' });
				if (event.method === 'RequestUnassignable') {
					ended.set(id, { block: number, how: 'unassignable' });
				}
			}
			finalizedPerBlock.set(number, finalized);
			if (opts.trace) {
				const queue = (await api.query.inference.assignmentQueueEnds.at(hash)).map(Number);
				progress(`#${number}: ${flow.requested} requested, ${flow.assigned} assigned, `
					+ `queue ${queue[1] - queue[0]}, commitments ${JSON.stringify(flow.commits)}, `
					+ `reveals ${JSON.stringify(flow.reveals)}, ${finalized} finalized, `
					+ `${chargedMs.get(number).toFixed(0)} ms charged`);
			}
		};
		const unsubscribeFinalized = await api.rpc.chain.subscribeFinalizedHeads(async (header) => {
			const number = header.number.toNumber();
			for (let n = lastFinalized + 1; n <= number; n++) await readBlock(n);
			lastFinalized = Math.max(lastFinalized, number);
			progress(`finalized #${number}: ${included.size} requests included, ${ended.size} ended`);
		});

		// Every request is signed before the load starts: the client shares this machine with the
		// network it measures, and signing thousands of transactions in JavaScript would take
		// the cores the validators need (a real client signs on its own machine). The load
		// itself is plain submissions (`author_submitExtrinsic`).
		progress(`signing ${opts.rate * opts.blocks} requests`);
		const signed = [];
		let seed = 0;
		for (let b = 0; b < opts.blocks; b++) {
			const batch = [];
			for (let i = 0; i < opts.rate; i++) {
				const sender = senders[i % senders.length];
				const nonce = nonces.get(sender.address);
				nonces.set(sender.address, nonce + 1);
				const call = api.tx.inference.requestInference(SILERO_VAD, vadInput(seed++), MAX_FEE);
				batch.push((await call.signAsync(sender, { nonce, era: 0 })).toHex());
			}
			signed.push(batch);
		}

		const cpuBefore = validators.map((v) => cpuSeconds(v.child.pid));
		const wallBefore = Date.now();
		const machineBefore = machineTicks();
		let machineDuringLoad = null;
		let loadBlocks = 0;
		await new Promise((resolve) => {
			const unsubscribe = api.rpc.chain.subscribeNewHeads(async (header) => {
				const number = header.number.toNumber();
				if (loadStart === null) loadStart = number + 1;
				if (loadBlocks >= opts.blocks) {
					loadEnd = number;
					const machineAfter = machineTicks();
					machineDuringLoad = (machineAfter.busy - machineBefore.busy) / (machineAfter.all - machineBefore.all);
					unsubscribe.then((u) => u());
					resolve();
					return;
				}
				const batch = signed[loadBlocks];
				loadBlocks++;
				progress(`best #${number}: submitting ${batch.length} requests`);
				await Promise.all(batch.map((xt) =>
					api.rpc.author.submitExtrinsic(xt).then(() => submitted++, (error) => {
						refused++;
						const reason = refusalReason(error);
						refusedBy.set(reason, (refusedBy.get(reason) || 0) + 1);
					})));
			});
		});

		// Drain: wait until every included request ended, or the drain window passed.
		const drainUntil = loadEnd + opts.drainBlocks;
		while (lastFinalized < drainUntil) {
			const open = [...included.keys()].filter((id) => !ended.has(id)).length;
			if (open === 0 && included.size >= submitted && lastFinalized > loadEnd) break;
			await new Promise((r) => setTimeout(r, 1000));
		}
		const wall = (Date.now() - wallBefore) / 1000;
		const cpu = validators.map((v, i) => cpuSeconds(v.child.pid) - cpuBefore[i]);
		(await unsubscribeFinalized)();

		const window = [...finalizedPerBlock.entries()]
			.filter(([number]) => number > loadStart + 3 && number <= loadEnd)
			.map(([, count]) => count)
			.sort((a, b) => a - b);
		const latencies = [...ended.entries()]
			.filter(([id, end]) => end.how === 'finalized' && included.has(id))
			.map(([id, end]) => end.block - included.get(id))
			.sort((a, b) => a - b);
		const finalizedIds = [...ended.entries()]
			.filter(([id, end]) => end.how === 'finalized' && included.has(id))
			.map(([id]) => id);
		// p50 of the blocks between two stages of the finalized requests.
		const stage = (from, to) => percentile(
			finalizedIds
				.filter((id) => from.has(id) && to.has(id))
				.map((id) => to.get(id) - from.get(id))
				.sort((a, b) => a - b),
			50,
		);
		const finalizedAt = new Map(finalizedIds.map((id) => [id, ended.get(id).block]));
		const expired = [...ended.values()].filter((e) => e.how === 'expired').length;
		const unassignable = [...ended.values()].filter((e) => e.how === 'unassignable').length;
		const lost = [...included.keys()].filter((id) => !ended.has(id)).length;
		const authoring = authoringReport(base, validators, chargedMs, loadStart, loadEnd);
		const report = {
			validators: 3,
			redundancy: 3,
			model: 'silero-vad',
			rate_per_block: opts.rate,
			load_blocks: opts.blocks,
			submitted,
			refused_by_pool: refused,
			refused_by_pool_because: Object.fromEntries(refusedBy),
			included: included.size,
			// Admitted by the pool, then found invalid when a block was built (the queue filled
			// or the model's pool emptied meanwhile): never included, no fee.
			dropped_before_inclusion: Math.max(0, submitted - included.size),
			finalized_per_block: {
				// Answers land in batches, so single blocks swing between none and hundreds: the
				// mean over the window is what the network sustains, the median is shown beside it.
				sustained_mean: window.length
					? Math.round(window.reduce((sum, count) => sum + count, 0) / window.length)
					: null,
				sustained_median: percentile(window, 50),
				// Everything the load finalized over the blocks from its first block to the last
				// finalization: the rate the network kept up, ramp and drain included.
				overall_mean: finalizedIds.length
					? Math.round(finalizedIds.length
						/ (Math.max(...finalizedIds.map((id) => ended.get(id).block)) - loadStart + 1))
					: null,
				peak: Math.max(0, ...finalizedPerBlock.values()),
			},
			latency_blocks: { p50: percentile(latencies, 50), p99: percentile(latencies, 99) },
			latency_stages_p50_blocks: {
				inclusion_to_assignment: stage(included, assignedAt),
				assignment_to_last_commitment: stage(assignedAt, lastCommitAt),
				last_commitment_to_first_reveal: stage(lastCommitAt, firstRevealAt),
				first_reveal_to_finalization: stage(firstRevealAt, finalizedAt),
			},
			failed: {
				extrinsics_failed: failedInBlock,
				by_error: Object.fromEntries(failures),
				expired,
				unassignable,
				executors_slashed: Object.fromEntries(slashes),
			},
			lost,
			cpu_cores: {
				nodes_and_executors: Number((cpu.reduce((a, b) => a + b, 0) / wall).toFixed(2)),
				// Of all the machine's cores, the share busy while the load was sent (client,
				// nodes, executors and anything else running).
				machine_busy_during_load: Number(machineDuringLoad.toFixed(2)),
			},
			block_authoring: authoring,
			wall_seconds: Math.round(wall),
		};
		console.log(JSON.stringify(report, null, 2));
		await api.disconnect();
	} finally {
		stop();
	}
}

main().then(() => process.exit(0), (error) => {
	console.error(`bench-capacity: ${error.message}`);
	process.exit(1);
});

// Drives ModelGatedVault through the Ethereum JSON-RPC adapter with viem, as a Solidity
// developer would: deploy, request through the inference precompile, receive the callback,
// pay out; and the bad cases. Prints one JSON line per step; exits non-zero on the first
// failed expectation.
//
// Usage: node contracts/test/vault.mjs <eth-rpc-url> <artifacts-dir> <model-id> <evidence-hex>
//        [<generation-model-id> <unrunnable-input-hex>]
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
	createPublicClient,
	createWalletClient,
	defineChain,
	http,
	parseAbi,
	parseEther,
} from 'viem';
import { privateKeyToAccount } from 'viem/accounts';

const [url, artifacts, model, evidence, generationModel, unrunnable] = process.argv.slice(2);
if (!evidence) {
	console.error('usage: vault.mjs <eth-rpc-url> <artifacts-dir> <model-id> <evidence-hex>');
	process.exit(2);
}

const INFERENCE = '0x000000000000000000000000000000000a000000';
const inferenceAbi = parseAbi([
	'function requestInference(bytes32 model, bytes input, uint256 maxFee, uint64 callbackGasLimit) returns (uint256)',
	'function resultOf(uint256 requestId) view returns (uint8 status, bytes32 outcomeHash, bytes outcome)',
	'function quote(bytes32 model, uint64 callbackGasLimit) view returns (uint256 fee, uint256 callbackPrepay)',
	'function tensorValue(bytes outcome, uint32 tensor, uint32 element) pure returns (int256)',
]);
// Hardhat's first default account and Baltathar: both funded in the development genesis.
const owner = privateKeyToAccount('0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80');
const stranger = privateKeyToAccount('0x8075991ce870b93a8870eca0c0f91913d12f47948ca0fd25b49c6fa7cdbeee8b');

const transport = http(url, { timeout: 60_000 });
const bootstrap = createPublicClient({ transport });
const chain = defineChain({
	id: await bootstrap.getChainId(),
	name: 'verity-dev',
	nativeCurrency: { name: 'Verity', symbol: 'VRT', decimals: 18 },
	rpcUrls: { default: { http: [url] } },
});
const client = createPublicClient({ chain, transport });
const wallet = createWalletClient({ account: owner, chain, transport });
const strangerWallet = createWalletClient({ account: stranger, chain, transport });

const artifact = (name) => JSON.parse(readFileSync(join(artifacts, `${name}.json`), 'utf8'));
const Vault = artifact('ModelGatedVault');
const Rejecting = artifact('RejectingReceiver');
const Probe = artifact('PrecompileProbe');

function step(name, details = {}) {
	console.log(JSON.stringify({ step: name, ...details }, (_, v) => (typeof v === 'bigint' ? v.toString() : v)));
}

function expect(condition, message) {
	if (!condition) {
		console.error(`FAILED: ${message}`);
		process.exit(1);
	}
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(what, check, timeoutMs = 120_000) {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const value = await check();
		if (value) return value;
		expect(Date.now() < deadline, `timed out waiting for ${what}`);
		await sleep(1000);
	}
}

async function deploy(contract, args = [], value = 0n) {
	const hash = await wallet.deployContract({ abi: contract.abi, bytecode: contract.bytecode, args, value });
	const receipt = await client.waitForTransactionReceipt({ hash, timeout: 120_000 });
	expect(receipt.status === 'success', `deploying ${contract.source} failed`);
	return receipt.contractAddress;
}

async function revertReason(promise) {
	try {
		await promise;
		return null;
	} catch (error) {
		return `${error.shortMessage ?? ''} ${error.message ?? ''}`;
	}
}

async function send(address, functionName, args, from = wallet) {
	const { request, result } = await client.simulateContract({
		address,
		abi: Vault.abi,
		functionName,
		args,
		account: from.account,
	});
	const hash = await from.writeContract(request);
	const receipt = await client.waitForTransactionReceipt({ hash, timeout: 120_000 });
	expect(receipt.status === 'success', `${functionName} failed on chain`);
	return { result, receipt };
}

const proposal = (vault, id) => client.readContract({ address: vault, abi: Vault.abi, functionName: 'proposals', args: [id] });
const resultOf = (id) => client.readContract({ address: INFERENCE, abi: inferenceAbi, functionName: 'resultOf', args: [id] });

// 1. Deploy a vault that pays out when the model's first output number is at least 0, and
//    fund it.
const vault = await deploy(Vault, [model, 0, 0, 0n], parseEther('100'));
step('deployed', { vault, balance: await client.getBalance({ address: vault }) });

// 2. What a request costs, from the precompile.
const callbackGas = 400_000n;
const [fee, prepay] = await client.readContract({ address: INFERENCE, abi: inferenceAbi, functionName: 'quote', args: [model, callbackGas] });
expect(fee > 0n && prepay > 0n, 'the quote is not zero');
step('quoted', { fee, prepay });

// 3. A proposal: the vault requests the model and is called back with the settled result.
const beneficiary = stranger.address;
const amount = parseEther('1');
const before = await client.getBalance({ address: beneficiary });
const { result: requestId } = await send(vault, 'propose', [evidence, beneficiary, amount, fee, callbackGas]);
step('proposed', { requestId });
const early = await revertReason(client.simulateContract({ address: vault, abi: Vault.abi, functionName: 'settle', args: [requestId], account: stranger }));
expect(early && early.includes('NotFinal'), `settling before the result is final must revert with NotFinal: ${early}`);
step('refused an unfinalized result', { reason: 'NotFinal' });
await waitFor('the callback to decide the proposal', async () => (await proposal(vault, requestId))[2]);
const after = await client.getBalance({ address: beneficiary });
expect(after - before === amount, `the beneficiary received ${after - before}, not ${amount}`);
const [status, outcomeHash, outcome] = await resultOf(requestId);
expect(status === 2, `the result is finalized (status ${status})`);
const verdict = await client.readContract({ address: INFERENCE, abi: inferenceAbi, functionName: 'tensorValue', args: [outcome, 0, 0] });
step('paid out by callback', { requestId, status, outcomeHash, verdict, received: after - before });

// 4. Only the precompile may deliver a result.
const forged = await revertReason(client.simulateContract({ address: vault, abi: Vault.abi, functionName: 'onInferenceResult', args: [requestId, '0x'], account: stranger }));
expect(forged && forged.includes('NotInference'), `a forged callback must revert with NotInference: ${forged}`);
step('refused a forged callback');

// 5. An unknown model reverts with the pallet error's name as the reason.
const unknown = await deploy(Vault, [`0x${'ab'.repeat(32)}`, 0, 0, 0n], parseEther('1'));
const refused = await revertReason(client.simulateContract({ address: unknown, abi: Vault.abi, functionName: 'propose', args: [evidence, beneficiary, amount / 10n, fee, callbackGas], account: owner }));
expect(refused && refused.includes('UnknownModel'), `an unknown model must revert with UnknownModel: ${refused}`);
step('unknown model reverted', { reason: 'UnknownModel' });

// 6. Too little callback gas: the callback runs out of gas, nothing moves; the pull path
//    decides it later.
const starved = await send(vault, 'propose', [evidence, beneficiary, amount, fee, 1_000n]);
const starvedId = starved.result;
await waitFor('the starved request to finalize', async () => (await resultOf(starvedId))[0] === 2);
await sleep(6000);
expect(!(await proposal(vault, starvedId))[2], 'a callback without enough gas decided nothing');
const beforePull = await client.getBalance({ address: beneficiary });
await send(vault, 'settle', [starvedId], strangerWallet);
const afterPull = await client.getBalance({ address: beneficiary });
expect((await proposal(vault, starvedId))[2], 'settle decided it');
step('too little callback gas: settled from the pull path', { requestId: starvedId, paidOut: afterPull - beforePull > 0n });

// 7. A reverting callback (the beneficiary refuses payment): the vault keeps the funds and the
//    proposal stays undecided.
const rejecting = await deploy(Rejecting);
const vaultBefore = await client.getBalance({ address: vault });
const reverted = await send(vault, 'propose', [evidence, rejecting, amount, fee, callbackGas]);
const revertedId = reverted.result;
await waitFor('the reverted request to finalize', async () => (await resultOf(revertedId))[0] === 2);
await sleep(6000);
const vaultAfter = await client.getBalance({ address: vault });
expect(!(await proposal(vault, revertedId))[2], 'a reverted callback decided nothing');
expect(vaultBefore - vaultAfter < amount, `the vault kept the payout (${vaultBefore} -> ${vaultAfter})`);
expect((await client.getBalance({ address: rejecting })) === 0n, 'the refusing beneficiary got nothing');
const committed = await client.readContract({ address: vault, abi: Vault.abi, functionName: 'committed' });
expect(committed === amount, `the vault still owes the undecided payout (committed ${committed})`);
step('reverting callback left the funds in the vault', { requestId: revertedId, spentOnFees: vaultBefore - vaultAfter });

// 8. The ways a contract might misuse the precompile: a request in a static call and through
//    DELEGATECALL are refused; a refusal is an Error(string) a contract catches.
const probe = await deploy(Probe);
const [staticOk, staticReason] = await client.readContract({ address: probe, abi: Probe.abi, functionName: 'viaStaticCall', args: [model, evidence] });
expect(!staticOk && staticReason === 'StaticCallRefused', `a static call must be refused: ${staticOk} ${staticReason}`);
const { result: [delegateOk, delegateReason] } = await client.simulateContract({ address: probe, abi: Probe.abi, functionName: 'viaDelegateCall', args: [model, evidence], account: owner });
expect(!delegateOk, `a delegate call must be refused (${delegateReason})`);
const { result: caught } = await client.simulateContract({ address: probe, abi: Probe.abi, functionName: 'tryRequest', args: [model, evidence, 1n], account: owner });
expect(caught === 'FeeAboveMax', `a contract catches the refusal's reason: ${caught}`);
step('static and delegate calls refused, reasons caught', { staticReason, delegateReason, caught });

// 9. A request that ends without a verdict: the executors agree the input cannot run (a prompt
//    longer than the language model's context). The chain calls `onInferenceFailed`, which
//    closes the proposal, pays nothing, and frees the amount for the next proposal; only the
//    precompile may make that call.
if (generationModel && unrunnable) {
	const gated = await deploy(Vault, [generationModel, 0, 0, 0n], parseEther('10'));
	const [generationFee] = await client.readContract({ address: INFERENCE, abi: inferenceAbi, functionName: 'quote', args: [generationModel, callbackGas] });
	const beforeRejected = await client.getBalance({ address: beneficiary });
	const { result: rejectedId } = await send(gated, 'propose', [unrunnable, beneficiary, parseEther('9'), generationFee, callbackGas]);
	const locked = await client.readContract({ address: gated, abi: Vault.abi, functionName: 'committed' });
	expect(locked === parseEther('9'), `the proposal holds its amount (committed ${locked})`);
	const forgedFailure = await revertReason(client.simulateContract({ address: gated, abi: Vault.abi, functionName: 'onInferenceFailed', args: [rejectedId, 5], account: stranger }));
	expect(forgedFailure && forgedFailure.includes('NotInference'), `a forged failure must revert with NotInference: ${forgedFailure}`);
	await waitFor('the executors to reject the input', async () => (await resultOf(rejectedId))[0] === 6, 240_000);
	await waitFor('onInferenceFailed to close the proposal', async () => (await proposal(gated, rejectedId))[2]);
	const freed = await client.readContract({ address: gated, abi: Vault.abi, functionName: 'committed' });
	expect(freed === 0n, `the amount is free again (committed ${freed})`);
	expect((await client.getBalance({ address: beneficiary })) === beforeRejected, 'nothing was paid on a rejected input');
	const again = await revertReason(client.simulateContract({ address: gated, abi: Vault.abi, functionName: 'settle', args: [rejectedId], account: stranger }));
	expect(again && again.includes('AlreadyDecided'), `a closed proposal is decided once: ${again}`);
	step('rejected input: proposal closed by onInferenceFailed, amount freed', { requestId: rejectedId, status: 6 });
}

console.log(JSON.stringify({ done: true }));

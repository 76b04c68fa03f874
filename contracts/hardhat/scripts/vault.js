// Hardhat (with hardhat-ethers) on Verity, unmodified: its configured account, a contract
// deployed from the compiled artifact, the inference precompile's quote, and a proposal the
// vault pays out once the model's settled result calls it back. Prints one JSON line per
// step; exits non-zero on the first failed expectation.
//
// Usage (from contracts/hardhat):
//   VERITY_ARTIFACTS=<artifacts-dir> VERITY_MODEL=<model-id> VERITY_EVIDENCE=<input hex> \
//   [VERITY_ETH_RPC=http://127.0.0.1:8545] npx hardhat run --no-compile --network verity scripts/vault.js
const { readFileSync } = require('node:fs');
const { join } = require('node:path');
const hre = require('hardhat');

const INFERENCE = '0x000000000000000000000000000000000a000000';
const step = (name, detail = {}) =>
	console.log(JSON.stringify({ step: name, ...detail }, (_, v) => (typeof v === 'bigint' ? v.toString() : v)));
const expect = (condition, message) => {
	if (!condition) throw new Error(`expectation failed: ${message}`);
};

async function main() {
	const { VERITY_ARTIFACTS: artifacts, VERITY_MODEL: model, VERITY_EVIDENCE: evidence } = process.env;
	expect(artifacts && model && evidence, 'VERITY_ARTIFACTS, VERITY_MODEL and VERITY_EVIDENCE are set');
	const { ethers } = hre;

	const chainId = await hre.network.provider.request({ method: 'eth_chainId' });
	expect(BigInt(chainId) === 0x56455249n, `chain id ${chainId}`);
	const [owner] = await ethers.getSigners();
	const funds = await ethers.provider.getBalance(owner.address);
	expect(funds > ethers.parseEther('1000'), `the configured account holds ${funds}`);
	step('network and account', { network: hre.network.name, chainId, owner: owner.address, funds });

	// A vault that pays out when the model's first output number is at least 0.
	const { abi, bytecode } = JSON.parse(readFileSync(join(artifacts, 'ModelGatedVault.json'), 'utf8'));
	const factory = await ethers.getContractFactory(abi, bytecode, owner);
	const vault = await factory.deploy(model, 0, 0, 0n, { value: ethers.parseEther('10') });
	await vault.waitForDeployment();
	expect((await vault.model()) === model, 'the vault knows its model');
	step('deployed', { vault: await vault.getAddress() });

	const inference = await ethers.getContractAt(
		['function quote(bytes32 model, uint64 callbackGasLimit) view returns (uint256 fee, uint256 callbackPrepay)'],
		INFERENCE,
	);
	const callbackGas = 400_000n;
	const [fee, prepay] = await inference.quote(model, callbackGas);
	expect(fee > 0n && prepay > 0n, `a quote of ${fee} and ${prepay}`);
	step('quoted', { fee, prepay });

	const beneficiary = ethers.Wallet.createRandom().address;
	const amount = ethers.parseEther('1');
	const proposed = await (await vault.propose(evidence, beneficiary, amount, fee, callbackGas)).wait();
	expect(proposed.status === 1, 'the proposal succeeded');
	const event = proposed.logs.map((log) => vault.interface.parseLog(log)).find((parsed) => parsed?.name === 'Proposed');
	expect(event, 'the proposal emitted Proposed');
	const requestId = event.args.requestId;
	step('proposed', { requestId, block: proposed.blockNumber });

	const deadline = Date.now() + 180_000;
	while (!(await vault.proposals(requestId))[2]) {
		expect(Date.now() < deadline, 'the callback decided the proposal within 180 s');
		await new Promise((resolve) => setTimeout(resolve, 1000));
	}
	const received = await ethers.provider.getBalance(beneficiary);
	expect(received === amount, `the beneficiary received ${received}, not ${amount}`);
	step('paid out by callback', { requestId, received });
}

main().catch((error) => {
	console.error(error.stack || String(error));
	process.exit(1);
});

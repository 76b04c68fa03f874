// The same chain through ethers.js, unmodified: the network's chain id, a funded development
// account, a plain transfer, a contract deployed from the compiled artifact and read back,
// and a view call on the inference precompile. Prints one JSON line per step; exits non-zero
// on the first failed expectation.
//
// Usage: node contracts/test/ethers.mjs <eth-rpc-url> <artifacts-dir> <model-id>
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Contract, ContractFactory, JsonRpcProvider, Wallet, parseEther } from 'ethers';

const [url, artifacts, model] = process.argv.slice(2);
if (!model) {
	console.error('usage: ethers.mjs <eth-rpc-url> <artifacts-dir> <model-id>');
	process.exit(2);
}

const INFERENCE = '0x000000000000000000000000000000000a000000';
const step = (name, detail = {}) => console.log(JSON.stringify({ step: name, ...detail }, (_, v) => (typeof v === 'bigint' ? v.toString() : v)));
const expect = (condition, message) => {
	if (!condition) {
		console.error(`expectation failed: ${message}`);
		process.exit(1);
	}
};

const provider = new JsonRpcProvider(url, undefined, { staticNetwork: true });
provider.pollingInterval = 500;
const network = await provider.getNetwork();
expect(network.chainId === 0x56455249n, `chain id ${network.chainId}`);
step('network', { chainId: network.chainId });

// Hardhat's first default account: funded in the development genesis.
const owner = new Wallet('0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80', provider);
const funds = await provider.getBalance(owner.address);
expect(funds > parseEther('1000'), `the development account holds ${funds}`);
step('funded account', { address: owner.address, balance: funds });

const recipient = Wallet.createRandom().address;
const transfer = await owner.sendTransaction({ to: recipient, value: parseEther('1.5') });
const transferred = await transfer.wait();
expect(transferred.status === 1, 'the transfer succeeded');
expect((await provider.getBalance(recipient)) === parseEther('1.5'), 'the recipient holds 1.5');
step('transferred', { block: transferred.blockNumber });

const { abi, bytecode } = JSON.parse(readFileSync(join(artifacts, 'ModelGatedVault.json'), 'utf8'));
const vault = await new ContractFactory(abi, bytecode, owner).deploy(model, 0, 0, 500000n, { value: parseEther('2') });
await vault.waitForDeployment();
const address = await vault.getAddress();
expect((await vault.owner()) === owner.address, 'the vault knows its owner');
expect((await vault.model()) === model, 'the vault knows its model');
expect((await provider.getBalance(address)) === parseEther('2'), 'the vault holds its deposit');
step('deployed and read back', { address });

const inference = new Contract(INFERENCE, [
	'function quote(bytes32 model, uint64 callbackGasLimit) view returns (uint256 fee, uint256 callbackPrepay)',
], provider);
const [fee, prepay] = await inference.quote(model, 100000n);
expect(fee > 0n && prepay > 0n, `a quote of ${fee} and ${prepay}`);
step('quoted', { fee, prepay });

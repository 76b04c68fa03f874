// A Hardhat project as an Ethereum developer writes it, with one network entry for Verity:
// the Ethereum JSON-RPC adapter `make run` starts on port 8545, and Hardhat's first default
// account, which the development genesis funds. Contracts come compiled by
// `contracts/build.mjs` (solc-js), so Hardhat runs with `--no-compile` and downloads no
// compiler.
require('@nomicfoundation/hardhat-ethers');

module.exports = {
	networks: {
		verity: {
			url: process.env.VERITY_ETH_RPC || 'http://127.0.0.1:8545',
			accounts: ['0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80'],
		},
	},
};

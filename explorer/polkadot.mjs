// What the explorer's page takes from polkadot-js, bundled by esbuild into one browser module
// (`make build` writes it beside the verifier): the API over the node's RPC, and the crypto to
// check signatures.
export { ApiPromise, WsProvider } from "@polkadot/api";
export { hexToU8a, u8aToHex } from "@polkadot/util";
export { cryptoWaitReady, decodeAddress, signatureVerify } from "@polkadot/util-crypto";

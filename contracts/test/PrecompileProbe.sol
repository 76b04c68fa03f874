// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

import {IInference, INFERENCE_PRECOMPILE} from "../src/IInference.sol";

/// Calls the inference precompile the ways a contract might, and reports the revert reasons it
/// catches: a request through STATICCALL, through DELEGATECALL, and a plain one in try/catch.
contract PrecompileProbe {
	/// A request in a static (read-only) call: refused.
	function viaStaticCall(bytes32 model, bytes calldata input) external view returns (bool ok, string memory reason) {
		(bool success, bytes memory data) = INFERENCE_PRECOMPILE.staticcall(
			abi.encodeCall(IInference.requestInference, (model, input, type(uint256).max, 0))
		);
		return (success, success ? "" : _reason(data));
	}

	/// A request through DELEGATECALL: refused.
	function viaDelegateCall(bytes32 model, bytes calldata input) external returns (bool ok, string memory reason) {
		(bool success, bytes memory data) = INFERENCE_PRECOMPILE.delegatecall(
			abi.encodeCall(IInference.requestInference, (model, input, type(uint256).max, 0))
		);
		return (success, success ? "" : _reason(data));
	}

	/// A request whose refusal the contract catches as `Error(string)`.
	function tryRequest(bytes32 model, bytes calldata input, uint256 maxFee) external returns (string memory reason) {
		try IInference(INFERENCE_PRECOMPILE).requestInference(model, input, maxFee, 0) returns (uint256) {
			return "";
		} catch Error(string memory caught) {
			return caught;
		}
	}

	/// The string of an `Error(string)` revert, or "" for any other revert data.
	function _reason(bytes memory data) internal pure returns (string memory) {
		if (data.length < 68 || bytes4(data) != 0x08c379a0) return "";
		assembly {
			let length := mload(data)
			data := add(data, 4)
			mstore(data, sub(length, 4))
		}
		return abi.decode(data, (string));
	}
}

// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

/// A beneficiary that refuses every payment: a vault paying it reverts, so a test can show that
/// a reverting callback leaves the vault's funds where they were.
contract RejectingReceiver {
	receive() external payable {
		revert("payments refused");
	}
}

// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

/// @dev The inference precompile's address: `0x000000000000000000000000000000000a000000`.
address constant INFERENCE_PRECOMPILE = address(uint160(0x0A000000));

/// @title Verity's inference precompile
/// @notice Contracts request a registered model's run on an input and receive the result a
/// quorum of bonded executors attested to. The precompile lives at `INFERENCE_PRECOMPILE`.
///
/// Amounts are in wei (18 decimals), as `msg.value` and balances are; the chain's native unit
/// has 12, so one planck is 10^6 wei and amounts are rounded down to whole planck.
///
/// A result passes through these statuses (`resultOf`):
/// 0 Unknown, 1 Pending, 2 Finalized (quorum reached, no challenge open), 3 Challenged (a
/// re-execution is judging it: do not act), 4 Corrected (a challenge overturned it; the
/// re-execution's output stands), 5 Failed (expired or unassignable; the fee went back),
/// 6 Rejected (executors agreed the input cannot run), 7 Pruned (final, but its bytes left
/// state after the challenge period: only the hash remains).
interface IInference {
	/// @notice Ask for a run of `model` on `input`, paid by the calling contract.
	/// @param model The model's content-addressed id.
	/// @param input The canonical tensor encoding of the model's inputs (see `verity`).
	/// @param maxFee The most the caller pays for the run, in wei; the run's fee is held from
	/// the caller's balance until the request settles.
	/// @param callbackGasLimit Gas for `onInferenceResult` (and for one `onInferenceCorrected`);
	/// twice its price is held from the caller with the fee and what is unused is returned.
	/// Zero: no callback, read the result with `resultOf`.
	/// @return requestId The request's id.
	/// @dev Reverts with `Error(string)`, the reason naming what was wrong: the pallet's error
	/// (`UnknownModel`, `ModelNotActive`, `FeeAboveMax`, `MalformedInput`, `InputSpecMismatch`,
	/// `InputTooLarge`, `NotEnoughExecutors`, `InsufficientBalance`, ...) or the precompile's
	/// (`CallbackGasTooHigh`, `DelegateCallRefused`, `StaticCallRefused`,
	/// `TooManyContractRequests`).
	function requestInference(bytes32 model, bytes calldata input, uint256 maxFee, uint64 callbackGasLimit)
		external
		returns (uint256 requestId);

	/// @notice Where request `requestId` stands, the hash of the outcome that stands (the hash
	/// every executor's attestation signs) and, while the chain holds them, its output bytes
	/// (the canonical tensor encoding).
	function resultOf(uint256 requestId)
		external
		view
		returns (uint8 status, bytes32 outcomeHash, bytes memory outcome);

	/// @notice What a request of `model` with `callbackGasLimit` holds now: the run's fee and
	/// the callback prepay, both in wei.
	function quote(bytes32 model, uint64 callbackGasLimit)
		external
		view
		returns (uint256 fee, uint256 callbackPrepay);

	/// @notice Element `element` (row-major) of tensor number `tensor` (tensors in name order)
	/// of a canonical tensor encoding, as a fixed-point number with six decimals (floats are
	/// rounded towards zero). Reverts with `MalformedOutput` or `IndexOutOfRange`.
	function tensorValue(bytes calldata outcome, uint32 tensor, uint32 element)
		external
		pure
		returns (int256 valueE6);
}

/// @title What a contract implements to receive results
/// @notice Called by the chain (from the block's start, never while another contract runs),
/// with `msg.sender == INFERENCE_PRECOMPILE` and the gas the requester prepaid. A request gets
/// `onInferenceResult` (and, should a challenge overturn it, `onInferenceCorrected`) or
/// `onInferenceFailed`, never both. A callback that reverts or runs out of gas is recorded in
/// an event; the result stays readable via `resultOf`.
interface IInferenceConsumer {
	/// @notice Request `requestId` settled by quorum with `outcome` (its output's canonical
	/// tensor encoding).
	function onInferenceResult(uint256 requestId, bytes calldata outcome) external;

	/// @notice A challenge overturned request `requestId`'s result: `outcome` now stands.
	function onInferenceCorrected(uint256 requestId, bytes calldata outcome) external;

	/// @notice Request `requestId` ended without an output: `status` is 5 (Failed: it expired
	/// or found too few executors; its fee went back) or 6 (Rejected: its executors agreed the
	/// input cannot run). No other callback follows; the rest of the prepay goes back after it.
	function onInferenceFailed(uint256 requestId, uint8 status) external;
}

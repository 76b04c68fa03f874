// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

import {IInference, IInferenceConsumer, INFERENCE_PRECOMPILE} from "./IInference.sol";

/// @title A vault that pays out only on a model's verified verdict
/// @notice The owner proposes a payout and the evidence for it; the payout is made only when a
/// registered model's output on that evidence, settled by a quorum of bonded executors, reaches
/// `threshold`. Funds never move on a pending, failed, rejected or challenged result, and each
/// proposal is decided once.
///
/// The verdict arrives by callback (`onInferenceResult`); when the callback could not run (too
/// little gas, a reverting beneficiary), anyone may `settle` it later from `resultOf`. A request
/// that ends without a verdict (it failed or its input was rejected) closes its proposal by
/// callback (`onInferenceFailed`), or by `settle` when that callback could not run or the
/// output left state before anyone settled it: nothing is paid and the amount is free again
/// for other proposals.
contract ModelGatedVault is IInferenceConsumer {
	/// The inference precompile.
	IInference public constant INFERENCE = IInference(INFERENCE_PRECOMPILE);

	/// `resultOf` statuses the vault acts on.
	uint8 internal constant FINALIZED = 2;
	uint8 internal constant CORRECTED = 4;
	/// `resultOf` statuses that end a request without a verdict to act on.
	uint8 internal constant FAILED = 5;
	uint8 internal constant REJECTED = 6;
	uint8 internal constant PRUNED = 7;

	/// Who may propose payouts.
	address public immutable owner;
	/// The model whose verdict decides.
	bytes32 public immutable model;
	/// Which number of the model's output is the verdict: tensor (in name order) and element.
	uint32 public immutable verdictTensor;
	uint32 public immutable verdictElement;
	/// The verdict a payout needs, with six decimals (`IInference.tensorValue`).
	int256 public immutable threshold;

	/// A payout waiting for its verdict.
	struct Proposal {
		address payable beneficiary;
		uint256 amount;
		bool decided;
	}

	/// Proposals by inference request id.
	mapping(uint256 => Proposal) public proposals;
	/// Funds promised to undecided proposals.
	uint256 public committed;

	event Proposed(uint256 indexed requestId, address indexed beneficiary, uint256 amount);
	event Released(uint256 indexed requestId, address indexed beneficiary, uint256 amount, int256 verdict);
	event Declined(uint256 indexed requestId, int256 verdict);
	event CorrectionSeen(uint256 indexed requestId, bool alreadyDecided);
	/// The request ended without a verdict (`status`: failed, rejected or pruned); nothing paid.
	event Abandoned(uint256 indexed requestId, uint8 status);

	error NotOwner();
	error NotInference();
	error UnknownProposal(uint256 requestId);
	error AlreadyDecided(uint256 requestId);
	error NotFinal(uint256 requestId, uint8 status);
	error InsufficientFunds(uint256 available, uint256 needed);
	error PayoutFailed(uint256 requestId);

	constructor(bytes32 model_, uint32 verdictTensor_, uint32 verdictElement_, int256 threshold_) payable {
		owner = msg.sender;
		model = model_;
		verdictTensor = verdictTensor_;
		verdictElement = verdictElement_;
		threshold = threshold_;
	}

	receive() external payable {}

	/// @notice Propose paying `amount` to `beneficiary` if the model's verdict on `evidence`
	/// reaches the threshold. The request's fee (at most `maxFee`) and callback prepay come from
	/// the vault's balance.
	function propose(
		bytes calldata evidence,
		address payable beneficiary,
		uint256 amount,
		uint256 maxFee,
		uint64 callbackGas
	) external returns (uint256 requestId) {
		if (msg.sender != owner) revert NotOwner();
		uint256 available = address(this).balance - committed;
		if (available < amount) revert InsufficientFunds(available, amount);
		requestId = INFERENCE.requestInference(model, evidence, maxFee, callbackGas);
		proposals[requestId] = Proposal(beneficiary, amount, false);
		committed += amount;
		emit Proposed(requestId, beneficiary, amount);
	}

	/// @inheritdoc IInferenceConsumer
	function onInferenceResult(uint256 requestId, bytes calldata) external {
		if (msg.sender != INFERENCE_PRECOMPILE) revert NotInference();
		_decide(requestId);
	}

	/// @inheritdoc IInferenceConsumer
	/// @dev A payout already made cannot be taken back; one not yet decided is decided on the
	/// corrected output.
	function onInferenceCorrected(uint256 requestId, bytes calldata) external {
		if (msg.sender != INFERENCE_PRECOMPILE) revert NotInference();
		bool decided = proposals[requestId].decided;
		emit CorrectionSeen(requestId, decided);
		if (!decided && proposals[requestId].beneficiary != address(0)) _decide(requestId);
	}

	/// @inheritdoc IInferenceConsumer
	/// @dev Closes the proposal, paying nothing: `_decide` reads the failed or rejected status.
	function onInferenceFailed(uint256 requestId, uint8) external {
		if (msg.sender != INFERENCE_PRECOMPILE) revert NotInference();
		if (!proposals[requestId].decided && proposals[requestId].beneficiary != address(0)) {
			_decide(requestId);
		}
	}

	/// @notice Decide a proposal from the pull path, once its result is final.
	function settle(uint256 requestId) external {
		_decide(requestId);
	}

	/// Read the standing result and pay out or decline; never on an unfinal result. A request
	/// that ended without a verdict closes its proposal, paying nothing.
	function _decide(uint256 requestId) internal {
		Proposal storage proposal = proposals[requestId];
		if (proposal.beneficiary == address(0)) revert UnknownProposal(requestId);
		if (proposal.decided) revert AlreadyDecided(requestId);
		(uint8 status,, bytes memory outcome) = INFERENCE.resultOf(requestId);
		if (status == FAILED || status == REJECTED || status == PRUNED) {
			proposal.decided = true;
			committed -= proposal.amount;
			emit Abandoned(requestId, status);
			return;
		}
		if (status != FINALIZED && status != CORRECTED) revert NotFinal(requestId, status);
		int256 verdict = INFERENCE.tensorValue(outcome, verdictTensor, verdictElement);
		proposal.decided = true;
		committed -= proposal.amount;
		if (verdict >= threshold) {
			(bool paid,) = proposal.beneficiary.call{value: proposal.amount}("");
			if (!paid) revert PayoutFailed(requestId);
			emit Released(requestId, proposal.beneficiary, proposal.amount, verdict);
		} else {
			emit Declined(requestId, verdict);
		}
	}
}

#!/usr/bin/env bash
# Starts the Ethereum JSON-RPC adapter (port 8545) once the node's RPC (port 9944) answers,
# for `make run`. Usage: scripts/eth-rpc.sh <verity-eth-rpc binary>
set -euo pipefail
binary=$1
for _ in $(seq 1 600); do
	if (exec 3<>/dev/tcp/127.0.0.1/9944) 2>/dev/null; then
		exec "$binary" --dev --node-rpc-url ws://127.0.0.1:9944 --rpc-port 8545 --rpc-cors all
	fi
	sleep 0.5
done
echo "eth-rpc: the node's RPC did not open on port 9944" >&2
exit 1

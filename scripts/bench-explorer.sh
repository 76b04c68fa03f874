#!/usr/bin/env bash
# In-browser verification time of the text-direction classifier, artifact download included:
# a dev node, `verity explorer` and headless Chromium (Debian's) on this machine. Requests the
# sample text line (samples/text-line.png), then opens the request's page RUNS times in a
# fresh browser and clicks "verify in this browser"; prints each time and the median.
#
#   scripts/bench-explorer.sh [runs]   (`make bench-explorer`)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bin="${CARGO_TARGET_DIR:-$HOME/.cache/verity/target}/release"
runs=${1:-5}
work=$(mktemp -d)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rpc_port=$(free_port)
web_port=$(free_port)
"$bin/verity-node" --dev --tmp --rpc-port "$rpc_port" --port "$(free_port)" \
	--prometheus-port "$(free_port)" --no-mdns --no-telemetry >"$work/node.log" 2>&1 &
node_pid=$!
"$bin/verity" --url "ws://127.0.0.1:$rpc_port" explorer --listen "127.0.0.1:$web_port" >"$work/explorer.log" 2>&1 &
explorer_pid=$!
trap 'kill $node_pid $explorer_pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 60); do
	"$bin/verity" --url "ws://127.0.0.1:$rpc_port" models list >/dev/null 2>&1 && break
	sleep 1
done
python3 "$root/scripts/demo-io.py" text-line "$root/samples/text-line.png" >"$work/line.json"
request=$("$bin/verity" --url "ws://127.0.0.1:$rpc_port" --json infer --wait \
	--model 0x6403dbdaf8b7ba8f18f08e4bb8b12fdbdf63ee0d257548aa9da8d221d5ac9f99 --input "$work/line.json" |
	python3 -c 'import json, sys; print(json.load(sys.stdin)["request_id"])')
node "$root/explorer/test/time-verify.mjs" "http://127.0.0.1:$web_port" "$request" "$runs"

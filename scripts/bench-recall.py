#!/usr/bin/env python3
"""`verity memory recall` end to end on a dev chain, three ways: the question embedded by a
running executor that keeps the model planned (`--executor-url`, what an agent with a local
executor uses) or in the CLI's own process (the default: the model is loaded and planned on
every call), each ranked by the chain's runtime API; against the question embedded through an
inference request on chain (`--on-chain`). Prints each one's median wall time over the runs
(process start to answer, as an agent calling the CLI sees it) and the ratios.

Usage: bench-recall.py NODE VERITY [RUNS]. Starts `NODE --dev --tmp` and a `verity-executor`
beside VERITY, fills a space with a few facts, then times the recalls in interleaved rounds so
that a drift in the machine's speed hits all three alike."""

import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

NODE, VERITY = sys.argv[1], sys.argv[2]
RUNS = int(sys.argv[3]) if len(sys.argv) > 3 else 5
FACTS = [
    "The user's favourite colour is green.",
    "The weekly meeting with Bob is on Tuesday at 3pm.",
    "Alice is allergic to peanuts.",
    "The office wifi password rotates every Monday.",
    "Invoices are due on the last day of the month.",
]
QUESTION = "What food must Alice stay away from?"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def verity(url, *args):
    started = time.monotonic()
    done = subprocess.run([VERITY, "--url", url, "--json", *args], capture_output=True, text=True)
    elapsed = time.monotonic() - started
    if done.returncode != 0:
        sys.exit(f"bench-recall: verity {' '.join(args)} failed: {done.stderr.strip()}")
    return json.loads(done.stdout.strip().splitlines()[-1]), elapsed


def main():
    rpc = free_port()
    log = tempfile.NamedTemporaryFile(prefix="verity-bench-recall-", suffix=".log", delete=False)
    node = subprocess.Popen(
        [NODE, "--dev", "--tmp", "--rpc-port", str(rpc), "--port", str(free_port()),
         "--no-prometheus", "--no-mdns", "--no-telemetry"],
        stdout=subprocess.DEVNULL, stderr=log)
    url = f"ws://127.0.0.1:{rpc}"
    executor_port = free_port()
    executor = subprocess.Popen(
        [os.path.join(os.path.dirname(VERITY), "verity-executor"), "--listen",
         f"127.0.0.1:{executor_port}", "--models-dir",
         os.environ.get("VERITY_MODELS_DIR", os.path.expanduser("~/.cache/verity/models"))],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    executor_url = f"http://127.0.0.1:{executor_port}"
    try:
        for _ in range(120):
            try:
                socket.create_connection(("127.0.0.1", rpc), timeout=1).close()
                break
            except OSError:
                time.sleep(0.5)
        space = verity(url, "memory", "create")[0]["space"]
        for fact in FACTS:
            verity(url, "memory", "remember", "--space", str(space), fact, "--wait")
        recall = ["memory", "recall", "--space", str(space), QUESTION]
        # The executor plans the model on its first request; agents keep it running.
        verity(url, *recall, "--executor-url", executor_url)
        served, local, on_chain = [], [], []
        for _ in range(RUNS):
            report, elapsed = verity(url, *recall, "--executor-url", executor_url)
            served.append((elapsed, report["embedding_ms"], report["ranking_ms"]))
            report, elapsed = verity(url, *recall)
            local.append((elapsed, report["embedding_ms"], report["ranking_ms"]))
            _, elapsed = verity(url, *recall, "--on-chain")
            on_chain.append(elapsed)

        def summary(runs):
            return {
                "wall_ms": round(statistics.median(r[0] for r in runs) * 1000),
                "embedding_ms": round(statistics.median(r[1] for r in runs)),
                "ranking_ms": round(statistics.median(r[2] for r in runs)),
            }

        served_ms = statistics.median(r[0] for r in served) * 1000
        local_ms = statistics.median(r[0] for r in local) * 1000
        chain_ms = statistics.median(on_chain) * 1000
        print(json.dumps({
            "entries": len(FACTS),
            "runs": RUNS,
            "recall_with_a_running_executor": summary(served),
            "recall_embedding_in_process": summary(local),
            "recall_on_chain_ms": round(chain_ms),
            "on_chain_over_running_executor": round(chain_ms / served_ms, 1),
            "on_chain_over_in_process": round(chain_ms / local_ms, 1),
        }, indent=2))
    finally:
        executor.kill()
        node.kill()
        executor.wait()
        node.wait()


if __name__ == "__main__":
    main()

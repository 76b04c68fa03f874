#!/usr/bin/env python3
"""Cold and warm latency over many models: one executor engine against onnxruntime.

Runs the executor's `bench_models` example (120 generated affine ONNX models, `y = x * a + b`
over 131,072 values, 512 KiB of weights each; a 64 MiB plan cache: about 60 plans fit), then
onnxruntime on the same files in this process, one thread each:

- cold: the model's first use (executor: fetched from its file into the store, planned, run;
  onnxruntime: a session created from the file, then run);
- replanned (executor only): the same models again in the same order, each plan evicted by
  then, so planned again from the store;
- warm: a model whose plan (session) is kept, run again.

Prints p50 and p99 of each and the executor / onnxruntime ratios of the p50s.

Usage: bench-models.py EXAMPLE_BINARY [--models N] [--cache-mib M]"""

import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnxruntime as ort

VALUES = 131_072


def percentile(values, share):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def onnxruntime_figures(files, warm_models, warm_runs=5):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    x = {"x": np.array([(i % 7) - 3 for i in range(VALUES)], dtype=np.float32)}
    cold, sessions = [], []
    for path in files:
        started = time.perf_counter()
        session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        session.run(None, x)
        cold.append((time.perf_counter() - started) * 1000)
        sessions.append(session)
    warm = []
    for _ in range(warm_runs):
        for session in reversed(sessions[-warm_models:]):
            started = time.perf_counter()
            session.run(None, x)
            warm.append((time.perf_counter() - started) * 1000)
    return cold, warm


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    with tempfile.TemporaryDirectory() as sources:
        run = subprocess.run(
            [sys.argv[1], "--out", sources] + sys.argv[2:],
            check=True, capture_output=True, text=True,
            env={**os.environ, "RAYON_NUM_THREADS": "1"})
        executor = json.loads(run.stdout)
        files = [os.path.join(sources, f"affine-{i}.onnx") for i in range(executor["models"])]
        ort_cold, ort_warm = onnxruntime_figures(files, executor["warm_models"])

    print(f"{executor['models']} models, plan cache {executor['cache_mib']} MiB "
          f"({executor['plans_kept']} plans kept, {executor['cached_mib']} MiB), "
          f"profile {executor['profile']}, onnxruntime {ort.__version__}, one thread")
    print(f"{'':<12} {'executor p50':>13} {'p99':>9} {'onnxruntime p50':>16} {'p99':>9} "
          f"{'executor/ort':>13}")
    rows = [("cold", executor["cold_ms"], ort_cold),
            ("replanned", executor["replanned_ms"], None),
            ("warm", executor["warm_ms"], ort_warm)]
    for name, ours, theirs in rows:
        line = f"{name:<12} {percentile(ours, 0.5):>10.3f} ms {percentile(ours, 0.99):>6.3f} ms"
        if theirs:
            ratio = percentile(ours, 0.5) / percentile(theirs, 0.5)
            line += (f" {percentile(theirs, 0.5):>13.3f} ms {percentile(theirs, 0.99):>6.3f} ms"
                     f" {ratio:>12.2f}x")
        print(line)


if __name__ == "__main__":
    main()

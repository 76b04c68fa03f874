#!/usr/bin/env python3
"""Executor latency on each demo model against onnxruntime, same input, one thread.

For each model: the median latency (after warm-up) of `verity-executor bench` under the host's
`native` profile (also kept to 256-bit vectors, as a CPU without AVX-512 runs it), the `avx` one
(portable among x86-64 CPUs with AVX) and the `generic` one (portable to any x86-64 CPU), and of
onnxruntime (PyPI) on one thread; then the ratios. Run by
`make bench-executor`.

The five are measured in interleaved rounds (onnxruntime, then each executor variant, again and
again) so that a drift in the machine's speed (shared hosts, frequency scaling) hits all alike,
and each in a fresh process that loads the model, warms up and times its runs, so that none of
them gets a long-lived process's advantage. Each latency is the median over rounds of the
round's median; each ratio is the median over rounds of the ratio within a round."""

import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnxruntime as ort

STORE = os.environ.get("VERITY_MODELS_DIR", os.path.expanduser("~/.cache/verity/models"))
EXECUTOR = sys.argv[1] if len(sys.argv) > 1 else None
ROUNDS = 15
RUNS = 20


def compact(n):
    """SCALE compact encoding of a length."""
    if n < 1 << 6:
        return bytes([n << 2])
    if n < 1 << 14:
        return ((n << 2) | 1).to_bytes(2, "little")
    if n < 1 << 30:
        return ((n << 2) | 2).to_bytes(4, "little")
    raw = n.to_bytes((n.bit_length() + 7) // 8, "little")
    return bytes([((len(raw) - 4) << 2) | 3]) + raw


DTYPES = {np.float32: 0, np.int64: 6}


def canonical(tensors):
    """The canonical tensor map encoding (names sorted) of {name: ndarray}."""
    out = compact(len(tensors))
    for name in sorted(tensors):
        array = np.ascontiguousarray(tensors[name])
        out += compact(len(name)) + name.encode()
        out += bytes([DTYPES[array.dtype.type]])
        out += compact(array.ndim) + b"".join(int(d).to_bytes(4, "little") for d in array.shape)
        data = array.astype(array.dtype.newbyteorder("<")).tobytes()
        out += compact(len(data)) + data
    return out


def text_line():
    columns = np.arange(192, dtype=np.float32) / 191.0 * 2.0 - 1.0
    stripes = np.where((np.arange(48) // 6) % 2 == 0, 0.5, -0.5).astype(np.float32)
    image = np.clip(columns[None, :] + stripes[:, None], -1.0, 1.0)
    return {"x": np.broadcast_to(image, (1, 3, 48, 192)).astype(np.float32)}


def audio_window():
    n = np.arange(576, dtype=np.float32)
    samples = (0.3 * np.sin(2 * np.pi * 440.0 * n / 16000.0)).astype(np.float32)[None, :]
    return {"input": samples, "state": np.zeros((2, 1, 128), dtype=np.float32)}


MODELS = [
    ("ppocr-text-direction", "6403dbdaf8b7ba8f18f08e4bb8b12fdbdf63ee0d257548aa9da8d221d5ac9f99", text_line),
    ("silero-vad", "5f48eef72eea99cb43e6a018c722c207e8226718a617cc4bb6b94b2916297256", audio_window),
]


def executor_bench(model_id, input_path, profile, *extra):
    """One round of the executor: a fresh process, warmed up, `RUNS` timed runs."""
    out = subprocess.run(
        [EXECUTOR, "--models-dir", STORE, "--profile", profile, "bench",
         "--model", model_id, "--input", input_path, "--runs", str(RUNS), *extra],
        check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def executor_median(model_id, input_path, variant):
    _, profile, extra = variant
    return executor_bench(model_id, input_path, profile, *extra)["median_ms"]


def operator_shares(model_id, input_path):
    """The native profile's time per kind of tract operator, as shares of their sum."""
    operators = executor_bench(model_id, input_path, "native", "--operators")["operators"]
    total = sum(op["mean_ms"] for op in operators)
    return [(op["op"], op["mean_ms"] / total) for op in operators]


def onnxruntime_session(model_id, profiling=False):
    """An onnxruntime session on one thread, optionally recording its own profile."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    if profiling:
        options.enable_profiling = True
        options.profile_file_prefix = os.path.join(tempfile.gettempdir(), "verity-ort-profile")
    return ort.InferenceSession(f"{STORE}/{model_id}.onnx", options, providers=["CPUExecutionProvider"])


def onnxruntime_median(session, tensors):
    """One round of onnxruntime: `RUNS` timed runs on a warm session."""
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        session.run(None, tensors)
        times.append((time.perf_counter() - started) * 1000.0)
    return median(times)


def onnxruntime_shares(model_id, tensors):
    """onnxruntime's own profile: its kernel time per operator type, as shares of their sum."""
    session = onnxruntime_session(model_id, profiling=True)
    for _ in range(RUNS):
        session.run(None, tensors)
    profile = session.end_profiling()
    with open(profile) as f:
        events = json.load(f)
    os.unlink(profile)
    totals = {}
    for event in events:
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
            op = event["args"]["op_name"]
            totals[op] = totals.get(op, 0) + event["dur"]
    total = sum(totals.values())
    return sorted(((op, t / total) for op, t in totals.items()), key=lambda item: -item[1])


def onnxruntime_round(name):
    """One round of onnxruntime in a fresh process, like the executor's: the median in ms."""
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--onnxruntime-round", name],
                         check=True, capture_output=True, text=True)
    return float(out.stdout.strip().splitlines()[-1])


def median(values):
    return sorted(values)[len(values) // 2]


if EXECUTOR == "--onnxruntime-round":
    # A child process of `onnxruntime_round`: load, warm up, time, print the median.
    name, model_id, make_input = next(m for m in MODELS if m[0] == sys.argv[2])
    tensors = make_input()
    session = onnxruntime_session(model_id)
    for _ in range(3):
        session.run(None, tensors)
    print(onnxruntime_median(session, tensors))
    sys.exit(0)

# (column, profile, extra flags): each profile as the host runs it, and the native one kept to
# 256-bit vectors, as on a CPU without AVX-512 (same bytes).
VARIANTS = [
    ("native", "native", []),
    ("native-256", "native", ["--no-512-bit-vectors"]),
    ("avx", "avx", []),
    ("generic", "generic", []),
]
print(f"{'model':<22} {'onnxruntime':>12}" + "".join(f" {v[0]:>10}" for v in VARIANTS)
      + "".join(f" {v[0] + '/ort':>15}" for v in VARIANTS))
shares = {}
for name, model_id, make_input in MODELS:
    tensors = make_input()
    with tempfile.NamedTemporaryFile(suffix=".tensors", delete=False) as f:
        f.write(canonical(tensors))
        path = f.name
    rounds = []
    for _ in range(ROUNDS):
        ort_ms = onnxruntime_round(name)
        rounds.append([ort_ms] + [executor_median(model_id, path, v) for v in VARIANTS])
    shares[name] = (operator_shares(model_id, path), onnxruntime_shares(model_id, tensors))
    os.unlink(path)
    latencies = [median([r[i] for r in rounds]) for i in range(len(VARIANTS) + 1)]
    ratios = [median([r[i] / r[0] for r in rounds]) for i in range(1, len(VARIANTS) + 1)]
    print(f"{name:<22} {latencies[0]:>10.3f}ms"
          + "".join(f" {ms:>8.3f}ms" for ms in latencies[1:])
          + "".join(f" {ratio:>14.2f}x" for ratio in ratios), flush=True)

print("\nWhere the time goes (share of a run per kind of operator; tract: native profile):")
for name, (tract_ops, ort_ops) in shares.items():
    print(f"  {name}")
    print("    tract:       " + ", ".join(f"{op} {share:.0%}" for op, share in tract_ops[:6]))
    print("    onnxruntime: " + ", ".join(f"{op} {share:.0%}" for op, share in ort_ops[:6]))

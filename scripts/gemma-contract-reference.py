#!/usr/bin/env python3
"""An independent Gemma 3 reference that follows the decoder's arithmetic contract in numpy.

Verity's decoder (`llm/`) promises the same bits on every CPU because its arithmetic is written
down (`llm/src/kernels.rs`, module doc): activations quantized per block of 32 to int8, exact
integer block sums, one fixed float32 order per output, vector sums in eight interleaved
partial sums added in a fixed tree, libm's `expf`/`tanhf`/`expm1f`, correctly rounded square
roots. This script implements that contract from its text, in numpy float32, with nothing of
the decoder's code: the blocks are read from the file by this script's own parsing of the GGML
formats, checked against the `gguf` package's dequantization; libm's float functions are
ported here (vectorized) from their FreeBSD sources; float64 `math.pow`/`sin`/`cos` give the
rotary angles. Followed exactly, the contract leaves nothing to chance, so the logits must be
the decoder's to the bit, and greedy decoding must agree token for token.

Greedy-decodes each prompt and prints, per prompt, its token ids, the generated ids and, per
generated step, the eight highest logits (float32 values) with their ids, as JSON on stdout:
what `llm/tests/gemma_file.rs` compares the decoder with.

Usage: gemma-contract-reference.py GGUF PROMPTS_JSON NEW_TOKENS > reference.json
PROMPTS_JSON: [[prompt text, [token ids with <bos>]], ...]   (pip install gguf numpy)"""

import importlib.util
import math
import os

import numpy as np
from gguf import GGMLQuantizationType, GGUFReader
from gguf.quants import dequantize

F32 = np.float32
BLOCK = 32


def f32_bits(bits):
    return np.array([bits], dtype=np.uint32).view(F32)[0]


def split(x):
    """`x` as float32, whether each value is negative, and its magnitude's bits."""
    x = np.asarray(x, dtype=F32)
    bits = x.view(np.uint32)
    return x, (bits >> 31) != 0, bits & np.uint32(0x7FFFFFFF)


# ---- libm's float functions (FreeBSD msun, as the `libm` crate has them), vectorized ----

def expf(x):
    """libm's `expf` of every value of `x` (float32)."""
    x, negative, hx = split(x)
    ln2_hi, ln2_lo, inv_ln2 = F32(6.9314575195e-01), F32(1.4286067653e-06), F32(1.4426950216e00)
    p1, p2 = F32(1.6666625440e-1), F32(-2.7667332906e-3)
    with np.errstate(all="ignore"):
        half = np.where(negative, F32(-0.5), F32(0.5))
        far = (inv_ln2 * x + half).astype(np.int64)  # `as i32`: truncation toward zero
        near = np.where(negative, -1, 1)
        k = np.where(hx > 0x3F851592, far, near)
        k = np.where(hx > 0x3EB17218, k, 0)
        kf = k.astype(F32)
        reduced = hx > 0x3EB17218
        hi = np.where(reduced, x - kf * ln2_hi, x)
        lo = np.where(reduced, kf * ln2_lo, F32(0))
        r = np.where(reduced, hi - lo, x)
        xx = r * r
        c = r - xx * (p1 + xx * p2)
        y = F32(1) + ((r * c / (F32(2) - c) - lo) + hi)
        # scalbnf(y, k), correctly rounded (exact unless the result is subnormal).
        scaled = (y.astype(np.float64) * np.ldexp(1.0, k)).astype(F32)
        out = np.where(k == 0, y, scaled)
        out = np.where(hx > 0x39000000, out, F32(1) + x)
        out = np.where((hx >= 0x42CFF1B5) & negative, F32(0), out)
        out = np.where((hx >= 0x42B17218) & ~negative, F32(np.inf), out)
    return out.astype(F32)


def expm1f(x):
    """libm's `expm1f` of every value of `x` (float32; |x| <= 88)."""
    x, negative, hx = split(x)
    ln2_hi, ln2_lo, inv_ln2 = F32(6.9313812256e-01), F32(9.0580006145e-06), F32(1.4426950216e00)
    q1, q2 = F32(-3.3333212137e-2), F32(1.5807170421e-3)
    with np.errstate(all="ignore"):
        reduced = hx > 0x3EB17218
        near = reduced & (hx < 0x3F851592)
        half = np.where(negative, F32(-0.5), F32(0.5))
        k_far = (inv_ln2 * x + half).astype(np.int64)
        k = np.where(near, np.where(negative, -1, 1), np.where(reduced, k_far, 0))
        t = k.astype(F32)
        hi = np.where(
            near, np.where(negative, x + ln2_hi, x - ln2_hi), x - t * ln2_hi
        ).astype(F32)
        lo = np.where(near, np.where(negative, -ln2_lo, ln2_lo), t * ln2_lo).astype(F32)
        r = np.where(reduced, hi - lo, x).astype(F32)
        c = np.where(reduced, (hi - r) - lo, F32(0)).astype(F32)
        hfx = F32(0.5) * r
        hxs = r * hfx
        r1 = F32(1) + hxs * (q1 + hxs * q2)
        tt = F32(3) - r1 * hfx
        e = hxs * ((r1 - tt) / (F32(6) - r * tt))
        k0 = r - (r * e - hxs)
        e = r * (e - c) - c
        e = e - hxs
        k_minus_1 = F32(0.5) * (r - e) - F32(0.5)
        k_1 = np.where(r < F32(-0.25), F32(-2) * (e - (r + F32(0.5))), F32(1) + F32(2) * (r - e))
        kc = np.clip(k, -126, 127)
        two_k = ((kc + 0x7F).astype(np.uint32) << 23).view(F32)
        two_minus_k = ((np.clip(0x7F - k, 1, 254)).astype(np.uint32) << 23).view(F32)
        outside = ((r - e) + F32(1)) * two_k - F32(1)
        below_23 = ((r - e) + (F32(1) - two_minus_k)) * two_k
        from_23 = ((r - (e + two_minus_k)) + F32(1)) * two_k
        general = np.where((k < 0) | (k > 56), outside, np.where(k < 23, below_23, from_23))
        out = np.where(k == 0, k0, np.where(k == -1, k_minus_1, np.where(k == 1, k_1, general)))
        out = np.where(hx < 0x33000000, x, out)
        out = np.where((hx >= 0x4195B844) & negative, F32(-1), out)
    return out.astype(F32)


def tanhf(x):
    """libm's `tanhf` of every value of `x` (float32)."""
    x, negative, w = split(x)
    a = w.view(F32)
    with np.errstate(all="ignore"):
        up = expm1f(F32(2) * a)
        down = expm1f(F32(-2) * a)
        big = np.where(w > 0x41200000, F32(1), F32(1) - F32(2) / (up + F32(2)))
        mid = up / (up + F32(2))
        small = -down / (down + F32(2))
        t = np.where(w > 0x3F0C9F54, big, np.where(w > 0x3E82C578, mid, np.where(w >= 0x00800000, small, a)))
    return np.where(negative, -t, t).astype(F32)


# ---- the contract's float steps ----

def combine(lanes):
    """Eight partial sums (last axis) added ((0+1)+(2+3))+((4+5)+(6+7))."""
    l = [lanes[..., i] for i in range(8)]
    return ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]))


def lane_dot(a, b):
    """Σ a·b over the last axis: lane i takes elements i, i+8, ... (product, then sum), the
    lanes combined in the fixed tree. Broadcasts over leading axes."""
    n = a.shape[-1]
    assert n % 8 == 0
    products = (a * b).astype(F32)
    products = products.reshape(products.shape[:-1] + (n // 8, 8))
    lanes = np.zeros(products.shape[:-2] + (8,), dtype=F32)
    for row in range(n // 8):
        lanes = lanes + products[..., row, :]
    return combine(lanes)


def rms_norm(x, weight, eps):
    """x / sqrt(mean(x²) + eps) × weight over the last axis, in float32."""
    mean = lane_dot(x, x) / F32(x.shape[-1])
    scale = F32(1) / np.sqrt(mean + eps)
    return (x * scale[..., None]) * weight


def quantize(x):
    """Activations per block of 32: scale max|x| / 127, values x / scale rounded half away from
    zero; returns (values as float32, shape (blocks, 32)), scales, integer sums per block."""
    blocks = x.reshape(-1, BLOCK)
    scale = (np.abs(blocks).max(axis=1) / F32(127)).astype(F32)
    safe = np.where(scale == 0, F32(1), scale)
    ratio = (blocks / safe[:, None]).astype(F32)
    whole = np.trunc(ratio)
    rest = ratio - whole
    q = whole + (rest >= F32(0.5)) - (rest <= F32(-0.5))
    q = np.clip(q, -127, 127)
    q = np.where(scale[:, None] == 0, 0, q).astype(F32)
    return q, scale, q.astype(np.int64).sum(axis=1)


def gelu(x):
    inner = F32(0.7978846) * (x + ((F32(0.044715) * x) * x) * x)
    return (F32(0.5) * x) * (F32(1) + tanhf(inner))


def softmax(x):
    """Over the last axis: minus the maximum, libm's expf, a sum in order, a division."""
    e = expf(x - x.max(axis=-1, keepdims=True))
    total = np.cumsum(e, axis=-1, dtype=F32)[..., -1:]  # a running sum: left to right
    return (e / total).astype(F32)


# ---- GGML blocks, parsed by this script ----

def half(raw, at):
    return raw[:, at : at + 2].copy().view(np.float16).astype(F32)[:, 0]


class Matrix:
    """A quantized matrix: per 32-value block (per 16 for Q6_K) the integer values laid out
    (block, row, value) for exact products, and the per-row scales the float step needs."""

    def __init__(self, tensor):
        self.kind = tensor.tensor_type
        columns, rows = (int(d) for d in tensor.shape.tolist())
        self.rows = rows
        raw = np.asarray(tensor.data, dtype=np.uint8)
        kind = self.kind
        Q = GGMLQuantizationType
        if kind == Q.Q8_0:
            raw = raw.reshape(-1, 34)
            values = raw[:, 2:].view(np.int8).astype(F32)
            self.d = half(raw, 0).reshape(rows, -1)
        elif kind == Q.Q5_0:
            raw = raw.reshape(-1, 22)
            nibbles = raw[:, 6:22]
            mask = raw[:, 2:6].copy().view("<u4")[:, 0]
            fifth = ((mask[:, None] >> np.arange(32, dtype=np.uint32)) & 1).astype(np.int32) << 4
            low = (nibbles & 0x0F).astype(np.int32)
            high = (nibbles >> 4).astype(np.int32)
            values = (np.concatenate([low, high], axis=1) | fifth) - 16
            values = values.astype(F32)
            self.d = half(raw, 0).reshape(rows, -1)
        elif kind == Q.Q4_K:
            raw = raw.reshape(-1, 144)
            self.d = half(raw, 0).reshape(rows, -1)
            self.dmin = half(raw, 2).reshape(rows, -1)
            packed = raw[:, 4:16].astype(np.int64)
            scales, mins = [], []
            for j in range(8):
                if j < 4:
                    scales.append(packed[:, j] & 63)
                    mins.append(packed[:, j + 4] & 63)
                else:
                    scales.append((packed[:, j + 4] & 0x0F) | ((packed[:, j - 4] >> 6) << 4))
                    mins.append((packed[:, j + 4] >> 4) | ((packed[:, j] >> 6) << 4))
            self.scales = np.stack(scales, axis=1).reshape(rows, -1)
            self.mins = np.stack(mins, axis=1).reshape(rows, -1)
            quads = raw[:, 16:144].reshape(-1, 4, 32)
            parts = []
            for pair in range(4):
                parts.append(quads[:, pair] & 0x0F)
                parts.append(quads[:, pair] >> 4)
            values = np.stack(parts, axis=1).reshape(-1, 32).astype(F32)
        elif kind == Q.Q6_K:
            raw = raw.reshape(-1, 210)
            self.d = half(raw, 208).reshape(rows, -1)
            self.scales = raw[:, 192:208].view(np.int8).astype(np.int64).reshape(rows, -1)
            values = np.zeros((raw.shape[0], 256), dtype=np.int32)
            for part in range(2):
                low = raw[:, 64 * part : 64 * part + 64].astype(np.int32)
                high = raw[:, 128 + 32 * part : 160 + 32 * part].astype(np.int32)
                base = 128 * part
                values[:, base : base + 32] = (low[:, :32] & 15) | ((high & 3) << 4)
                values[:, base + 32 : base + 64] = (low[:, 32:] & 15) | (((high >> 2) & 3) << 4)
                values[:, base + 64 : base + 96] = (low[:, :32] >> 4) | (((high >> 4) & 3) << 4)
                values[:, base + 96 : base + 128] = (low[:, 32:] >> 4) | (((high >> 6) & 3) << 4)
            values = (values - 32).reshape(-1, 16).astype(F32)
        else:
            raise ValueError(f"{tensor.name}: {kind.name} is not a matrix format the model uses")
        self.check(tensor, values)
        width = values.shape[1]
        self.values = np.ascontiguousarray(values.reshape(rows, -1, width).transpose(1, 0, 2))

    def dequantized(self, values):
        """The values this parsing says the matrix holds, to compare with `gguf`'s."""
        rows = self.rows
        Q = GGMLQuantizationType
        v = values.reshape(rows, -1, values.shape[1]).astype(np.float64)
        if self.kind in (Q.Q8_0, Q.Q5_0):
            return (v * self.d[:, :, None]).reshape(rows, -1)
        if self.kind == Q.Q4_K:
            d = np.repeat(self.d, 8, axis=1)[:, :, None]
            dmin = np.repeat(self.dmin, 8, axis=1)[:, :, None]
            return (d * self.scales[:, :, None] * v - dmin * self.mins[:, :, None]).reshape(rows, -1)
        d = np.repeat(self.d, 16, axis=1)[:, :, None]
        return (d * self.scales[:, :, None] * v).reshape(rows, -1)

    def check(self, tensor, values):
        ours = self.dequantized(values)
        theirs = dequantize(tensor.data, tensor.tensor_type).reshape(ours.shape).astype(np.float64)
        scale = np.abs(theirs).max()
        error = np.abs(ours - theirs).max() / scale
        if error > 1e-6:
            raise ValueError(f"{tensor.name}: this parsing disagrees with gguf's ({error:.2e})")

    def times(self, q, scales, sums):
        """The matrix times quantized activations: exact integer block sums (float32 products
        of integers whose sums stay below 2^24), then per row the float step in block order."""
        Q = GGMLQuantizationType
        if self.kind == Q.Q6_K:
            a = q.reshape(-1, 16)
        else:
            a = q
        integer = np.matmul(self.values, a[:, :, None])[:, :, 0].T.astype(np.int64)  # (rows, blocks)
        total = np.zeros(self.rows, dtype=F32)
        if self.kind in (Q.Q8_0, Q.Q5_0):
            for b in range(integer.shape[1]):
                total = total + (self.d[:, b] * scales[b]) * integer[:, b].astype(F32)
        elif self.kind == Q.Q4_K:
            for b in range(integer.shape[1]):
                sb = b // 8
                scaled = (self.scales[:, b] * integer[:, b]).astype(F32)
                offset = (self.mins[:, b] * sums[b]).astype(F32)
                total = total + (self.d[:, sb] * scales[b]) * scaled
                total = total - (self.dmin[:, sb] * scales[b]) * offset
        else:
            for b in range(integer.shape[1] // 2):
                s = self.scales[:, 2 * b] * integer[:, 2 * b] + self.scales[:, 2 * b + 1] * integer[:, 2 * b + 1]
                total = total + (self.d[:, b // 8] * scales[b]) * s.astype(F32)
        return total


class Gemma:
    def __init__(self, path):
        reader = GGUFReader(path)
        tensors = {t.name: t for t in reader.tensors}
        meta = {f.name: f.contents() for f in reader.fields.values() if not f.name.startswith("tokenizer.")}
        self.blocks = int(meta["gemma3.block_count"])
        self.heads = int(meta["gemma3.attention.head_count"])
        self.head = int(meta["gemma3.attention.key_length"])
        self.eps = F32(meta["gemma3.attention.layer_norm_rms_epsilon"])
        self.window = int(meta["gemma3.attention.sliding_window"])
        self.global_base = float(meta["gemma3.rope.freq_base"])
        self.width = int(meta["gemma3.embedding_length"])

        def vector(name):
            return np.asarray(tensors[name].data, dtype=F32).reshape(-1)

        self.m = {}
        self.v = {}
        for name, tensor in tensors.items():
            if tensor.tensor_type == GGMLQuantizationType.F32:
                self.v[name] = vector(name)
            else:
                self.m[name] = Matrix(tensor)
        self.reset()

    def reset(self):
        self.keys = [[] for _ in range(self.blocks)]
        self.values = [[] for _ in range(self.blocks)]

    def frequencies(self, base):
        return [math.pow(base, -2.0 * i / self.head) for i in range(self.head // 2)]

    def rotate(self, x, pos, base):
        """NeoX rotation: element i pairs with i + half; angles in float64, sin and cos rounded
        to float32, then a·cos − b·sin and a·sin + b·cos in float32."""
        angles = [pos * f for f in self.frequencies(base)]
        sin = np.array([math.sin(a) for a in angles], dtype=np.float64).astype(F32)
        cos = np.array([math.cos(a) for a in angles], dtype=np.float64).astype(F32)
        half = x.shape[-1] // 2
        a, b = x[..., :half], x[..., half:]
        return np.concatenate([a * cos - b * sin, a * sin + b * cos], axis=-1)

    def project(self, name, x):
        return self.m[name].times(*quantize(x))

    def embed(self, token):
        e = self.m["token_embd.weight"]
        row = (e.values[:, token, :] * e.d[token][:, None]).reshape(-1).astype(F32)
        return row * np.sqrt(F32(self.width))

    def forward(self, token):
        pos = len(self.keys[0])
        x = self.embed(token)
        v = self.v
        for i in range(self.blocks):
            p = f"blk.{i}."
            is_global = i % 6 == 5
            base = self.global_base if is_global else 10000.0
            h = rms_norm(x, v[p + "attn_norm.weight"], self.eps)
            q8 = quantize(h)
            q = self.m[p + "attn_q.weight"].times(*q8).reshape(self.heads, self.head)
            k = self.m[p + "attn_k.weight"].times(*q8)
            val = self.m[p + "attn_v.weight"].times(*q8)
            q = self.rotate(rms_norm(q, v[p + "attn_q_norm.weight"], self.eps), pos, base)
            k = self.rotate(rms_norm(k, v[p + "attn_k_norm.weight"], self.eps), pos, base)
            self.keys[i].append(k)
            self.values[i].append(val)
            first = 0 if is_global else max(0, pos + 1 - self.window)
            keys = np.array(self.keys[i][first:])
            values = np.array(self.values[i][first:])
            scores = lane_dot(q[:, None, :], keys[None, :, :]) * (F32(1) / np.sqrt(F32(self.head)))
            weights = softmax(scores)
            attended = np.zeros((self.heads, self.head), dtype=F32)
            for j in range(len(values)):
                attended = attended + weights[:, j : j + 1] * values[j][None, :]
            out = self.project(p + "attn_output.weight", attended.reshape(-1))
            x = x + rms_norm(out, v[p + "post_attention_norm.weight"], self.eps)
            h = rms_norm(x, v[p + "ffn_norm.weight"], self.eps)
            q8 = quantize(h)
            gate = self.m[p + "ffn_gate.weight"].times(*q8)
            up = self.m[p + "ffn_up.weight"].times(*q8)
            out = self.project(p + "ffn_down.weight", gelu(gate) * up)
            x = x + rms_norm(out, v[p + "post_ffw_norm.weight"], self.eps)
        x = rms_norm(x, v["output_norm.weight"], self.eps)
        return self.project("token_embd.weight", x)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    spec = importlib.util.spec_from_file_location("float64", os.path.join(here, "gemma-reference.py"))
    float64 = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(float64)
    float64.decode_prompts(Gemma, __doc__)


if __name__ == "__main__":
    main()

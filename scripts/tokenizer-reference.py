#!/usr/bin/env python3
"""Tokenize texts with an independent implementation of Gemma's tokenizer, for comparison.

Builds a SentencePiece model (Google's `sentencepiece` library, from PyPI) out of the GGUF
file's vocabulary as read by the `gguf` package (pieces, scores, types; BPE with byte
fallback, no dummy prefix, no normalization; user-defined pieces with the word mark the GGUF
converter turned into spaces), then encodes each text of TEXTS (a JSON list)
and writes [[text, [ids…]], …] as JSON to OUT. `llm/tests/gemma_file.rs` checks Verity's
tokenizer against that file.

Usage: tokenizer-reference.py GGUF TEXTS OUT   (pip install sentencepiece gguf)"""

import json
import sys

import gguf
from sentencepiece import SentencePieceProcessor
from sentencepiece import sentencepiece_model_pb2 as model_pb2


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    reader = gguf.GGUFReader(sys.argv[1])
    pieces = reader.fields["tokenizer.ggml.tokens"].contents()
    scores = reader.fields["tokenizer.ggml.scores"].contents()
    types = reader.fields["tokenizer.ggml.token_type"].contents()
    model = model_pb2.ModelProto()
    model.trainer_spec.model_type = model_pb2.TrainerSpec.BPE
    model.trainer_spec.byte_fallback = True
    model.trainer_spec.vocab_size = len(pieces)
    model.trainer_spec.split_digits = True
    model.normalizer_spec.name = "identity"
    model.normalizer_spec.add_dummy_prefix = False
    model.normalizer_spec.remove_extra_whitespaces = False
    model.normalizer_spec.escape_whitespaces = True
    kinds = {1: model_pb2.ModelProto.SentencePiece.NORMAL,
             2: model_pb2.ModelProto.SentencePiece.UNKNOWN,
             3: model_pb2.ModelProto.SentencePiece.CONTROL,
             4: model_pb2.ModelProto.SentencePiece.USER_DEFINED,
             5: model_pb2.ModelProto.SentencePiece.UNUSED,
             6: model_pb2.ModelProto.SentencePiece.BYTE}
    for piece, score, kind in zip(pieces, scores, types):
        entry = model.pieces.add()
        # The GGUF converter wrote user-defined pieces with spaces where SentencePiece has its
        # word mark (U+2581); SentencePiece matches them after escaping spaces, so put it back.
        entry.piece = piece.replace(" ", "\u2581") if int(kind) == 4 else piece
        entry.score = float(score)
        entry.type = kinds[int(kind)]
    processor = SentencePieceProcessor(model_proto=model.SerializeToString())
    texts = json.load(open(sys.argv[2]))
    pairs = [[text, processor.encode(text)] for text in texts]
    json.dump(pairs, open(sys.argv[3], "w"), ensure_ascii=False, indent=0)
    print(f"{len(pairs)} texts tokenized into {sys.argv[3]}")


if __name__ == "__main__":
    main()

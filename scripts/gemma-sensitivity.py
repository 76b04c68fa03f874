#!/usr/bin/env python3
"""How far the float64 Gemma reference moves on its own when its activations move by one part
in a million: the scale of disagreement that 8-bit activations allow between two correct
implementations (what the README and `llm/tests/gemma_file.rs` quote).

Runs `scripts/gemma-reference.py`'s model on the first three prompts of
`llm/tests/fixtures/gemma-reference.json`, teacher-forced with their tokens, once as is and
once with every activation scaled by 1 + 1e-6 before it is quantized, and prints the largest
difference of a top-8 logit as a share of the step's top logit.

Usage: gemma-sensitivity.py GGUF   (pip install gguf numpy)"""

import importlib.util
import json
import os
import sys

import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("reference", os.path.join(here, "gemma-reference.py"))
reference = importlib.util.module_from_spec(spec)
spec.loader.exec_module(reference)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    model = reference.Gemma(sys.argv[1])
    prompts = json.load(open(os.path.join(here, "../llm/tests/fixtures/gemma-reference.json")))
    exact = reference.q8
    worst = 0.0
    for prompt in prompts[:3]:
        def run(perturbed):
            reference.q8 = (lambda x: exact(x * (1 + 1e-6))) if perturbed else exact
            model.reset()
            for token in prompt["ids"]:
                logits = model.forward(token)
            steps = []
            for token in prompt["generated"]:
                steps.append(logits)
                logits = model.forward(token)
            return steps
        for a, b in zip(run(False), run(True)):
            top = np.argsort(-a)[:8]
            worst = max(worst, max(abs(a[i] - b[i]) for i in top) / abs(a[top[0]]))
    reference.q8 = exact
    print(f"largest relative move of a top-8 logit under a 1e-6 perturbation: {worst:.4f}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Converts one musicnn checkpoint of the unpacked musicnn 0.1.0 wheel into a Timbre model
bundle, and records TensorFlow's outputs of that checkpoint on a fixed synthetic input beside it
(`<out stem>.reference.safetensors`) for Tests/TaggerTests/MusicnnGoldenTests.swift.

    convert.py --package DIR/musicnn --model MTT_musicnn --out models/musicnn/MTT_musicnn.safetensors

Run by tools/musicnn/import.sh (which downloads the wheel and makes the venv); the wheel's code
is read only for its label lists (configuration.py, parsed, not imported) and config.json.
"""
from __future__ import annotations

import argparse
import ast
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import musicnn_tf  # noqa: E402


def labels_of(package: str, model: str) -> list[str]:
    """MTT_LABELS or MSD_LABELS of the package's configuration.py (literals only)."""
    wanted = "MTT_LABELS" if model.startswith("MTT") else "MSD_LABELS"
    with open(os.path.join(package, "configuration.py")) as f:
        tree = ast.parse(f.read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == wanted for t in node.targets):
            return list(ast.literal_eval(node.value))
    raise SystemExit(f"{wanted} not found in {package}/configuration.py")


def reference_input() -> np.ndarray:
    """Two 187-frame patches of 96 bands, values in musicnn's log10(1 + 10000·S) range, smooth
    along both axes like a spectrogram (a fixed seed: the same every run)."""
    rng = np.random.default_rng(20190712)
    base = rng.uniform(0.0, 1.0, (2, 187 + 8, 96 + 8)).astype(np.float64)
    kernel = np.ones((9, 9)) / 81.0
    out = np.zeros((2, 187, 96))
    for b in range(2):
        for i in range(9):
            for j in range(9):
                out[b] += kernel[i, j] * base[b, i:i + 187, j:j + 96]
    tilt = np.linspace(2.5, 0.5, 96)[None, None, :]
    return (3.0 * (out - 0.5) + tilt).clip(0.0, None).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--package", required=True, help="the unpacked wheel's musicnn/ folder")
    parser.add_argument("--model", default="MTT_musicnn", choices=["MTT_musicnn", "MSD_musicnn"])
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    import tensorflow as tf
    from safetensors.numpy import save_file

    folder = os.path.join(args.package, args.model)
    with open(os.path.join(folder, "config.json")) as f:
        mels = int(json.load(f)["yInput"])
    variables = musicnn_tf.read_checkpoint(folder + "/")
    labels = labels_of(args.package, args.model)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    source = (f"musicnn 0.1.0 {args.model} (Pons & Serra, ISC licence, Music Technology Group, UPF), "
              f"converted by tools/musicnn with TensorFlow {tf.__version__}")
    tmp = args.out + ".tmp"
    arch = musicnn_tf.write_bundle(tmp, variables, labels, mels, source)
    os.replace(tmp, args.out)

    x = reference_input()
    expected = musicnn_tf.tf_forward(variables, x)
    stem = args.out[:-len(".safetensors")] if args.out.endswith(".safetensors") else args.out
    reference = stem + ".reference.safetensors"
    # input as Timbre's chunks (B, 1, n_mels, frames)
    tensors = {"input": np.ascontiguousarray(np.transpose(x, (0, 2, 1))[:, None]),
               **{k: np.ascontiguousarray(a.astype(np.float32)) for k, a in expected.items()}}
    save_file(tensors, reference + ".tmp", metadata={"tensorflow": tf.__version__, "model": args.model})
    os.replace(reference + ".tmp", reference)
    top = np.argsort(-expected["probabilities"].mean(0))[:5]
    print(f"wrote {args.out} ({arch['num_genres']} tags, {arch['embedding_dim']}-d embedding) and {reference}")
    print("reference input, TensorFlow's top tags: " + ", ".join(f"{labels[i]} {expected['probabilities'].mean(0)[i]:.2f}" for i in top))


if __name__ == "__main__":
    main()

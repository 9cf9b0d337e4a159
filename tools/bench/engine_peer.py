#!/usr/bin/env python3
"""The PyTorch and ONNX Runtime side of `scripts/bench engine`.

Loads the weights and the input batch that `timbre-bench bench-engine --write-weights` wrote into
tools/reference/model.py's network, checks that PyTorch's eval logits equal Timbre's (and
ONNX Runtime's PyTorch's), then times, on that batch, what a typical user runs on CPU:

    with torch.inference_mode(): model(x)                      # PyTorch, eval, default threads
    session.run(None, {"input": x})                            # ONNX Runtime, exported model (opset 17)
    opt.zero_grad(); loss_fn(model(x), y).backward(); opt.step()   # PyTorch train step, AdamW

Each is warmed up `--warm-up` times, then timed `--repeats` times (one batch each); prints
JSON with every time, the medians, the logits differences, the model's forward FLOPs per
chunk (torch.utils.flop_counter) and numpy's sgemm rate (its bundled OpenBLAS) as a
cross-check of Timbre's.
"""
import argparse
import json
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from safetensors import safe_open
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "reference"))
from model import make_network  # noqa: E402


def load(path):
    """The network with the file's weights, the input batch, and Timbre's logits on it."""
    with safe_open(path, framework="pt") as f:
        config = json.loads(f.metadata()["config"])
        tensors = {name: f.get_tensor(name) for name in f.keys()}
    x = tensors.pop("bench.input")
    timbre_logits = tensors.pop("bench.logits")
    model = make_network(config)
    model.load_state_dict(tensors, strict=True)
    return model, config, x, timbre_logits


def timed(fn, warm_up, repeats, label):
    for _ in range(warm_up):
        fn()
    runs = []
    for i in range(repeats):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
        print(f"{label}: {i + 1}/{repeats} {runs[-1]:.3f} s", file=sys.stderr, flush=True)
    return runs


def sgemm_seconds(n, repeats=10):
    rng = np.random.default_rng(0)
    a = rng.uniform(-1, 1, (n, n)).astype(np.float32)
    b = rng.uniform(-1, 1, (n, n)).astype(np.float32)
    a @ b.T
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b.T
        runs.append(time.perf_counter() - start)
    return runs


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("weights", help="safetensors file from timbre-bench bench-engine --write-weights")
    parser.add_argument("--onnx", required=True, help="where to export the ONNX model")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--warm-up", type=int, default=2)
    parser.add_argument("--gemm-size", type=int, default=2048)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    model, config, x, timbre_logits = load(args.weights)
    model.eval()
    with torch.inference_mode():
        torch_logits = model(x)
    timbre_diff = (torch_logits - timbre_logits).abs().max().item()

    with FlopCounterMode(display=False) as counter:
        with torch.no_grad():
            model(x[:1])
    forward_flops = counter.get_total_flops()

    # The legacy TorchScript exporter needs no onnxscript; opset 17, eval mode, fixed batch.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (x,), args.onnx, opset_version=17, dynamo=False,
                          input_names=["input"], output_names=["logits"])
    session = ort.InferenceSession(args.onnx, providers=["CPUExecutionProvider"])
    feed = {"input": x.numpy()}
    ort_logits = session.run(None, feed)[0]
    ort_diff = float(np.abs(ort_logits - torch_logits.numpy()).max())
    ort_timbre_diff = float(np.abs(ort_logits - timbre_logits.numpy()).max())

    def infer():
        with torch.inference_mode():
            model(x)

    torch_inference = timed(infer, args.warm_up, args.repeats, "pytorch inference")
    ort_inference = timed(lambda: session.run(None, feed), args.warm_up, args.repeats, "onnxruntime inference")

    # Train step on a fresh copy, as Timbre's: zero_grad, forward (train), BCE, backward, AdamW.
    train_model, _, _, _ = load(args.weights)
    train_model.train()
    generator = torch.Generator().manual_seed(args.seed + 2)
    targets = (torch.rand((x.shape[0], config["num_genres"]), generator=generator) < 0.1).float()
    optimizer = torch.optim.AdamW(train_model.parameters(), lr=1e-3, weight_decay=1e-2)
    loss_fn = torch.nn.BCEWithLogitsLoss()

    def train_step():
        optimizer.zero_grad()
        loss_fn(train_model(x), targets).backward()
        optimizer.step()

    torch_train = timed(train_step, args.warm_up, args.repeats, "pytorch train")
    sgemm = sgemm_seconds(args.gemm_size) if args.gemm_size > 0 else []

    report = {
        "torch": torch.__version__, "onnxruntime": ort.__version__, "numpy": np.__version__,
        "torch_threads": torch.get_num_threads(), "cpu_count": os.cpu_count(),
        "batch": x.shape[0], "forward_flops_per_chunk": forward_flops,
        "logits_max_abs_diff_torch_vs_timbre": timbre_diff,
        "logits_max_abs_diff_ort_vs_torch": ort_diff,
        "logits_max_abs_diff_ort_vs_timbre": ort_timbre_diff,
        "logits_max_abs": float(torch_logits.abs().max()),
        "torch_inference_s": torch_inference, "torch_inference_median_s": statistics.median(torch_inference),
        "ort_inference_s": ort_inference, "ort_inference_median_s": statistics.median(ort_inference),
        "torch_train_s": torch_train, "torch_train_median_s": statistics.median(torch_train),
        "numpy_sgemm_size": args.gemm_size, "numpy_sgemm_s": sgemm,
    }
    print(json.dumps(report, sort_keys=True))


if __name__ == "__main__":
    main()

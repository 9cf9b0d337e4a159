#!/usr/bin/env python3
"""PyTorch's nn.LSTM on the weights and batch `timbre-bench bench-lstm --write-weights` wrote: checks its
output against Timbre's, then times inference (torch.inference_mode) and a training pass
(zero_grad, forward, backward of sum(output * r)) per batch. Prints one JSON object (medians)."""
import argparse
import json
import statistics
import time

import torch
from safetensors import safe_open


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("weights")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--warm-up", type=int, default=2)
    args = parser.parse_args()
    with safe_open(args.weights, "pt") as f:
        shape = json.loads(f.metadata()["shape"])
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    lstm = torch.nn.LSTM(shape["input_size"], shape["hidden"], shape["layers"], batch_first=True,
                         bidirectional=shape["bidirectional"])
    lstm.load_state_dict({k: v for k, v in tensors.items() if not k.startswith("bench.")})
    x = tensors["bench.input"]
    with torch.inference_mode():
        y, _ = lstm(x)
    diff = (y - tensors["bench.output"]).abs().max().item()
    r = torch.rand_like(y)

    def timed(fn):
        for _ in range(args.warm_up):
            fn()
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    def infer():
        with torch.inference_mode():
            lstm(x)

    def train():
        lstm.zero_grad()
        out, _ = lstm(x)
        (out * r).sum().backward()

    print(json.dumps({
        "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
        "output_max_abs": y.abs().max().item(), "output_max_abs_diff_vs_timbre": diff,
        "inference_seconds_per_batch": timed(infer), "train_seconds_per_batch": timed(train),
    }, sort_keys=True))


if __name__ == "__main__":
    main()

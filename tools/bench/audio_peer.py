#!/usr/bin/env python3
"""The librosa side of `scripts/bench audio`.

Times what a typical user writes to get a model's input from a file:

    y, sr = librosa.load(path, sr=22050)                 # decode, downmix, resample (soxr_hq)
    S = librosa.feature.melspectrogram(y=y, sr=sr)       # n_fft 2048, hop 512, 128 mels, Slaney
    S_db = librosa.power_to_db(S, ref=1.0, top_db=80.0)

over all files, `--processes` files at a time (1 = a plain loop in one process, as
most users run it), `--repeats` times after one warm-up file (numba JIT, imports);
prints JSON with each repeat's seconds and the median. `--dump FILE=OUT.npy` saves
FILE's dB spectrogram for the value comparison.
"""
import argparse
import json
import multiprocessing
import statistics
import sys
import time

import librosa
import numpy as np

SAMPLE_RATE = 22050


def front_end(path):
    y, sr = librosa.load(path, sr=SAMPLE_RATE)
    mel = librosa.feature.melspectrogram(y=y, sr=sr)
    return librosa.power_to_db(mel, ref=1.0, top_db=80.0), len(y) / sr


def frames_of(path):
    spec, _ = front_end(path)
    return spec.shape[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="+")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--dump", action="append", default=[], metavar="FILE=OUT.npy")
    args = parser.parse_args()

    dumps = []
    for item in args.dump:
        path, out = item.split("=", 1)
        spec, _ = front_end(path)
        np.save(out, spec.astype(np.float32))
        dumps.append({"file": path, "out": out, "n_mels": spec.shape[0], "frames": spec.shape[1]})

    pool = None
    if args.processes > 1:
        # Start the workers and warm them (imports, numba JIT) before timing.
        pool = multiprocessing.get_context("fork").Pool(args.processes)
        pool.map(frames_of, args.files[: args.processes])
    else:
        frames_of(args.files[0])

    runs = []
    for repeat in range(args.repeats):
        start = time.perf_counter()
        if pool is not None:
            frames = pool.map(frames_of, args.files, chunksize=1)
        else:
            frames = [frames_of(path) for path in args.files]
        runs.append(time.perf_counter() - start)
        assert all(f > 0 for f in frames)
        print(f"librosa ({args.processes} process{'es' if args.processes > 1 else ''}): "
              f"repeat {repeat + 1}/{args.repeats} {runs[-1]:.2f} s", file=sys.stderr, flush=True)
    if pool is not None:
        pool.close()
        pool.join()

    median = statistics.median(runs)
    print(json.dumps({
        "tool": "librosa " + librosa.__version__, "processes": args.processes, "files": len(args.files),
        "runs_s": runs, "median_s": median, "files_per_s": len(args.files) / median, "dumps": dumps,
    }, sort_keys=True))


if __name__ == "__main__":
    main()

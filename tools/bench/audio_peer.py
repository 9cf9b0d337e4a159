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
    parser.add_argument("--stages", action="store_true", help="also time decode, resample and log-mel apart (one pass)")
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
    report = {
        "tool": "librosa " + librosa.__version__, "processes": args.processes, "files": len(args.files),
        "runs_s": runs, "median_s": median, "files_per_s": len(args.files) / median, "dumps": dumps,
    }
    if args.stages:
        report["stages_s"] = stage_seconds(args.files)
    print(json.dumps(report, sort_keys=True))


def stage_seconds(files):
    """The steps librosa.load takes (read, downmix; then soxr_hq), and the log-mel, timed apart."""
    decode = resample = log_mel = 0.0
    for path in files:
        start = time.perf_counter()
        y, sr = librosa.load(path, sr=None)
        decode += time.perf_counter() - start
        start = time.perf_counter()
        y = librosa.resample(y, orig_sr=sr, target_sr=SAMPLE_RATE, res_type="soxr_hq")
        resample += time.perf_counter() - start
        start = time.perf_counter()
        librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=SAMPLE_RATE), ref=1.0, top_db=80.0)
        log_mel += time.perf_counter() - start
    return {"decode": decode, "resample": resample, "log_mel": log_mel}


if __name__ == "__main__":
    main()

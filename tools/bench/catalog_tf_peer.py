#!/usr/bin/env python3
"""The catalog bench's peer: the musicnn teacher under TensorFlow CPU analysing whole tracks, the
way AudioMuse-AI uses musicnn (run by tools/bench/catalog.sh on the 4-minute library).

    catalog_tf_peer.py --audio DIR --package WHEEL/musicnn [--model MTT_musicnn] [--threads N]
                       [--inter-op N] [--batch N] [--results FILE.jsonl] [--out FILE.json]

For every audio file under DIR (recursively, sorted), one after the other: librosa.load at
16 kHz mono; musicnn's front end (librosa mel power spectrogram, n_fft 512, hop 256, 96 mels,
Slaney, centred with reflect padding as librosa did for musicnn 0.1.0; log10(1 + 10000·mel)
in float32: the 0.1.0 wheel casts the mel to float16 first, which overflows on loud bands);
3-s patches of 187 frames without overlap over the whole track (only whole patches, as musicnn's
batch_data); TensorFlow CPU inference of the musicnn graph (tools/musicnn/musicnn_tf.py's
tf_graph, traced once by tf.function for any number of patches, fed `--batch` patches a call);
the track's mean patch probabilities and mean penultimate layer (200-d for MTT_musicnn).

The checkpoint is read from the unpacked musicnn 0.1.0 wheel (`--package`, as
tools/musicnn/wheel.sh's musicnn_wheel writes it at run time; never committed). Prints one JSON
object: tracks, audio seconds, wall seconds (first file load → last track's result; the TF
import, checkpoint read, graph tracing and librosa's first-call warm-up are timed apart),
tracks/s, time per stage, the CPU, TensorFlow's version and its intra/inter-op threads (all
cores by default). On the same 16-kHz samples its probabilities and embeddings agree with
`timbre predict/embed --model models/musicnn/MTT_musicnn.safetensors` to ~1e-6; from 22.05-kHz
files they differ by up to ~2e-2 (librosa resamples with soxr, Timbre with its own
Kaiser-sinc filter, whose pass band ends lower).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

T_START = time.perf_counter()
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "musicnn"))
import musicnn_tf  # noqa: E402

SR = 16000
N_FFT = 512
HOP = 256
PATCH = 187  # librosa.time_to_frames(3 s, sr=16000, hop_length=256) + 1, musicnn's n_frames
AUDIO = (".mp3", ".flac", ".ogg", ".oga", ".opus", ".wav", ".aif", ".aiff", ".m4a")


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def audio_files(folder: str) -> list[str]:
    out = []
    for root, _, names in os.walk(folder):
        out += [os.path.join(root, n) for n in names if n.lower().endswith(AUDIO)]
    return sorted(out)


def labels_of(package: str, model: str) -> list[str]:
    """The model's tag names from the wheel's configuration.py (convert.py's reader)."""
    import convert

    return convert.labels_of(package, model)


def log_mel(y: np.ndarray, mels: int) -> np.ndarray:
    """(frames, mels) float32: musicnn's input for 16 kHz mono y."""
    import librosa

    s = librosa.feature.melspectrogram(y=y, sr=SR, n_fft=N_FFT, hop_length=HOP, n_mels=mels,
                                       pad_mode="reflect").T.astype(np.float32)
    return np.log10(np.float32(1) + np.float32(10000) * s)


def patches(rep: np.ndarray) -> np.ndarray:
    """Whole 187-frame patches every 187 frames (musicnn's batch_data with overlap = n_frames)."""
    starts = range(0, rep.shape[0] - PATCH + 1, PATCH)
    return np.stack([rep[s:s + PATCH] for s in starts]) if len(starts) else np.zeros((0, PATCH, rep.shape[1]), np.float32)


def warm_up(mels: int) -> None:
    """librosa's first load pays its lazy imports (soundfile, soxr, its numba helpers: ~2 s);
    one second of silence at 22.05 kHz goes through load → resample → log-mel first, so that
    one-time cost is reported with the start-up, not charged to the first track."""
    import tempfile

    import librosa
    import soundfile

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "warm-up.wav")
        soundfile.write(path, np.zeros(22050, np.float32), 22050)
        y, _ = librosa.load(path, sr=SR, mono=True)
        log_mel(y, mels)


def main() -> None:
    cores = os.cpu_count() or 1
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--audio", required=True, help="folder of audio files (searched recursively)")
    parser.add_argument("--package", required=True, help="the unpacked musicnn 0.1.0 wheel's musicnn/ folder")
    parser.add_argument("--model", default="MTT_musicnn", choices=["MTT_musicnn", "MSD_musicnn"])
    parser.add_argument("--threads", type=int, default=cores, help=f"TensorFlow intra-op threads (default: all {cores} cores)")
    parser.add_argument("--inter-op", type=int, default=None, help="TensorFlow inter-op threads (default: as --threads)")
    parser.add_argument("--batch", type=int, default=32, help="patches per TensorFlow call (a track's patches in calls of this many)")
    parser.add_argument("--results", help="write each track's mean probabilities and embedding here (JSON lines)")
    parser.add_argument("--out", help="also write the summary JSON here")
    args = parser.parse_args()
    inter = args.inter_op if args.inter_op is not None else args.threads
    if args.threads < 1 or inter < 1 or args.batch < 1:
        raise SystemExit("catalog_tf_peer: --threads, --inter-op and --batch must be positive")
    folder = os.path.join(args.package, args.model)
    if not os.path.isfile(os.path.join(folder, "config.json")):
        raise SystemExit(f"catalog_tf_peer: no {args.model} checkpoint in {args.package} (expected {folder}/config.json)")
    files = audio_files(args.audio)
    if not files:
        raise SystemExit(f"catalog_tf_peer: no audio files under {args.audio}")

    t0 = time.perf_counter()
    import librosa
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(inter)
    tf.config.set_visible_devices([], "GPU")  # TensorFlow CPU, whatever the wheel could reach
    t1 = time.perf_counter()
    with open(os.path.join(folder, "config.json")) as f:
        mels = int(json.load(f)["yInput"])
    variables = musicnn_tf.read_checkpoint(folder + "/")
    labels = labels_of(args.package, args.model)
    t2 = time.perf_counter()
    forward = tf.function(lambda x: musicnn_tf.tf_graph(variables, x),
                          input_signature=[tf.TensorSpec([None, PATCH, mels], tf.float32)])
    forward(np.zeros((1, PATCH, mels), np.float32))  # traces the graph once
    t3 = time.perf_counter()
    warm_up(mels)
    t4 = time.perf_counter()
    print(f"catalog_tf_peer: {len(files)} files, {args.model}, TensorFlow {tf.__version__}, "
          f"{args.threads} intra-op / {inter} inter-op threads", file=sys.stderr)

    results = open(args.results, "w") if args.results else None
    load_s = features_s = model_s = 0.0
    audio_s = 0.0
    tracks = n_patches = 0
    failed = []
    start = time.perf_counter()
    for i, path in enumerate(files):
        a = time.perf_counter()
        try:
            y, _ = librosa.load(path, sr=SR, mono=True)
        except Exception as e:  # a file librosa cannot read is counted, not fatal
            failed.append({"file": path, "error": f"{type(e).__name__}: {e}"})
            print(f"catalog_tf_peer: cannot read {path}: {e}", file=sys.stderr)
            continue
        b = time.perf_counter()
        x = patches(log_mel(y, mels))
        c = time.perf_counter()
        if len(x) == 0:
            failed.append({"file": path, "error": f"shorter than one 3-s patch ({len(y) / SR:.2f} s)"})
            continue
        probs, embs = [], []
        for s in range(0, len(x), args.batch):
            out = forward(x[s:s + args.batch])
            probs.append(out["probabilities"].numpy())
            embs.append(out["embeddings"].numpy())
        p = np.concatenate(probs).mean(0)
        e = np.concatenate(embs).mean(0)
        d = time.perf_counter()
        load_s += b - a
        features_s += c - b
        model_s += d - c
        audio_s += len(y) / SR
        tracks += 1
        n_patches += len(x)
        if results:
            results.write(json.dumps({"file": path, "seconds": len(y) / SR, "patches": len(x),
                                      "probabilities": dict(zip(labels, map(float, p))),
                                      "embedding": list(map(float, e))}) + "\n")
        if (i + 1) % 10 == 0:
            print(f"catalog_tf_peer: {i + 1}/{len(files)} ({time.perf_counter() - start:.1f} s)", file=sys.stderr)
    wall = time.perf_counter() - start
    if results:
        results.close()

    summary = {
        "peer": f"musicnn 0.1.0 {args.model} under TensorFlow CPU, whole tracks (AudioMuse-AI's use)",
        "tracks": tracks,
        "failed": len(failed),
        "failures": failed[:10],
        "patches": n_patches,
        "audio_seconds": round(audio_s, 3),
        "wall_seconds": round(wall, 3),
        "tracks_per_second": round(tracks / wall, 4) if wall > 0 else None,
        "seconds_per_track": round(wall / tracks, 4) if tracks else None,
        "realtime_factor": round(audio_s / wall, 2) if wall > 0 else None,
        "stages_seconds": {"load_resample": round(load_s, 3), "log_mel_patches": round(features_s, 3),
                           "tensorflow": round(model_s, 3)},
        "startup_seconds": {"python_numpy": round(t0 - T_START, 3), "import_tensorflow_librosa": round(t1 - t0, 3),
                            "checkpoint": round(t2 - t1, 3), "graph_trace": round(t3 - t2, 3),
                            "librosa_warm_up": round(t4 - t3, 3)},
        "batch": args.batch,
        "cpu": cpu_name(),
        "cores": cores,
        "tensorflow": tf.__version__,
        "librosa": librosa.__version__,
        "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
        "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
    }
    text = json.dumps(summary, indent=2)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()

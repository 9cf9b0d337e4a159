#!/usr/bin/env python3
"""Writes the TensorFlow golden fixtures of the musicnn port into Tests/Fixtures/musicnn/.

    TIMBRE_PYTHON=/path/to/python tools/golden/make_musicnn_fixtures.py

Without TIMBRE_PYTHON the script creates tools/.venv-musicnn with the pinned versions of
tools/musicnn/requirements.txt (TensorFlow, librosa, safetensors) and re-runs itself there.
Deterministic (fixed seeds); rerunning rewrites the same values.

A tiny musicnn (16 mel bands, 3 timbral / 2 temporal / 4 mid-end filters, 8 back-end units,
5 tags, musicnn's own kernel lengths) gets small random weights — BatchNorm statistics
randomised too — and is saved as a TF1 checkpoint with musicnn's variable names, then converted
by the same code as the real checkpoints (tools/musicnn/musicnn_tf.py: read_checkpoint →
write_bundle); its expected outputs come from the same TensorFlow graph (tf_forward).

Files:
  tiny_musicnn.safetensors   the converted Timbre bundle (patches of 16 frames, hop 16)
  tiny_musicnn_expected.safetensors
      a.input (3,1,16,40), a.logits, a.probabilities, a.embeddings   TF on 40-frame patches
      b.input (1,1,16,5), b.*    5 frames: every temporal kernel is longer than the patch
      audio (12800,) at 16 kHz, a synthetic clip with loud passages
      melspec96   (96, 51): librosa 0.11 melspectrogram with musicnn's settings (sr 16000, n_fft
                  512, hop 256, 96 mels, reflect padding), then log10(1 + 10000·S) in float32
      track.probabilities, track.embedding   the whole clip through the tiny bundle as musicnn's
                  extractor does it (16-mel spectrogram, patches every 16 frames, the partial last
                  one dropped): mean of the patches' sigmoids, and the L2-normalised mean of
                  their penultimate vectors (Timbre's track embedding)
  metadata: spectrogram96 (the front end's JSON for 96 mels), tensorflow, librosa versions
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "Tests" / "Fixtures" / "musicnn"
REQUIREMENTS = ROOT / "tools" / "musicnn" / "requirements.txt"


def ensure_interpreter() -> None:
    """Re-executes under TIMBRE_PYTHON, or under tools/.venv-musicnn (created on first use)."""
    if os.environ.get("TIMBRE_GOLDEN_CHILD"):
        return
    python = os.environ.get("TIMBRE_PYTHON")
    if not python:
        venv = ROOT / "tools" / ".venv-musicnn"
        python = str(venv / "bin" / "python")
        if not os.path.exists(python):
            subprocess.check_call([sys.executable, "-m", "venv", str(venv)])
        subprocess.check_call([python, "-m", "pip", "install", "-q", "-r", str(REQUIREMENTS)])
    env = dict(os.environ, TIMBRE_GOLDEN_CHILD="1")
    sys.exit(subprocess.call([python, os.path.abspath(__file__)] + sys.argv[1:], env=env))


ensure_interpreter()

import numpy as np  # noqa: E402

sys.path.insert(0, str(ROOT / "tools" / "musicnn"))
import musicnn_tf  # noqa: E402

MELS, TIMBRAL, TEMPORAL, MIDEND, UNITS, TAGS, PATCH = 16, 3, 2, 4, 8, 5, 16
LABELS = ["piano", "guitar", "drums", "techno", "no vocals"]


def tiny_variables(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """musicnn's variables (names and shapes as build_musicnn makes them) with small random values."""
    v: dict[str, np.ndarray] = {}

    def f32(a):
        return np.asarray(a, dtype=np.float32)

    def bn(i, n):
        s = musicnn_tf.layer_name("batch_normalization", i)
        v[f"{s}/gamma"] = f32(rng.uniform(0.5, 1.5, n))
        v[f"{s}/beta"] = f32(rng.uniform(-0.3, 0.3, n))
        v[f"{s}/moving_mean"] = f32(rng.uniform(-0.3, 0.3, n))
        v[f"{s}/moving_variance"] = f32(rng.uniform(0.5, 1.5, n))

    def conv(i, shape):
        s = musicnn_tf.layer_name("conv2d", i)
        fan_in = shape[0] * shape[1] * shape[2]
        v[f"{s}/kernel"] = f32(rng.normal(0, 1.5 / np.sqrt(fan_in), shape))
        v[f"{s}/bias"] = f32(rng.uniform(-0.1, 0.1, shape[3]))

    bn(0, 1)
    for i, share in enumerate(musicnn_tf.TIMBRAL_SHARES):
        conv(i, (7, int(share * MELS), 1, TIMBRAL))
        bn(1 + i, TIMBRAL)
    for j, length in enumerate(musicnn_tf.TEMPORAL_KERNELS):
        conv(2 + j, (length, 1, 1, TEMPORAL))
        bn(3 + j, TEMPORAL)
    front = 2 * TIMBRAL + 3 * TEMPORAL
    for i in range(3):
        conv(5 + i, (7, front if i == 0 else MIDEND, 1, MIDEND))
        bn(6 + i, MIDEND)
    features = front + 3 * MIDEND
    bn(9, 2 * features)
    v["dense/kernel"] = f32(rng.normal(0, 1 / np.sqrt(2 * features), (2 * features, UNITS)))
    v["dense/bias"] = f32(rng.uniform(-0.1, 0.1, UNITS))
    bn(10, UNITS)
    v["dense_1/kernel"] = f32(rng.normal(0, 1 / np.sqrt(UNITS), (UNITS, TAGS)))
    v["dense_1/bias"] = f32(rng.uniform(-0.1, 0.1, TAGS))
    return v


def clip(rng: np.random.Generator) -> np.ndarray:
    """0.8 s at 16 kHz: a chord, a loud passage (mel power far above float16's range once
    multiplied by 10000) and noise."""
    t = np.arange(12800) / 16000.0
    y = 0.2 * np.sin(2 * np.pi * 220 * t) + 0.1 * np.sin(2 * np.pi * 660 * t) + 0.05 * np.sin(2 * np.pi * 3100 * t)
    y[4000:8000] *= 4.0
    y += 0.02 * rng.standard_normal(t.size)
    return y.astype(np.float32)


def log_mel(y: np.ndarray, mels: int) -> np.ndarray:
    """musicnn's input, (mels, frames): librosa's mel power with musicnn's settings and 2019's
    reflect padding, then log10(1 + 10000·S) in float32."""
    import librosa

    s = librosa.feature.melspectrogram(y=y, sr=16000, hop_length=256, n_fft=512, n_mels=mels, pad_mode="reflect")
    s = s.astype(np.float32)
    return np.log10(np.float32(10000) * s + np.float32(1)).astype(np.float32)


def main() -> None:
    import librosa
    import tensorflow as tf
    from safetensors.numpy import save_file

    rng = np.random.default_rng(1407)
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        prefix = os.path.join(tmp, "tiny", "model")
        os.makedirs(os.path.dirname(prefix))
        musicnn_tf.write_checkpoint(prefix, tiny_variables(rng))
        v = musicnn_tf.read_checkpoint(prefix)
    bundle = OUT / "tiny_musicnn.safetensors"
    musicnn_tf.write_bundle(str(bundle), v, LABELS, MELS, "tools/golden/make_musicnn_fixtures.py (random weights)",
                            patch=PATCH)

    tensors: dict[str, np.ndarray] = {}
    for key, (batch, frames) in {"a": (3, 40), "b": (1, 5)}.items():
        x = rng.uniform(0.0, 3.0, (batch, frames, MELS)).astype(np.float32)
        out = musicnn_tf.tf_forward(v, x)
        tensors[f"{key}.input"] = np.ascontiguousarray(np.transpose(x, (0, 2, 1))[:, None])
        for name, value in out.items():
            tensors[f"{key}.{name}"] = np.ascontiguousarray(value.astype(np.float32))

    y = clip(rng)
    tensors["audio"] = y
    tensors["melspec96"] = log_mel(y, 96)
    spec = log_mel(y, MELS).T  # (frames, mels), as musicnn batches it
    starts = range(0, spec.shape[0] - PATCH + 1, PATCH)
    patches = np.stack([spec[s:s + PATCH] for s in starts])
    out = musicnn_tf.tf_forward(v, patches)
    embedding = out["embeddings"].astype(np.float64).mean(0)
    tensors["track.probabilities"] = out["probabilities"].astype(np.float64).mean(0).astype(np.float32)
    tensors["track.embedding"] = (embedding / np.linalg.norm(embedding)).astype(np.float32)

    meta = {"spectrogram96": json.dumps(musicnn_tf.front_end(96)["spectrogram"], sort_keys=True),
            "tensorflow": tf.__version__, "librosa": librosa.__version__, "patches": str(len(patches))}
    save_file(tensors, str(OUT / "tiny_musicnn_expected.safetensors"), metadata=meta)
    sizes = sum(p.stat().st_size for p in OUT.iterdir())
    print(f"wrote {OUT} ({sizes} bytes; TensorFlow {tf.__version__}, librosa {librosa.__version__}, "
          f"{len(patches)} patches)")


if __name__ == "__main__":
    main()

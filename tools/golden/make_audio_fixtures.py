#!/usr/bin/env python3
"""Golden fixtures for the Features module, produced by librosa 0.11.0.

Writes Tests/Fixtures/features/: deterministic test audio (raw little-endian float32),
librosa's mel power spectrograms and power_to_db outputs for the defaults and a few
non-default configs, two mel filterbanks, a time_stretch and a pitch_shift output, and
manifest.json describing every file (shape, parameters).

Usage:  python3 tools/golden/make_audio_fixtures.py
Uses $TIMBRE_PYTHON if set; otherwise creates tools/.venv with the pinned versions of
tools/golden/requirements-audio.txt and re-runs itself there.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "Tests" / "Fixtures" / "features"
REQUIREMENTS = Path(__file__).resolve().parent / "requirements-audio.txt"
VENV = ROOT / "tools" / ".venv"


def ensure_interpreter():
    """Re-exec under $TIMBRE_PYTHON or tools/.venv unless already there."""
    if os.environ.get("TIMBRE_GOLDEN_CHILD") == "1":
        return
    env = dict(os.environ, TIMBRE_GOLDEN_CHILD="1")
    python = os.environ.get("TIMBRE_PYTHON")
    if not python:
        python = str(VENV / "bin" / "python")
        if not Path(python).exists():
            subprocess.check_call([sys.executable, "-m", "venv", str(VENV)])
        subprocess.check_call([python, "-m", "pip", "install", "-q", "-r", str(REQUIREMENTS)])
    os.execve(python, [python, __file__, *sys.argv[1:]], env)


ensure_interpreter()

import librosa  # noqa: E402
import numpy as np  # noqa: E402

assert librosa.__version__ == "0.11.0", librosa.__version__
SR = 22050
manifest = {"librosa": librosa.__version__, "numpy": np.__version__, "sample_rate": SR, "files": {}}


def save(name, array, **info):
    """Raw little-endian float32, row-major; shape and parameters go to the manifest."""
    array = np.ascontiguousarray(np.asarray(array, dtype="<f4"))
    (OUT / f"{name}.f32").write_bytes(array.tobytes())
    manifest["files"][name] = {"file": f"{name}.f32", "shape": list(array.shape), **info}


def test_audio(seconds=3.0, extra=123):
    """Tones + exponential chirp + noise + a short silent gap, deterministic."""
    n = int(seconds * SR) + extra  # not a multiple of any hop on purpose
    t = np.arange(n, dtype=np.float64) / SR
    y = 0.30 * np.sin(2 * np.pi * 440.0 * t)
    y += 0.10 * np.sin(2 * np.pi * 1318.5 * t + 0.3)
    f0, f1 = 80.0, 9000.0
    k = np.log(f1 / f0) / seconds
    y += 0.20 * np.sin(2 * np.pi * f0 * (np.exp(k * t) - 1) / k)
    y += 0.02 * np.random.default_rng(20240611).standard_normal(n)
    y *= np.minimum(1.0, t / 0.05)  # short fade-in
    y[int(1.5 * SR):int(1.6 * SR)] *= 0.01  # a quiet stretch exercises the dB floor
    return y.astype(np.float32)


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    y = test_audio()
    save("audio", y, description="3 s test signal at 22050 Hz: tones, chirp, noise")

    # name -> (melspectrogram kwargs, power_to_db kwargs)
    configs = {
        "default": ({}, {}),
        "htk_nonorm": ({"htk": True, "norm": None}, {}),
        "small": ({"n_mels": 64, "hop_length": 256, "n_fft": 1024}, {}),
        "topdb_none": ({}, {"top_db": None}),
        "uncentered": ({"center": False}, {}),
        "reflect_winlen": ({"pad_mode": "reflect", "win_length": 1536, "power": 1.0,
                             "fmin": 50.0, "fmax": 8000.0, "n_mels": 96}, {}),
        "db_options": ({}, {"ref": 0.5, "amin": 1e-5, "top_db": 40.0}),
    }
    for name, (mel_kw, db_kw) in configs.items():
        S = librosa.feature.melspectrogram(y=y, sr=SR, **mel_kw)
        assert S.dtype == np.float32
        D = librosa.power_to_db(S, **db_kw)
        params = {"mel": mel_kw, "db": db_kw}
        if mel_kw or name == "default":  # db-only variants share mel_default
            save(f"mel_{name}", S, **params)
        save(f"db_{name}", D, **params)

    # Signals shorter than n_fft / 2: padding longer than the signal (reflect repeats).
    for name, n, pad in (("short_reflect", 1000, "reflect"), ("short_constant", 700, "constant")):
        S = librosa.feature.melspectrogram(y=y[:n], sr=SR, pad_mode=pad)
        save(f"mel_{name}", S, samples=n, mel={"pad_mode": pad})
        save(f"db_{name}", librosa.power_to_db(S), samples=n, mel={"pad_mode": pad})

    save("filters_default", librosa.filters.mel(sr=SR, n_fft=2048),
         params={"sr": SR, "n_fft": 2048})
    save("filters_htk_nonorm_small",
         librosa.filters.mel(sr=SR, n_fft=1024, n_mels=64, htk=True, norm=None,
                             fmin=30.0, fmax=10000.0),
         params={"sr": SR, "n_fft": 1024, "n_mels": 64, "htk": True, "norm": None,
                 "fmin": 30.0, "fmax": 10000.0})

    clip = y[: SR]  # 1 s keeps the phase accumulator small (float32, as librosa's)
    save("stretch_input", clip, description="first second of audio")
    for rate in (1.25, 0.8):
        out = librosa.effects.time_stretch(clip, rate=rate)
        save(f"stretch_{str(rate).replace('.', '_')}", out, params={"rate": rate})
    shifted = librosa.effects.pitch_shift(clip, sr=SR, n_steps=2.0)
    save("pitch_shift_2", shifted, params={"n_steps": 2.0, "res_type": "soxr_hq"})

    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    print(f"wrote {len(manifest['files'])} fixtures to {OUT}")


if __name__ == "__main__":
    main()

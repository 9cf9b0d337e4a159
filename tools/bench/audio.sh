#!/usr/bin/env bash
# scripts/bench audio: Timbre's audio front end against librosa 0.11, same files, same run.
#
# Per file: decode (WAV/FLAC/MP3) → mono → resample to 22050 Hz → log-mel (n_fft 2048,
# hop 512, 128 Slaney mels, power_to_db ref 1, top_db 80). Timbre runs BENCH_JOBS files at
# a time (default 2, one per core); librosa runs as one process (a plain loop, as users
# write it) and again with BENCH_JOBS processes, to be fair on cores. Reports medians of
# BENCH_REPEATS (Timbre, default 5) and BENCH_PEER_REPEATS (librosa, default 3) timed
# passes, files/s, the ratios, and how far Timbre's dB values are from librosa's.
#
# The corpus (30 synthetic tracks, 30–240 s, WAV/FLAC/MP3 at 44.1/48 kHz stereo, plus a
# 22050 Hz WAV) is written once by `timbre-bench bench-audio corpus` into bench-results/ (git-ignored).
# Python: $TIMBRE_PYTHON if set, else tools/.venv made from tools/bench/requirements.txt.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="/opt/swift/usr/bin:$PATH"

out=bench-results/audio
corpus=bench-results/audio-corpus
repeats="${BENCH_REPEATS:-5}"
peer_repeats="${BENCH_PEER_REPEATS:-3}"
jobs="${BENCH_JOBS:-2}"

if [ -n "${TIMBRE_PYTHON:-}" ]; then
  python="$TIMBRE_PYTHON"
else
  python=tools/.venv/bin/python
  if ! [ -x "$python" ] || ! "$python" -c "import librosa" 2>/dev/null; then
    echo "== making tools/.venv from tools/bench/requirements.txt" >&2
    python3 -m venv tools/.venv
    tools/.venv/bin/pip install -q -r tools/bench/requirements.txt
  fi
fi

echo "== building timbre-bench (release)" >&2
swift build -c release --product timbre-bench >&2
bench="$(swift build -c release --show-bin-path)/timbre-bench"

mkdir -p "$out"
echo "== corpus in $corpus" >&2
mapfile -t paths < <("$bench" bench-audio corpus --dir "$corpus" --jobs "$jobs")
[ "${#paths[@]}" -eq 31 ] || { echo "bench: expected 31 corpus files, got ${#paths[@]}" >&2; exit 1; }
files=("${paths[@]:0:30}")
reference="${paths[30]}"
# The first WAV at 44.1 kHz: its values differ from librosa's through resampling as well.
resampled=""
for f in "${files[@]}"; do case "$f" in *44100hz*.wav) resampled="$f"; break ;; esac; done

echo "== timbre: $repeats repeats, $jobs threads" >&2
"$bench" bench-audio run --repeats "$repeats" --jobs "$jobs" --stages \
  --dump "$resampled=$out/timbre-resampled.f32" --dump "$reference=$out/timbre-22050.f32" \
  "${files[@]}" > "$out/timbre.json"

echo "== librosa: $peer_repeats repeats, 1 process" >&2
"$python" tools/bench/audio_peer.py --repeats "$peer_repeats" --processes 1 --stages \
  --dump "$resampled=$out/librosa-resampled.npy" --dump "$reference=$out/librosa-22050.npy" \
  "${files[@]}" > "$out/librosa-1.json"

echo "== librosa: $peer_repeats repeats, $jobs processes" >&2
"$python" tools/bench/audio_peer.py --repeats "$peer_repeats" --processes "$jobs" "${files[@]}" > "$out/librosa-n.json"

"$python" - "$out" "$corpus" <<'PY'
import json, os, platform, sys
import numpy as np

out, corpus = sys.argv[1], sys.argv[2]
timbre = json.load(open(f"{out}/timbre.json"))
one = json.load(open(f"{out}/librosa-1.json"))
many = json.load(open(f"{out}/librosa-n.json"))

def cpu():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"

audio_min = timbre["audio_seconds"] / 60
print("Audio front end: decode → mono → resample to 22050 Hz → log-mel (n_fft 2048, hop 512, 128 mels, dB, top_db 80)")
print(f"corpus: {timbre['files']} files (WAV/FLAC/MP3, 44.1/48 kHz stereo, 30–240 s), {audio_min:.1f} min of audio, in {corpus}")
print(f"machine: {cpu()}, {os.cpu_count()} cores, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} at the end")
print()
print(f"{'':34}{'median s':>10}{'files/s':>10}{'× realtime':>12}   runs (s)")
def row(name, r):
    runs = " ".join(f"{x:.2f}" for x in r["runs_s"])
    print(f"{name:34}{r['median_s']:10.2f}{r['files_per_s']:10.2f}{timbre['audio_seconds'] / r['median_s']:12.0f}   {runs}")
row(f"timbre ({timbre['jobs']} threads)", timbre)
row(f"{one['tool']} (1 process)", one)
row(f"{many['tool']} ({many['processes']} processes)", many)
print()
print(f"speed-up, timbre vs librosa in 1 process:       {timbre['files_per_s'] / one['files_per_s']:.1f}×")
print(f"speed-up, timbre vs librosa in {many['processes']} processes:      {timbre['files_per_s'] / many['files_per_s']:.1f}×")
print()

def compare(label, timbre_dump, librosa_dump):
    ours = np.fromfile(timbre_dump["out"], dtype=np.float32).reshape(timbre_dump["n_mels"], timbre_dump["frames"])
    theirs = np.load(librosa_dump["out"])
    frames = min(ours.shape[1], theirs.shape[1])
    note = "" if ours.shape == theirs.shape else f" (frames differ: {ours.shape[1]} vs {theirs.shape[1]}; first {frames} compared)"
    d = np.abs(ours[:, :frames].astype(np.float64) - theirs[:, :frames])
    print(f"dB difference, {label}: max {d.max():.4f} dB, mean {d.mean():.5f} dB, 99.9th percentile {np.percentile(d, 99.9):.4f} dB{note}")
    # Resamplers differ most in their transition band, just below Nyquist: show the rest apart.
    import librosa
    upper_edges = librosa.mel_frequencies(n_mels=ours.shape[0] + 2, fmax=11025.0)[2:]
    below = upper_edges <= 9000.0
    print(f"    {os.path.basename(timbre_dump['file'])}, {ours.shape[0]} mels × {ours.shape[1]} frames; "
          f"max over the {below.sum()} bands below 9 kHz: {d[below].max():.4f} dB, over the top {(~below).sum()}: {d[~below].max():.4f} dB")

compare("44.1 kHz WAV (resampled)", timbre["dumps"][0], one["dumps"][0])
compare("22050 Hz WAV (no resampling)", timbre["dumps"][1], one["dumps"][1])
if "stages_s" in timbre and "stages_s" in one:
    print()
    print("one file at a time, summed over the corpus (s); Timbre's resampler may split a long file across cores:")
    print(f"{'':34}{'decode':>10}{'resample':>10}{'log-mel':>10}{'total':>10}")
    for name, st in [("timbre", timbre["stages_s"]), (one["tool"], one["stages_s"])]:
        print(f"{name:34}{st['decode']:10.2f}{st['resample']:10.2f}{st['log_mel']:10.2f}{sum(st.values()):10.2f}")
    print(f"{'ratio librosa / timbre':34}" + "".join(f"{one['stages_s'][k] / timbre['stages_s'][k]:10.1f}" for k in ["decode", "resample", "log_mel"])
          + f"{sum(one['stages_s'].values()) / sum(timbre['stages_s'].values()):10.1f}")
PY

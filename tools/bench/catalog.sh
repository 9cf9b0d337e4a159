#!/usr/bin/env bash
# scripts/bench catalog: scan + tag a generated library into the embedded PostgreSQL, with one
# worker process and with two, and say where the time goes.
#
# Libraries (synthetic music, written once by `timbre-bench bench-catalog library` into bench-results/,
# git-ignored): BENCH_TRACKS (default 300) tracks of 30–240 s in mixed formats (MP3, FLAC,
# OGG/Vorbis, Opus, WAV, AIFF; 44.1/48 kHz stereo) and BENCH_LONG_TRACKS (default 60) tracks of
# exactly 4 minutes, the issue's yardstick. For each library and each worker count (1, then 2):
# a fresh embedded cluster in a temporary TIMBRE_HOME (default settings, fsync on), `timbre
# library add`, `timbre scan --no-tag` (timed: indexing, hashing, tag reading, queueing), then N
# `timbre worker --drain` processes splitting the cores (`--concurrency 2/N` decode threads
# each), timed from their start to the last one's exit. Each worker writes its time per stage
# (`--stats`); the table sums them. The model is the shipped default (models/default).
# The peer, in the same run on the same 4-minute files: the musicnn teacher (MTT_musicnn of the
# musicnn 0.1.0 wheel, downloaded at run time) under TensorFlow CPU with all cores, analysing
# every whole track as AudioMuse-AI uses musicnn (librosa 16 kHz mono, log-mel, every 3-s patch;
# tools/bench/catalog_tf_peer.py in tools/.venv-musicnn, made from tools/musicnn/requirements.txt
# if missing; BENCH_TF_PEER=0 skips it). If the venv or the wheel cannot be had, the bench says so
# and still prints Timbre's table. The issue's other anchor is bliss-rs at ~3 files/s without a CNN.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="/opt/swift/usr/bin:$PATH"
repo="$(pwd -P)"

tracks="${BENCH_TRACKS:-300}"
long_tracks="${BENCH_LONG_TRACKS:-60}"
cores="$(nproc)"
out="$repo/bench-results/catalog"
mkdir -p "$out"

echo "== building timbre and timbre-bench (release)" >&2
swift build -c release --product timbre >&2
swift build -c release --product timbre-bench >&2
timbre="$(swift build -c release --show-bin-path)/timbre"
bench="$(swift build -c release --show-bin-path)/timbre-bench"
export TIMBRE_MIGRATIONS="$repo/migrations"
export TIMBRE_MODEL="${TIMBRE_MODEL:-$repo/models/default/model.safetensors}"
unset TIMBRE_DATABASE_URL

mixed="$repo/bench-results/catalog-library"
long="$repo/bench-results/catalog-library-4min"
echo "== libraries" >&2
"$bench" bench-catalog library --dir "$mixed" --tracks "$tracks" --min-seconds 30 --max-seconds 240 --seed 1 --jobs "$cores"
"$bench" bench-catalog library --dir "$long" --tracks "$long_tracks" --min-seconds 240 --max-seconds 240 --seed 2 --jobs "$cores"

home=""
peer_work=""
cleanup() {
  if [ -n "$home" ] && [ -d "$home" ]; then
    TIMBRE_HOME="$home" "$timbre" db stop >/dev/null 2>&1 || true
    rm -rf "$home"
  fi
  if [ -n "$peer_work" ]; then rm -rf "$peer_work"; fi
}
trap cleanup EXIT

# run NAME LIBRARY WORKERS: one measured pass; writes $out/NAME-wWORKERS/{scan.txt,worker-*.json,wall.txt}
run() {
  local name="$1" library="$2" workers="$3"
  local dir="$out/$name-w$workers"
  rm -rf "$dir"; mkdir -p "$dir"
  home="$(mktemp -d /tmp/timbre-bench.XXXXXX)"
  chmod 755 "$home"
  export TIMBRE_HOME="$home"
  "$timbre" db start >/dev/null
  "$timbre" library add "$library" >/dev/null
  local t0 t1 t2 t3
  t0=$(date +%s.%N)
  "$timbre" scan --no-tag "$library" > "$dir/scan.txt" 2>/dev/null
  t1=$(date +%s.%N)
  local per=$(( cores / workers )); [ "$per" -ge 1 ] || per=1
  echo "== $name: $workers worker(s) × $per decode thread(s)" >&2
  t2=$(date +%s.%N)
  local pids=()
  for i in $(seq 1 "$workers"); do
    "$timbre" worker --drain --concurrency "$per" --stats "$dir/worker-$i.json" > "$dir/worker-$i.log" 2>&1 &
    pids+=($!)
  done
  local failed=0
  for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
  t3=$(date +%s.%N)
  [ "$failed" -eq 0 ] || { echo "bench: a worker failed; see $dir/worker-*.log" >&2; tail -5 "$dir"/worker-*.log >&2; exit 1; }
  echo "$t0 $t1 $t2 $t3" > "$dir/wall.txt"
  "$timbre" db status > "$dir/status.txt"
  cleanup
  home=""
}

for workers in 1 2; do
  run mixed "$mixed" "$workers"
  run 4min "$long" "$workers"
done

# The peer on the 4-minute library; a failure to set it up is reported, not fatal.
peer_json="$out/tf-peer.json"
peer_note="$out/tf-peer.note"
rm -f "$peer_json" "$peer_note"
if [ "${BENCH_TF_PEER:-1}" = 0 ]; then
  echo "skipped (BENCH_TF_PEER=0)" > "$peer_note"
else
  . "$repo/tools/musicnn/wheel.sh"
  peer_venv="$repo/tools/.venv-musicnn"
  peer_work="$(mktemp -d /tmp/timbre-bench-musicnn.XXXXXX)"
  echo "== peer: musicnn MTT_musicnn under TensorFlow CPU ($cores threads), whole tracks of $long" >&2
  if ! musicnn_venv "$peer_venv" >&2; then
    echo "not run: the venv $peer_venv could not be made from tools/musicnn/requirements.txt (PyPI reachable?)" > "$peer_note"
  elif ! musicnn_wheel "$peer_venv" "$peer_work" >&2; then
    echo "not run: the musicnn 0.1.0 wheel could not be downloaded from PyPI" > "$peer_note"
  elif ! "$peer_venv/bin/python" "$repo/tools/bench/catalog_tf_peer.py" --audio "$long" --package "$peer_work/musicnn" \
        --threads "$cores" --out "$peer_json" > "$out/tf-peer.log" 2>&1; then
    rm -f "$peer_json"
    echo "failed: see $out/tf-peer.log" > "$peer_note"
    tail -5 "$out/tf-peer.log" >&2
  fi
  rm -rf "$peer_work"; peer_work=""
fi
if [ -f "$peer_note" ]; then echo "bench: TensorFlow peer $(cat "$peer_note")" >&2; fi

python3 - "$out" "$cores" "$peer_json" "$peer_note" <<'PY'
import glob, json, os, platform, sys

out, cores, peer_json, peer_note = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]

def cpu():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"

print("Catalog: scan + tag a library into the embedded PostgreSQL (default model, 24 chunks a track at most)")
print(f"machine: {cpu()}, {cores} cores, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} at the end")
print()
header = f"{'':24}{'tracks':>7}{'audio min':>10}{'scan s':>8}{'tag s':>8}{'tracks/s':>9}{'× realtime':>11}   per stage, s (decode threads summed | worker wall)"
print(header)
rate = {}
for name in ["mixed", "4min"]:
    for workers in (1, 2):
        d = f"{out}/{name}-w{workers}"
        if not os.path.exists(f"{d}/wall.txt"):
            continue
        t0, t1, t2, t3 = map(float, open(f"{d}/wall.txt").read().split())
        stats = [json.load(open(p)) for p in sorted(glob.glob(f"{d}/worker-*.json"))]
        tagged = sum(s["tagged"] for s in stats)
        failed = sum(s["failed"] for s in stats)
        t = {k: sum(s["timings"][k] for s in stats) for k in stats[0]["timings"]}
        tag_s = t3 - t2
        label = f"{name} ({workers} worker{'s' if workers > 1 else ''})"
        rate[name, workers] = tagged / tag_s
        print(f"{label:24}{tagged:7d}{t['audio'] / 60:10.1f}{t1 - t0:8.1f}{tag_s:8.1f}{tagged / tag_s:9.2f}{t['audio'] / tag_s:11.0f}"
              f"   decode {t['decode']:.1f} + features {t['features']:.1f} | front end {t['frontEnd']:.1f}, model {t['model']:.1f}, "
              f"db {t['claim'] + t['store']:.1f}" + (f"; {failed} failed" if failed else ""))
if os.path.exists(peer_json):
    p = json.load(open(peer_json))
    st, up = p["stages_seconds"], p["startup_seconds"]
    label = "4min, TF musicnn peer"
    print(f"{label:24}{p['tracks']:7d}{p['audio_seconds'] / 60:10.1f}{'-':>8}{p['wall_seconds']:8.1f}{p['tracks_per_second']:9.2f}"
          f"{p['realtime_factor']:11.0f}   load+resample {st['load_resample']:.1f} + log-mel {st['log_mel_patches']:.1f} | "
          f"TensorFlow {st['tensorflow']:.1f} ({p['patches']} patches, {p['intra_op_threads']}/{p['inter_op_threads']} threads)"
          + (f"; {p['failed']} failed" if p["failed"] else ""))
    print()
    mine = rate.get(("4min", 2))
    print(f"4-minute library, tracks/s: Timbre (2 workers) {f'{mine:.2f}' if mine else 'not measured'} vs TensorFlow musicnn peer "
          f"{p['tracks_per_second']:.2f}" + (f" = {mine / p['tracks_per_second']:.1f}× the peer" if mine and p["tracks_per_second"] else ""))
    print(f"peer: musicnn 0.1.0 MTT_musicnn, TensorFlow {p['tensorflow']} CPU, librosa {p['librosa']}, every 3-s patch of the whole track "
          f"(Timbre: the default model on at most 24 chunks); its tag s is first load → last result, without its start-up "
          f"(TF import {up['import_tensorflow_librosa']:.1f} s, checkpoint {up['checkpoint']:.1f} s, graph {up['graph_trace']:.1f} s, "
          f"librosa warm-up {up['librosa_warm_up']:.1f} s)")
else:
    note = open(peer_note).read().strip() if os.path.exists(peer_note) else "not run"
    print()
    print(f"TensorFlow musicnn peer: {note}")
print()
print("tag s: from the workers' start to the last one's exit (model load and connection included);")
print("scan s: `timbre scan --no-tag` (walk, hash, file tags, queue). Target: ≥ 3 tracks/s on the 4-minute library with 2 cores.")
PY

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
# There is no peer to run here: the issue's anchor is bliss-rs at ~3 files/s without a CNN.
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
cleanup() {
  if [ -n "$home" ] && [ -d "$home" ]; then
    TIMBRE_HOME="$home" "$timbre" db stop >/dev/null 2>&1 || true
    rm -rf "$home"
  fi
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

python3 - "$out" "$cores" <<'PY'
import glob, json, os, platform, sys

out, cores = sys.argv[1], int(sys.argv[2])

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
        print(f"{label:24}{tagged:7d}{t['audio'] / 60:10.1f}{t1 - t0:8.1f}{tag_s:8.1f}{tagged / tag_s:9.2f}{t['audio'] / tag_s:11.0f}"
              f"   decode {t['decode']:.1f} + features {t['features']:.1f} | front end {t['frontEnd']:.1f}, model {t['model']:.1f}, "
              f"db {t['claim'] + t['store']:.1f}" + (f"; {failed} failed" if failed else ""))
print()
print("tag s: from the workers' start to the last one's exit (model load and connection included);")
print("scan s: `timbre scan --no-tag` (walk, hash, file tags, queue). Target: ≥ 3 tracks/s on the 4-minute library with 2 cores.")
PY

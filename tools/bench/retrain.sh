#!/usr/bin/env bash
# scripts/bench retrain: learning a new tag from users' corrections, measured as the retraining
# issue asks, on the shipped default model and a demo library made with a seed it never saw.
#
# 1. A demo library (BENCH_RETRAIN_TRACKS, default 500 tracks of 20–40 s, seed
#    BENCH_RETRAIN_SEED, default 23) in the embedded PostgreSQL of a temporary TIMBRE_HOME,
#    scanned and tagged by the default model. Seeds: the default model was trained on seed 1
#    and evaluated on seed 2; the retraining defaults (probe init, refit) were chosen on seed 11;
#    seed 23 was used for nothing before this measurement.
# 2. A tag the vocabulary lacks, defined by what the corpus generator controls
#    (BENCH_RETRAIN_TAG: `party` = a fast (≥ 130 BPM) electronic, latin or pop track, the
#    default; or `dance` = electronic, latin or reggae): `timbre tag FILE +TAG` on 20 tracks that
#    have it and `timbre tag FILE -TAG` on 20 that do not, drawn at random (seed 5).
# 3. The peer: a logistic-regression probe (scikit-learn) fit on the active model's frozen
#    embeddings of the same 40 corrected tracks.
# 4. `timbre retrain --wait --no-retag` (timed: the retraining job, cache, fine-tuning, gate),
#    then `timbre worker --drain` re-tags the library with the promoted model (timed apart).
# 5. On the held-out tracks (every track no one corrected): ROC-AUC of the new tag (the
#    retrained model's output against the probe's score), and the macro ROC-AUC of the 27 old
#    tags before (active model) and after (retrained model) against the corpus's labels.
#
# Results in bench-results/retrain-seedSEED/ (report.json, the retraining report, the CSV exports).
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="/opt/swift/usr/bin:$PATH"
repo="$(pwd -P)"

tracks="${BENCH_RETRAIN_TRACKS:-500}"
seed="${BENCH_RETRAIN_SEED:-23}"
tag="${BENCH_RETRAIN_TAG:-party}"
out="$repo/bench-results/retrain-seed$seed"
mkdir -p "$out"

command -v psql >/dev/null || { echo "bench retrain: psql is missing (apt-get install postgresql-client)" >&2; exit 2; }
# Python with scikit-learn: $TIMBRE_PYTHON, else tools/.venv-bench-similarity (as scripts/bench similarity).
if [ -n "${TIMBRE_PYTHON:-}" ]; then
  python="$TIMBRE_PYTHON"
else
  python=tools/.venv-bench-similarity/bin/python
  if ! [ -x "$python" ] || ! "$python" -c "import sklearn" 2>/dev/null; then
    echo "== making tools/.venv-bench-similarity from tools/bench/requirements-similarity.txt" >&2
    python3 -m venv tools/.venv-bench-similarity
    tools/.venv-bench-similarity/bin/pip install -q -r tools/bench/requirements-similarity.txt
  fi
fi

echo "== building timbre (release)" >&2
swift build -c release --product timbre >&2
export TIMBRE_MIGRATIONS="$repo/migrations"
export TIMBRE_MODEL="$repo/models/default/model.safetensors"
unset TIMBRE_DATABASE_URL

home="" bin=""
cleanup() {
  if [ -n "$home" ] && [ -d "$home" ]; then
    TIMBRE_HOME="$home" "$timbre" db stop >/dev/null 2>&1 || true
    rm -rf "$home"
  fi
  [ -z "$bin" ] || rm -rf "$bin"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# A copy, so that a build running meanwhile does not change the binary under the benchmark.
bin="$(mktemp -d /tmp/timbre-bench-retrain-bin.XXXXXX)"
cp "$(swift build -c release --show-bin-path)/timbre" "$bin/timbre"
timbre="$bin/timbre"

echo "== library: $tracks demo tracks, seed $seed, in $out/library (resumes)" >&2
"$timbre" demo-corpus --out "$out/library" --tracks "$tracks" --seed "$seed" --min-seconds 20 --max-seconds 40 \
  --progress-every 100 >/dev/null
library="$(cd "$out/library" && pwd -P)"

echo "== catalog: embedded PostgreSQL, scan and tag with the default model" >&2
home="$(mktemp -d /tmp/timbre-bench-retrain.XXXXXX)"
chmod 755 "$home"
export TIMBRE_HOME="$home"
"$timbre" db start >/dev/null 2>&1
url="postgresql:///timbre?host=$home/postgres/run&user=timbre"
sql() { psql "$url" -X -q -v ON_ERROR_STOP=1 "$@"; }
"$timbre" user add bench --admin >/dev/null 2>&1
"$timbre" library add "$library" --user bench >/dev/null 2>&1
t0=$(date +%s.%N)
"$timbre" scan "$library" > "$out/scan.txt" 2>&1
t1=$(date +%s.%N)
export_run() {  # export_run NAME: predictions and embeddings of the active model
  local model_id
  model_id="$(sql -At -c "SELECT id FROM models WHERE state = 'active'")"
  sql -c "\\copy (SELECT t.path, p.label, p.probability FROM predictions p JOIN tracks t ON t.id = p.track_id WHERE p.model_id = $model_id ORDER BY 1, 2) TO '$out/predictions-$1.csv' CSV HEADER"
  sql -c "\\copy (SELECT t.path, e.vector FROM embeddings e JOIN tracks t ON t.id = e.track_id WHERE e.model_id = $model_id ORDER BY 1) TO '$out/embeddings-$1.csv' CSV HEADER"
}
export_run before

echo "== corrections: 20 tracks +$tag, 20 tracks -$tag" >&2
"$python" tools/bench/retrain_peer.py select "$library/labels.csv" --tag "$tag" --seed 5 > "$out/corrections.txt"
while read -r path change; do
  "$timbre" tag "$library/$path" "$change" --user bench >/dev/null
done < "$out/corrections.txt"

echo "== timbre retrain --wait" >&2
t2=$(date +%s.%N)
"$timbre" retrain --wait --json --no-retag > "$out/retrain.json" 2> "$out/retrain.log" || {
  cat "$out/retrain.log" >&2; cat "$out/retrain.json" >&2; exit 1; }
t3=$(date +%s.%N)
"$timbre" worker --drain > "$out/retag.txt" 2>&1
t4=$(date +%s.%N)
export_run after

elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
cpu="$(lscpu | sed -n 's/^Model name: *//p' | head -1)"
core="$("$timbre" info --system 2>/dev/null | sed -n 's/^BLAS core *//p' | head -1)"
"$python" tools/bench/retrain_peer.py report "$out" --labels "$library/labels.csv" --tag "$tag" \
  --scan-seconds "$(elapsed "$t0" "$t1")" --retrain-seconds "$(elapsed "$t2" "$t3")" \
  --retag-seconds "$(elapsed "$t3" "$t4")" --cpu "$cpu" --blas-core "${core:-unknown}" --json "$out/report.json"

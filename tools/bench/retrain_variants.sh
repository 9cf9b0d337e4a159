#!/usr/bin/env bash
# Retraining settings compared on one demo library, as `scripts/bench retrain` measures them, for
# choosing defaults on dev libraries (never on the measurement seed):
#   tools/bench/retrain_variants.sh NAME LIBRARY VARIANT CONFIG.yaml
# NAME: a catalog kept between runs under bench-results/retrain-variants/NAME (its first run scans
# LIBRARY, a `timbre demo-corpus` folder, tags it with the shipped model, and corrects 20 tracks
# +party and 20 -party as the bench does); VARIANT: a name for this run's results; CONFIG: a
# retraining config (`significance: 1.0` and `max_replay_disagreement: 1.0` in it promote every
# candidate, to see its ROC-AUC whatever the gate says). Each run reactivates the shipped model,
# retrains with CONFIG, re-tags and prints the new tag's held-out ROC-AUC beside the probe's.
# Example (the dev libraries the retraining defaults were compared on):
#   timbre demo-corpus --out bench-results/retrain/library --tracks 500 --seed 11 --min-seconds 20 --max-seconds 40
#   tools/bench/retrain_variants.sh dev11 bench-results/retrain/library default configs/retrain.yaml
set -euo pipefail
cd "$(dirname "$0")/../.."
repo="$(pwd -P)"
[ $# -eq 4 ] || { sed -n '2,14p' "$0" >&2; exit 2; }
name=$1 library=$(cd "$2" && pwd -P) variant=$3 config=$(cd "$(dirname "$4")" && pwd -P)/$(basename "$4")
python="${TIMBRE_PYTHON:-tools/.venv-bench-similarity/bin/python}"
"$python" -c "import sklearn" 2>/dev/null || { echo "retrain_variants: needs scikit-learn in $python (run scripts/bench retrain once, or set TIMBRE_PYTHON)" >&2; exit 2; }
export PATH="/opt/swift/usr/bin:$PATH"
swift build -c release --product timbre >&2
base="$repo/bench-results/retrain-variants/$name"; out="$base/$variant"; home="$base/home"
mkdir -p "$out"
timbre="$base/timbre"; cp "$(swift build -c release --show-bin-path)/timbre" "$timbre"
export TIMBRE_MIGRATIONS="$repo/migrations" TIMBRE_MODEL="$repo/models/default/model.safetensors" TIMBRE_HOME="$home"
unset TIMBRE_DATABASE_URL
url="postgresql:///timbre?host=$home/postgres/run&user=timbre"
sql() { psql "$url" -X -q -v ON_ERROR_STOP=1 "$@"; }
export_run() {  # export_run NAME DIR: the active model's predictions and embeddings
  local model_id; model_id="$(sql -At -c "SELECT id FROM models WHERE state = 'active'")"
  sql -c "\\copy (SELECT t.path, p.label, p.probability FROM predictions p JOIN tracks t ON t.id = p.track_id WHERE p.model_id = $model_id ORDER BY 1, 2) TO '$2/predictions-$1.csv' CSV HEADER"
  sql -c "\\copy (SELECT t.path, e.vector FROM embeddings e JOIN tracks t ON t.id = e.track_id WHERE e.model_id = $model_id ORDER BY 1) TO '$2/embeddings-$1.csv' CSV HEADER"
}
if [ ! -f "$base/original" ]; then
  mkdir -p "$home"; chmod 755 "$home"
  "$timbre" db start >/dev/null 2>&1
  "$timbre" user add bench --admin >/dev/null 2>&1
  "$timbre" library add "$library" --user bench >/dev/null 2>&1
  "$timbre" scan "$library" > "$base/scan.txt" 2>&1
  export_run before "$base"
  "$python" tools/bench/retrain_peer.py select "$library/labels.csv" --tag party --seed 5 > "$base/corrections.txt"
  while read -r path change; do "$timbre" tag "$library/$path" "$change" --user bench >/dev/null; done < "$base/corrections.txt"
  sql -At -c "SELECT version FROM models WHERE state = 'active'" > "$base/original"
else
  "$timbre" db start >/dev/null 2>&1 || true
fi
trap '"$timbre" db stop >/dev/null 2>&1 || true' EXIT
"$timbre" model activate "$(cat "$base/original")" >/dev/null
"$timbre" worker --drain >/dev/null 2>&1 || true
cp "$base"/{corrections.txt,predictions-before.csv,embeddings-before.csv} "$out/"
t0=$(date +%s.%N)
"$timbre" retrain --wait --json --no-retag --config "$config" > "$out/retrain.json" 2> "$out/retrain.log" || { tail -5 "$out/retrain.log" >&2; exit 1; }
t1=$(date +%s.%N)
version=$("$python" -c "import json,sys; print(json.load(open(sys.argv[1]))['model']['version'])" "$out/retrain.json")
outcome=$("$python" -c "import json,sys; print(json.load(open(sys.argv[1]))['model']['outcome'])" "$out/retrain.json")
if [ "$outcome" != promoted ]; then
  echo "$name/$variant: $outcome — $("$python" -c "import json,sys; print(json.load(open(sys.argv[1]))['report'].get('reason', ''))" "$out/retrain.json")"
  exit 0
fi
"$timbre" worker --drain > "$out/retag.txt" 2>&1
t2=$(date +%s.%N)
export_run after "$out"
"$python" tools/bench/retrain_peer.py report "$out" --labels "$library/labels.csv" --tag party --scan-seconds 0 \
  --retrain-seconds "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" \
  --retag-seconds "$(awk -v a="$t1" -v b="$t2" 'BEGIN { print b - a }')" --json "$out/report.json" > "$out/report.txt"
"$python" - "$out" "$name/$variant" <<'PY'
import json, sys
r = json.load(open(sys.argv[1] + "/report.json"))
print(f"{sys.argv[2]}: promoted; new tag ROC-AUC {r['new_tag_roc_auc']:.4f}, probe {r['probe_roc_auc']['logistic_regression']:.4f}; "
      f"old tags {r['old_tags_macro_change']:+.4f}")
PY

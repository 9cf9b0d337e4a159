#!/usr/bin/env bash
# The default model's experiment table (models/default/README.md, "Experiments"): trains every
# config in configs/experiments/ (or those named) on the same prepared corpus and scores each on
# the held-out soundfont corpus, from audio, as a new user would.
#
#   tools/experiments/table.sh [NAME ...]         (NAME: a config's file name without .yaml)
#
# Environment: TIMBRE (the binary, default .build/release/timbre), DATA (prepared corpus, default
# each config's data_dir), HELDOUT (audio + labels.csv, default data/heldout-v2), RESULTS (default
# bench-results/experiments). Resumable: a finished row is skipped, an interrupted one resumes.
set -euo pipefail
cd "$(dirname "$0")/../.."
TIMBRE=${TIMBRE:-.build/release/timbre}
DATA_OVERRIDE=${DATA:-}
HELDOUT=${HELDOUT:-data/heldout-v2}
RESULTS=${RESULTS:-bench-results/experiments}
mkdir -p "$RESULTS"
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  for f in configs/experiments/*.yaml; do names+=("$(basename "$f" .yaml)"); done
fi
for name in "${names[@]}"; do
  config=configs/experiments/$name.yaml
  [ -f "$config" ] || { echo "no config $config" >&2; exit 2; }
  run=models/trained_models/exp-$name
  DATA=${DATA_OVERRIDE:-$(sed -n 's/^data_dir: *//p' "$config" | head -1)}
  if [ -s "$RESULTS/$name.heldout.json" ]; then echo "== $name: done ($RESULTS/$name.heldout.json)"; continue; fi
  echo "== $name: train ($(date -u +%H:%M:%S))"
  resume=()
  [ -f "$run/checkpoint.safetensors" ] && resume=(--resume)
  "$TIMBRE" train --config "$config" --data-dir "$DATA" --experiment-name "exp-$name" "${resume[@]}" > "$RESULTS/$name.train.log"
  tr '\r' '\n' < "$RESULTS/$name.train.log" | grep -E "train loss|early stopping|parameters" || true
  echo "== $name: evaluate on $HELDOUT ($(date -u +%H:%M:%S))"
  "$TIMBRE" evaluate --model "$run/best_model.safetensors" --data-dir "$DATA" --split test --json > "$RESULTS/$name.test.json"
  "$TIMBRE" evaluate --model "$run/best_model.safetensors" --audio-dir "$HELDOUT" --labels "$HELDOUT/labels.csv" --json > "$RESULTS/$name.heldout.tmp"
  mv "$RESULTS/$name.heldout.tmp" "$RESULTS/$name.heldout.json"
done

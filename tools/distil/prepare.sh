#!/usr/bin/env bash
# The distillation corpus of the default model (models/default/README.md): the demo corpus and
# the real recordings of the training packages in one folder (symbolic links, nothing copied),
# the musicnn teachers' tag probabilities as soft labels, prepared into one chunk cache.
#
#   tools/distil/prepare.sh
#
# Needs: the demo corpus ($DEMO, from `timbre demo-corpus`), tools/realmusic/collect.sh (its train
# packages only: the held-out ones are never linked), tools/musicnn/import.sh for both models.
# Environment: TIMBRE (default .build/release/timbre), DEMO (data/demo1500), REAL
# (data/realmusic/train), OUT (data/distil), CONFIG (front end; configs/default.yaml),
# TEACH_DEMO (1: the MTT teacher labels the demo tracks too; default 1). Resumable.
set -euo pipefail
cd "$(dirname "$0")/../.."
TIMBRE=${TIMBRE:-.build/release/timbre}
DEMO=${DEMO:-data/demo1500}
REAL=${REAL:-data/realmusic/train}
OUT=${OUT:-data/distil}
CONFIG=${CONFIG:-configs/default.yaml}
TEACH_DEMO=${TEACH_DEMO:-1}
for model in MTT_musicnn MSD_musicnn; do
  [ -f "models/musicnn/$model.safetensors" ] || { echo "models/musicnn/$model.safetensors is missing: run tools/musicnn/import.sh --model $model" >&2; exit 2; }
done
[ -f "$DEMO/labels.csv" ] || { echo "$DEMO/labels.csv is missing: run timbre demo-corpus --out $DEMO first" >&2; exit 2; }
[ -d "$REAL" ] || { echo "$REAL is missing: run tools/realmusic/collect.sh first" >&2; exit 2; }
case "$(realpath "$REAL")" in *heldout*) echo "$REAL is held out: never train on it" >&2; exit 2;; esac

mkdir -p "$OUT/audio/demo" "$OUT/audio/real"
demo=$(realpath "$DEMO/audio"); real=$(realpath "$REAL")
(cd "$demo" && find . -type f) | while read -r f; do
  mkdir -p "$OUT/audio/demo/$(dirname "$f")"; ln -sfn "$demo/$f" "$OUT/audio/demo/$f"; done
(cd "$real" && find . -type f) | while read -r f; do
  mkdir -p "$OUT/audio/real/$(dirname "$f")"; ln -sfn "$real/$f" "$OUT/audio/real/$f"; done
# The demo labels (paths relative to $DEMO, under audio/), their paths under demo/ (the real
# recordings have no hard labels).
awk 'NR == 1 { print; next } /^"/ { sub(/^"(audio\/)?/, "\"demo/"); print; next } { sub(/^(audio\/)?/, "demo/"); print }' \
    "$DEMO/labels.csv" > "$OUT/labels.csv"

soft=()
for teacher in MTT MSD; do
  prefix=$(echo "$teacher" | tr 'A-Z' 'a-z'):
  "$TIMBRE" soft-labels --model "models/musicnn/${teacher}_musicnn.safetensors" --audio-dir "$OUT/audio" --under real \
      --prefix "$prefix" --out "$OUT/soft-real-$teacher.csv" --embeddings-out "$OUT/teacher-real-$teacher.csv"
  soft+=(--soft-labels "$OUT/soft-real-$teacher.csv")
done
if [ "$TEACH_DEMO" = 1 ]; then
  "$TIMBRE" soft-labels --model models/musicnn/MTT_musicnn.safetensors --audio-dir "$OUT/audio" --under demo \
      --prefix mtt: --out "$OUT/soft-demo-MTT.csv"
  soft+=(--soft-labels "$OUT/soft-demo-MTT.csv")
fi
"$TIMBRE" prepare --audio-dir "$OUT/audio" --labels "$OUT/labels.csv" "${soft[@]}" \
    --output-dir "$OUT-prepared" --config "$CONFIG"

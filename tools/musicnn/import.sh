#!/usr/bin/env bash
# Imports a pre-trained musicnn tagger (Pons & Serra; PyPI musicnn 0.1.0, ISC licence) as a Timbre
# model bundle:
#
#     tools/musicnn/import.sh [--model MTT_musicnn|MSD_musicnn] [OUT]
#
# OUT defaults to models/musicnn/<model>.safetensors (gitignored). Downloads the musicnn wheel
# from PyPI into a temporary folder (never into the repository), reads its TF1 checkpoint with
# TensorFlow, writes the bundle, and beside it <stem>.reference.safetensors: TensorFlow's outputs
# of the checkpoint on a fixed input, which MusicnnGoldenTests compares Timbre against.
# Python peers live in tools/.venv-musicnn, made here from tools/musicnn/requirements.txt
# ($TIMBRE_PYTHON overrides the interpreter that creates it).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
model=MTT_musicnn
out=""
while [ $# -gt 0 ]; do
    case "$1" in
        --model) model="${2:?--model needs MTT_musicnn or MSD_musicnn}"; shift 2 ;;
        --model=*) model="${1#--model=}"; shift ;;
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        -*) echo "import.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
        *) out="$1"; shift ;;
    esac
done
case "$model" in MTT_musicnn|MSD_musicnn) ;; *) echo "import.sh: --model must be MTT_musicnn or MSD_musicnn, got $model" >&2; exit 2 ;; esac
out="${out:-$root/models/musicnn/$model.safetensors}"

. "$here/wheel.sh"
venv="$root/tools/.venv-musicnn"
musicnn_venv "$venv"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
musicnn_wheel "$venv" "$work"
"$venv/bin/python" "$here/convert.py" --package "$work/musicnn" --model "$model" --out "$out"

# Sourced (not run) by tools/musicnn/import.sh and tools/bench/catalog.sh: the musicnn venv and the
# musicnn 0.1.0 wheel, downloaded at run time into a folder the caller owns (never the repository).
#
#   musicnn_venv VENV        make VENV (if missing) and install tools/musicnn/requirements.txt into it
#                            ($TIMBRE_PYTHON overrides the interpreter that creates it)
#   musicnn_wheel VENV DIR   download musicnn 0.1.0 from PyPI into DIR and unpack its musicnn/ there:
#                            DIR/musicnn/{MTT_musicnn,MSD_musicnn}/ are the TF1 checkpoints
# Both return non-zero on failure (each step checked, so they also fail inside `if`).
# Progress goes to stderr.

musicnn_requirements="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/requirements.txt"

musicnn_venv() {
    local venv="$1"
    if [ ! -x "$venv/bin/python" ]; then
        echo "creating $venv (TensorFlow, a few minutes the first time)" >&2
        "${TIMBRE_PYTHON:-python3}" -m venv "$venv" || return 1
    fi
    "$venv/bin/python" -m pip install -q -r "$musicnn_requirements" || return 1
}

musicnn_wheel() {
    local venv="$1" dir="$2"
    echo "downloading musicnn 0.1.0 from PyPI" >&2
    "$venv/bin/python" -m pip download -q --no-deps --only-binary=:all: musicnn==0.1.0 -d "$dir" || return 1
    "$venv/bin/python" - "$dir" <<'PY' || return 1
import glob, sys, zipfile
work = sys.argv[1]
wheel = glob.glob(f"{work}/musicnn-0.1.0-*.whl")[0]
with zipfile.ZipFile(wheel) as z:
    z.extractall(work, [n for n in z.namelist() if n.startswith("musicnn/")])
PY
}

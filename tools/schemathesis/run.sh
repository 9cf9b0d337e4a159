#!/usr/bin/env bash
# Fuzz a running `timbre serve` against its OpenAPI document with schemathesis (opt-in; not part
# of scripts/test).
#
#   tools/schemathesis/run.sh BASE_URL API_KEY [extra schemathesis run args]
#   tools/schemathesis/run.sh http://127.0.0.1:8000 tmb_... --include-operation-id listTracks
#
# scripts/fuzz-api does the whole setup (scratch catalog, demo library, server) and calls this.
# Loads BASE_URL/api/v1/openapi.json (web/openapi.json as the server serves it) and sends
# generated requests, valid and invalid, to every operation with `Authorization: Bearer API_KEY`,
# checking that the server never answers 5xx and that each answer's status, content type and
# body are the ones the document gives. Use an admin key, against a throwaway catalog: the run
# adds users, libraries and tag corrections, and scans the libraries it adds (set
# FUZZ_LIBRARY_ROOT, or it may add and scan `/`). DELETE /api/v1/libraries/{id} and
# POST /api/v1/models/{version}/activate are left out unless FUZZ_DESTRUCTIVE=1.
# Keep to one worker (the default) on Python 3.11: with --workers N>1, hypothesis parses lambda
# sources from several threads and some operations stop with "SystemError: AST constructor
# recursion depth mismatch" (a Runtime Error in the report, not a finding about the server).
#
# Environment:
#   FUZZ_DESTRUCTIVE=1      also fuzz deleteLibrary and activateModel
#   FUZZ_MAX_EXAMPLES=50    test cases per operation (per cycle; see FUZZ_MAX_TIME)
#   FUZZ_MAX_TIME=300       the run's time budget in seconds; schemathesis repeats fuzzing
#                           cycles until it is spent, so the run takes about this long
#   FUZZ_REQUEST_TIMEOUT=60 seconds one request may take
#   FUZZ_SCHEMA=URL|FILE    load the document from elsewhere (default BASE_URL/api/v1/openapi.json)
#   FUZZ_LIBRARY_ROOT=DIR   move every absolute path POSTed to /api/v1/libraries under DIR (hooks.py)
#
# The first run makes a virtual environment at tools/.venv-schemathesis with the pinned
# schemathesis (needs PyPI); later runs reuse it. Hypothesis's example database (failing cases
# replayed on the next run) lives in it too. The exit code is schemathesis's: 0 all checks
# passed, 1 a check failed, 2 the run could not do its job (e.g. the document did not load).
set -euo pipefail

SCHEMATHESIS_VERSION=4.32.5

if [[ $# -lt 2 ]]; then
  sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
base_url="${1%/}"
api_key="$2"
shift 2

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/../.venv-schemathesis"

if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
  echo "installing schemathesis $SCHEMATHESIS_VERSION into tools/.venv-schemathesis" >&2
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

schema="${FUZZ_SCHEMA:-$base_url/api/v1/openapi.json}"

args=(
  run "$schema"
  --url "$base_url"
  --header "Authorization: Bearer $api_key"
  --generation-with-security-parameters false
  --checks not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance
  --max-examples "${FUZZ_MAX_EXAMPLES:-50}"
  --max-time "${FUZZ_MAX_TIME:-300}"
  --request-timeout "${FUZZ_REQUEST_TIMEOUT:-60}"
  --generation-database "$venv/hypothesis-examples"
)
if [[ "${FUZZ_DESTRUCTIVE:-0}" != 1 ]]; then
  args+=(--exclude-operation-id deleteLibrary --exclude-operation-id activateModel)
fi

# Custom media types (raw audio/* uploads): see hooks.py.
export SCHEMATHESIS_HOOKS="${SCHEMATHESIS_HOOKS:-hooks}"
export PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}"

exec "$venv/bin/schemathesis" "${args[@]}" "$@"

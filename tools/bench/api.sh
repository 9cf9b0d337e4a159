#!/usr/bin/env bash
# scripts/bench api: the HTTP API over a catalog of BENCH_API_TRACKS (default 100,000) tracks,
# with FAISS as the reference for the search itself (issue 10).
#
# Catalog: a fresh embedded PostgreSQL in a temporary TIMBRE_HOME; a user `bench` and a library
# of 4 real demo tracks scanned with the shipped model (which registers and activates it); then,
# by SQL into that library, BENCH_API_TRACKS synthetic tracks (status tagged), a prediction for
# every label of the model for each, and one 256-d unit embedding each (around 64 directions,
# seeded, made by tools/bench/api_peer.py and loaded with binary COPY; created_at spread as a
# catalog tagged at 6 tracks/s, ending an hour ago). The same vectors go to
# bench-results/api/vectors.npy; FAISS searches those plus the 4 real embeddings, i.e. exactly
# what the server's index holds.
#
# Measured, with `timbre serve --workers 0` (default 8 HTTP threads) on loopback:
#   similar   GET /api/v1/tracks/{id}/similar?k=10 for random synthetic ids: BENCH_API_SEQUENTIAL
#             (200) requests one after another (curl, keep-alive; the median), then
#             wrk -t2 -c BENCH_API_CONNECTIONS (64) -d BENCH_API_SECONDS (30) s --latency:
#             requests/s, p50/p99, errors (non-2xx + socket errors); CPU per request of the
#             server and of PostgreSQL's backends. Target: p99 < 20 ms, 0 errors.
#   faiss     IndexFlatIP in-process, k = 11 (the query's own row comes back first): median of one
#             query at a time on one thread, and the same queries in one batch on every core;
#             and for 50 queries, how many of the API's ids FAISS finds too.
#   predict   POST /api/v1/analysis/predict of a 4-minute MP3 (rendered once by `timbre
#             demo-corpus`) as audio/mpeg: 10 sequential requests (curl; the median) after one
#             warm-up, then wrk -c BENCH_API_PREDICT_CONNECTIONS (4) -d BENCH_API_PREDICT_SECONDS (20) s.
# BENCH_API_HTTP_THREADS=N sets the server's HTTP threads (default 32, as `timbre serve`).
# BENCH_API_SERVER_BLAS_THREADS=N runs only the server with OPENBLAS_NUM_THREADS=N (FAISS keeps its own).
# Uses the built .build/release/timbre (builds nothing). wrk: installed with apt-get if missing.
# Python (numpy, faiss): $TIMBRE_PYTHON, else tools/.venv-bench-similarity (as scripts/bench similarity).
# Writes bench-results/api.json; working files in bench-results/api/.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo="$(pwd -P)"

tracks="${BENCH_API_TRACKS:-100000}"
seconds="${BENCH_API_SECONDS:-30}"
connections="${BENCH_API_CONNECTIONS:-64}"
sequential="${BENCH_API_SEQUENTIAL:-200}"
predict_seconds="${BENCH_API_PREDICT_SECONDS:-20}"
predict_connections="${BENCH_API_PREDICT_CONNECTIONS:-4}"
http_threads="${BENCH_API_HTTP_THREADS:-32}"
predict_sequential=10
out="$repo/bench-results/api"
timbre="$repo/.build/release/timbre"

[ -x "$timbre" ] || { echo "bench api: $timbre is missing; build it first (swift build -c release --product timbre)" >&2; exit 2; }
command -v psql >/dev/null || { echo "bench api: psql is missing (apt-get install postgresql-client)" >&2; exit 2; }
command -v curl >/dev/null || { echo "bench api: curl is missing" >&2; exit 2; }
if ! command -v wrk >/dev/null; then
  echo "== installing wrk (apt-get)" >&2
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq >&2
  $sudo apt-get install -y -qq wrk >&2
fi

if [ -n "${TIMBRE_PYTHON:-}" ]; then
  python="$TIMBRE_PYTHON"
else
  python=tools/.venv-bench-similarity/bin/python
  if ! [ -x "$python" ] || ! "$python" -c "import sklearn, faiss" 2>/dev/null; then
    echo "== making tools/.venv-bench-similarity from tools/bench/requirements-similarity.txt" >&2
    python3 -m venv tools/.venv-bench-similarity
    tools/.venv-bench-similarity/bin/pip install -q -r tools/bench/requirements-similarity.txt
  fi
fi
python="$(cd "$(dirname "$python")" && pwd -P)/$(basename "$python")"

export TIMBRE_MIGRATIONS="$repo/migrations"
export TIMBRE_MODEL="${TIMBRE_MODEL:-$repo/models/default/model.safetensors}"
unset TIMBRE_DATABASE_URL
mkdir -p "$out"
rm -f "$out"/*.json "$out"/*.txt "$out"/*.log

home="" server_pid="" bin=""
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 1 150); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$server_pid" 2>/dev/null || true
  fi
  if [ -n "$home" ] && [ -d "$home" ]; then
    TIMBRE_HOME="$home" "$timbre" db stop >/dev/null 2>&1 || true
    rm -rf "$home"
  fi
  [ -z "$bin" ] || rm -rf "$bin"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# A copy, so that a build running meanwhile neither changes the binary under the benchmark nor
# finds it busy.
bin="$(mktemp -d /tmp/timbre-bench-api-bin.XXXXXX)"
cp "$timbre" "$bin/timbre"
timbre="$bin/timbre"

# Audio: 4 short demo tracks (the real library) and one 4-minute MP3 (the upload); both resume.
echo "== audio in $out/demo and $out/mp3" >&2
"$timbre" demo-corpus --out "$out/demo" --tracks 4 --seed 9 --progress-every 100 >/dev/null
"$timbre" demo-corpus --out "$out/mp3" --tracks 1 --seed 7 --formats mp3 --min-seconds 240 --max-seconds 240 \
  --sample-rate 44100 --progress-every 100 >/dev/null
mp3="$(ls "$out"/mp3/audio/*.mp3 | head -1)"
mp3_seconds="$("$timbre" info "$mp3" | sed -n 's/.*(\([0-9.]*\) s).*/\1/p' | head -1)"
mp3_bytes="$(stat -c %s "$mp3")"

echo "== catalog: embedded PostgreSQL, user bench, the demo library scanned" >&2
home="$(mktemp -d /tmp/timbre-bench-api.XXXXXX)"
chmod 755 "$home"
export TIMBRE_HOME="$home"
"$timbre" db start >/dev/null 2>&1
url="$("$timbre" db status 2>&1 | sed -n 's/^url: //p' | head -1)"
[ -n "$url" ] || url="postgresql:///timbre?host=$home/postgres/run&user=timbre"
sql() { psql "$url" -X -q -v ON_ERROR_STOP=1 "$@"; }
key="$("$timbre" user add bench 2>/dev/null | sed -n 's/^API key.*: \(tmb_[0-9a-f]*\)$/\1/p')"
[ -n "$key" ] || { echo "bench api: no API key from \`timbre user add bench\`" >&2; exit 1; }
library="$(cd "$out/demo/audio" && pwd -P)"
"$timbre" library add "$library" --user bench >/dev/null 2>&1
"$timbre" scan "$library" >/dev/null 2>&1
library_id="$(sql -At -c "SELECT id FROM libraries WHERE root_path = '$library'")"
model_id="$(sql -At -c "SELECT id FROM models WHERE state = 'active'")"
model_version="$(sql -At -c "SELECT version FROM models WHERE id = $model_id")"
real_tracks="$(sql -At -c "SELECT count(*) FROM embeddings WHERE model_id = $model_id")"

echo "== catalog: $tracks synthetic tracks, predictions and embeddings (SQL + binary COPY)" >&2
t0=$(date +%s.%N)
sql -v lib="$library_id" -v model="$model_id" -v n="$tracks" <<'SQL'
SELECT setseed(0.42) \g /dev/null
INSERT INTO tracks (library_id, path, size, mtime_ns, content_hash, format, duration_seconds,
                    title, artist, album, year, status)
SELECT :lib, format('synthetic/%s.mp3', lpad(i::text, 6, '0')), 4000000 + (i * 7919) % 4000000,
       1700000000000000000 + i::bigint * 1000000000, sha256(convert_to(i::text, 'UTF8')), 'mp3', 240,
       'Synthetic ' || i, 'Artist ' || (i % 5000), 'Album ' || (i % 10000), 1960 + i % 65, 'tagged'
FROM generate_series(1, :n) AS i;
INSERT INTO predictions (track_id, model_id, label, probability)
SELECT t.id, :model, l.label, (random() ^ 3)::real
FROM tracks t CROSS JOIN unnest((SELECT labels FROM models WHERE id = :model)) AS l(label)
WHERE t.library_id = :lib AND t.path LIKE 'synthetic/%';
SQL
sql -At -c "SELECT id FROM tracks WHERE library_id = $library_id AND path LIKE 'synthetic/%' ORDER BY id" > "$out/ids.txt"
"$python" tools/bench/api_peer.py vectors "$out" --model-id "$model_id" \
  | sql -c "\\copy embeddings (track_id, model_id, vector, created_at) FROM pstdin WITH (FORMAT binary)"
sql -At -F ' ' -c "SELECT e.track_id, array_to_string(e.vector, ' ') FROM embeddings e JOIN tracks t ON t.id = e.track_id
                   WHERE e.model_id = $model_id AND t.path NOT LIKE 'synthetic/%' ORDER BY 1" > "$out/real.txt"
sql -c "VACUUM ANALYZE"
t1=$(date +%s.%N)
fill_s=$(awk "BEGIN { printf \"%.2f\", $t1 - $t0 }")
index_count="$(sql -At -c "SELECT count(*) FROM embeddings WHERE model_id = $model_id")"
echo "   $index_count embeddings, $(sql -At -c "SELECT count(*) FROM predictions") predictions in ${fill_s} s" >&2

echo "== timbre serve --workers 0" >&2
# No rescans: the synthetic tracks have no files (the first would come after an hour anyway).
t0=$(date +%s.%N)
server_env=(env)
[ -z "${BENCH_API_SERVER_BLAS_THREADS:-}" ] || server_env=(env OPENBLAS_NUM_THREADS="$BENCH_API_SERVER_BLAS_THREADS")
"${server_env[@]}" "$timbre" serve --port 0 --workers 0 --threads "$http_threads" --rescan-interval 0 --no-watch --web "$repo/web" > "$out/serve.log" 2>&1 &
server_pid=$!
port=""
for _ in $(seq 1 3000); do
  port="$(sed -n 's|^Timbre is serving on http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$out/serve.log" | head -1)"
  [ -n "$port" ] && curl -sf "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  kill -0 "$server_pid" 2>/dev/null || { echo "bench api: timbre serve exited:" >&2; tail -20 "$out/serve.log" >&2; exit 1; }
  sleep 0.1
done
curl -sf "http://127.0.0.1:$port/readyz" >/dev/null || { echo "bench api: the server is not ready after 300 s" >&2; exit 1; }
t1=$(date +%s.%N)
ready_s=$(awk "BEGIN { printf \"%.2f\", $t1 - $t0 }")
base="http://127.0.0.1:$port"
echo "   ready on port $port in ${ready_s} s" >&2

# CPU seconds (user + system) of the server, and of the embedded PostgreSQL's processes.
ticks="$(getconf CLK_TCK)"
postmaster="$(head -1 "$home/postgres/data/postmaster.pid")"
cpu_of() { # PIDs... → seconds
  local total=0 pid
  for pid in "$@"; do
    [ -r "/proc/$pid/stat" ] || continue
    total=$(( total + $(awk '{ print $14 + $15 }' "/proc/$pid/stat") ))
  done
  awk "BEGIN { printf \"%.3f\", $total / $ticks }"
}
pg_pids() { echo "$postmaster" $(pgrep -P "$postmaster" || true); }
metric() { # NAME-and-labels prefix → value from /metrics
  curl -s "$base/metrics" | awk -v m="$1" 'index($0, m) == 1 { print $NF; found = 1 } END { if (!found) print 0 }' | head -1
}
route='{method="GET",route="/api/v1/tracks/{id}/similar"}'

export BENCH_API_IDS="$out/ids.txt" BENCH_API_KEY="$key" BENCH_API_MP3="$mp3"

echo "== similar: $sequential sequential requests" >&2
shuf -n "$sequential" --random-source=<(yes) "$out/ids.txt" \
  | awk -v b="$base" '{ printf "url = \"%s/api/v1/tracks/%s/similar?k=10\"\noutput = \"/dev/null\"\n", b, $1 }' > "$out/curl-similar.cfg"
curl -s -K "$out/curl-similar.cfg" -H "Authorization: Bearer $key" -w '%{http_code} %{time_total}\n' > "$out/curl-similar.raw"
awk '$1 != 200 { bad++ } END { if (bad) { print "bench api: " bad " sequential similar requests failed" > "/dev/stderr"; exit 1 } }' "$out/curl-similar.raw"
awk '{ print $2 }' "$out/curl-similar.raw" > "$out/curl-similar.txt"

echo "== similar: wrk -t2 -c$connections -d${seconds}s" >&2
sum0="$(metric "timbre_http_request_duration_seconds_sum$route")"; count0="$(metric "timbre_http_request_duration_seconds_count$route")"
server_cpu0="$(cpu_of "$server_pid")"; pg_cpu0="$(cpu_of $(pg_pids))"
wrk -t2 -c"$connections" -d"${seconds}s" --timeout 10s --latency -s tools/bench/api_similar.lua "$base" > "$out/wrk-similar.log"
server_cpu1="$(cpu_of "$server_pid")"; pg_cpu1="$(cpu_of $(pg_pids))"
sum1="$(metric "timbre_http_request_duration_seconds_sum$route")"; count1="$(metric "timbre_http_request_duration_seconds_count$route")"
grep -v '^WRK_JSON' "$out/wrk-similar.log" | sed 's/^/   /' >&2

wrk_json() { # LOG → JSON with the non-2xx count of wrk's text
  local non2xx
  non2xx="$(sed -n 's/^ *Non-2xx or 3xx responses: *\([0-9]*\).*/\1/p' "$1")"
  sed -n 's/^WRK_JSON //p' "$1" | "$python" -c "import json, sys; d = json.load(sys.stdin); d['non_2xx'] = int('${non2xx:-0}'); print(json.dumps(d))"
}
wrk_json "$out/wrk-similar.log" > "$out/wrk-similar.json"
similar_requests="$("$python" -c "import json; print(json.load(open('$out/wrk-similar.json'))['requests'])")"

echo "== faiss IndexFlatIP on the same $index_count vectors" >&2
"$python" tools/bench/api_peer.py faiss "$out" --queries 1000 --k 11 --url "$base" --key "$key" --check 50 > "$out/faiss.json"

echo "== predict: 1 warm-up + $predict_sequential sequential requests" >&2
curl -s -o /dev/null -H "Authorization: Bearer $key" -H 'Content-Type: audio/mpeg' --data-binary @"$mp3" "$base/api/v1/analysis/predict"
for _ in $(seq 1 "$predict_sequential"); do
  curl -s -o /dev/null -w '%{http_code} %{time_total}\n' -H "Authorization: Bearer $key" -H 'Content-Type: audio/mpeg' \
    --data-binary @"$mp3" "$base/api/v1/analysis/predict"
done > "$out/curl-predict.raw"
awk '$1 != 200 { bad++ } END { if (bad) { print "bench api: " bad " sequential predict requests failed" > "/dev/stderr"; exit 1 } }' "$out/curl-predict.raw"
awk '{ print $2 }' "$out/curl-predict.raw" > "$out/curl-predict.txt"

echo "== predict: wrk -t2 -c$predict_connections -d${predict_seconds}s" >&2
wrk -t2 -c"$predict_connections" -d"${predict_seconds}s" --timeout 60s --latency -s tools/bench/api_predict.lua "$base" > "$out/wrk-predict.log"
grep -v '^WRK_JSON' "$out/wrk-predict.log" | sed 's/^/   /' >&2
wrk_json "$out/wrk-predict.log" > "$out/wrk-predict.json"

# What the index refresh (every 2 s) costs PostgreSQL: the server's query, from its watermark.
refresh_plan="$(sql -At -c "EXPLAIN (ANALYZE, TIMING OFF)
  SELECT e.track_id, e.vector, (extract(epoch FROM e.created_at) * 1000000)::bigint
  FROM embeddings e JOIN tracks t ON t.id = e.track_id
  WHERE e.model_id = $model_id AND t.status <> 'gone'
    AND e.created_at >= (SELECT max(created_at) FROM embeddings WHERE model_id = $model_id) - interval '120 seconds'
  ORDER BY e.track_id")"
refresh_ms="$(echo "$refresh_plan" | sed -n 's/^Execution Time: \([0-9.]*\) ms/\1/p')"
refresh_rows="$(echo "$refresh_plan" | head -1 | sed -n 's/.*actual rows=\([0-9]*\).*/\1/p')"

# The synthetic tracks have no files: a scan during the run would have marked them gone.
present="$(sql -At -c "SELECT count(*) FROM tracks WHERE status <> 'gone'")"
[ "$present" -eq "$index_count" ] || echo "bench api: WARNING: $present tracks present at the end, $index_count embedded at the start (a scan ran?)" >&2

rss="$(metric timbre_process_resident_memory_bytes)"
system="$("$timbre" info --system 2>/dev/null || true)"
cpu="$(echo "$system" | sed -n 's/^CPU  *//p' | head -1)"
[ -n "$cpu" ] || cpu="$(sed -n 's/^model name[^:]*: *//p' /proc/cpuinfo | head -1)"
blas="$(echo "$system" | sed -n 's/^BLAS core  *//p' | head -1)"
blas_threads="$(echo "$system" | sed -n 's/^BLAS threads  *//p' | head -1)"
"$python" - "$out/meta.json" <<PY
import json, os, sys
count = $count1 - $count0
json.dump({
    "tracks": $tracks, "real_tracks": $real_tracks, "index_count": $index_count, "model_version": "$model_version",
    "http_threads": $http_threads, "cpu": """$cpu""", "cores": os.cpu_count(), "blas_core": "BLAS core " + """$blas""", "blas_threads": """$blas_threads""",
    "openblas_num_threads": os.environ.get("OPENBLAS_NUM_THREADS"),
    "server_openblas_num_threads": os.environ.get("BENCH_API_SERVER_BLAS_THREADS") or os.environ.get("OPENBLAS_NUM_THREADS"),
    "wrk": """$(wrk --version 2>&1 | head -1 | awk '{print $2}')""",
    "loadavg": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    "fill_s": $fill_s, "ready_s": $ready_s, "server_rss_mb": $rss / 2**20,
    "similar_connections": $connections, "similar_seconds": $seconds,
    "server_similar_mean_s": ($sum1 - $sum0) / count if count > 0 else None,
    "server_cpu_ms_per_request": 1000 * ($server_cpu1 - $server_cpu0) / max(1, $similar_requests),
    "postgres_cpu_ms_per_request": 1000 * ($pg_cpu1 - $pg_cpu0) / max(1, $similar_requests),
    "predict_connections": $predict_connections, "predict_seconds": $predict_seconds,
    "mp3_seconds": float("${mp3_seconds:-0}"), "mp3_bytes": $mp3_bytes,
    "refresh_query_ms": float("${refresh_ms:-nan}"), "refresh_rows": int("${refresh_rows:-0}"),
}, open(sys.argv[1], "w"), indent=1)
PY
echo >&2
"$python" tools/bench/api_peer.py report "$out" --json "$repo/bench-results/api.json"

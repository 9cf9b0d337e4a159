-- wrk script of `scripts/bench api`: POST /api/v1/analysis/predict with the bytes of
-- $BENCH_API_MP3 as the raw body (Content-Type: audio/mpeg) and Authorization: Bearer
-- $BENCH_API_KEY. done() prints one line "WRK_JSON {...}" (latencies in microseconds).
local file = assert(io.open(os.getenv("BENCH_API_MP3"), "rb"))
wrk.method = "POST"
wrk.path = "/api/v1/analysis/predict"
wrk.body = file:read("*a")
file:close()
wrk.headers["Content-Type"] = "audio/mpeg"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_API_KEY")

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"min":%d,"mean":%.1f,"p50":%d,"p90":%d,"p99":%d,"max":%d}}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end

-- wrk script of `scripts/bench api`: GET /api/v1/tracks/{id}/similar?k=10 for track ids drawn
-- at random (each wrk thread its own seeded generator) from $BENCH_API_IDS (one id a line),
-- with Authorization: Bearer $BENCH_API_KEY. done() prints one line "WRK_JSON {...}" with the
-- counts and exact latency percentiles (microseconds) for the driver to parse.
local ids = {}
for line in io.lines(os.getenv("BENCH_API_IDS")) do ids[#ids + 1] = line end
local key = os.getenv("BENCH_API_KEY")
local k = os.getenv("BENCH_API_K") or "10"
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("seed", 1000 + counter)
end

function init(args)
  math.randomseed(seed or 1)
  headers = { ["Authorization"] = "Bearer " .. key }
end

function request()
  local id = ids[math.random(#ids)]
  return wrk.format("GET", "/api/v1/tracks/" .. id .. "/similar?k=" .. k, headers)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"min":%d,"mean":%.1f,"p50":%d,"p90":%d,"p99":%d,"max":%d}}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end

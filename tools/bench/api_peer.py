#!/usr/bin/env python3
"""The Python half of `scripts/bench api`.

  api_peer.py vectors DIR --model-id M --seed S
      reads DIR/ids.txt (the synthetic tracks' ids, one a line), makes one 256-d unit vector per
      id (around 64 directions, as `scripts/bench similarity` does), writes them to
      DIR/vectors.npy (rows in the order of ids.txt) and writes PostgreSQL binary COPY data for
      embeddings (track_id, model_id, vector, created_at) to stdout. created_at is spread as a
      catalog tagged at 6 tracks/s would have it, ending an hour ago.
  api_peer.py faiss DIR --queries Q --k K --url URL --key KEY --check C
      FAISS IndexFlatIP over exactly what the server's index holds: DIR/vectors.npy plus the
      real tracks' embeddings exported from PostgreSQL (DIR/real.txt: id, then the values).
      One query at a time on one thread (median), and all Q in one batch on every core
      (queries/s); k = K (the query's own row comes back first and is dropped). For C of the
      query ids it also asks the API and says how many of its ids FAISS found too. JSON out.
  api_peer.py report DIR
      prints the summary table from DIR/*.json and writes bench-results/api.json.
"""
import argparse, json, os, statistics, sys, time, urllib.request

import numpy as np

DIM = 256


def vectors(args):
    ids = np.loadtxt(os.path.join(args.dir, "ids.txt"), dtype=np.int64, ndmin=1)
    n = len(ids)
    rng = np.random.default_rng(args.seed)
    directions = rng.normal(size=(64, DIM)).astype(np.float32)
    which = rng.integers(0, 64, size=n)
    x = directions[which] + rng.normal(size=(n, DIM)).astype(np.float32) * 1.5
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    x = x.astype(np.float32)
    np.save(os.path.join(args.dir, "vectors.npy"), x)

    # PostgreSQL binary COPY: header, rows of (int2 field count, then int4 length + value per
    # field), trailer -1. real[] is ndim, has-null flag, element type (700 = float4), then per
    # dimension its size and lower bound, then each element as int4 length + float4.
    row = np.dtype([("fields", ">i2"),
                    ("l_track", ">i4"), ("track", ">i8"),
                    ("l_model", ">i4"), ("model", ">i8"),
                    ("l_vector", ">i4"), ("ndim", ">i4"), ("hasnull", ">i4"), ("oid", ">i4"), ("size", ">i4"), ("lbound", ">i4"),
                    ("values", [("l", ">i4"), ("v", ">f4")], (DIM,)),
                    ("l_time", ">i4"), ("time", ">i8")])
    rows = np.zeros(n, dtype=row)
    rows["fields"] = 4
    rows["l_track"], rows["track"] = 8, ids
    rows["l_model"], rows["model"] = 8, args.model_id
    rows["l_vector"] = 20 + DIM * 8
    rows["ndim"], rows["hasnull"], rows["oid"], rows["size"], rows["lbound"] = 1, 0, 700, DIM, 1
    rows["values"]["l"] = 4
    rows["values"]["v"] = x
    # timestamptz: microseconds since 2000-01-01 UTC.
    end = int((time.time() - 3600 - 946684800) * 1e6)
    rows["l_time"] = 8
    rows["time"] = end - (n - 1 - np.arange(n, dtype=np.int64)) * 1_000_000 // 6
    out = sys.stdout.buffer
    out.write(b"PGCOPY\n\xff\r\n\0" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big"))
    out.write(rows.tobytes())
    out.write((-1).to_bytes(2, "big", signed=True))
    out.flush()


def faiss_run(args):
    import faiss
    x = np.load(os.path.join(args.dir, "vectors.npy"))
    ids = np.loadtxt(os.path.join(args.dir, "ids.txt"), dtype=np.int64, ndmin=1)
    real_ids, real = [], []
    for line in open(os.path.join(args.dir, "real.txt")):
        parts = line.split()
        if parts:
            real_ids.append(int(parts[0]))
            v = np.array([float(p) for p in parts[1:]], dtype=np.float32)
            real.append(v / np.linalg.norm(v))
    if real:
        x = np.vstack([x, np.array(real, dtype=np.float32)])
        ids = np.concatenate([ids, np.array(real_ids, dtype=np.int64)])
    n = len(ids)
    rng = np.random.default_rng(7)
    rows = rng.choice(len(ids) - len(real_ids), size=min(args.queries, n - len(real_ids)), replace=False)
    q = np.ascontiguousarray(x[rows])
    out = {"faiss": faiss.__version__, "numpy": np.__version__, "count": n, "k": args.k, "queries": len(rows)}

    t0 = time.perf_counter()
    index = faiss.IndexFlatIP(DIM)
    index.add(x)
    out["build_s"] = time.perf_counter() - t0

    faiss.omp_set_num_threads(1)
    times, found = [], []
    for row in q:
        t0 = time.perf_counter()
        _, hit = index.search(row[None, :], args.k)
        times.append(time.perf_counter() - t0)
        found.append(hit[0])
    out["single_query_s"] = times
    out["single_threads"] = 1

    threads = os.cpu_count() or 1
    faiss.omp_set_num_threads(threads)
    batch = []
    for _ in range(3):
        t0 = time.perf_counter()
        index.search(q, args.k)
        batch.append(time.perf_counter() - t0)
    out["batch_s"] = batch
    out["batch_threads"] = threads

    # The API's answer for some of the same queries: how many of its 10 ids FAISS has too.
    same = total = 0
    checked = 0
    for row, hit in list(zip(rows, found))[:args.check]:
        query_id = int(ids[row])
        mine = [int(ids[h]) for h in hit if h >= 0 and int(ids[h]) != query_id][:args.k - 1]
        request = urllib.request.Request(f"{args.url}/api/v1/tracks/{query_id}/similar?k={args.k - 1}",
                                         headers={"Authorization": f"Bearer {args.key}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            theirs = [r["track"]["id"] for r in json.load(response)["results"]]
        same += len(set(mine) & set(theirs))
        total += len(theirs)
        checked += 1
    out["agreement"] = {"queries": checked, "same_ids": same, "api_ids": total}
    json.dump(out, sys.stdout)


def report(args):
    d = args.dir
    def load(name):
        path = os.path.join(d, name)
        return json.load(open(path)) if os.path.exists(path) else None
    meta, similar, predict, faiss_ = load("meta.json"), load("wrk-similar.json"), load("wrk-predict.json"), load("faiss.json")
    seq_similar = [float(v) for v in open(os.path.join(d, "curl-similar.txt")).read().split()]
    seq_predict = [float(v) for v in open(os.path.join(d, "curl-predict.txt")).read().split()]
    med = statistics.median

    def wrk_summary(w):
        seconds = w["duration_us"] / 1e6
        e = w["errors"]
        socket = e["connect"] + e["read"] + e["write"] + e["timeout"]
        # wrk's own status count is of codes ≥ 400; its text line counts every non-2xx.
        non_2xx = max(e["status"], w.get("non_2xx", 0))
        return {"requests": w["requests"], "seconds": seconds, "requests_per_s": w["requests"] / seconds,
                "latency_ms": {k: v / 1000 for k, v in w["latency_us"].items()},
                "errors": socket + non_2xx, "non_2xx": non_2xx, "socket_errors": socket, "error_kinds": e}

    s, p = wrk_summary(similar), wrk_summary(predict)
    faiss_single = med(faiss_["single_query_s"])
    faiss_batch_qps = faiss_["queries"] / med(faiss_["batch_s"])
    api_seq = med(seq_similar)
    server_mean = meta.get("server_similar_mean_s")

    print(f"API: {meta['tracks']:,} synthetic tracks + {meta['real_tracks']} real ones, 256-d embeddings, "
          f"model {meta['model_version']}, timbre serve --workers 0 ({meta['http_threads']} HTTP threads)")
    print(f"machine: {meta['cpu']}, {meta['cores']} cores; {meta['blas_core']}; BLAS threads {meta['blas_threads']}"
          + (f" (the server ran with OPENBLAS_NUM_THREADS={meta['server_openblas_num_threads']})"
             if meta.get("server_openblas_num_threads") else ""))
    print(f"wrk {meta['wrk']}, faiss {faiss_['faiss']}, numpy {faiss_['numpy']}")
    print(f"load average at the end: {meta['loadavg']}; catalog filled in {meta['fill_s']:.1f} s; "
          f"server ready in {meta['ready_s']:.1f} s (index of {meta['index_count']:,} loaded at start), "
          f"resident {meta['server_rss_mb']:.0f} MB")
    print()
    print(f"GET /api/v1/tracks/{{id}}/similar?k=10, wrk -t2 -c{meta['similar_connections']} -d{meta['similar_seconds']}s:")
    lat = s["latency_ms"]
    print(f"  {s['requests_per_s']:.1f} requests/s ({s['requests']:,} requests), latency p50 {lat['p50']:.2f} ms, "
          f"p90 {lat['p90']:.2f} ms, p99 {lat['p99']:.2f} ms, max {lat['max']:.2f} ms; errors {s['errors']} "
          f"(non-2xx {s['non_2xx']}, socket {s['socket_errors']})"
          f"   [target: p99 < 20 ms, 0 errors: {'met' if lat['p99'] < 20 and s['errors'] == 0 else 'NOT met'}]")
    if server_mean is not None:
        print(f"  server-side time per request under that load (from /metrics, mean): {1000 * server_mean:.2f} ms; "
              f"CPU per request: timbre {meta['server_cpu_ms_per_request']:.2f} ms + PostgreSQL {meta['postgres_cpu_ms_per_request']:.2f} ms")
    print()
    print(f"{'one similar query':44}{'median ms':>10}{'queries/s':>11}")
    print(f"{'timbre API, sequential (curl, keep-alive)':44}{1000 * api_seq:10.2f}{1 / api_seq:11.1f}")
    print(f"{'faiss IndexFlatIP in-process, 1 thread':44}{1000 * faiss_single:10.2f}{1 / faiss_single:11.1f}")
    print(f"{'timbre API under wrk (requests/s)':44}{'':10}{s['requests_per_s']:11.1f}")
    print(f"{'faiss batch of %d, %d threads' % (faiss_['queries'], faiss_['batch_threads']):44}{'':10}{faiss_batch_qps:11.1f}")
    print(f"  ratio: a sequential API request takes ×{api_seq / faiss_single:.2f} FAISS's single-thread search "
          f"(the API also checks the key, reads the track, its neighbours' rows and tags, and writes JSON)")
    agree = faiss_["agreement"]
    if agree["api_ids"]:
        print(f"  the API's neighbours vs FAISS's for {agree['queries']} queries: "
              f"{100 * agree['same_ids'] / agree['api_ids']:.1f} % the same ids")
    print()
    lat = p["latency_ms"]
    print(f"POST /api/v1/analysis/predict of a {meta['mp3_seconds']:.0f} s MP3 ({meta['mp3_bytes'] / 1e6:.1f} MB), "
          f"wrk -t2 -c{meta['predict_connections']} -d{meta['predict_seconds']}s:")
    print(f"  {p['requests_per_s']:.2f} requests/s ({p['requests']} requests), latency p50 {lat['p50']:.0f} ms, "
          f"p99 {lat['p99']:.0f} ms; errors {p['errors']}")
    print(f"  sequential (curl, {len(seq_predict)} requests): median {1000 * med(seq_predict):.0f} ms "
          f"(min {1000 * min(seq_predict):.0f}, max {1000 * max(seq_predict):.0f})")
    if meta.get("refresh_query_ms") is not None:
        print()
        print(f"note: the server's index refresh (every 2 s) runs a query that took {meta['refresh_query_ms']:.1f} ms "
              f"in PostgreSQL here ({meta['refresh_rows']} rows back)")

    result = {"meta": meta, "similar": s, "similar_sequential_s": seq_similar,
              "faiss": {k: v for k, v in faiss_.items()}, "predict": p, "predict_sequential_s": seq_predict,
              "summary": {"similar_requests_per_s": s["requests_per_s"], "similar_p50_ms": s["latency_ms"]["p50"],
                          "similar_p99_ms": s["latency_ms"]["p99"], "similar_errors": s["errors"],
                          "similar_sequential_median_ms": 1000 * api_seq, "faiss_single_median_ms": 1000 * faiss_single,
                          "faiss_batch_queries_per_s": faiss_batch_qps, "api_over_faiss": api_seq / faiss_single,
                          "predict_requests_per_s": p["requests_per_s"], "predict_p50_ms": p["latency_ms"]["p50"],
                          "predict_sequential_median_ms": 1000 * med(seq_predict), "predict_errors": p["errors"]}}
    with open(args.json, "w") as f:
        json.dump(result, f, indent=1)
    print(f"\n(JSON: {args.json})")


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    v = sub.add_parser("vectors"); v.add_argument("dir"); v.add_argument("--model-id", type=int, required=True)
    v.add_argument("--seed", type=int, default=20261201)
    f = sub.add_parser("faiss"); f.add_argument("dir"); f.add_argument("--queries", type=int, default=1000)
    f.add_argument("--k", type=int, default=11); f.add_argument("--url", required=True); f.add_argument("--key", required=True)
    f.add_argument("--check", type=int, default=50)
    r = sub.add_parser("report"); r.add_argument("dir"); r.add_argument("--json", required=True)
    args = parser.parse_args()
    {"vectors": vectors, "faiss": faiss_run, "report": report}[args.command](args)


if __name__ == "__main__":
    main()

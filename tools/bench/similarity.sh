#!/usr/bin/env bash
# scripts/bench similarity: Timbre's Similarity module against numpy, scikit-learn and FAISS on
# the same synthetic embeddings (unit vectors around 64 directions, like track embeddings):
#   query      exact top-10 by cosine over BENCH_COUNT (default 100,000) × 256 embeddings, one
#              query at a time (as the API answers "more like this"): Timbre's EmbeddingIndex,
#              numpy (X @ q + argpartition), scikit-learn NearestNeighbors(brute, cosine), FAISS
#              IndexFlatIP; the neighbours must agree.
#   k-means    Lloyd from the same initial centroids on the first BENCH_KMEANS_COUNT (20,000)
#              embeddings, 32 clusters, at most 50 iterations: Timbre vs scikit-learn KMeans, both its plain
#              "lloyd" and its bounded "elkan" (Timbre prunes with Hamerly bounds; the labels are Lloyd's).
#   PCA        2-D projection of those: Timbre vs scikit-learn PCA.
# Medians of BENCH_QUERIES (200) queries and of 3 k-means/PCA runs; the ratios are peer time over
# Timbre's (above 1: Timbre is faster). Python: $TIMBRE_PYTHON, else tools/.venv-bench-similarity.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="/opt/swift/usr/bin:$PATH"

count="${BENCH_COUNT:-100000}"
dimension=256
queries="${BENCH_QUERIES:-200}"
kmeans_count="${BENCH_KMEANS_COUNT:-20000}"
clusters=32
out=bench-results/similarity

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

echo "== building timbre-bench (release)" >&2
swift build -c release --product timbre-bench >&2
bench="$(swift build -c release --show-bin-path)/timbre-bench"

sizes=(--count "$count" --dimension "$dimension" --queries "$queries" --kmeans-count "$kmeans_count" --clusters "$clusters")
echo "== data: $count × $dimension embeddings, $queries queries in $out" >&2
"$python" tools/bench/similarity_peer.py write "$out" "${sizes[@]}"
echo "== timbre" >&2
"$bench" bench-similarity --dir "$out" "${sizes[@]}" > "$out/timbre.json"
echo "== numpy, scikit-learn, faiss" >&2
"$python" tools/bench/similarity_peer.py run "$out" "${sizes[@]}" > "$out/peer.json"

"$python" - "$out" "$count" "$kmeans_count" <<'PY'
import json, os, statistics, sys
out, count, kmeans_count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
t = json.load(open(f"{out}/timbre.json"))
p = json.load(open(f"{out}/peer.json"))
med = statistics.median
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
print(f"Similarity: {count:,} × 256 embeddings, {len(t['query_s'])} queries, top {len(t['neighbours'][0])}")
print(f"machine: {cpu}, {os.cpu_count()} cores; numpy {p['numpy']}, scikit-learn {p['sklearn']}, faiss {p['faiss']}"
      + (f" ({p['faiss_threads']} threads)" if p.get("faiss") else ""))
print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
print()
def agree(a, b):
    return sum(len(set(x) & set(y)) for x, y in zip(a, b)) / sum(len(x) for x in a)
tq = med(t["query_s"])
print(f"{'exact top-k, one query':34}{'median ms':>10}{'queries/s':>11}{'Timbre ×':>10}{'same ids':>10}")
rows = [("timbre EmbeddingIndex", t["query_s"], t["neighbours"]), ("numpy X @ q + argpartition", p["numpy_query_s"], p["numpy_neighbours"]),
        ("scikit-learn NearestNeighbors", p["sklearn_query_s"], p["sklearn_neighbours"])]
if p.get("faiss"):
    rows.append(("faiss IndexFlatIP", p["faiss_query_s"], p["faiss_neighbours"]))
for name, times, found in rows:
    m = med(times)
    print(f"{name:34}{1000 * m:10.2f}{1 / m:11.1f}{m / tq:10.2f}{100 * agree(t['neighbours'], found):9.1f}%")
print(f"(index build: timbre {t['build_s']:.2f} s" + (f", faiss {p['faiss_build_s']:.2f} s" if p.get("faiss") else "") + ")")
print()
tk, pk = med(t["kmeans_s"]), med(p["kmeans_s"])
same = sum(a == b for a, b in zip(t["kmeans_labels"], p["kmeans_labels"])) / len(t["kmeans_labels"])
print(f"k-means (Lloyd, same initial centroids), {kmeans_count:,} points, 32 clusters:")
print(f"  timbre {tk:.3f} s ({t['kmeans_iterations']} iterations, inertia {t['kmeans_inertia']:.4f})")
print(f"  scikit-learn {pk:.3f} s ({p['kmeans_iterations']} iterations, inertia {p['kmeans_inertia']:.4f})")
print(f"  Timbre ×{pk / tk:.2f}; same labels for {100 * same:.2f} % of points")
if "kmeans_elkan_s" in p:
    ek = med(p["kmeans_elkan_s"])
    same_e = sum(a == b for a, b in zip(t["kmeans_labels"], p["kmeans_elkan_labels"])) / len(t["kmeans_labels"])
    print(f"  scikit-learn elkan (bounded, as Timbre's Hamerly bounds) {ek:.3f} s ({p['kmeans_elkan_iterations']} iterations)"
          f" → Timbre ×{ek / tk:.2f}; same labels for {100 * same_e:.2f} % of points")
tp, pp = med(t["pca_s"]), med(p["pca_s"])
print(f"PCA to 2-D, {kmeans_count:,} points: timbre {tp:.3f} s, scikit-learn {pp:.3f} s → Timbre ×{pp / tp:.2f}; "
      f"explained variance {t['pca_ratio'][0]:.4f}/{t['pca_ratio'][1]:.4f} vs {p['pca_ratio'][0]:.4f}/{p['pca_ratio'][1]:.4f}")
PY

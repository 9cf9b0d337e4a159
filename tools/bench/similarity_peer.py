#!/usr/bin/env python3
"""The Python half of `scripts/bench similarity`.

  similarity_peer.py write DIR --count N --dimension D --queries Q --kmeans-count M --clusters K
      writes DIR/embeddings.f32 (N unit vectors around 64 directions, like track embeddings),
      DIR/queries.f32 (Q more of them) and DIR/init.f32 (K of the first M embeddings, the
      initial centroids both sides start k-means from).
  similarity_peer.py run DIR ... --neighbours 10 --max-iterations 50 --repeats 3
      times the peers on the same files and prints JSON: exact top-k by cosine with numpy
      (X @ q + argpartition), scikit-learn NearestNeighbors(algorithm="brute", metric="cosine")
      and FAISS IndexFlatIP, one query at a time; KMeans(init=…, n_init=1, algorithm="lloyd") and "elkan";
      PCA(n_components=2) fit_transform.
"""
import argparse, json, os, sys, time

import numpy as np


def load(path, rows, dim):
    return np.fromfile(path, dtype=np.float32).reshape(rows, dim)


def write(args):
    rng = np.random.default_rng(20261126)
    total = args.count + args.queries
    directions = rng.normal(size=(64, args.dimension)).astype(np.float32)
    which = rng.integers(0, 64, size=total)
    x = directions[which] + rng.normal(size=(total, args.dimension)).astype(np.float32) * 1.5
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    os.makedirs(args.dir, exist_ok=True)
    x[:args.count].astype(np.float32).tofile(os.path.join(args.dir, "embeddings.f32"))
    x[args.count:].astype(np.float32).tofile(os.path.join(args.dir, "queries.f32"))
    init = x[rng.choice(args.kmeans_count, size=args.clusters, replace=False)]
    init.astype(np.float32).tofile(os.path.join(args.dir, "init.f32"))


def timed(fn, repeats):
    times, result = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return times, result


def run(args):
    import sklearn
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA
    from sklearn.neighbors import NearestNeighbors
    x = load(os.path.join(args.dir, "embeddings.f32"), args.count, args.dimension)
    q = load(os.path.join(args.dir, "queries.f32"), args.queries, args.dimension)
    init = load(os.path.join(args.dir, "init.f32"), args.clusters, args.dimension)
    k = args.neighbours
    out = {"numpy": np.__version__, "sklearn": sklearn.__version__}

    def per_query(search):
        times, found = [], []
        for row in q:
            t0 = time.perf_counter()
            ids = search(row)
            times.append(time.perf_counter() - t0)
            found.append([int(i) for i in ids])
        return times, found

    def numpy_search(row):
        scores = x @ row
        top = np.argpartition(-scores, k)[:k]
        return top[np.argsort(-scores[top], kind="stable")]
    out["numpy_query_s"], out["numpy_neighbours"] = per_query(numpy_search)

    t0 = time.perf_counter()
    nn = NearestNeighbors(n_neighbors=k, algorithm="brute", metric="cosine").fit(x)
    out["sklearn_build_s"] = time.perf_counter() - t0
    out["sklearn_query_s"], out["sklearn_neighbours"] = per_query(lambda row: nn.kneighbors(row[None, :], return_distance=False)[0])

    try:
        import faiss
        t0 = time.perf_counter()
        index = faiss.IndexFlatIP(args.dimension)
        index.add(x)
        out["faiss_build_s"] = time.perf_counter() - t0
        out["faiss"] = faiss.__version__
        out["faiss_threads"] = faiss.omp_get_max_threads()
        out["faiss_query_s"], out["faiss_neighbours"] = per_query(lambda row: index.search(row[None, :], k)[1][0])
    except ImportError:
        out["faiss"] = None

    points = x[:args.kmeans_count]
    out["kmeans_s"], km = timed(lambda: KMeans(n_clusters=args.clusters, init=init, n_init=1, algorithm="lloyd",
                                               max_iter=args.max_iterations).fit(points), args.repeats)
    out["kmeans_labels"] = km.labels_.tolist()
    out["kmeans_inertia"] = float(km.inertia_)
    out["kmeans_iterations"] = int(km.n_iter_)
    # Elkan's bounded variant too: Timbre prunes distance computations with Hamerly bounds, so
    # the fair peer for the method (not only the result) is scikit-learn's own bounded Lloyd.
    out["kmeans_elkan_s"], km = timed(lambda: KMeans(n_clusters=args.clusters, init=init, n_init=1, algorithm="elkan",
                                                     max_iter=args.max_iterations).fit(points), args.repeats)
    out["kmeans_elkan_labels"] = km.labels_.tolist()
    out["kmeans_elkan_iterations"] = int(km.n_iter_)
    def pca_fit_transform():
        pca = PCA(n_components=2)
        pca.fit_transform(points)
        return pca
    out["pca_s"], pca = timed(pca_fit_transform, args.repeats)
    out["pca_ratio"] = pca.explained_variance_ratio_.tolist()
    json.dump(out, sys.stdout)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["write", "run"])
    p.add_argument("dir")
    for name in ["count", "dimension", "queries", "kmeans-count", "clusters"]:
        p.add_argument("--" + name, type=int, required=True)
    p.add_argument("--neighbours", type=int, default=10)
    p.add_argument("--max-iterations", type=int, default=50)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    write(args) if args.mode == "write" else run(args)


if __name__ == "__main__":
    main()

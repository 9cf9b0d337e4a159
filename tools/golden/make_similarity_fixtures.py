#!/usr/bin/env python3
"""Golden fixtures for Timbre's Similarity module, computed by scikit-learn.

Writes Tests/Fixtures/similarity/clustering.json: float32 points (Gaussian blobs on and off the
unit sphere, like track embeddings), scikit-learn's Lloyd k-means from given initial centres
(KMeans(init=centres, n_init=1, algorithm="lloyd")), its labels, centres, inertia and iteration
count, and PCA(n_components=2)'s projection, components and explained variance ratio. Rerun:

    python3 tools/golden/make_similarity_fixtures.py     # uses TIMBRE_PYTHON or tools/.venv
"""
import json, os

from sklearn_venv import ROOT, reexec_in_venv


def case(name, points, k, rng, tol=1e-4):
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA
    import numpy as np
    points = points.astype(np.float32)
    initial = points[rng.choice(len(points), size=k, replace=False)]
    km = KMeans(n_clusters=k, init=initial, n_init=1, algorithm="lloyd", max_iter=300, tol=tol).fit(points)
    pca = PCA(n_components=2, svd_solver="full").fit(points)
    return {
        "name": name,
        "count": int(points.shape[0]), "dimension": int(points.shape[1]), "k": k, "tolerance": tol,
        "points": points.ravel().tolist(),
        "initial": initial.ravel().tolist(),
        "labels": km.labels_.tolist(),
        "centroids": km.cluster_centers_.ravel().tolist(),
        "inertia": float(km.inertia_),
        "iterations": int(km.n_iter_),
        "projection": pca.transform(points).ravel().tolist(),
        "components": pca.components_.ravel().tolist(),
        "explained_variance_ratio": pca.explained_variance_ratio_.tolist(),
    }


def main():
    import numpy as np
    import sklearn
    rng = np.random.default_rng(20261126)
    cases = []
    # Five overlapping blobs in 16-D.
    centres = rng.normal(size=(5, 16)) * 2.0
    blobs = np.concatenate([c + rng.normal(size=(60, 16)) for c in centres])
    cases.append(case("blobs16", blobs, 5, rng))
    # Unit-length 64-D vectors around 4 directions (what embeddings look like).
    directions = rng.normal(size=(4, 64))
    unit = np.concatenate([d + rng.normal(size=(50, 64)) * 1.2 for d in directions])
    unit /= np.linalg.norm(unit, axis=1, keepdims=True)
    cases.append(case("unit64", unit, 4, rng))
    # One diffuse cloud cut into 6: many iterations; a loose tolerance stops on the centroids'
    # shift before the labels settle.
    cloud = rng.normal(size=(400, 8)).astype(np.float32)
    cases.append(case("cloud8-loose", cloud, 6, rng, tol=0.02))
    cases.append(case("cloud8", cloud, 6, rng))
    out = os.path.join(ROOT, "Tests", "Fixtures", "similarity")
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, "clustering.json")
    with open(path, "w") as f:
        json.dump({"generator": f"scikit-learn {sklearn.__version__}, numpy {np.__version__}", "cases": cases}, f)
    print(f"wrote {path}")


if __name__ == "__main__":
    reexec_in_venv(__file__)
    main()

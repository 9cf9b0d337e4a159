#!/usr/bin/env python3
"""Golden fixtures for Timbre's multi-label metrics, computed by scikit-learn.

Writes Tests/Fixtures/metrics/multilabel_metrics.json: inputs (probabilities, targets)
and scikit-learn's values for every metric Timbre reports; and
Tests/Fixtures/metrics/logistic_probe.json: scikit-learn's LogisticRegression (L2, lbfgs,
weighted samples) on a small problem, the reference for Timbre's LogisticProbe. Rerun:

    python3 tools/golden/make_metric_fixtures.py     # uses TIMBRE_PYTHON or tools/.venv
"""
import json, os

from sklearn_venv import ROOT, reexec_in_venv


def main():
    import numpy as np
    from sklearn import metrics as M

    rng = np.random.default_rng(20261125)
    n, labels = 240, 7
    prevalence = np.array([0.5, 0.3, 0.2, 0.1, 0.05, 0.4, 0.15])
    targets = (rng.random((n, labels)) < prevalence).astype(np.int64)
    # Scores correlated with the truth, plus ties (rounded to 2 decimals) to exercise tie handling.
    logits = rng.normal(size=(n, labels)) + 1.6 * (targets * 2 - 1) * rng.random((n, labels))
    probs = np.round(1 / (1 + np.exp(-logits)), 2).astype(np.float32)
    # A few rows with no true tag and a few with no predicted tag.
    targets[:5] = 0
    probs[5:9] = np.minimum(probs[5:9], 0.3)
    pred = (probs >= 0.5).astype(np.int64)

    z = dict(zero_division=0)
    out = {
        "threshold": 0.5,
        "num_samples": n,
        "num_labels": labels,
        "probabilities": probs.astype(float).ravel().tolist(),
        "targets": targets.astype(float).ravel().tolist(),
        "hamming_loss": M.hamming_loss(targets, pred),
        "jaccard_samples": M.jaccard_score(targets, pred, average="samples", **z),
        "f1_samples": M.f1_score(targets, pred, average="samples", **z),
        "f1_micro": M.f1_score(targets, pred, average="micro", **z),
        "f1_macro": M.f1_score(targets, pred, average="macro", **z),
        "precision_samples": M.precision_score(targets, pred, average="samples", **z),
        "precision_micro": M.precision_score(targets, pred, average="micro", **z),
        "precision_macro": M.precision_score(targets, pred, average="macro", **z),
        "recall_samples": M.recall_score(targets, pred, average="samples", **z),
        "recall_micro": M.recall_score(targets, pred, average="micro", **z),
        "recall_macro": M.recall_score(targets, pred, average="macro", **z),
        "roc_auc_macro": M.roc_auc_score(targets, probs, average="macro"),
        "roc_auc_micro": M.roc_auc_score(targets, probs, average="micro"),
        "pr_auc_macro": M.average_precision_score(targets, probs, average="macro"),
        "pr_auc_micro": M.average_precision_score(targets, probs, average="micro"),
        "per_label_precision": M.precision_score(targets, pred, average=None, **z).tolist(),
        "per_label_recall": M.recall_score(targets, pred, average=None, **z).tolist(),
        "per_label_f1": M.f1_score(targets, pred, average=None, **z).tolist(),
        "per_label_roc_auc": M.roc_auc_score(targets, probs, average=None).tolist(),
        "per_label_pr_auc": M.average_precision_score(targets, probs, average=None).tolist(),
        "per_label_support": targets.sum(axis=0).tolist(),
    }
    path = os.path.join(ROOT, "Tests", "Fixtures", "metrics", "multilabel_metrics.json")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
    print("wrote", path)
    logistic_probe()


def logistic_probe():
    """LogisticRegression(C) minimises C·Σ wᵢ·BCEᵢ + ½‖β‖²: LogisticProbe's λ is 1/C."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(20261201)
    n, d = 60, 12
    x = rng.normal(size=(n, d)).astype(np.float32)
    direction = rng.normal(size=d)
    y = (x @ direction + 0.8 * rng.normal(size=n) > 0.3).astype(np.int64)
    w = rng.uniform(0.2, 1.5, size=n).astype(np.float32)
    cases = []
    for c in (1.0, 0.1, 10.0):
        model = LogisticRegression(C=c, solver="lbfgs", tol=1e-12, max_iter=100000)
        model.fit(x.astype(np.float64), y, sample_weight=w.astype(np.float64))
        cases.append({"l2": 1 / c, "weight": model.coef_[0].tolist(), "bias": float(model.intercept_[0])})
    out = {"n": n, "dimension": d, "features": x.astype(float).ravel().tolist(), "targets": y.astype(float).tolist(),
           "weights": w.astype(float).tolist(), "cases": cases}
    path = os.path.join(ROOT, "Tests", "Fixtures", "metrics", "logistic_probe.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
    print("wrote", path)


if __name__ == "__main__":
    reexec_in_venv(__file__)
    main()

"""The Python side of `scripts/bench retrain`.

  select LABELS --tag T --seed S     20 tracks with the tag and 20 without, as "path +T" / "path -T" lines
  report DIR --labels LABELS --tag T ...
                                     the logistic-regression probe on the frozen embeddings of the
                                     corrected tracks, and every held-out ROC-AUC, printed and as JSON

A tag is defined by the corpus's own labels (what its generator controls):
  party: fast (>= 130 BPM) and electronic, latin or pop
  dance: electronic, latin or reggae
"""
import argparse
import csv
import json
import random
import statistics
import sys
from pathlib import Path

RULES = {
    "party": lambda tags: "fast" in tags and bool(tags & {"electronic", "latin", "pop"}),
    "dance": lambda tags: bool(tags & {"electronic", "latin", "reggae"}),
}
PER_SIDE = 20


def read_labels(path):
    with open(path, newline="") as f:
        return {row["path"]: set(filter(None, row["tags"].split(";"))) for row in csv.DictReader(f)}


def select(args):
    labels = read_labels(args.labels)
    rule = RULES[args.tag]
    with_tag = sorted(p for p, t in labels.items() if rule(t))
    without = sorted(p for p, t in labels.items() if not rule(t))
    if len(with_tag) < PER_SIDE + 5 or len(without) < PER_SIDE + 5:
        sys.exit(f"select: {len(with_tag)} tracks with {args.tag}, {len(without)} without: too few to hold any out")
    rng = random.Random(args.seed)
    for path in rng.sample(with_tag, PER_SIDE):
        print(f"{path} +{args.tag}")
    for path in rng.sample(without, PER_SIDE):
        print(f"{path} -{args.tag}")


def read_predictions(path):
    table = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            table.setdefault(row["path"], {})[row["label"]] = float(row["probability"])
    return table


def read_embeddings(path):
    table = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            table[row["path"]] = [float(x) for x in row["vector"].strip("{}").split(",")]
    return table


def report(args):
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    import sklearn

    out = Path(args.dir)
    labels = read_labels(args.labels)
    rule = RULES[args.tag]
    corrections = [line.split() for line in (out / "corrections.txt").read_text().splitlines() if line.strip()]
    corrected = {path: change.startswith("+") for path, change in corrections}
    before, after = read_predictions(out / "predictions-before.csv"), read_predictions(out / "predictions-after.csv")
    embeddings = read_embeddings(out / "embeddings-before.csv")
    held_out = sorted(p for p in labels if p not in corrected and p in before and p in after)
    truth = np.array([rule(labels[p]) for p in held_out])

    # The peer: a probe on the active model's frozen embeddings of the same 40 corrected tracks.
    x_train = np.array([embeddings[p] for p in corrected])
    y_train = np.array([corrected[p] for p in corrected])
    x_test = np.array([embeddings[p] for p in held_out])
    probes = {
        "logistic_regression": LogisticRegression(max_iter=5000),
        "standardized_logistic_regression": make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000)),
    }
    probe_auc = {}
    for name, probe in probes.items():
        probe.fit(x_train, y_train)
        probe_auc[name] = float(roc_auc_score(truth, probe.predict_proba(x_test)[:, 1]))
    if args.tag not in next(iter(after.values())):
        sys.exit(f"report: the retrained model has no output {args.tag} (was it promoted? see retrain.json)")
    new_auc = float(roc_auc_score(truth, [after[p][args.tag] for p in held_out]))

    old_labels = sorted(next(iter(before.values())).keys())
    per_tag = {}
    for label in old_labels:
        y = np.array([label in labels[p] for p in held_out])
        if y.all() or not y.any():
            continue
        per_tag[label] = {
            "before": float(roc_auc_score(y, [before[p][label] for p in held_out])),
            "after": float(roc_auc_score(y, [after[p][label] for p in held_out])),
            "positives": int(y.sum()),
        }
    macro_before = statistics.fmean(v["before"] for v in per_tag.values())
    macro_after = statistics.fmean(v["after"] for v in per_tag.values())
    retrain = json.loads((out / "retrain.json").read_text())
    best_probe = max(probe_auc.values())
    result = {
        "tag": args.tag,
        "rule": {"party": "fast and (electronic or latin or pop)", "dance": "electronic or latin or reggae"}[args.tag],
        "library_tracks": len(labels),
        "corrected_tracks": len(corrected),
        "held_out_tracks": len(held_out),
        "held_out_with_tag": int(truth.sum()),
        "new_tag_roc_auc": new_auc,
        "probe_roc_auc": probe_auc,
        "new_tag_goal_met": new_auc >= 0.95 and new_auc > best_probe,
        "old_tags_macro_roc_auc_before": macro_before,
        "old_tags_macro_roc_auc_after": macro_after,
        "old_tags_macro_change": macro_after - macro_before,
        "old_tags_goal_met": macro_after - macro_before >= -0.01,
        "old_tags": per_tag,
        "seconds": {"scan_and_tag": args.scan_seconds, "retrain": args.retrain_seconds, "retag": args.retag_seconds},
        "retrain_goal_met": args.retrain_seconds < 300,
        "model": retrain.get("model"),
        "outcome": (retrain.get("report") or {}).get("outcome"),
        "reason": (retrain.get("report") or {}).get("reason"),
        "cpu": args.cpu,
        "blas_core": args.blas_core,
        "scikit_learn": sklearn.__version__,
    }
    Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    print(f"CPU {args.cpu}; OpenBLAS core {args.blas_core}; scikit-learn {sklearn.__version__}")
    print(f"library {len(labels)} tracks; corrected {len(corrected)} (20 +{args.tag}, 20 -{args.tag}); "
          f"held out {len(held_out)} ({int(truth.sum())} with {args.tag} = {result['rule']})")
    print(f"retraining: {result['outcome']} — {result['reason']}")
    print(f"new tag {args.tag}: held-out ROC-AUC {new_auc:.4f} (goal >= 0.95 and above the probe)")
    for name, auc in probe_auc.items():
        print(f"  probe {name} on frozen embeddings of the 40 corrected tracks: {auc:.4f}  (Timbre/probe {new_auc / auc:.3f})")
    print(f"old tags ({len(per_tag)}): macro ROC-AUC {macro_before:.4f} -> {macro_after:.4f}, "
          f"change {macro_after - macro_before:+.4f} (goal >= -0.01)")
    for label, v in per_tag.items():
        print(f"  {label:17s} {v['before']:.4f} -> {v['after']:.4f}  ({v['positives']} positives)")
    print(f"wall time: scan+tag {args.scan_seconds:.1f} s, retrain {args.retrain_seconds:.1f} s (goal < 300 s), "
          f"re-tag {args.retag_seconds:.1f} s")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("select")
    s.add_argument("labels")
    s.add_argument("--tag", choices=sorted(RULES), required=True)
    s.add_argument("--seed", type=int, default=5)
    r = sub.add_parser("report")
    r.add_argument("dir")
    r.add_argument("--labels", required=True)
    r.add_argument("--tag", choices=sorted(RULES), required=True)
    r.add_argument("--scan-seconds", type=float, required=True)
    r.add_argument("--retrain-seconds", type=float, required=True)
    r.add_argument("--retag-seconds", type=float, required=True)
    r.add_argument("--cpu", default="")
    r.add_argument("--blas-core", default="")
    r.add_argument("--json", required=True)
    args = parser.parse_args()
    select(args) if args.command == "select" else report(args)


if __name__ == "__main__":
    main()

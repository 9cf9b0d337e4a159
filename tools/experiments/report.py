#!/usr/bin/env python3
"""The experiment table as Markdown, from tools/experiments/table.sh's results.

    python3 tools/experiments/report.py [RESULTS] [--retrieval FILE.json ...] [--per-tag NAME ...]

RESULTS defaults to bench-results/experiments. One row per finished experiment: parameters,
file size, best epoch, epoch seconds, own test split and held-out soundfont corpus ROC-AUC /
PR-AUC (macro), held-out F1 macro and the weakest held-out tag; with --retrieval (the JSON of
`timbre evaluate-retrieval --json` over the experiments' best models), their same-soundtrack
precision@5. With --per-tag, the held-out per-tag table of the named experiments side by side.
"""
import json
import os
import re
import sys


def load(results, name, kind):
    path = os.path.join(results, f"{name}.{kind}.json")
    return json.load(open(path)) if os.path.exists(path) else None


def main(argv):
    retrieval = {}
    while "--retrieval" in argv:  # repeatable
        i = argv.index("--retrieval")
        for m in json.load(open(argv[i + 1]))["results"]:
            found = re.search(r"exp-([^/]+)/best_model", m["method"])
            if found:
                retrieval[found.group(1)] = m["precision_at_k"]
        argv = argv[:i] + argv[i + 2:]
    args = [a for a in argv if not a.startswith("--")]
    per_tag = []
    if "--per-tag" in argv:
        i = argv.index("--per-tag")
        per_tag = argv[i + 1:]
        args = [a for a in argv[:i] if not a.startswith("--")]
    results = args[0] if args else "bench-results/experiments"
    names = sorted(f[:-len(".heldout.json")] for f in os.listdir(results) if f.endswith(".heldout.json"))
    print("| experiment | parameters | file | best epoch (of) | s/epoch | own test ROC / PR | **held-out ROC / PR** | held-out F1 | weakest held-out tag (ROC) | real-music P@5 |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name in names:
        held, test = load(results, name, "heldout"), load(results, name, "test")
        run = f"models/trained_models/exp-{name}"
        history = json.load(open(f"{run}/training_history.json"))
        log = open(os.path.join(results, f"{name}.train.log"), errors="replace").read()
        m = re.search(r"(\d+) parameters", log)
        params = f"{int(m.group(1)):,}" if m else "?"
        size = os.path.getsize(f"{run}/best_model.safetensors") / 1e6
        best = max(history, key=lambda r: r["validation"]["pr_auc_macro"])["epoch"]
        seconds = sorted(r["seconds"] for r in history)[len(history) // 2]
        p5 = f"{retrieval[name]:.3f}" if name in retrieval else "–"
        weakest = min((l for l in held["per_label"] if l.get("roc_auc") is not None), key=lambda l: l["roc_auc"])
        print(f"| {name} | {params} | {size:.2f} MB | {best} ({len(history)}) | {seconds:.0f} | "
              f"{test['roc_auc_macro']:.3f} / {test['pr_auc_macro']:.3f} | **{held['roc_auc_macro']:.3f} / {held['pr_auc_macro']:.3f}** | "
              f"{held['f1_macro']:.3f} | {weakest['label']} {weakest['roc_auc']:.3f} | {p5} |")
    if per_tag:
        print()
        print("| tag | support | " + " | ".join(f"{n} ROC / PR" for n in per_tag) + " |")
        print("|---|---|" + "---|" * len(per_tag))
        tables = [{l["label"]: l for l in load(results, n, "heldout")["per_label"]} for n in per_tag]
        for label in sorted(tables[0]):
            cells = []
            for t in tables:
                l = t[label]
                roc = "–" if l.get("roc_auc") is None else f"{l['roc_auc']:.3f}"
                pr = "–" if l.get("pr_auc") is None else f"{l['pr_auc']:.3f}"
                cells.append(f"{roc} / {pr}")
            print(f"| {label} | {tables[0][label]['support']} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])

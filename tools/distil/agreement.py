#!/usr/bin/env python3
"""How well a distilled model knows its teacher's tags, on music neither trained on.

    python3 tools/distil/agreement.py TEACHER.csv STUDENT.csv [--top N]

Both files as `timbre soft-labels` writes them for the same folder (the teacher with the prefix
the student's soft tags carry, e.g. --prefix mtt:; the student with --prefix ''). For every
teacher tag the student also has: Pearson r of the two probabilities over the tracks, the mean
absolute difference, and the ROC-AUC of the student's probability against the teacher's own
decision (probability >= 0.5), where the teacher says yes for at least one track and no for one.
Prints a Markdown summary per teacher (by prefix) and the best and worst tags.
"""
import csv
import math
import sys


def read(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    header = rows[0][1:]
    return header, {r[0]: {h: float(v) for h, v in zip(header, r[1:]) if v != ""} for r in rows[1:]}


def pearson(x, y):
    n = len(x)
    mx, my = sum(x) / n, sum(y) / n
    sx = math.sqrt(sum((a - mx) ** 2 for a in x))
    sy = math.sqrt(sum((b - my) ** 2 for b in y))
    if sx == 0 or sy == 0:
        return None
    return sum((a - mx) * (b - my) for a, b in zip(x, y)) / (sx * sy)


def roc_auc(scores, truth):
    pos = [s for s, t in zip(scores, truth) if t]
    neg = [s for s, t in zip(scores, truth) if not t]
    if not pos or not neg:
        return None
    wins = sum((p > q) + 0.5 * (p == q) for p in pos for q in neg)
    return wins / (len(pos) * len(neg))


def main(argv):
    top = 5
    if "--top" in argv:
        top = int(argv[argv.index("--top") + 1])
    teacher_labels, teacher = read(argv[0])
    _, student = read(argv[1])
    paths = sorted(set(teacher) & set(student))
    by_prefix = {}
    for tag in teacher_labels:
        if not all(tag in student[p] for p in paths):
            continue
        t = [teacher[p][tag] for p in paths]
        s = [student[p][tag] for p in paths]
        r = pearson(t, s)
        mae = sum(abs(a - b) for a, b in zip(t, s)) / len(paths)
        auc = roc_auc(s, [a >= 0.5 for a in t])
        by_prefix.setdefault(tag.split(":")[0], []).append((tag, r, mae, auc, sum(a >= 0.5 for a in t)))
    print(f"{len(paths)} tracks\n")
    print("| teacher | tags | median Pearson r | mean abs. difference | median ROC-AUC vs the teacher's decisions (tags it says yes to at least once) |")
    print("|---|---|---|---|---|")
    for prefix, rows in by_prefix.items():
        rs = sorted(r for _, r, _, _, _ in rows if r is not None)
        aucs = sorted(a for _, _, _, a, _ in rows if a is not None)
        maes = [m for _, _, m, _, _ in rows]
        med = lambda xs: xs[len(xs) // 2] if xs else float("nan")
        print(f"| {prefix} | {len(rows)} | {med(rs):.2f} | {sum(maes) / len(maes):.3f} | {med(aucs):.2f} ({len(aucs)} tags) |")
    for prefix, rows in by_prefix.items():
        ranked = sorted((row for row in rows if row[1] is not None), key=lambda row: -row[1])
        fmt = lambda row: f"{row[0]} (r {row[1]:.2f})"
        print(f"\n{prefix}: best known {', '.join(fmt(r) for r in ranked[:top])}; least {', '.join(fmt(r) for r in ranked[-top:])}")


if __name__ == "__main__":
    main(sys.argv[1:])

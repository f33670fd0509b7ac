#!/usr/bin/env python3
"""Grouping Accuracy of logwarden's line kinds on the Loghub 2k samples.

Usage: bench/loghub_ga.py LOGHUB_DIR [--bin target/release/logwarden] [--rate-lines N]

LOGHUB_DIR is a checkout of https://github.com/logpai/loghub (the samples are not
committed here). For each of the 16 datasets, each line's kind is what
`logwarden kinds --assign` gives it, learned from nothing, on whole lines (what the daemon
sees) and on the message part alone (the `Content` column of the labelled CSV). Grouping
Accuracy as Zhu et al. (ICSE-SEIP 2019) define it: a line is parsed correctly when the set
of lines of its kind is exactly the set of lines of its labelled event. Prints the table and
the means, then kinds per second on a log of --rate-lines lines (the samples repeated).
"""

import argparse
import collections
import csv
import os
import subprocess
import sys
import tempfile
import time

DATASETS = [
    "HDFS", "Hadoop", "Spark", "Zookeeper", "BGL", "HPC", "Thunderbird", "Windows",
    "Linux", "Android", "HealthApp", "Apache", "Proxifier", "OpenSSH", "OpenStack", "Mac",
]

# Drain's Grouping Accuracy as published (Zhu et al. 2019, Table: tuned per dataset).
DRAIN_PUBLISHED = {
    "HDFS": 0.998, "Hadoop": 0.948, "Spark": 0.920, "Zookeeper": 0.967, "BGL": 0.963,
    "HPC": 0.887, "Thunderbird": 0.955, "Windows": 0.997, "Linux": 0.690, "Android": 0.911,
    "HealthApp": 0.780, "Apache": 1.000, "Proxifier": 0.527, "OpenSSH": 0.788,
    "OpenStack": 0.733, "Mac": 0.787,
}


def grouping_accuracy(truth, parsed):
    """Share of lines whose parsed group is exactly their labelled group."""
    assert len(truth) == len(parsed), (len(truth), len(parsed))
    by_parsed = collections.defaultdict(list)
    for i, p in enumerate(parsed):
        by_parsed[p].append(i)
    truth_sizes = collections.Counter(truth)
    correct = 0
    for members in by_parsed.values():
        events = {truth[i] for i in members}
        if len(events) == 1 and truth_sizes[next(iter(events))] == len(members):
            correct += len(members)
    return correct / len(truth)


def kinds(binary, lines):
    with tempfile.NamedTemporaryFile("w", delete=False, encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
        path = f.name
    try:
        out = subprocess.run(
            [binary, "kinds", "--assign", path], check=True, capture_output=True, text=True
        ).stdout.split()
    finally:
        os.unlink(path)
    return out


def load(loghub, name):
    base = os.path.join(loghub, name, f"{name}_2k.log")
    with open(base + "_structured.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    with open(base, encoding="utf-8", errors="replace", newline="\n") as f:
        raw = [l.rstrip("\r\n") for l in f]
    raw = [l for l in raw if l.strip()][: len(rows)]
    return raw, [r["Content"] for r in rows], [r["EventId"] for r in rows]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("loghub")
    ap.add_argument("--bin", default="target/release/logwarden")
    ap.add_argument("--rate-lines", type=int, default=1_000_000)
    a = ap.parse_args()
    rows = []
    every = []
    for name in DATASETS:
        raw, content, truth = load(a.loghub, name)
        if len(raw) != len(truth):
            sys.exit(f"{name}: {len(raw)} log lines but {len(truth)} labels")
        whole = grouping_accuracy(truth, kinds(a.bin, raw))
        message = grouping_accuracy(truth, kinds(a.bin, content))
        rows.append((name, whole, message))
        every.extend(raw)
    print(f"{'dataset':<12} {'whole lines':>11} {'message':>8} {'Drain (published)':>18}")
    for name, whole, message in rows:
        print(f"{name:<12} {whole:>11.3f} {message:>8.3f} {DRAIN_PUBLISHED[name]:>18.3f}")
    n = len(rows)
    print(
        f"{'mean':<12} {sum(r[1] for r in rows) / n:>11.3f} {sum(r[2] for r in rows) / n:>8.3f}"
        f" {sum(DRAIN_PUBLISHED.values()) / n:>18.3f}"
    )
    if a.rate_lines > 0:
        with tempfile.NamedTemporaryFile("w", delete=False, encoding="utf-8") as f:
            written = 0
            while written < a.rate_lines:
                chunk = every[: a.rate_lines - written]
                f.write("\n".join(chunk) + "\n")
                written += len(chunk)
            path = f.name
        try:
            start = time.perf_counter()
            subprocess.run([a.bin, "kinds", path], check=True, stdout=subprocess.DEVNULL)
            took = time.perf_counter() - start
        finally:
            os.unlink(path)
        print(f"kinds per second: {a.rate_lines / took:,.0f} lines/s ({a.rate_lines:,} lines in {took:.2f} s)")


if __name__ == "__main__":
    main()

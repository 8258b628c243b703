#!/usr/bin/env python3
"""Turns bench_sampling's CSV into the markdown tables of docs/sampling.md (standard library
only): the full table, and the fitted growth exponent of each sampler's time against N.

    python3 benchmarks/sampling_table.py docs/sampling.csv --markdown docs/sampling.md

The tables replace what lies between the file's bench markers; the text around them is kept.
"""
import argparse
import csv
import math
import os


def fmt(v):
    v = float(v)
    if v == 0:
        return "-"
    if v >= 1e5 or v < 1e-3:
        return f"{v:.2e}"
    if v >= 100:
        return f"{v:.0f}"
    return f"{v:.3g}"


def slope(points):
    """Least-squares slope of log t against log N: the exponent k in t ~ N^k."""
    if len(points) < 2:
        return float("nan")
    xs = [math.log(n) for n, _ in points]
    ys = [math.log(t) for _, t in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den if den else float("nan")


def tables(rows):
    out = ["| device | method | N | batch | s/image | images/s | x VAE | network passes | "
           "sequential steps | status |", "|---|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        status = r["status"]
        if status == "measured" and float(r["estimate_seconds"]) > 0:
            status += f" (estimate {fmt(r['estimate_seconds'])} s)"
        out.append(f"| {r['device']} | {r['method']} | {r['n']} | {r['batch']} | "
                   f"{fmt(r['seconds_per_image'])} | {fmt(r['images_per_second'])} | "
                   f"{fmt(r['ratio_to_vae'])} | {fmt(r['network_passes'])} | "
                   f"{fmt(r['sequential_steps'])} | {status} |")
    out += ["", "Growth of seconds per image with N (least-squares slope of log t on log N; "
            "'measured' uses measured points only):", "",
            "| device | method | batch | slope, all points | slope, measured | N range |",
            "|---|---|---:|---:|---:|---|"]
    series = {}
    for r in rows:
        key = (r["device"], r["method"], int(r["batch"]))
        series.setdefault(key, []).append(r)
    for (device, method, batch), rs in series.items():
        every = [(int(r["n"]), float(r["seconds_per_image"])) for r in rs]
        measured = [(int(r["n"]), float(r["seconds_per_image"])) for r in rs
                    if r["status"] == "measured"]
        s_all, s_meas = slope(every), slope(measured)
        ns = sorted(n for n, _ in every)
        out.append(f"| {device} | {method} | {batch} | {s_all:.2f} | "
                   f"{'-' if math.isnan(s_meas) else f'{s_meas:.2f}'} | {ns[0]}..{ns[-1]} |")
    return out


def write_markdown(path, lines):
    begin, end = "<!-- bench:begin (written by scripts/bench.sh) -->", "<!-- bench:end -->"
    text = open(path).read() if os.path.exists(path) else f"# Sampling\n\n{begin}\n{end}\n"
    if begin not in text or end not in text:
        text += f"\n{begin}\n{end}\n"
    head, rest = text.split(begin, 1)
    tail = rest.split(end, 1)[1]
    with open(path, "w") as f:
        f.write(head + begin + "\n" + "\n".join(lines) + "\n" + end + tail)
    print(f"wrote {path}")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("csv")
    p.add_argument("--markdown", help="replace this file's bench section with the tables")
    p.add_argument("--note", action="append", default=[], help="a line above the tables")
    a = p.parse_args()
    with open(a.csv, newline="") as f:
        rows = list(csv.DictReader(f))
    lines = a.note + ([""] if a.note else []) + tables(rows)
    print("\n".join(lines))
    if a.markdown:
        write_markdown(a.markdown, lines)


if __name__ == "__main__":
    main()

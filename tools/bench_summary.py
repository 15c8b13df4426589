#!/usr/bin/env python3
"""Markdown tables from tools/bench.sh results: medians over repetitions,
the spread (coefficient of variation), per-frame percentiles and the ratio of
each contender to its anchor measured in the same run.

usage: tools/bench_summary.py bench/results/<stamp>_<commit>_bench_parse.json [..._bench_ring.json]
"""
import json
import re
import sys


def load(path):
    with open(path) as f:
        doc = json.load(f)
    rows = {}
    for b in doc["benchmarks"]:
        if b.get("run_type") != "aggregate":
            continue
        name, agg = b["run_name"], b["aggregate_name"]
        rows.setdefault(name, {})[agg] = b
    return doc["context"], rows


def context_line(ctx):
    keys = ["date", "commit", "cpu_model", "num_cpus", "mhz_per_cpu", "compiler", "flags", "clock", "clock_stamp_ns"]
    return ", ".join(f"{k}: {ctx[k]}" for k in keys if k in ctx)


def parse_table(rows):
    kinds = {}
    for name, aggs in rows.items():
        m = re.match(r"BM_(\w+)/(\d+)$", name)
        if not m:
            continue
        med = aggs["median"]
        cv = aggs.get("cv", {}).get("real_time", 0.0)
        kinds.setdefault(med.get("label", m.group(2)), {})[m.group(1)] = (med, cv)
    out = ["| frame | tickpath ns (cv) | p50 / p99 / p99.9 ns | On-Demand + from_chars ns | simdjson DOM ns | nlohmann ns | tickpath vs On-Demand | vs DOM | vs nlohmann |",
           "|---|---|---|---|---|---|---|---|---|"]
    for kind, c in kinds.items():
        t, cv = c["Tickpath"]
        od, dom, nl = (c[k][0]["real_time"] for k in ("OnDemandFromChars", "SimdjsonDom", "Nlohmann"))
        tt = t["real_time"]
        out.append(f"| {kind} | {tt:.0f} ({cv*100:.0f}%) | {t['p50_ns']:.0f} / {t['p99_ns']:.0f} / {t['p999_ns']:.0f} | "
                   f"{od:.0f} | {dom:.0f} | {nl:.0f} | {tt/od:.2f}x | {tt/dom:.2f}x | {tt/nl:.2f}x ({nl/tt:.1f}x faster) |")
    return "\n".join(out)


def ring_table(rows):
    out = ["| measurement | element | tickpath | moodycamel ReaderWriterQueue | ratio (tickpath / moodycamel) |",
           "|---|---|---|---|---|"]
    pairs = {}
    for name, aggs in rows.items():
        m = re.match(r"BM_(Throughput|PingPong)<(Ours|Moody)<([^>]+)>", name)
        if not m:
            continue
        pairs.setdefault((m.group(1), m.group(3)), {})[m.group(2)] = aggs["median"]
    for (kind, elem), c in sorted(pairs.items()):
        o, mo = c.get("Ours"), c.get("Moody")
        if not o or not mo:
            continue
        elem_name = "Event (128 B)" if "Ev" in elem or "Event" in elem else elem.replace("std::", "")
        if kind == "Throughput":
            a, b = o["items_per_second"] / 1e6, mo["items_per_second"] / 1e6
            out.append(f"| throughput, M items/s | {elem_name} | {a:.1f} | {b:.1f} | {a/b:.2f}x |")
        else:
            a = f"{o['one_way_p50_ns']:.0f} / {o['one_way_p99_ns']:.0f} / {o['one_way_p999_ns']:.0f}"
            b = f"{mo['one_way_p50_ns']:.0f} / {mo['one_way_p99_ns']:.0f} / {mo['one_way_p999_ns']:.0f}"
            out.append(f"| one-way hop p50 / p99 / p99.9 ns | {elem_name} | {a} | {b} | {o['one_way_p50_ns']/mo['one_way_p50_ns']:.2f}x at p50 |")
    return "\n".join(out)


def main(paths):
    for p in paths:
        ctx, rows = load(p)
        print(f"`{p.split('/')[-1]}`: {context_line(ctx)}\n")
        print(parse_table(rows) if "bench_parse" in p else ring_table(rows))
        print()


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])

#!/usr/bin/env python3
"""Markdown tables for bench/RESULTS.md from tools/bench.sh result files.

Each file is one binary's run with several repetitions; within a run the
median over repetitions is taken, and every ratio is computed between two
figures of the same run. Given several runs (files of the same binary with
different stamps), a figure is the median over runs with the range
[min-max] after it.

usage: tools/bench_summary.py bench/results/<stamp>_<commit>_bench_*.json ...
"""
import json
import re
import statistics
import sys
from collections import defaultdict


def load(path):
    with open(path) as f:
        doc = json.load(f)
    rows = {}
    for b in doc["benchmarks"]:
        if b.get("run_type") != "aggregate" or b.get("aggregate_name") != "median":
            continue
        if b.get("error_occurred"):
            continue
        rows[b["run_name"]] = b
    return doc["context"], rows


def fmt(vals, digits=0, suffix=""):
    vals = [v for v in vals if v is not None]
    if not vals:
        return "-"
    med = statistics.median(vals)
    f = f"{{:.{digits}f}}"
    if len(vals) == 1 or min(vals) == max(vals):
        return f.format(med) + suffix
    return f"{f.format(med)}{suffix} ({f.format(min(vals))}-{f.format(max(vals))})"


def get(rows, name, key="real_time"):
    b = rows.get(name)
    if b is None:
        return None
    return b.get(key)


def per_run(runs, fn):
    out = []
    for rows in runs:
        try:
            v = fn(rows)
        except (TypeError, ZeroDivisionError):
            v = None
        out.append(v)
    return out


KINDS = ["trade (pretty-printed capture, 234 B)", "trade (compact, as sent, 168 B)", "aggTrade", "bookTicker", "kline",
         "depthUpdate", "depth20 (pretty-printed capture, 2,728 B, 80 decimals)", "depth20 (compact, as sent, 1,408 B)"]


def parse_tables(runs):
    out = ["| frame | tickpath ns | vs On-Demand + from_chars | vs simdjson DOM | faster than nlohmann | general single pass ns | simdjson-only path ns | tickpath p50 / p99 / p99.9 ns (stamped) |",
           "|---|---|---|---|---|---|---|---|"]
    for i, kind in enumerate(KINDS):
        t = f"BM_Tickpath/{i}/0"
        tick = per_run(runs, lambda r: get(r, t))
        od = per_run(runs, lambda r: get(r, t) / get(r, f"BM_OnDemandFromChars/{i}/0"))
        dom = per_run(runs, lambda r: get(r, t) / get(r, f"BM_SimdjsonDom/{i}/0"))
        nl = per_run(runs, lambda r: get(r, f"BM_Nlohmann/{i}/0") / get(r, t))
        general = per_run(runs, lambda r: get(r, f"BM_TickpathGeneral/{i}/0"))
        slow = per_run(runs, lambda r: get(r, f"BM_TickpathSimdjsonOnly/{i}/0"))
        p = [per_run(runs, lambda r, k=k: get(r, f"BM_Tickpath/{i}/1", k)) for k in ("p50_ns", "p99_ns", "p999_ns")]
        out.append(f"| {kind} | {fmt(tick)} | {fmt(od, 2, 'x')} | {fmt(dom, 2, 'x')} | {fmt(nl, 1, 'x')} | {fmt(general)} | {fmt(slow)} | "
                   f"{fmt(p[0])} / {fmt(p[1])} / {fmt(p[2])} |")
    return "\n".join(out)


def ring_tables(runs):
    out = ["| measurement | element | tickpath | ReaderWriterQueue | ConcurrentQueue | tickpath / RWQ | tickpath / ConcurrentQueue |",
           "|---|---|---|---|---|---|---|"]
    for elem, label in (("std::uint64_t", "uint64"), ("Ev", "Event (128 B)")):
        name = lambda q: f"BM_Throughput<{q}<{elem}>, {elem}>/real_time/threads:2"
        ips = lambda q: per_run(runs, lambda r: get(r, name(q), "items_per_second") / 1e6)
        ratio = lambda q: per_run(runs, lambda r: get(r, name("Ours"), "items_per_second") / get(r, name(q), "items_per_second"))
        out.append(f"| throughput, M items/s | {label} | {fmt(ips('Ours'), 1)} | {fmt(ips('Moody'), 1)} | {fmt(ips('MoodyMpmc'), 1)} | "
                   f"{fmt(ratio('Moody'), 2, 'x')} | {fmt(ratio('MoodyMpmc'), 2, 'x')} |")
    for elem, label in (("std::uint64_t", "uint64"), ("Ev", "Event (128 B)")):
        name = lambda q: f"BM_PingPong<{q}<{elem}>, {elem}>/real_time/threads:2"
        hop = lambda q, k: per_run(runs, lambda r: get(r, name(q), k))
        ratio = lambda q: per_run(runs, lambda r: get(r, name("Ours"), "one_way_p50_ns") / get(r, name(q), "one_way_p50_ns"))
        cell = lambda q: f"{fmt(hop(q, 'one_way_p50_ns'))} / {fmt(hop(q, 'one_way_p99_ns'))}"
        mpmc = f"{fmt(ratio('MoodyMpmc'), 2, 'x')} at p50" if any(hop("MoodyMpmc", "one_way_p50_ns")) else "-"
        out.append(f"| one-way hop p50 / p99 ns | {label} | {cell('Ours')} | {cell('Moody')} | {cell('MoodyMpmc')} | "
                   f"{fmt(ratio('Moody'), 2, 'x')} at p50 | {mpmc} |")
    return "\n".join(out)


def policy_tables(runs):
    bound = per_run(runs, lambda r: get(r, "BM_Policy/2/0", "fma_lower_bound_ns"))
    peak_bound = per_run(runs, lambda r: get(r, "BM_Policy/2/0", "macs") / (get(r, "BM_FmaPeak", "items_per_second") / 1e9))
    out = ["| forward pass, batch 1 | ns per call (unstamped) | p50 / p99 ns (stamped) | vs FMA lower bound | vs measured FMA peak bound | faster than oneDNN batch 1 | faster than the plain float loop |",
           "|---|---|---|---|---|---|---|"]
    for arg, label in (("2", "tickpath AVX-512"), ("1", "tickpath AVX2+FMA"), ("0", "tickpath scalar (double)")):
        un = f"BM_Policy/{arg}/0" if arg != "0" else f"BM_Policy/0/1"
        t = per_run(runs, lambda r: get(r, un))
        st = f"BM_Policy/{arg}/1"
        p50 = per_run(runs, lambda r: get(r, st, "p50_ns"))
        p99 = per_run(runs, lambda r: get(r, st, "p99_ns"))
        vb = per_run(runs, lambda r: get(r, un) / get(r, un, "fma_lower_bound_ns"))
        vm = per_run(runs, lambda r: get(r, un) / (get(r, "BM_Policy/2/0", "macs") / (get(r, "BM_FmaPeak", "items_per_second") / 1e9)))
        vd = per_run(runs, lambda r: get(r, "BM_OneDnn/1") / get(r, un))
        vp = per_run(runs, lambda r: get(r, "BM_PlainLoop") / get(r, un))
        out.append(f"| {label} | {fmt(t)} | {fmt(p50)} / {fmt(p99)} | {fmt(vb, 2, 'x')} | {fmt(vm, 2, 'x')} | {fmt(vd, 1, 'x')} | {fmt(vp, 1, 'x')} |")
    d1 = per_run(runs, lambda r: get(r, "BM_OneDnn/1"))
    d64 = per_run(runs, lambda r: get(r, "BM_OneDnn/64") / 64)
    pl = per_run(runs, lambda r: get(r, "BM_PlainLoop"))
    out.append(f"| oneDNN batch 1 | {fmt(d1)} | | | | | |")
    out.append(f"| oneDNN batch 64, per observation | {fmt(d64)} | | | | | |")
    out.append(f"| plain float loop (torch layout) | {fmt(pl)} | | | | | |")
    out.append(f"\nFMA lower bound: {fmt(bound, 1)} ns (multiply-adds of both networks / 32 per cycle at the TSC rate); "
               f"measured FMA peak bound: {fmt(peak_bound, 1)} ns (the same multiply-adds at `BM_FmaPeak`'s "
               f"{fmt(per_run(runs, lambda r: get(r, 'BM_FmaPeak', 'items_per_second') / 1e9), 1)} G/s).")
    if any(get(r, "BM_PolicyActor/2/0") is not None or get(r, "BM_PolicyActor/1/0") is not None for r in runs):
        out += ["", "| the actor alone (`--no-critic`) | ns per call (unstamped) | p50 / p99 ns (stamped) | p50 after 20 us | "
                "vs the actor's FMA lower bound | vs both networks (unstamped) |", "|---|---|---|---|---|---|"]
        for arg, label in (("2", "AVX-512"), ("1", "AVX2+FMA")):
            un = f"BM_PolicyActor/{arg}/0"
            if all(get(r, un) is None for r in runs):
                continue
            t = per_run(runs, lambda r: get(r, un))
            p50 = per_run(runs, lambda r: get(r, f"BM_PolicyActor/{arg}/1", "p50_ns"))
            p99 = per_run(runs, lambda r: get(r, f"BM_PolicyActor/{arg}/1", "p99_ns"))
            gap = per_run(runs, lambda r: get(r, f"BM_PolicyActorAfterGap/{arg}/20", "p50_ns"))
            vb = per_run(runs, lambda r: get(r, un) / get(r, un, "fma_lower_bound_ns"))
            vf = per_run(runs, lambda r: get(r, un) / get(r, f"BM_Policy/{arg}/0"))
            out.append(f"| {label} | {fmt(t)} | {fmt(p50)} / {fmt(p99)} | {fmt(gap)} | {fmt(vb, 2, 'x')} | {fmt(vf, 2, 'x')} |")
    out += ["", "| forward pass after an idle gap (stamped) | p50 ns | p99 ns | p50 vs back to back |", "|---|---|---|---|"]
    for arg, label in (("2", "AVX-512"), ("1", "AVX2+FMA")):
        for gap in ("1", "5", "20"):
            name = f"BM_PolicyAfterGap/{arg}/{gap}"
            if all(get(r, name) is None for r in runs):
                continue
            p50 = per_run(runs, lambda r: get(r, name, "p50_ns"))
            p99 = per_run(runs, lambda r: get(r, name, "p99_ns"))
            ratio = per_run(runs, lambda r: get(r, name, "p50_ns") / get(r, f"BM_Policy/{arg}/1", "p50_ns"))
            out.append(f"| {label}, after {gap} us | {fmt(p50)} | {fmt(p99)} | {fmt(ratio, 2, 'x')} |")
    if any(get(r, "BM_DenseLayers/1") is not None for r in runs):
        f32 = per_run(runs, lambda r: get(r, "BM_DenseLayers/0"))
        b16 = per_run(runs, lambda r: get(r, "BM_DenseLayers/1"))
        ratio = per_run(runs, lambda r: get(r, "BM_DenseLayers/1") / get(r, "BM_DenseLayers/0"))
        err = per_run(runs, lambda r: get(r, "BM_DenseLayers/1", "max_rel_error"))
        out += ["", "| hidden layers of both networks (no activation) | ns per call | vs fp32 | largest error vs fp32 |",
                "|---|---|---|---|",
                f"| fp32, FMA | {fmt(f32)} | 1.00x | - |",
                f"| bf16 weights and inputs, fp32 sums (VDPBF16PS) | {fmt(b16)} | {fmt(ratio, 2, 'x')} | {fmt(err, 4)} of the largest output |"]
    if any(get(r, "BM_PolicyRelu/2/0") is not None for r in runs):
        # The pass taken apart, each part against the same FMA lower bound, in the same run.
        out += ["", "| the AVX-512 pass taken apart | ns per call | vs FMA lower bound |", "|---|---|---|"]
        parts = [("BM_DenseLayers/0", "both networks' hidden layers alone: multiply-adds and their loads (no input check, activation or heads)"),
                 ("BM_PolicyRelu/2/0", "the whole pass with ReLU (one instruction per activation vector)"),
                 ("BM_Policy/2/0", "the whole pass with tanh (the model's)")]
        for name, label in parts:
            if all(get(r, name) is None for r in runs):
                continue
            t = per_run(runs, lambda r: get(r, name))
            vb = per_run(runs, lambda r: get(r, name) / get(r, "BM_Policy/2/0", "fma_lower_bound_ns"))
            out.append(f"| {label} | {fmt(t)} | {fmt(vb, 2, 'x')} |")
    return "\n".join(out)


def indicator_tables(runs):
    out = ["| per trade | ns (unstamped) | p50 / p99 ns (stamped) | faster than the TA-Lib-style batch recompute |",
           "|---|---|---|---|"]
    for name, label in (("BM_Peek", "IndicatorSet::peek, full set"), ("BM_MarketStateTrade", "MarketState::on_event(trade): bars, peek, windows, VWAP"),
                        ("BM_TaLibStyleBatch", "TA-Lib-style batch recompute over 100 closes (anchor)")):
        t = per_run(runs, lambda r: get(r, f"{name}/0"))
        p50 = per_run(runs, lambda r: get(r, f"{name}/1", "p50_ns"))
        p99 = per_run(runs, lambda r: get(r, f"{name}/1", "p99_ns"))
        x = per_run(runs, lambda r: get(r, "BM_TaLibStyleBatch/0") / get(r, f"{name}/0"))
        out.append(f"| {label} | {fmt(t, 1)} | {fmt(p50)} / {fmt(p99)} | {fmt(x, 0, 'x') if name != 'BM_TaLibStyleBatch' else ''} |")
    return "\n".join(out)


def pipeline_tables(runs):
    sat = "BM_Pipeline/0/iterations:1/manual_time"
    paced = "BM_Pipeline/100000/iterations:1/manual_time"
    inline = "BM_Inline/iterations:1/manual_time"
    g = lambda n, k: per_run(runs, lambda r: get(r, n, k))
    out = ["| run | frames/s | dropped | tick_to_signal p50 / p99 / p99.9 ns | queue p50 / p99 ns | parse p50 ns | vCPU steal, worst hot core |",
           "|---|---|---|---|---|---|---|"]
    rows = [(sat, "pipeline, saturated (1M frames)"), (paced, "pipeline, paced at 100k frames/s (2 s)")]
    actor = [("BM_PipelineActor/0/iterations:1/manual_time", "actor alone (`--no-critic`), saturated"),
             ("BM_PipelineActor/100000/iterations:1/manual_time", "actor alone (`--no-critic`), paced at 100k frames/s")]
    one = [(f"BM_PipelineOneThread/{pace}/{critic}/iterations:1/manual_time",
            f"one hot thread (`--inline-strategy`){'' if critic else ', actor alone'}, "
            f"{'saturated' if pace == 0 else 'paced at 100k frames/s'}")
           for critic in (1, 0) for pace in (0, 100000)]
    rows += [(n, label) for n, label in actor + one if any(get(r, n) is not None for r in runs)]
    for n, label in rows:
        fps = [v / 1e6 if v else None for v in g(n, "frames_per_s")]
        out.append(f"| {label} | {fmt(fps, 2, ' M')} | {fmt(g(n, 'dropped'))} | {fmt(g(n, 't2s_p50_ns'))} / {fmt(g(n, 't2s_p99_ns'))} / "
                   f"{fmt(g(n, 't2s_p999_ns'))} | {fmt(g(n, 'queue_p50_ns'))} / {fmt(g(n, 'queue_p99_ns'))} | {fmt(g(n, 'parse_p50_ns'))} | "
                   f"{fmt(g(n, 'steal_pct_max'), 1, '%')} |")
    fps = [v / 1e6 if v else None for v in g(inline, "frames_per_s")]
    out.append(f"| anchor: the same stages inline on one thread | {fmt(fps, 2, ' M')} | - | {fmt(g(inline, 't2s_p50_ns'))} / "
               f"{fmt(g(inline, 't2s_p99_ns'))} / {fmt(g(inline, 't2s_p999_ns'))} | - | - | - |")
    inline_actor = "BM_InlineActor/iterations:1/manual_time"
    if any(get(r, inline_actor) is not None for r in runs):
        fps = [v / 1e6 if v else None for v in g(inline_actor, "frames_per_s")]
        out.append(f"| anchor: inline, actor alone | {fmt(fps, 2, ' M')} | - | {fmt(g(inline_actor, 't2s_p50_ns'))} / "
                   f"{fmt(g(inline_actor, 't2s_p99_ns'))} / {fmt(g(inline_actor, 't2s_p999_ns'))} | - | - | - |")
    ratio = per_run(runs, lambda r: get(r, sat, "frames_per_s") / get(r, inline, "frames_per_s"))
    out.append(f"\nSaturated pipeline throughput / inline anchor: {fmt(ratio, 2, 'x')}.")
    return "\n".join(out)


def train_tables(runs):
    g = lambda n, k: per_run(runs, lambda r: get(r, n, k))
    step = per_run(runs, lambda r: get(r, "BM_EnvStep"))
    out = [f"Trading environment step (fill, indicators, features, mark, reward), one thread: {fmt(step, 0)} ns.\n",
           "| threads | tickpath minibatch updates/s | PyTorch (SB3-style) updates/s | tickpath / PyTorch | env steps/s in rollouts (policy sampling included) |",
           "|---|---|---|---|---|"]
    for t in (1, 2):
        n = f"BM_PpoUpdate/{t}/iterations:3/manual_time"
        out.append(f"| {t} | {fmt(g(n, 'updates_per_s'))} | {fmt(g(n, 'torch_updates_per_s'))} | {fmt(g(n, 'vs_torch'), 1, 'x')} | "
                   f"{fmt(g(n, 'env_steps_per_s'))} |")
    ours, dnnl, dnnl_all, peak = "BM_UpdateProducts/0", "BM_UpdateProducts/1", "BM_UpdateProducts/2", "BM_FmaPeak"
    gmac = lambda n: per_run(runs, lambda r: get(r, n, "items_per_second") / 1e9)
    us = lambda n: per_run(runs, lambda r: get(r, n) / 1e3)
    out += ["\nThe dense-layer products of one update (both networks, batch 64, 1.79 M multiply-adds):\n",
            "| products of one update | us | G multiply-adds/s | share of one core's FMA peak | oneDNN (1 thread) / tickpath time |",
            "|---|---|---|---|---|",
            f"| tickpath `train_gemm` | {fmt(us(ours), 1)} | {fmt(gmac(ours), 1)} | "
            f"{fmt(per_run(runs, lambda r: 100 * get(r, ours, 'items_per_second') / get(r, peak, 'items_per_second')), 0, '%')} | "
            f"{fmt(per_run(runs, lambda r: get(r, dnnl) / get(r, ours)), 2, 'x')} |",
            f"| oneDNN matmul, 1 thread | {fmt(us(dnnl), 1)} | {fmt(gmac(dnnl), 1)} | "
            f"{fmt(per_run(runs, lambda r: 100 * get(r, dnnl, 'items_per_second') / get(r, peak, 'items_per_second')), 0, '%')} | 1 |",
            f"| oneDNN matmul, all threads | {fmt(us(dnnl_all), 1)} | {fmt(gmac(dnnl_all), 1)} | - | - |",
            f"| FMA peak (registers only) | - | {fmt(gmac(peak), 1)} | 100% | - |"]
    return "\n".join(out)


def spill_tables(runs):
    out = ["| payload | records/s through put and take: 256 KiB blocks | a write per record (anchor) | blocks / anchor | put p50 / p99 / p99.9 ns: blocks | anchor |",
           "|---|---|---|---|---|---|"]
    for size in (200, 4096, 65536):
        ours, anchor = f"BM_Spill/0/{size}", f"BM_Spill/1/{size}"
        rate = lambda n: per_run(runs, lambda r: get(r, n, "items_per_second") / 1e6)
        ratio = per_run(runs, lambda r: get(r, ours, "items_per_second") / get(r, anchor, "items_per_second"))
        pct = lambda n: " / ".join(fmt(per_run(runs, lambda r: get(r, n, f"put_{q}_ns"))) for q in ("p50", "p99", "p999"))
        out.append(f"| {size} B | {fmt(rate(ours), 2, ' M')} | {fmt(rate(anchor), 2, ' M')} | {fmt(ratio, 1, 'x')} | {pct(ours)} | {pct(anchor)} |")
    return "\n".join(out)


TABLES = {"bench_train": train_tables, "bench_parse": parse_tables, "bench_ring": ring_tables, "bench_policy": policy_tables,
          "bench_indicators": indicator_tables, "bench_pipeline": pipeline_tables, "bench_spill": spill_tables}


def main(paths):
    by_binary = defaultdict(list)
    for p in sorted(paths):
        m = re.search(r"_(bench_\w+)\.json$", p)
        if m:
            by_binary[m.group(1)].append(p)
    for binary, files in by_binary.items():
        if binary not in TABLES:
            continue
        loaded = [load(f) for f in files]
        ctx = loaded[0][0]
        print(f"### {binary}: {len(files)} run(s), files {', '.join(f.split('/')[-1] for f in files)}\n")
        print(f"{ctx.get('cpu_model', '?')}, {ctx.get('compiler', '?')}, flags `{ctx.get('flags', '?')}`, "
              f"commit {ctx.get('commit', '?')}, clock stamp {ctx.get('clock_stamp_ns', '?')} ns\n")
        print(TABLES[binary]([rows for _, rows in loaded]))
        print()


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])

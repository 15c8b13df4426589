#!/usr/bin/env python3
"""Seed corpora for the libFuzzer targets (tools/fuzz.sh), from the real
captures in ../shared/data/binance, the shipped model and the regression
inputs in tests/fuzz/regressions. Writes build/fuzz/corpus/<target>/.

usage: tools/fuzz_seeds.py ROOT DATA OUT
"""
import os
import shutil
import struct
import sys


def lines(path, every, limit):
    out = []
    with open(path, "rb") as f:
        for i, line in enumerate(f):
            if i % every == 0:
                out.append(line.rstrip(b"\r\n"))
            if len(out) >= limit:
                break
    return out


def ws_frame(op, payload, fin=True):
    n = len(payload)
    head = bytes([(0x80 if fin else 0) | op])
    if n < 126:
        head += bytes([n])
    elif n < 65536:
        head += bytes([126]) + struct.pack(">H", n)
    else:
        head += bytes([127]) + struct.pack(">Q", n)
    return head + payload


def main(root, data, out):
    ws = os.path.join(data, "ws")
    corpora = {}
    frames = []
    for name in ("cryptofeed_2021-04-17_10symbols_combined.jsonl", "cryptofeed_2021-08-14_4symbols_combined.jsonl",
                 "andreytokmakov_2025-11-14_btcusdt_bookTicker-depth100ms_combined.jsonl",
                 "cryptofeed_2021-04-05_10symbols_bookTicker-aggTrade-depth_combined.jsonl"):
        frames += lines(os.path.join(ws, name), 37, 80)
    for name in ("andreytokmakov_2025-11-08_btcusdt_trade_single.json", "andreytokmakov_2025-11-08_btcusdt_depth20-100ms_single.json"):
        with open(os.path.join(ws, name), "rb") as f:
            frames.append(f.read())
    corpora["fuzz_binance_parser"] = frames
    seq = lines(os.path.join(ws, "cryptofeed_2021-08-14_4symbols_combined.jsonl"), 1, 400)
    handler = [b"\n".join(seq[i:i + 25]) for i in range(0, len(seq), 25)]
    with open(os.path.join(ws, "cryptofeed_2021-04-04_rest_depth_snapshot_BTCUSDT.json"), "rb") as f:
        snap = f.read()
    handler.append(b"@BTCUSDT\n" + snap[:4000])
    corpora["fuzz_feed_handler"] = handler
    corpora["fuzz_websocket"] = [bytes([i * 17 % 256]) + ws_frame(1, fr) + ws_frame(9, b"ping") for i, fr in enumerate(frames[:60])]
    klines = []
    for name in sorted(os.listdir(os.path.join(data, "klines"))):
        with open(os.path.join(data, "klines", name), "rb") as f:
            klines.append(b"".join(f.readline() for _ in range(40)))
    corpora["fuzz_kline_csv"] = klines
    with open(os.path.join(root, "strategy", "models", "ppo-btcusdt-1m-2023-01.tpp"), "rb") as f:
        corpora["fuzz_policy_model"] = [f.read()]
    for target, seeds in corpora.items():
        d = os.path.join(out, target)
        os.makedirs(d, exist_ok=True)
        for i, s in enumerate(seeds):
            with open(os.path.join(d, f"seed-{i:04d}"), "wb") as f:
                f.write(s)
        reg = os.path.join(root, "tests", "fuzz", "regressions", target)
        for name in os.listdir(reg):
            shutil.copyfile(os.path.join(reg, name), os.path.join(d, "regression-" + name))
        print(f"{target}: {len(os.listdir(d))} seeds")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])

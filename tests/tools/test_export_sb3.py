#!/usr/bin/env python3
"""tools/export_sb3.py against torch: a state_dict laid out exactly as
Stable-Baselines3's PPO MlpPolicy saves it is exported, `tickpath infer`
runs it on every back-end, and torch's own forward pass (with VecNormalize's
formula) must agree within 1e-5. Run by ctest with Debian's python3-torch.

usage: test_export_sb3.py --tickpath BIN --exporter tools/export_sb3.py --workdir DIR
"""
import argparse
import io
import json
import os
import subprocess
import sys
import zipfile

import torch
from torch import nn

FAILURES = []
CHECKS = [0]


def check(cond, what):
    CHECKS[0] += 1
    if not cond:
        FAILURES.append(what)
        print("FAIL:", what)


class Extractor(nn.Module):
    def __init__(self, n_obs, h1, h2):
        super().__init__()
        self.policy_net = nn.Sequential(nn.Linear(n_obs, h1), nn.Tanh(), nn.Linear(h1, h2), nn.Tanh())
        self.value_net = nn.Sequential(nn.Linear(n_obs, h1), nn.Tanh(), nn.Linear(h1, h2), nn.Tanh())


class Sb3LikePolicy(nn.Module):
    """Same module names, so state_dict() has SB3's keys."""

    def __init__(self, n_obs=13, h1=64, h2=64, n_actions=3):
        super().__init__()
        self.mlp_extractor = Extractor(n_obs, h1, h2)
        self.action_net = nn.Linear(h2, n_actions)
        self.value_net = nn.Linear(h2, 1)

    def forward(self, obs):
        logits = self.action_net(self.mlp_extractor.policy_net(obs))
        return torch.softmax(logits, dim=-1), self.value_net(self.mlp_extractor.value_net(obs)).squeeze(-1)


def run(cmd):
    return subprocess.run(cmd, capture_output=True, text=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tickpath", required=True)
    ap.add_argument("--exporter", required=True)
    ap.add_argument("--workdir", required=True)
    a = ap.parse_args()
    os.makedirs(a.workdir, exist_ok=True)
    torch.manual_seed(1234)
    policy = Sb3LikePolicy()
    with torch.no_grad():  # larger weights than SB3's init, so many tanh units saturate
        for p in policy.parameters():
            p.mul_(3.0)
    keys = set(policy.state_dict().keys())
    check("mlp_extractor.policy_net.0.weight" in keys and "action_net.weight" in keys and "value_net.bias" in keys,
          f"state_dict keys are SB3's: {sorted(keys)}")

    # An SB3-style .zip (policy.pth inside) and VecNormalize statistics.
    buf = io.BytesIO()
    torch.save(policy.state_dict(), buf)
    zpath = os.path.join(a.workdir, "ppo_like.zip")
    with zipfile.ZipFile(zpath, "w") as z:
        z.writestr("policy.pth", buf.getvalue())
        z.writestr("data", "{}")
    g = torch.Generator().manual_seed(5)
    mean = (torch.randn(13, generator=g) * 0.5).tolist()
    var = (torch.rand(13, generator=g) * 2 + 0.05).tolist()
    norm = {"mean": mean, "var": var, "clip_obs": 10.0, "epsilon": 1e-8}
    npath = os.path.join(a.workdir, "norm.json")
    with open(npath, "w") as f:
        json.dump(norm, f)
    model = os.path.join(a.workdir, "exported.tpp")
    r = run([sys.executable, a.exporter, zpath, "--out", model, "--norm", npath])
    check(r.returncode == 0, f"export succeeds: {r.stderr.strip()}")

    # Observations: ordinary, large (clipped by VecNormalize) and a NaN row.
    obs = torch.randn(300, 13, generator=g)
    obs[::7] *= 50.0
    csv = os.path.join(a.workdir, "obs.csv")
    with open(csv, "w") as f:
        f.write(",".join(f"f{i}" for i in range(13)) + "\n")
        for row in obs.tolist():
            f.write(",".join(repr(x) for x in row) + "\n")
        f.write(",".join(["0"] * 12 + ["nan"]) + "\n")
    m = torch.tensor(mean, dtype=torch.float64)
    v = torch.tensor(var, dtype=torch.float64)
    x = torch.clamp((obs.double() - m) / torch.sqrt(v + 1e-8), -10.0, 10.0)
    with torch.no_grad():
        probs, value = policy.double()(x)

    for backend in ["scalar", "avx2", "avx512", "auto"]:
        r = run([a.tickpath, "infer", "--model", model, "--input", csv, "--backend", backend])
        if r.returncode != 0 and "cannot run" in r.stderr:
            print(f"skip {backend}: {r.stderr.strip()}")
            continue
        check(r.returncode == 0, f"infer --backend {backend} runs: {r.stderr.strip()}")
        lines = r.stdout.strip().split("\n")
        check(lines[0] == "p_hold,p_buy,p_sell,value,action,confidence", f"{backend}: header {lines[0]}")
        check(len(lines) == 302, f"{backend}: {len(lines)} lines")
        worst = 0.0
        for i, line in enumerate(lines[1:301]):
            c = line.split(",")
            got = [float(c[0]), float(c[1]), float(c[2]), float(c[3])]
            want = probs[i].tolist() + [value[i].item()]
            for gv, wv in zip(got, want):
                worst = max(worst, abs(gv - wv) / max(1.0, abs(wv)))
            names = ["HOLD", "BUY", "SELL"]
            best = max(range(3), key=lambda k: want[k])
            check(c[4] == names[best] or abs(want[best] - want[names.index(c[4])]) < 1e-5,
                  f"{backend} row {i}: action {c[4]} vs torch {names[best]}")
        check(worst <= 1e-5, f"{backend}: worst difference from torch {worst:.3g} <= 1e-5")
        check(lines[301].endswith("HOLD,0,non_finite_input"), f"{backend}: NaN row holds: {lines[301]}")
        print(f"{backend}: worst relative difference from torch {worst:.3g} over 300 rows")

    # Bad inputs: one line, exit 1.
    sd = policy.state_dict()
    del sd["value_net.bias"]
    bad = os.path.join(a.workdir, "incomplete.pth")
    torch.save(sd, bad)
    r = run([sys.executable, a.exporter, bad, "--out", os.path.join(a.workdir, "x.tpp")])
    check(r.returncode == 1 and "missing value_net.bias" in r.stderr and r.stderr.count("\n") == 1,
          f"missing key is one clear line: {r.stderr!r}")
    r = run([sys.executable, a.exporter, csv, "--out", os.path.join(a.workdir, "y.tpp")])
    check(r.returncode == 1 and r.stderr.count("\n") == 1, f"not a state_dict is one clear line: {r.stderr!r}")

    print(f"{CHECKS[0] - len(FAILURES)} passed, {len(FAILURES)} failed")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""The anchor of bench_train: one PPO update written plainly in PyTorch, the
way Stable-Baselines3's PPO.train() does it, on the network tickpath serves
(MlpPolicy layout: separate policy and value networks obs -> 64 -> 64 with
tanh, an action head and a value head).

A rollout buffer of N random observations with actions, old log-probabilities,
advantages and returns; then EPOCHS passes of shuffled minibatches: evaluate
the actions, normalise the advantages, clipped surrogate, value MSE, entropy,
backward, clip the gradient norm at 0.5, Adam step. Prints one JSON line:
minibatch updates per second and samples per second, on the threads asked for.

Run with Debian's interpreter (/usr/bin/python3, python3-torch).
"""
import argparse
import json
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def mlp(n_in, h1, h2):
    return nn.Sequential(nn.Linear(n_in, h1), nn.Tanh(), nn.Linear(h1, h2), nn.Tanh())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--obs", type=int, default=13)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--actions", type=int, default=3)
    ap.add_argument("--buffer", type=int, default=2048)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=3, help="timed passes over the buffer's epochs")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)

    pi, vf = mlp(a.obs, a.hidden, a.hidden), mlp(a.obs, a.hidden, a.hidden)
    action_net, value_net = nn.Linear(a.hidden, a.actions), nn.Linear(a.hidden, 1)
    params = [*pi.parameters(), *vf.parameters(), *action_net.parameters(), *value_net.parameters()]
    opt = torch.optim.Adam(params, lr=3e-4, eps=1e-5)

    n = a.buffer
    obs = torch.randn(n, a.obs)
    actions = torch.randint(0, a.actions, (n,))
    with torch.no_grad():
        old_logp = torch.distributions.Categorical(logits=action_net(pi(obs))).log_prob(actions)
    old_logp += 0.1 * torch.randn(n)
    adv = torch.randn(n)
    returns = torch.randn(n)
    clip = 0.2

    def one_pass():
        updates = 0
        for _ in range(a.epochs):
            perm = torch.randperm(n)
            for s in range(0, n, a.batch):
                idx = perm[s:s + a.batch]
                dist = torch.distributions.Categorical(logits=action_net(pi(obs[idx])))
                logp = dist.log_prob(actions[idx])
                entropy = dist.entropy()
                values = value_net(vf(obs[idx])).flatten()
                ad = adv[idx]
                ad = (ad - ad.mean()) / (ad.std() + 1e-8)
                ratio = torch.exp(logp - old_logp[idx])
                policy_loss = -torch.min(ad * ratio, ad * torch.clamp(ratio, 1 - clip, 1 + clip)).mean()
                value_loss = F.mse_loss(returns[idx], values)
                entropy_loss = -torch.mean(entropy)
                loss = policy_loss + 0.0 * entropy_loss + 0.5 * value_loss
                opt.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, 0.5)
                opt.step()
                updates += 1
        return updates

    one_pass()  # warm-up
    rates = []
    for _ in range(a.repeats):
        t0 = time.perf_counter()
        u = one_pass()
        rates.append(u / (time.perf_counter() - t0))
    rates.sort()
    med = rates[len(rates) // 2]
    print(json.dumps({"updates_per_s": med, "samples_per_s": med * a.batch, "runs": rates,
                      "threads": a.threads, "torch": torch.__version__}))


if __name__ == "__main__":
    main()

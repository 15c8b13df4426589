#!/usr/bin/env python3
"""Export a Stable-Baselines3 PPO MlpPolicy to tickpath's policy model file.

Input: an SB3 PPO .zip (its policy.pth is read) or a PyTorch state_dict
(.pth / .pt) with SB3's key names:
  mlp_extractor.policy_net.{0,2}.{weight,bias}   policy network, obs -> h1 -> h2
  mlp_extractor.value_net.{0,2}.{weight,bias}    value network, same shapes
  action_net.{weight,bias}                       action head, h2 -> n_actions
  value_net.{weight,bias}                        value head, h2 -> 1
Optional normalisation statistics, as VecNormalize keeps them: --vecnormalize
FILE.pkl (needs stable_baselines3 importable, as unpickling it does) or
--norm FILE.json with {"mean": [...], "var": [...], "clip_obs": 10.0,
"epsilon": 1e-8}.

The output is version 1 of the format documented in
strategy/include/tickpath/strategy/policy_model.hpp. Errors end in one line
and exit status 1.

usage: tools/export_sb3.py INPUT --out MODEL.tpp [--norm N.json | --vecnormalize V.pkl] [--activation tanh|relu]
"""
import argparse
import io
import json
import struct
import sys
import zipfile

MAGIC = b"TPPOLICY"
VERSION = 1
MAX_OBS, MAX_HIDDEN, MAX_ACTIONS = 64, 256, 8
LAYERS = [
    ("mlp_extractor.policy_net.0", "pi1"),
    ("mlp_extractor.policy_net.2", "pi2"),
    ("mlp_extractor.value_net.0", "vf1"),
    ("mlp_extractor.value_net.2", "vf2"),
    ("action_net", "action"),
    ("value_net", "value"),
]


class ExportError(Exception):
    pass


def fnv1a64(data: bytes) -> int:
    h = 14695981039346656037
    for b in data:
        h = ((h ^ b) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return h


def load_state_dict(path):
    import torch  # Debian's python3-torch

    try:
        # An SB3 .zip holds policy.pth; torch.save's own format is a zip too, without it.
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as z:
                if "policy.pth" in z.namelist():
                    return torch.load(io.BytesIO(z.read("policy.pth")), map_location="cpu")
        sd = torch.load(path, map_location="cpu")
        if not isinstance(sd, dict):
            raise ExportError(f"{path}: holds a {type(sd).__name__}, not a state_dict")
        return sd
    except ExportError:
        raise
    except Exception as e:  # torch raises many kinds; the user needs one line
        raise ExportError(f"{path}: cannot read a PyTorch state_dict: {e}") from None


def matrix(sd, key, rows=None, cols=None):
    if key not in sd:
        raise ExportError(f"missing {key} (is this an SB3 PPO MlpPolicy with separate pi/vf networks?)")
    t = sd[key].detach().cpu().float()
    if rows is not None and t.shape[0] != rows:
        raise ExportError(f"{key} has shape {tuple(t.shape)}, expected {rows} rows")
    if cols is not None and (t.dim() < 2 or t.shape[1] != cols):
        raise ExportError(f"{key} has shape {tuple(t.shape)}, expected {cols} columns")
    return t


def build(sd, norm, activation):
    w = {name: matrix(sd, prefix + ".weight") for prefix, name in LAYERS}
    n_obs, h1 = w["pi1"].shape[1], w["pi1"].shape[0]
    h2, n_actions = w["pi2"].shape[0], w["action"].shape[0]
    shapes = {"pi1": (h1, n_obs), "pi2": (h2, h1), "vf1": (h1, n_obs), "vf2": (h2, h1),
              "action": (n_actions, h2), "value": (1, h2)}
    params = []
    for prefix, name in LAYERS:
        r, c = shapes[name]
        params.append(matrix(sd, prefix + ".weight", r, c))
        b = matrix(sd, prefix + ".bias", r)
        params.append(b)
    if not (1 <= n_obs <= MAX_OBS and 1 <= h1 <= MAX_HIDDEN and 1 <= h2 <= MAX_HIDDEN and 1 <= n_actions <= MAX_ACTIONS):
        raise ExportError(f"sizes {n_obs}->{h1}->{h2}->{n_actions} exceed tickpath's maxima "
                          f"({MAX_OBS}, {MAX_HIDDEN}, {MAX_ACTIONS})")
    out = bytearray(MAGIC)
    out += struct.pack("<IIIIIII", VERSION, n_obs, h1, h2, n_actions, 0 if activation == "tanh" else 1,
                       1 if norm else 0)
    clip, eps = (norm["clip_obs"], norm["epsilon"]) if norm else (10.0, 1e-8)
    out += struct.pack("<ff", clip, eps)
    if norm:
        if len(norm["mean"]) != n_obs or len(norm["var"]) != n_obs:
            raise ExportError(f"normalisation statistics have {len(norm['mean'])}/{len(norm['var'])} entries, "
                              f"the network reads {n_obs}")
        out += struct.pack(f"<{n_obs}f", *norm["mean"])
        out += struct.pack(f"<{n_obs}f", *norm["var"])
    for t in params:
        flat = t.reshape(-1).tolist()
        out += struct.pack(f"<{len(flat)}f", *flat)
    out += struct.pack("<Q", fnv1a64(bytes(out)))
    return bytes(out), (n_obs, h1, h2, n_actions)


def load_norm(args):
    if args.norm:
        try:
            with open(args.norm) as f:
                j = json.load(f)
            return {"mean": [float(x) for x in j["mean"]], "var": [float(x) for x in j["var"]],
                    "clip_obs": float(j.get("clip_obs", 10.0)), "epsilon": float(j.get("epsilon", 1e-8))}
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise ExportError(f"{args.norm}: not normalisation statistics: {e}") from None
    if args.vecnormalize:
        import pickle

        try:
            with open(args.vecnormalize, "rb") as f:
                vn = pickle.load(f)
        except ModuleNotFoundError as e:
            raise ExportError(f"{args.vecnormalize}: unpickling VecNormalize needs {e.name}; "
                              "export its obs_rms.mean/var to --norm JSON instead") from None
        except Exception as e:
            raise ExportError(f"{args.vecnormalize}: cannot read: {e}") from None
        return {"mean": [float(x) for x in vn.obs_rms.mean], "var": [float(x) for x in vn.obs_rms.var],
                "clip_obs": float(vn.clip_obs), "epsilon": float(vn.epsilon)}
    return None


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("input")
    ap.add_argument("--out", required=True)
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--norm")
    g.add_argument("--vecnormalize")
    ap.add_argument("--activation", choices=["tanh", "relu"], default="tanh")
    args = ap.parse_args(argv)
    try:
        norm = load_norm(args)
        data, shape = build(load_state_dict(args.input), norm, args.activation)
        with open(args.out, "wb") as f:
            f.write(data)
    except ExportError as e:
        print(f"export_sb3: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"export_sb3: {e}", file=sys.stderr)
        return 1
    print(f"wrote {args.out}: {shape[0]}->{shape[1]}->{shape[2]}->{shape[3]} {args.activation}, "
          f"normalisation {'on' if norm else 'off'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Parity fixtures for SiT's 2D (patch) mode and its qk-norm, for maetok4j.diffusion.SiTTest.

Regenerate with Debian's torch 1.13, from this folder:
    /usr/bin/python3 make_sit_variants.py
Deterministic: rerunning leaves `git status` clean.

The forward pass below is this project's own, written from the spec (reference.md §1.13; the reference is
modelling/sit.py of the continuous_tokenizer repository) as functions over a state dict with the reference's keys.
Before it writes anything it must reproduce ../fixtures/sit-small, which the reference code itself made (1D mode,
no qk-norm), so only the 2D path and the qk-norm are new here; both follow the reference's code:
  * 2D: x [B, C, S, S] -> timm PatchEmbed (conv p x p, stride p, bias; tokens in raster order) + the fixed 2D sin-cos
    table of MAE (first half of the channels the column, second half the row; each half [sin | cos]; float64, cast
    to float32) -> blocks -> final layer [B, N, p*p*C] -> unpatchify einsum('nhwpqc->nchpwq') -> [B, C, S, S];
  * qk-norm: nn.LayerNorm(head_dim) (affine, eps 1e-5) on q and on k per head, after the qkv split, before the scale.

Two tiny models with random weights; adaLN and final-layer weights are not zero, so every path counts:
  sit-2d-qknorm: input 8, patch 2, 4 channels, hidden 64, depth 2, 2 heads, qk-norm, MLP ratio 2, 10 classes;
  sit-1d-qknorm: 8 tokens of 8 channels, hidden 32, depth 2, 4 heads, qk-norm, MLP ratio 2, 10 classes, with q and k
                 so small before their norms that the norms' eps matters.
pos_embed is the true fixed table in both (so the Java side can check its own against it). Each folder holds
config.json (the reference's constructor arguments), model.safetensors and io.safetensors: x, t, y (the first
label is the null label 10) and out = forward(x, t, y) in float32.
"""
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "analysis"))
from fixture_io import load_safetensors, save_safetensors  # noqa: E402

FREQUENCIES = 256  # the timestep embedding's width before its MLP


def linear(sd, name, x):
    return F.linear(x, sd[name + ".weight"], sd[name + ".bias"])


def timestep_frequencies(t):
    """GLIDE's embedding [cos(t w_k) | sin(t w_k)], w_k = 10000^(-k/128), in float32."""
    half = FREQUENCIES // 2
    w = torch.exp(-math.log(10000) * torch.arange(half, dtype=torch.float32) / half)
    a = t.float()[:, None] * w[None, :]
    return torch.cat([a.cos(), a.sin()], dim=1)


def table_1d(dim, length):
    """Interleaved 1D table: channel 2k = sin(pos w_k), 2k+1 = cos(pos w_k), w_k = exp(-2k ln(10000)/dim), float32."""
    w = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * -(math.log(10000.0) / dim))
    a = torch.arange(length, dtype=torch.float32)[:, None] * w[None, :]
    out = torch.empty(length, dim)
    out[:, 0::2] = a.sin()
    out[:, 1::2] = a.cos()
    return out


def table_2d(dim, grid):
    """MAE's 2D table [grid*grid, dim] in float64 then float32; token n at row n // grid, column n % grid."""
    quarter = dim // 4
    w = 1.0 / 10000 ** (np.arange(quarter, dtype=np.float64) / quarter)

    def half(pos):
        a = pos.reshape(-1).astype(np.float64)[:, None] * w[None, :]
        return np.concatenate([np.sin(a), np.cos(a)], axis=1)

    rows, cols = np.divmod(np.arange(grid * grid), grid)
    return torch.from_numpy(np.concatenate([half(cols), half(rows)], axis=1)).float()


def modulate(x, shift, scale):
    return x * (1 + scale[:, None, :]) + shift[:, None, :]


def attention(sd, name, x, heads, qk_norm):
    b, n, d = x.shape
    hd = d // heads
    q, k, v = linear(sd, name + ".qkv", x).reshape(b, n, 3, heads, hd).permute(2, 0, 3, 1, 4)  # each [B, H, N, hd]
    if qk_norm:
        q = F.layer_norm(q, (hd,), sd[name + ".q_norm.weight"], sd[name + ".q_norm.bias"], eps=1e-5)
        k = F.layer_norm(k, (hd,), sd[name + ".k_norm.weight"], sd[name + ".k_norm.bias"], eps=1e-5)
    weights = torch.softmax((q * hd ** -0.5) @ k.transpose(-1, -2), dim=-1)
    return linear(sd, name + ".proj", (weights @ v).transpose(1, 2).reshape(b, n, d))


def block(sd, name, x, c, heads, qk_norm):
    d = x.shape[-1]
    shift1, scale1, gate1, shift2, scale2, gate2 = linear(sd, name + ".adaLN_modulation.1", F.silu(c)).chunk(6, dim=1)
    x = x + gate1[:, None, :] * attention(sd, name + ".attn", modulate(F.layer_norm(x, (d,), eps=1e-6), shift1, scale1), heads, qk_norm)
    h = modulate(F.layer_norm(x, (d,), eps=1e-6), shift2, scale2)
    h = linear(sd, name + ".mlp.fc2", F.gelu(linear(sd, name + ".mlp.fc1", h), approximate="tanh"))
    return x + gate2[:, None, :] * h


def forward(cfg, sd, x, t, y):
    if cfg["vae_1d"]:
        h = linear(sd, "x_embedder", x)  # [B, L, D]
    else:
        p = cfg["patch_size"]
        h = F.conv2d(x, sd["x_embedder.proj.weight"], sd["x_embedder.proj.bias"], stride=p).flatten(2).transpose(1, 2)
    h = h + sd["pos_embed"]
    c = linear(sd, "t_embedder.mlp.2", F.silu(linear(sd, "t_embedder.mlp.0", timestep_frequencies(t))))
    c = c + sd["y_embedder.embedding_table.weight"][y]
    for i in range(cfg["depth"]):
        h = block(sd, f"blocks.{i}", h, c, cfg["num_heads"], cfg["qk_norm"])
    shift, scale = linear(sd, "final_layer.adaLN_modulation.1", F.silu(c)).chunk(2, dim=1)
    out = linear(sd, "final_layer.linear", modulate(F.layer_norm(h, (h.shape[-1],), eps=1e-6), shift, scale))
    if cfg["vae_1d"]:
        return out
    b, p, ch, g = x.shape[0], cfg["patch_size"], cfg["in_channels"], cfg["input_size"] // cfg["patch_size"]
    return out.reshape(b, g, g, p, p, ch).permute(0, 5, 1, 3, 2, 4).reshape(b, ch, g * p, g * p)


def shapes(cfg):
    """The reference's state-dict keys and shapes, in its order."""
    d, c, p = cfg["hidden_size"], cfg["in_channels"], 1 if cfg["vae_1d"] else cfg["patch_size"]
    n = cfg["input_size"] if cfg["vae_1d"] else (cfg["input_size"] // p) ** 2
    hd, m = d // cfg["num_heads"], int(d * cfg["mlp_ratio"])
    out = {"pos_embed": [1, n, d]}
    if cfg["vae_1d"]:
        out.update({"x_embedder.weight": [d, c], "x_embedder.bias": [d]})
    else:
        out.update({"x_embedder.proj.weight": [d, c, p, p], "x_embedder.proj.bias": [d]})
    out.update({"t_embedder.mlp.0.weight": [d, FREQUENCIES], "t_embedder.mlp.0.bias": [d],
                "t_embedder.mlp.2.weight": [d, d], "t_embedder.mlp.2.bias": [d],
                "y_embedder.embedding_table.weight": [cfg["num_classes"] + 1, d]})
    for i in range(cfg["depth"]):
        b = f"blocks.{i}."
        out.update({b + "attn.qkv.weight": [3 * d, d], b + "attn.qkv.bias": [3 * d]})
        if cfg["qk_norm"]:
            out.update({b + "attn.q_norm.weight": [hd], b + "attn.q_norm.bias": [hd],
                        b + "attn.k_norm.weight": [hd], b + "attn.k_norm.bias": [hd]})
        out.update({b + "attn.proj.weight": [d, d], b + "attn.proj.bias": [d],
                    b + "mlp.fc1.weight": [m, d], b + "mlp.fc1.bias": [m],
                    b + "mlp.fc2.weight": [d, m], b + "mlp.fc2.bias": [d],
                    b + "adaLN_modulation.1.weight": [6 * d, d], b + "adaLN_modulation.1.bias": [6 * d]})
    out.update({"final_layer.linear.weight": [p * p * c, d], "final_layer.linear.bias": [p * p * c],
                "final_layer.adaLN_modulation.1.weight": [2 * d, d], "final_layer.adaLN_modulation.1.bias": [2 * d]})
    return out


def random_weights(cfg, gen, small_qk=1.0):
    """Weights scaled so activations stay of order one; norms away from (1, 0), modulation and output far from 0.
    small_qk scales the q and k rows of every qkv layer (weight and bias): at 3e-3 their per-head variance is about
    1e-5, where the qk-norm's eps (1e-5, not the ViTs' 1e-6) changes the result well beyond the tolerance."""
    sd = {}
    for key, shape in shapes(cfg).items():
        if key == "pos_embed":
            d = cfg["hidden_size"]
            table = table_1d(d, cfg["input_size"]) if cfg["vae_1d"] else table_2d(d, cfg["input_size"] // cfg["patch_size"])
            sd[key] = table[None]
            continue
        z = torch.randn(shape, generator=gen)
        if key.endswith("norm.weight"):
            sd[key] = 1 + 0.3 * z
        elif key.endswith(".bias"):
            sd[key] = 0.2 * z
        elif key == "y_embedder.embedding_table.weight":
            sd[key] = z
        else:
            fan_in = int(np.prod(shape[1:]))
            gain = 0.5 if "adaLN_modulation" in key else 1.0
            sd[key] = z * (gain / math.sqrt(fan_in))
    for key in sd:
        if key.endswith("attn.qkv.weight") or key.endswith("attn.qkv.bias"):
            sd[key][: 2 * cfg["hidden_size"]] *= small_qk
    return sd


def relative_error(a, b):
    return float(torch.linalg.norm(a - b) / torch.linalg.norm(b))


def check_against_reference():
    """Our forward on the reference's own fixture (1D, no qk-norm) must give the reference's output."""
    folder = os.path.join(HERE, "..", "fixtures", "sit-small")
    with open(os.path.join(folder, "config.json")) as f:
        cfg = json.load(f)
    sd = {k: torch.from_numpy(v) for k, v in load_safetensors(os.path.join(folder, "model.safetensors")).items()}
    io = {k: torch.from_numpy(v) for k, v in load_safetensors(os.path.join(folder, "io.safetensors")).items()}
    assert set(sd) == set(shapes(cfg)), "the key list differs from the reference's"
    err = relative_error(forward(cfg, sd, io["x"], io["t"], io["y"]), io["out"])
    print(f"sit-small (made by the reference): relative error {err:.2e}")
    assert err < 1e-6, err


def make(name, cfg, batch, seed, small_qk=1.0):
    gen = torch.Generator().manual_seed(seed)
    sd = random_weights(cfg, gen, small_qk)
    sample = [cfg["input_size"], cfg["in_channels"]] if cfg["vae_1d"] else [cfg["in_channels"], cfg["input_size"], cfg["input_size"]]
    x = torch.randn([batch] + sample, generator=gen)
    t = torch.tensor([1.0, 0.37, 0.05])[:batch]
    y = torch.tensor([cfg["num_classes"], 3, 7])[:batch]  # the null label first
    with torch.no_grad():
        out = forward(cfg, sd, x, t, y)
    folder = os.path.join(HERE, name)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    save_safetensors(os.path.join(folder, "model.safetensors"), {k: v.numpy() for k, v in sd.items()})
    save_safetensors(os.path.join(folder, "io.safetensors"), {"x": x.numpy(), "t": t.numpy(), "y": y.numpy(), "out": out.numpy()})
    print(f"{name}: out {list(out.shape)}, |out| rms {float(out.pow(2).mean().sqrt()):.3f}")


def config(**kw):
    cfg = {"input_size": 8, "patch_size": 2, "in_channels": 4, "hidden_size": 64, "depth": 2, "num_heads": 2, "mlp_ratio": 4.0,
           "class_dropout_prob": 0.1, "num_classes": 10, "decoder_hidden_size": 64, "qk_norm": True, "fused_attn": False,
           "vae_1d": False}
    cfg.update(kw)
    return cfg


if __name__ == "__main__":
    torch.set_num_threads(1)
    check_against_reference()
    make("sit-2d-qknorm", config(mlp_ratio=2.0), batch=3, seed=11)
    make("sit-1d-qknorm", config(patch_size=1, in_channels=8, hidden_size=32, decoder_hidden_size=32, num_heads=4, mlp_ratio=2.0, vae_1d=True), batch=3, seed=12,
         small_qk=3e-3)

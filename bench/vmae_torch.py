"""VMAE tokenizer speed on the reference stack (torch eager, float32, CPU): encode, decode (from the mean latent)
and encode+decode, in images per second, to set beside `./maetok bench vmae-f8d16 --batch-size 4`.

Usage (Debian's torch 1.13; from the repository root):
    /usr/bin/python3 bench/vmae_torch.py [--image-size 256] [--batch-size 4] [--iterations 3] [--threads 2]
                                         [--check-fixture DIR]

The forward pass is the reference's math written over a state dict with its keys (patch embedding, sin-cos
positions, pre-norm ViT blocks, Gaussian bottleneck, ViT decoder, linear prediction, unpatchify, conv smoother).
The benchmark uses seeded random weights at f8d16 size (D = 192, 12 + 12 blocks, 12 heads, p = 8, C = 16).
--check-fixture DIR runs the model in DIR (config.json, model.safetensors) on the images in io.safetensors and
compares moments, latent mean and reconstructions; it exits non-zero if a max relative error exceeds 1e-4.
"""
import argparse
import json
import os
import statistics
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

F8D16 = dict(patch_size=8, embed_dim=192, depth=12, num_heads=12, decoder_embed_dim=192, decoder_depth=12,
             decoder_num_heads=12, mlp_ratio=4, latent_dim=16, layer_norm_eps=1e-6)


def read_safetensors(path):
    """{name: tensor} from a .safetensors file: 8-byte little-endian header length, JSON header, raw data."""
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    dtypes = {"F32": "<f4", "F64": "<f8", "F16": "<f2", "I64": "<i8", "I32": "<i4"}
    out = {}
    for k, v in json.loads(data[8:8 + n]).items():
        if k != "__metadata__":
            dt = np.dtype(dtypes[v["dtype"]])
            a, b = v["data_offsets"]
            arr = np.frombuffer(data, dtype=dt, count=(b - a) // dt.itemsize, offset=8 + n + a)
            out[k] = torch.from_numpy(arr.astype(dt.newbyteorder("="))).reshape(v["shape"])
    return out


def sincos_table(dim, grid):
    """[1, grid*grid, dim] 2D sin-cos table, MAE convention, computed in float64."""
    omega = 1.0 / 10000 ** (torch.arange(dim // 4, dtype=torch.float64) / (dim / 4))
    rows, cols = torch.meshgrid(torch.arange(grid, dtype=torch.float64), torch.arange(grid, dtype=torch.float64),
                                indexing="ij")

    def half(pos):
        out = pos.reshape(-1, 1) * omega
        return torch.cat([out.sin(), out.cos()], dim=1)

    return torch.cat([half(cols), half(rows)], dim=1).unsqueeze(0).float()


def block(x, sd, pre, heads, eps):
    B, N, D = x.shape
    h = F.layer_norm(x, (D,), sd[pre + "norm1.weight"], sd[pre + "norm1.bias"], eps)
    qkv = F.linear(h, sd[pre + "attn.qkv.weight"], sd[pre + "attn.qkv.bias"])
    q, k, v = qkv.reshape(B, N, 3, heads, D // heads).permute(2, 0, 3, 1, 4)
    attn = ((q * (D // heads) ** -0.5) @ k.transpose(-2, -1)).softmax(dim=-1)
    h = (attn @ v).transpose(1, 2).reshape(B, N, D)
    x = x + F.linear(h, sd[pre + "attn.proj.weight"], sd[pre + "attn.proj.bias"])
    h = F.layer_norm(x, (D,), sd[pre + "norm2.weight"], sd[pre + "norm2.bias"], eps)
    h = F.gelu(F.linear(h, sd[pre + "mlp.fc1.weight"], sd[pre + "mlp.fc1.bias"]))
    return x + F.linear(h, sd[pre + "mlp.fc2.weight"], sd[pre + "mlp.fc2.bias"])


def encode(img, sd, cfg):
    """Image [B,3,H,W] -> (moments [B,N,2C], latent mean [B,C,h,w])."""
    eps, C = cfg["layer_norm_eps"], cfg["latent_dim"]
    x = F.conv2d(img, sd["patch_embed.proj.weight"], sd["patch_embed.proj.bias"], stride=cfg["patch_size"])
    B, _, h, w = x.shape
    x = x.flatten(2).transpose(1, 2) + sd["pos_embed"]
    for i in range(cfg["depth"]):
        x = block(x, sd, f"blocks.{i}.", cfg["num_heads"], eps)
    x = F.layer_norm(x, (x.shape[-1],), sd["norm.weight"], sd["norm.bias"], eps)
    moments = F.linear(x, sd["to_latent.weight"], sd["to_latent.bias"])
    mean = moments[..., :C]  # logvar = moments[..., C:].clamp(-30, 20) is unused at inference
    return moments, mean.transpose(1, 2).reshape(B, C, h, w)


def decode(z, sd, cfg):
    """Latent [B,C,h,w] -> image [B,3,h*p,w*p]."""
    eps, p = cfg["layer_norm_eps"], cfg["patch_size"]
    B, C, h, w = z.shape
    x = F.linear(z.flatten(2).transpose(1, 2), sd["from_latent.weight"], sd["from_latent.bias"])
    x = F.linear(x, sd["decoder_embed.weight"], sd["decoder_embed.bias"]) + sd["decoder_pos_embed"]
    for i in range(cfg["decoder_depth"]):
        x = block(x, sd, f"decoder_blocks.{i}.", cfg["decoder_num_heads"], eps)
    x = F.layer_norm(x, (x.shape[-1],), sd["decoder_norm.weight"], sd["decoder_norm.bias"], eps)
    x = F.linear(x, sd["decoder_pred.linear_pred.weight"], sd["decoder_pred.linear_pred.bias"])
    img = torch.einsum("nhwpqc->nchpwq", x.reshape(B, h, w, p, p, 3)).reshape(B, 3, h * p, w * p)
    return F.conv2d(img, sd["decoder_pred.conv_smoother.weight"], sd["decoder_pred.conv_smoother.bias"], padding=1)


def random_weights(cfg, grid, gen):
    D, Dd, C, p, r = cfg["embed_dim"], cfg["decoder_embed_dim"], cfg["latent_dim"], cfg["patch_size"], cfg["mlp_ratio"]
    sd = {}

    def lin(name, n_out, n_in, *kernel):
        sd[name + ".weight"] = torch.randn(n_out, n_in, *kernel, generator=gen) * 0.02
        sd[name + ".bias"] = torch.zeros(n_out)

    def norm(name, d):
        sd[name + ".weight"], sd[name + ".bias"] = torch.ones(d), torch.zeros(d)

    def blocks(prefix, depth, d):
        for i in range(depth):
            pre = f"{prefix}.{i}."
            norm(pre + "norm1", d)
            lin(pre + "attn.qkv", 3 * d, d)
            lin(pre + "attn.proj", d, d)
            norm(pre + "norm2", d)
            lin(pre + "mlp.fc1", r * d, d)
            lin(pre + "mlp.fc2", d, r * d)

    lin("patch_embed.proj", D, 3, p, p)
    sd["pos_embed"] = sincos_table(D, grid)
    blocks("blocks", cfg["depth"], D)
    norm("norm", D)
    lin("to_latent", 2 * C, D)
    lin("from_latent", D, C)
    lin("decoder_embed", Dd, D)
    sd["decoder_pos_embed"] = sincos_table(Dd, grid)
    blocks("decoder_blocks", cfg["decoder_depth"], Dd)
    norm("decoder_norm", Dd)
    lin("decoder_pred.linear_pred", p * p * 3, Dd)
    lin("decoder_pred.conv_smoother", 3, 3, 3, 3)
    return sd


def check_fixture(d):
    """Run the fixture's model (with its stored position tables) on its images; True if all errors <= 1e-4."""
    with open(os.path.join(d, "config.json")) as f:
        cfg = json.load(f)
    sd = read_safetensors(os.path.join(d, "model.safetensors"))
    io = read_safetensors(os.path.join(d, "io.safetensors"))
    with torch.no_grad():
        moments, mean = encode(io["images"], sd, cfg)
        rec = decode(mean, sd, cfg)
    mean_tokens = mean.flatten(2).transpose(1, 2)
    ok = True
    for name, a, b in (("moments", moments, io["moments"]), ("latent_mean", mean_tokens, io["latent_mean"]),
                       ("reconstructions", rec, io["reconstructions"])):
        err = ((a - b).abs().max() / b.abs().max()).item()
        ok &= err <= 1e-4
        print(f"{name:16s} max rel err {err:.3e}")
    return ok


def timed(fn, iterations):
    times = []
    for i in range(iterations + 1):
        t0 = time.perf_counter()
        fn()
        if i:
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--image-size", type=int, default=256)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--iterations", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--check-fixture", metavar="DIR")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    if a.check_fixture:
        sys.exit(0 if check_fixture(a.check_fixture) else 1)
    cfg = F8D16
    gen = torch.Generator().manual_seed(0)
    sd = random_weights(cfg, a.image_size // cfg["patch_size"], gen)
    img = torch.rand(a.batch_size, 3, a.image_size, a.image_size, generator=gen) * 2 - 1
    with torch.no_grad():
        z = encode(img, sd, cfg)[1]
        for name, fn in (("encode", lambda: encode(img, sd, cfg)), ("decode", lambda: decode(z, sd, cfg)),
                         ("encode+decode", lambda: decode(encode(img, sd, cfg)[1], sd, cfg))):
            t = timed(fn, a.iterations)
            print(f"{name:16s} {a.batch_size / t:7.3f} img/s ({t:.2f} s per batch of {a.batch_size})")


if __name__ == "__main__":
    main()

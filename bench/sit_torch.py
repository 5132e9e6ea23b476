"""SiT speed on the reference stack (torch eager, float32, CPU), to set beside `maetok bench-diffusion` and the
samples/s that `maetok train-diffusion` reports.

Usage (Debian's torch 1.13; from the repository root):
    /usr/bin/python3 bench/sit_torch.py [--preset cpu] [--latent-shape 16,8] [--batch-size 32] [--steps 50]
                                        [--train-batch 64] [--iterations 3] [--threads 2]

The model is the forward pass the parity fixtures are made with (core/src/test/resources/diffusion/
make_sit_variants.py: the reference's math over a state dict with its keys, checked there to reproduce the
reference's own output exactly), so the times are those of the reference's non-fused float32 attention path.
Sampling is the reference's Euler loop (x in float64, the model in float32; guidance doubles the batch).
Training is one step of the reference's loss (uniform t, linear path, velocity MSE) with AdamW.
"""
import argparse
import os
import statistics
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "core", "src", "test", "resources", "diffusion"))
from make_sit_variants import config, forward, random_weights  # noqa: E402

PRESETS = {"S": (384, 12, 6), "B": (768, 12, 12), "L": (1024, 24, 16), "XL": (1152, 28, 16), "cpu": (192, 6, 3)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default="cpu")
    ap.add_argument("--latent-shape", default="16,8")
    ap.add_argument("--classes", type=int, default=9)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--cfg", type=float, default=2.0)
    ap.add_argument("--train-batch", type=int, default=64)
    ap.add_argument("--iterations", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    shape = [int(v) for v in a.latent_shape.split(",")]
    if len(shape) != 2:
        raise SystemExit("--latent-shape: token latents L,C only")
    hidden, depth, heads = PRESETS[a.preset]
    cfg = config(input_size=shape[0], patch_size=1, in_channels=shape[1], hidden_size=hidden, decoder_hidden_size=hidden, depth=depth,
                 num_heads=heads, mlp_ratio=4.0, num_classes=a.classes, qk_norm=False, vae_1d=True)
    sd = random_weights(cfg, torch.Generator().manual_seed(0))
    with torch.no_grad():
        for guided in (False, True):
            times = []
            for i in range(a.iterations + 1):
                x = torch.randn([a.batch_size] + shape, dtype=torch.float64)
                y = torch.arange(a.batch_size) % a.classes
                t0 = time.perf_counter()
                grid = torch.linspace(1, 0, a.steps + 1, dtype=torch.float64)
                for k in range(a.steps):
                    xin = x.float()
                    yy = y
                    if guided:
                        xin = torch.cat([xin, xin])
                        yy = torch.cat([y, torch.full_like(y, a.classes)])
                    v = forward(cfg, sd, xin, torch.full((xin.shape[0],), float(grid[k])), yy).double()
                    if guided:
                        c, u = v.chunk(2)
                        v = u + a.cfg * (c - u)
                    x = x + (grid[k + 1] - grid[k]) * v
                if i > 0:
                    times.append(time.perf_counter() - t0)
            m = statistics.median(times)
            print(f"sampling {'guided w=%.1f' % a.cfg if guided else 'unguided':>15}: {a.batch_size / m:8.2f} samples/s "
                  f"({m:.2f} s per batch of {a.batch_size}, {a.steps} Euler steps)")
    params = {k: v.clone().requires_grad_(k != "pos_embed") for k, v in sd.items()}
    opt = torch.optim.AdamW([p for p in params.values() if p.requires_grad], lr=1e-4, weight_decay=0)
    times = []
    for i in range(a.iterations + 2):
        x0 = torch.randn([a.train_batch] + shape)
        y = torch.randint(0, a.classes, (a.train_batch,))
        t0 = time.perf_counter()
        t = torch.rand(a.train_batch)
        eps = torch.randn_like(x0)
        tt = t[:, None, None]
        xt = (1 - tt) * x0 + tt * eps
        loss = ((forward(cfg, params, xt, t, y) - (eps - x0)) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if i > 1:
            times.append(time.perf_counter() - t0)
    m = statistics.median(times)
    print(f"training step, batch {a.train_batch}: {1 / m:.2f} steps/s, {a.train_batch / m:.1f} samples/s")


if __name__ == "__main__":
    main()

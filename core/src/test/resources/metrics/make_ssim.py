"""Reference SSIM/PSNR values from scikit-image for maetok4j.metrics.SsimTest.

Regenerate with Debian's scikit-image 0.19.3 (numpy 1.24, scipy 1.10), from this folder:
    /usr/bin/python3 make_ssim.py
Writes ssim_cases.json: images as flat lists in CHW order (float32-representable values), the options,
and the expected value. Deterministic: rerunning leaves `git status` clean.
"""
import json

import numpy as np
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

rng = np.random.default_rng(7)


def f32(a):
    return np.asarray(a, dtype=np.float32).astype(np.float64)


def pair_random(c, h, w, scale):
    a = f32(rng.uniform(0, scale, (h, w, c)))
    b = f32(np.clip(a + rng.normal(0, 0.15 * scale, a.shape), 0, scale))
    return a, b


def pair_uint8(c, h, w):
    a = rng.integers(0, 256, (h, w, c)).astype(np.float64)
    b = np.clip(a + rng.normal(0, 30, a.shape), 0, 255).round()
    return a, b


def pair_structured(c, h, w):
    y, x = np.mgrid[0:h, 0:w]
    a = np.stack([(x * 255 / (w - 1)), (y * 255 / (h - 1)), ((x + y) % 7) * 36.0][:c], -1)
    b = np.stack([((x // 3 + y // 3) % 2) * 255.0, np.full((h, w), 128.0), (x * y) % 256.0][:c], -1)
    return f32(a.round()), f32(b.round())


cases = []


def add(name, a, b, gaussian, sigma, win, sample_cov, data_range):
    kwargs = dict(data_range=data_range, gaussian_weights=gaussian, sigma=sigma,
                  use_sample_covariance=sample_cov, channel_axis=-1)
    if win is not None:
        kwargs["win_size"] = win
    value = structural_similarity(a, b, **kwargs)
    r = int(3.5 * sigma + 0.5)
    h, w, c = a.shape
    cases.append({
        "name": name, "channels": c, "h": h, "w": w,
        "gaussian": gaussian, "sigma": sigma,
        "win": win if win is not None else (2 * r + 1 if gaussian else 7),
        "sample_cov": sample_cov, "data_range": data_range,
        "a": a.transpose(2, 0, 1).ravel().tolist(), "b": b.transpose(2, 0, 1).ravel().tolist(),
        "expected": float(value),
    })


add("gray-random-16x16-uniform", *pair_random(1, 16, 16, 1.0), False, 1.5, None, True, 1.0)
add("gray-random-13x21-gauss", *pair_random(1, 13, 21, 1.0), True, 1.5, None, False, 1.0)
add("rgb-uint8-32x32-uniform", *pair_uint8(3, 32, 32), False, 1.5, None, True, 255.0)
add("rgb-uint8-23x29-gauss", *pair_uint8(3, 23, 29), True, 1.5, None, False, 255.0)
add("rgb-structured-24x17-uniform", *pair_structured(3, 24, 17), False, 1.5, None, True, 255.0)
add("rgb-structured-7x7-uniform", *pair_structured(3, 7, 7), False, 1.5, None, True, 255.0)
add("rgb-structured-11x12-gauss", *pair_structured(3, 11, 12), True, 1.5, None, False, 255.0)
add("gray-random-3x4-gauss-win3", *pair_random(1, 3, 4, 1.0), True, 1.5, 3, False, 1.0)
add("rgb-random-5x6-uniform-win3-population", *pair_random(3, 5, 6, 1.0), False, 1.5, 3, False, 2.0)
add("rgb-random-16x16-gauss-sigma0.8-sample", *pair_random(3, 16, 16, 1.0), True, 0.8, None, True, 1.0)
add("rgb-random-20x18-reference-eval", *pair_random(3, 20, 18, 1.0), False, 1.5, None, True, 2.0)

# The reference evaluation (inference/reconstruct_vq.py) on two [-1, 1] batches, computed as it does:
# float32 ground truth (x+1)/2, reconstruction clamp(127.5*y+128).to(uint8)/255 in float32.
B, H, W = 3, 17, 22
x = torch.from_numpy(np.clip(rng.normal(0, 0.5, (B, 3, H, W)), -1, 1).astype(np.float32))
y = torch.from_numpy(np.clip(x.numpy() + rng.normal(0, 0.1, x.shape), -1.2, 1.2).astype(np.float32))
gts = (x.permute(0, 2, 3, 1).numpy() + 1.0) / 2.0
samples = torch.clamp(127.5 * y + 128, 0, 255).to(dtype=torch.uint8).permute(0, 2, 3, 1).numpy()
psnrs, ssims = [], []
for sample, gt in zip(samples, gts):
    restored = sample.astype(np.float32) / 255.
    psnrs.append(peak_signal_noise_ratio(restored, gt))
    ssims.append(structural_similarity(restored, gt, data_range=2.0, channel_axis=-1))
protocol = {
    "shape": [B, 3, H, W],
    "originals": x.numpy().ravel().tolist(), "reconstructions": y.numpy().ravel().tolist(),
    "psnr": [float(v) for v in psnrs], "ssim": [float(v) for v in ssims],
    "psnr_mean": float(sum(psnrs) / len(psnrs)), "ssim_mean": float(sum(ssims) / len(ssims)),
}

with open("ssim_cases.json", "w") as f:
    json.dump({"cases": cases, "protocol": protocol}, f)

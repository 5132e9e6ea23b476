"""Reference PCA values from numpy/scikit-learn for maetok4j.analysis.PcaTest and maetok4j.metrics.PcaCodecTest.

Regenerate with Debian's numpy 1.24 and scikit-learn 1.2.1, from this folder:
    /usr/bin/python3 make_pca.py
Writes pca.safetensors (float32 inputs, float64 expectations) and pca.json (scalars).
Deterministic: rerunning leaves `git status` clean.
"""
import json

import numpy as np
from sklearn.decomposition import PCA

from fixture_io import save_safetensors

rng = np.random.default_rng(11)


def data(n, d, decay, offset):
    """Rows with a power-law spectrum, a non-zero mean, and a little isotropic noise."""
    basis, _ = np.linalg.qr(rng.normal(size=(d, d)))
    scales = 1.0 / (1.0 + np.arange(d)) ** decay
    x = rng.normal(size=(n, d)) * scales @ basis.T + offset + 0.01 * rng.normal(size=(n, d))
    return x.astype(np.float32)


def reference(x):
    x64 = x.astype(np.float64)
    mean = x64.mean(0)
    cov = np.cov(x64, rowvar=False)
    values, vectors = np.linalg.eigh(cov)
    order = np.argsort(values)[::-1]
    values, vectors = values[order], vectors[:, order].T  # [d, d], rows are components
    signs = np.sign(vectors[np.arange(len(vectors)), np.argmax(np.abs(vectors), axis=1)])
    vectors *= signs[:, None]
    return mean, values, vectors, values / np.trace(cov)


out, scalars = {}, {}

# dense solver: 500 x 48
x = data(500, 48, 0.7, 0.3)
mean, values, vectors, ratio = reference(x)
sk = PCA().fit(x.astype(np.float64))
assert np.allclose(sk.explained_variance_ratio_, ratio, atol=1e-12)
k = 10
codes = (x[:5].astype(np.float64) - mean) @ vectors[:k].T
out.update({"dense.x": x, "dense.mean": mean, "dense.variance": values, "dense.ratio": ratio,
            "dense.components": vectors, "dense.codes10": codes, "dense.inverse10": codes @ vectors[:k] + mean})
scalars["dense.for0.9"] = int(PCA(n_components=0.9).fit(x.astype(np.float64)).n_components_)
scalars["dense.for0.5"] = int(PCA(n_components=0.5).fit(x.astype(np.float64)).n_components_)

# subspace solver (forced in the test): 400 x 160, 12 components
x = data(400, 160, 1.0, -0.2)
mean, values, vectors, ratio = reference(x)
k = 12
sk = PCA(n_components=k, svd_solver="full").fit(x.astype(np.float64))
assert np.allclose(sk.explained_variance_ratio_, ratio[:k], atol=1e-12)
out.update({"subspace.x": x, "subspace.variance": values[:k], "subspace.ratio": ratio[:k],
            "subspace.components": vectors[:k]})

# the PCA codec on synthetic images [60, 3, 6, 5] in [-1, 1]: PSNR per image as the reference evaluates it
# (unquantised truth mapped to [0, 1], the codec's clamped output quantised to uint8 by truncation)
n, c, h, w = 60, 3, 6, 5
imgs = np.clip(data(n, c * h * w, 0.8, 0.1) * 2.0, -1, 1).reshape(n, c, h, w)
flat = imgs.reshape(n, -1).astype(np.float64)
mean, values, vectors, ratio = reference(imgs.reshape(n, -1))
psnrs = {}
for k in (1, 4, 16, 40):
    rec = np.clip((flat - mean) @ vectors[:k].T @ vectors[:k] + mean, -1, 1).astype(np.float32)
    q = np.clip(127.5 * rec + 128, 0, 255).astype(np.uint8).astype(np.float32) / 255.0
    truth = (imgs.reshape(n, -1) + 1.0) / 2.0
    mse = ((q - truth).astype(np.float64) ** 2).mean(1)
    psnrs[k] = float(np.mean(10 * np.log10(1.0 / mse)))
    out[f"codec.rec{k}"] = rec.reshape(n, c, h, w)
out["codec.images"] = imgs
scalars["codec.psnr"] = {str(k): v for k, v in psnrs.items()}

save_safetensors("pca.safetensors", out)
with open("pca.json", "w") as f:
    json.dump(scalars, f, indent=1)

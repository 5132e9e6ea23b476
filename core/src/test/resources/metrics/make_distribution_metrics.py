"""Reference values for the distribution metrics (maetok4j.metrics: FeatureStatistics, FrechetDistance,
KernelInceptionDistance, InceptionScore, PrecisionRecall) and numpy-written files for maetok4j.tensor.NpzTest.

Regenerate with Debian's numpy 1.24, scipy 1.10 and mpmath 1.2, from this folder:
    /usr/bin/python3 make_distribution_metrics.py
Writes (all with numpy itself, so the files also test the Java .npz reader):
  distribution_metrics.npz   float32 inputs, float64 expectations (np.savez, uncompressed)
  fid_stats.npz              pytorch-fid's statistics file layout: mu, sigma of fd.x1 (np.savez_compressed)
  npz_numpy.npz              one array of each supported dtype (np.savez)
  npz_numpy_compressed.npz   the same arrays (np.savez_compressed)
  npy_v1.npy, npy_v2.npy     a float64 array in .npy format versions 1.0 and 2.0
  npy_fortran.npy, npy_bigendian.npy, npy_bool.npy   arrays the Java reader must refuse
Deterministic (fixed seeds; zip timestamps pinned): rerunning leaves `git status` clean.

Each reference is computed independently of the Java code's method:
  FD     pytorch-fid's calculate_frechet_distance (scipy.linalg.sqrtm of sigma1.dot(sigma2), eps offset when
         not finite); for the rank-deficient case (64 features, 20 samples, where sqrtm is inaccurate), the
         same eigenvalue identity as the Java code evaluated in mpmath at 50 digits from the exact float32 data.
  KID    the unbiased MMD^2 of torch-fidelity's mmd2() with the polynomial kernel, on the full sets (one subset).
  IS     scipy.special.softmax/log_softmax in float64, ADM evaluator's per-split formula.
  P/R    brute force: full squared-distance matrices from differences, np.partition(d, k)[:, k] radii.
"""
import time
from unittest import mock

import mpmath
import numpy as np
from scipy import linalg
from scipy.special import log_softmax, softmax

rng = np.random.default_rng(2024)


def f32(a):
    return np.asarray(a, dtype=np.float32)


def gaussian_rows(n, d, scale, offset):
    """float32 rows of a correlated Gaussian: random mixing with a decaying spectrum, plus an offset."""
    mix = rng.normal(size=(d, d)) * (scale / (1.0 + np.arange(d)) ** 0.5)
    return f32(rng.normal(size=(n, d)) @ mix.T + offset)


def stats(x):
    x = x.astype(np.float64)
    return x.mean(0), np.cov(x, rowvar=False)


def pytorch_fid(mu1, sigma1, mu2, sigma2, eps=1e-6):
    """pytorch-fid 0.3.0 calculate_frechet_distance, verbatim apart from the logging."""
    mu1, mu2 = np.atleast_1d(mu1), np.atleast_1d(mu2)
    sigma1, sigma2 = np.atleast_2d(sigma1), np.atleast_2d(sigma2)
    diff = mu1 - mu2
    covmean, _ = linalg.sqrtm(sigma1.dot(sigma2), disp=False)
    if not np.isfinite(covmean).all():
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise ValueError("Imaginary component {}".format(np.max(np.abs(covmean.imag))))
        covmean = covmean.real
    return diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean)


def mp_fid(x1, x2, dps=50):
    """FD from float32 features in mpmath: exact-data statistics, tr sqrt(S1 S2) = sum sqrt eig(W^T S2 W)."""
    mpmath.mp.dps = dps

    def mp_stats(x):
        n, d = x.shape
        rows = [[mpmath.mpf(float(v)) for v in r] for r in x]
        mu = [mpmath.fsum(rows[i][j] for i in range(n)) / n for j in range(d)]
        c = mpmath.matrix(d, d)
        for a in range(d):
            for b in range(a, d):
                v = mpmath.fsum((rows[i][a] - mu[a]) * (rows[i][b] - mu[b]) for i in range(n)) / (n - 1)
                c[a, b] = c[b, a] = v
        return mu, c

    mu1, s1 = mp_stats(x1)
    mu2, s2 = mp_stats(x2)
    d = len(mu1)
    lam, v = mpmath.eigsy(s1)
    w = mpmath.matrix(d, d)
    for c in range(d):
        root = mpmath.sqrt(max(lam[c], 0))
        for r in range(d):
            w[r, c] = v[r, c] * root
    m = w.T * s2 * w
    m = (m + m.T) / 2
    tr = mpmath.fsum(mpmath.sqrt(max(e, 0)) for e in mpmath.eigsy(m, eigvals_only=True))
    value = (mpmath.fsum((a - b) ** 2 for a, b in zip(mu1, mu2))
             + mpmath.fsum(s1[i, i] for i in range(d)) + mpmath.fsum(s2[i, i] for i in range(d)) - 2 * tr)
    return float(value)


def numpy_eigen_fid(mu1, sigma1, mu2, sigma2):
    lam, v = np.linalg.eigh((sigma1 + sigma1.T) / 2)
    w = v * np.sqrt(np.maximum(lam, 0))
    m = w.T @ sigma2 @ w
    tr = np.sqrt(np.maximum(np.linalg.eigvalsh((m + m.T) / 2), 0)).sum()
    return ((mu1 - mu2) ** 2).sum() + np.trace(sigma1) + np.trace(sigma2) - 2 * tr


def unbiased_mmd2(x, y):
    """torch-fidelity's mmd2(mmd_est='unbiased') of polynomial_kernel(degree=3, gamma=1/D, coef0=1), for any sizes."""
    x, y = x.astype(np.float64), y.astype(np.float64)
    d = x.shape[1]
    kxx = (x @ x.T / d + 1) ** 3
    kyy = (y @ y.T / d + 1) ** 3
    kxy = (x @ y.T / d + 1) ** 3
    m, n = len(x), len(y)
    return ((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
            - 2 * kxy.sum() / (m * n))


def inception_split_scores(logits, bounds):
    lp = log_softmax(logits.astype(np.float64), axis=1)
    p = softmax(logits.astype(np.float64), axis=1)
    scores = []
    for a, b in zip(bounds[:-1], bounds[1:]):
        part, log_part = p[a:b], lp[a:b]
        kl = part * (log_part - np.log(np.mean(part, 0, keepdims=True)))
        scores.append(np.exp(np.mean(np.sum(kl, 1))))
    return np.array(scores)


def precision_recall(real, fake, k):
    real, fake = real.astype(np.float64), fake.astype(np.float64)

    def sqdist(a, b):
        return ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)

    r_real = np.partition(sqdist(real, real), k, axis=1)[:, k]
    r_fake = np.partition(sqdist(fake, fake), k, axis=1)[:, k]
    cross = sqdist(real, fake)  # [n_real, n_fake]
    # the test compares exact fractions: no cross distance may be within rounding of a radius
    margin = min(np.abs(cross - r_real[:, None]).min() / r_real.max(), np.abs(cross - r_fake[None, :]).min() / r_fake.max())
    assert margin > 1e-9, margin
    precision = (cross <= r_real[:, None]).any(0).mean()
    recall = (cross <= r_fake[None, :]).any(1).mean()
    return np.array([precision, recall])


out = {}

# FeatureStatistics: uneven batches are cut in the test; a +1000 offset tests the shifted accumulation
x = gaussian_rows(257, 24, 1.0, 1000.0)
out["stats.x"] = x
out["stats.mean"], out["stats.cov"] = stats(x)

# FD, well-conditioned: 32 features, 300 and 250 samples; plus a third set from x1's distribution (small FD)
x1 = gaussian_rows(300, 32, 1.0, 0.5)
x2 = gaussian_rows(250, 32, 1.3, -0.2)
x3 = f32(x1.astype(np.float64) @ np.eye(32) + rng.normal(scale=0.05, size=x1.shape))
out.update({"fd.x1": x1, "fd.x2": x2, "fd.x3": x3})
mu1, s1 = stats(x1)
mu2, s2 = stats(x2)
mu3, s3 = stats(x3)
out.update({"fd.mu1": mu1, "fd.sigma1": s1, "fd.mu2": mu2, "fd.sigma2": s2})
out["fd.value12"] = np.float64(pytorch_fid(mu1, s1, mu2, s2))
out["fd.value13"] = np.float64(pytorch_fid(mu1, s1, mu3, s3))
assert abs(numpy_eigen_fid(mu1, s1, mu2, s2) / out["fd.value12"] - 1) < 1e-9

# FD, rank-deficient: 64 features from 20 samples each (covariances of rank 19)
y1 = gaussian_rows(20, 64, 1.0, 0.0)
y2 = gaussian_rows(20, 64, 0.8, 0.3)
out.update({"fds.x1": y1, "fds.x2": y2})
mu1, s1 = stats(y1)
mu2, s2 = stats(y2)
out["fds.mpmath"] = np.float64(mp_fid(y1, y2))
out["fds.numpy_eigen"] = np.float64(numpy_eigen_fid(mu1, s1, mu2, s2))
covmean, _ = linalg.sqrtm(s1.dot(s2), disp=False)
out["fds.scipy_real"] = np.float64(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean).real)

# KID: equal sizes with one subset of the full sets (deterministic), and unequal sizes for subset sampling
kx = gaussian_rows(40, 16, 1.0, 0.0)
ky = gaussian_rows(40, 16, 1.0, 0.2)
out.update({"kid.x": kx, "kid.y": ky, "kid.full": np.float64(unbiased_mmd2(kx, ky))})
kx2 = gaussian_rows(120, 16, 1.0, 0.0)
ky2 = gaussian_rows(100, 16, 1.2, 0.4)
out.update({"kid.x2": kx2, "kid.y2": ky2, "kid.general": np.float64(unbiased_mmd2(kx2, ky2))})

# IS: 103 rows of 10 logits; 4 splits by count (floor(i*N/4)) and splits of 40 rows (40, 40, 23)
logits = f32(rng.normal(scale=2.0, size=(103, 10)) + rng.normal(scale=1.5, size=(1, 10)))
n = len(logits)
out["is.logits"] = logits
out["is.count4"] = inception_split_scores(logits, [i * n // 4 for i in range(5)])
out["is.size40"] = inception_split_scores(logits, [0, 40, 80, 103])

# P/R: 150 real and 130 fake rows of 8 features from one distribution, the fake ones then shrunk and shifted
pr_rows = gaussian_rows(280, 8, 1.0, 0.0)
pr_real = pr_rows[:150]
pr_fake = f32(pr_rows[150:] * 0.8 + 0.3)
out.update({"pr.real": pr_real, "pr.fake": pr_fake,
            "pr.k3": precision_recall(pr_real, pr_fake, 3), "pr.k5": precision_recall(pr_real, pr_fake, 5)})


def pinned_savez(path, arrays, compress):
    """np.savez / np.savez_compressed with the zip entries' timestamps pinned (zipfile stamps them from time.localtime)."""
    fixed = time.struct_time((2024, 1, 1, 0, 0, 0, 0, 1, 0))
    with mock.patch("time.localtime", lambda *args: fixed):
        (np.savez_compressed if compress else np.savez)(path, **arrays)


pinned_savez("distribution_metrics.npz", out, False)
# pytorch-fid's --save-stats layout (save_fid_stats: np.savez_compressed(path, mu=mu, sigma=sigma))
pinned_savez("fid_stats.npz", {"mu": out["fd.mu1"], "sigma": out["fd.sigma1"]}, True)

# .npz/.npy format files for NpzTest
formats = {
    "f4": f32([[1.5, -2.25, 3.0], [0.0, 1e-30, -7.0]]),
    "f8": np.array([np.pi, -np.e, 1e300, -0.0]),
    "u1": np.arange(12, dtype=np.uint8).reshape(2, 2, 3) * 21,
    "i8": np.int64(-1234567890123),
    "i4": np.array([[7], [-8], [2147483647]], dtype=np.int32),
    "empty": np.zeros((0, 3)),
}
pinned_savez("npz_numpy.npz", formats, False)
pinned_savez("npz_numpy_compressed.npz", formats, True)
np.save("npy_v1.npy", formats["f8"])
with open("npy_v2.npy", "wb") as f:
    np.lib.format.write_array(f, formats["f8"], version=(2, 0))
np.save("npy_fortran.npy", np.asfortranarray(np.arange(6.0).reshape(2, 3)))
np.save("npy_bigendian.npy", np.arange(3, dtype=">f4"))
np.save("npy_bool.npy", np.array([True, False]))

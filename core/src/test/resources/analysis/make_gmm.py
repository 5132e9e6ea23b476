"""Reference Gaussian mixtures from scikit-learn for maetok4j.analysis.GaussianMixtureTest.

Regenerate with Debian's numpy 1.24 and scikit-learn 1.2.1, from this folder:
    /usr/bin/python3 make_gmm.py
Writes gmm.safetensors (float32 rows) and gmm.json (scikit-learn's results on those rows converted to float64).
Deterministic: rerunning leaves `git status` clean.

Two sets of 6-d rows, each split into train [1500, 6] and test [500, 6]:
  "separated": 5 components with different scales, orientations and weights, well apart;
  "overlapping": 6 components whose means are within about one standard deviation of each other.
Each is fitted for both covariance types and K in (3, 6, 10), with n_init=8 so that scikit-learn reaches
its best optimum, and scored on the test rows.
"""
import json

import numpy as np
from sklearn.mixture import GaussianMixture

from fixture_io import save_safetensors

rng = np.random.default_rng(23)
D = 6


def mixture(n, components, spread, scale_range):
    """n rows from a random mixture: means N(0, spread²), covariances R·diag(s²)·Rᵀ with s in scale_range."""
    means = rng.normal(scale=spread, size=(components, D))
    factors = []
    for _ in range(components):
        rotation, _ = np.linalg.qr(rng.normal(size=(D, D)))
        factors.append(rotation * rng.uniform(*scale_range, size=D))
    weights = rng.uniform(0.5, 2.0, size=components)
    weights /= weights.sum()
    labels = rng.choice(components, size=n, p=weights)
    z = rng.normal(size=(n, D))
    x = np.stack([means[c] + factors[c] @ z[i] for i, c in enumerate(labels)])
    return x.astype(np.float32)


sets = {
    "separated": mixture(2000, 5, 6.0, (0.2, 2.0)),
    "overlapping": mixture(2000, 6, 1.0, (0.5, 1.5)),
}

out, scalars = {}, {}
for name, x in sets.items():
    train, test = x[:1500], x[1500:]
    out[f"{name}.train"] = train
    out[f"{name}.test"] = test
    # scikit-learn keeps float32 input in float32; the Java side computes in float64, so fit float64 copies
    train64, test64 = train.astype(np.float64), test.astype(np.float64)
    for cov in ("diag", "full"):
        for k in (3, 6, 10):
            gm = GaussianMixture(n_components=k, covariance_type=cov, n_init=8, random_state=0).fit(train64)
            scalars[f"{name}.{cov}.{k}"] = {
                "score": float(gm.score(test64)),
                "train_score": float(gm.score(train64)),
                "bic": float(gm.bic(test64)),
                "n_parameters": int(gm._n_parameters()),
                "n_iter": int(gm.n_iter_),
                "lower_bound": float(gm.lower_bound_),
            }

save_safetensors("gmm.safetensors", out)
with open("gmm.json", "w") as f:
    json.dump(scalars, f, indent=1)

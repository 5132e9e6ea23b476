"""Reference multinomial logistic regression from scikit-learn for maetok4j.analysis.LogisticRegressionTest.

Regenerate with Debian's numpy 1.24, scipy 1.10 and scikit-learn 1.2.1, from this folder:
    /usr/bin/python3 make_probe.py
Writes probe.safetensors (float32 features, int64 labels, float64 coefficients and intercepts) and probe.json
(accuracies, objective values, iteration counts), and the accuracies of a fit on standardised features. Deterministic: rerunning leaves `git status` clean.

Five overlapping Gaussian classes in 30 raw (unstandardised) features: a shared anisotropic covariance, features
on different scales (factors 0.2 to 4.5) and a non-zero offset, so the intercept and the conditioning both matter. Fitted with
C = 1.0 and C = 0.01, max_iter=5000, tol=1e-10; each fit is also polished to the exact optimum (see `optimum`).
Multinomial intercepts are only defined up to a common shift; sklearn's lbfgs starts at zero and every step keeps
their sum at zero, so the polished ones are re-centred to the same convention.
"""
import json
import warnings

import numpy as np
from scipy.special import log_softmax
from sklearn.linear_model import LogisticRegression

from fixture_io import save_safetensors

rng = np.random.default_rng(23)
D, K = 30, 5


means = rng.normal(size=(K, D)) * 0.42
mixing = rng.normal(size=(D, D)) / np.sqrt(D) * (1.0 / (1.0 + np.arange(D)) ** 0.3) * 1.5
scales = np.exp(rng.uniform(-1.5, 1.5, size=D))
offset = rng.normal(size=D) * 2.0


def sample(n):
    y = rng.integers(0, K, size=n)
    x = (means[y] + rng.normal(size=(n, D)) + rng.normal(size=(n, D)) @ mixing.T) * scales + offset
    return x.astype(np.float32), y.astype(np.int64)


def objective(x, y, c, coef, intercept):
    """C * sum_i -log softmax(W x_i + b)[y_i] + 0.5 * ||W||^2, in float64."""
    logp = log_softmax(x.astype(np.float64) @ coef.T + intercept, axis=1)
    return c * -logp[np.arange(len(y)), y].sum() + 0.5 * (coef ** 2).sum()


def scaled(w, x, y, c):
    """sklearn 1.2's lbfgs objective, the objective above divided by C, and its gradient; w = [W | b] flattened."""
    coef, intercept = w.reshape(K, D + 1)[:, :D], w.reshape(K, D + 1)[:, D]
    logp = log_softmax(x @ coef.T + intercept, axis=1)
    p = np.exp(logp)
    p[np.arange(len(y)), y] -= 1
    grad = np.concatenate([p.T @ x + coef / c, p.sum(0)[:, None]], axis=1)
    return -logp[np.arange(len(y)), y].sum() + 0.5 / c * (coef ** 2).sum(), grad.ravel()


def optimum(x, y, c, coef, intercept):
    """Polishes sklearn's solution to the exact optimum with Newton steps: sklearn's lbfgs also stops when the
    objective's relative decrease falls below scipy's default ftol (2.2e-9), which leaves its coefficients off by
    ~1e-3 on this problem. The Hessian is singular along a common shift of the intercepts; lstsq's minimum-norm
    step ignores that direction."""
    x1 = np.concatenate([x.astype(np.float64), np.ones((len(x), 1))], axis=1)  # [n, D+1]
    w = np.concatenate([coef, intercept[:, None]], axis=1).ravel()
    ridge = np.diag(np.tile(np.append(np.ones(D), 0.0), K)) / c
    for _ in range(20):
        f, g = scaled(w, x.astype(np.float64), y, c)
        if np.abs(g).max() < 1e-11:
            break
        p = np.exp(log_softmax(x1 @ w.reshape(K, D + 1).T, axis=1))  # [n, K]
        # sum_i (diag(p_i) - p_i p_i^T) kron x_i x_i^T, ordered (class, feature) like w
        h = np.einsum("ik,kl,ia,ib->kalb", p, np.eye(K), x1, x1) - np.einsum("ik,il,ia,ib->kalb", p, p, x1, x1)
        h = h.reshape(K * (D + 1), K * (D + 1)) + ridge
        w = w - np.linalg.lstsq(h, g, rcond=None)[0]
    g = np.abs(scaled(w, x.astype(np.float64), y, c)[1]).max()
    assert g < 1e-9, g
    w = w.reshape(K, D + 1)
    return w[:, :D], w[:, D] - w[:, D].mean(), g


x_train, y_train = sample(800)
x_test, y_test = sample(400)
out = {"train.x": x_train, "train.y": y_train, "test.x": x_test, "test.y": y_test}
scalars = {}
for name, c in (("c1", 1.0), ("c0.01", 0.01)):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a ConvergenceWarning must fail the generator
        sk = LogisticRegression(penalty="l2", C=c, multi_class="multinomial", solver="lbfgs", fit_intercept=True,
                                max_iter=5000, tol=1e-10).fit(x_train, y_train)
    coef, intercept = sk.coef_.astype(np.float64), sk.intercept_.astype(np.float64)
    best_coef, best_intercept, best_gradient = optimum(x_train, y_train, c, coef, intercept)
    out[f"{name}.coef"] = coef
    out[f"{name}.intercept"] = intercept
    out[f"{name}.optimum.coef"] = best_coef
    out[f"{name}.optimum.intercept"] = best_intercept
    scalars[name] = {
        "c": c,
        "train_accuracy": float(sk.score(x_train, y_train)),
        "test_accuracy": float(sk.score(x_test, y_test)),
        "objective": float(objective(x_train, y_train, c, coef, intercept)),
        "iterations": int(sk.n_iter_[0]),
        "gradient_max": float(np.abs(scaled(np.concatenate([coef, intercept[:, None]], axis=1).ravel(),
                                            x_train.astype(np.float64), y_train, c)[1]).max()),
        "optimum": {
            "objective": float(objective(x_train, y_train, c, best_coef, best_intercept)),
            "gradient_max": float(best_gradient),
            "coef_distance": float(np.abs(coef - best_coef).max()),
            "intercept_distance": float(np.abs(intercept - best_intercept).max()),
        },
    }

# the probe's usual input: columns standardised with the training rows' mean and (n-normalised) deviation,
# as StandardScaler does; fitted with LogisticRegression.Config.defaults()'s values
mean, deviation = x_train.astype(np.float64).mean(0), x_train.astype(np.float64).std(0)
s_train, s_test = (x_train - mean) / deviation, (x_test - mean) / deviation
sk = LogisticRegression(penalty="l2", C=1.0, multi_class="multinomial", solver="lbfgs", fit_intercept=True,
                        max_iter=1000, tol=1e-6).fit(s_train, y_train)
scalars["standardised"] = {
    "c": 1.0,
    "train_accuracy": float(sk.score(s_train, y_train)),
    "test_accuracy": float(sk.score(s_test, y_test)),
    "objective": float(objective(s_train, y_train, 1.0, sk.coef_, sk.intercept_)),
    "iterations": int(sk.n_iter_[0]),
}

save_safetensors("probe.safetensors", out)
with open("probe.json", "w") as f:
    json.dump(scalars, f, indent=1)

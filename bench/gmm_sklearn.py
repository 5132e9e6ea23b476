"""Times scikit-learn's GaussianMixture on the rows that maetok4j's GmmBenchmark fits, for comparison.

Usage (Debian's scikit-learn 1.2.1 and numpy with OpenBLAS):
    /usr/bin/python3 bench/gmm_sklearn.py TRAIN.npy HELDOUT.npy --k 10 50 100 --covariance diag full --repeats 3 [--max-iter 100]
TRAIN.npy and HELDOUT.npy are float64 [n, d] rows, as GmmBenchmark.writeNpy writes them. Each fit uses
scikit-learn's defaults (tol 1e-3, max_iter 100, reg_covar 1e-6, n_init 1, init_params "kmeans"), times
fit() alone (repeat r uses random_state seed + r), and prints one JSON line per fit: k, covariance, seconds,
iterations, converged, train and
held-out mean log-likelihood, and the held-out NLL per dimension; then the median seconds per setting.
"""
import argparse
import json
import statistics
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("train")
    p.add_argument("heldout")
    p.add_argument("--k", type=int, nargs="+", default=[10, 50, 100])
    p.add_argument("--covariance", nargs="+", default=["diag", "full"], choices=["diag", "full"])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--init", default="kmeans", choices=["kmeans", "k-means++"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-iter", type=int, default=100)
    a = p.parse_args()
    train = np.load(a.train).astype(np.float64, copy=False)
    heldout = np.load(a.heldout).astype(np.float64, copy=False)
    d = train.shape[1]
    for cov in a.covariance:
        for k in a.k:
            times = []
            for r in range(a.repeats):
                gm = GaussianMixture(n_components=k, covariance_type=cov, init_params=a.init,
                                     max_iter=a.max_iter, random_state=a.seed + r)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    start = time.perf_counter()
                    gm.fit(train)
                    seconds = time.perf_counter() - start
                times.append(seconds)
                held = gm.score(heldout)
                print(json.dumps({"k": k, "covariance": cov, "seconds": round(seconds, 3), "iterations": int(gm.n_iter_),
                                  "converged": bool(gm.converged_), "train_score": gm.score(train),
                                  "heldout_score": held, "heldout_nll_per_dim": -held / d}), flush=True)
            print(json.dumps({"k": k, "covariance": cov, "median_seconds": round(statistics.median(times), 3)}), flush=True)


if __name__ == "__main__":
    main()

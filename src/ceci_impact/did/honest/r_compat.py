"""R's random numbers, reproduced: ``set.seed(seed); rnorm(n)`` and ``mvtnorm::rmvnorm``.

HonestDiD draws its simulated critical values (folded-normal quantiles, least-favourable critical values
of the conditional-hybrid test) after ``set.seed(0)``. Using the same draws reproduces its confidence
intervals exactly instead of to Monte-Carlo error. Nothing else in the package uses these helpers; all
other randomness goes through ``numpy.random.Generator`` with explicit seeds.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

_U32 = 0xFFFFFFFF
_BIG = 134217728.0  # 2^27, R's BIG in norm_rand's INVERSION
_I2_32M1 = 2.328306437080797e-10  # 1 / (2^32 - 1), R's fixup constant


def r_normal_draws(n: int = 10**6, seed: int = 0) -> np.ndarray:
    """The ``n`` standard normal draws of R's ``set.seed(seed); rnorm(n)`` (Mersenne-Twister, inversion).

    Parameters
    ----------
    n : int
        Number of draws.
    seed : int
        R's ``set.seed`` value.
    """
    s = int(seed) & _U32
    for _ in range(50):  # R's initial scrambling of the seed
        s = (69069 * s + 1) & _U32
    key = np.empty(625, dtype=np.uint32)
    for j in range(625):
        s = (69069 * s + 1) & _U32
        key[j] = s
    bg = np.random.MT19937()
    bg.state = {"bit_generator": "MT19937", "state": {"key": key[1:], "pos": 624}}
    u = bg.random_raw(2 * n).astype(np.float64) * 2.3283064365386963e-10
    u = np.where(u <= 0.0, 0.5 * _I2_32M1, np.where(1.0 - u <= 0.0, 1.0 - 0.5 * _I2_32M1, u))
    v = (np.floor(_BIG * u[0::2]) + u[1::2]) / _BIG
    return stats.norm.ppf(v)


def r_rmvnorm(n: int, sigma: np.ndarray, seed: int = 0) -> np.ndarray:
    """``set.seed(seed); mvtnorm::rmvnorm(n, sigma = sigma)`` (zero mean, the default ``method = "eigen"``).

    mvtnorm multiplies an ``n × p`` matrix of ``rnorm`` draws, filled by row, by the symmetric square root
    ``V diag(sqrt(max(lambda, 0))) V'`` of ``sigma``; that root is unique, so the draws agree with R's up to
    floating-point rounding.

    Parameters
    ----------
    n : int
        Number of draws.
    sigma : numpy.ndarray
        Covariance (p x p).
    seed : int
        R's ``set.seed`` value.
    """
    sigma = np.asarray(sigma, float)
    sigma = (sigma + sigma.T) / 2
    lam, vec = np.linalg.eigh(sigma)
    root = (vec * np.sqrt(np.clip(lam, 0.0, None))) @ vec.T
    p = sigma.shape[0]
    return r_normal_draws(n * p, seed).reshape(n, p) @ root

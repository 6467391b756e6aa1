"""Bias-reduced linearisation (CR2) with Bell–McCaffrey degrees of freedom for the aggregated CS estimates.

References
----------
Bell, R. M. & McCaffrey, D. F. (2002). Bias reduction in standard errors for linear regression with multi-stage
samples. *Survey Methodology* 28(2), 169–181.
Imbens, G. W. & Kolesár, M. (2016). Robust standard errors in small samples: some practical advice. *Review of
Economics and Statistics* 98(4), 701–712.
Pustejovsky, J. E. & Tipton, E. (2018). Small-sample methods for cluster-robust variance estimation and hypothesis
testing in fixed effects models. *Journal of Business & Economic Statistics* 36(4), 672–683 (R ``clubSandwich``,
``coef_test(vcov = "CR2", test = "Satterthwaite")``).

The aggregated estimate is ``c' beta`` of the weighted regression of unit-level outcome combinations on cohort
indicators (:mod:`.scores`). Its hat matrix is block diagonal by cohort, and the block of cluster ``c`` in cohort
``g`` is the rank-one ``s_cg s_cg' / W_g`` (``s = sqrt(w)``) with eigenvalue ``h_cg = W_cg / W_g``. The CR2
adjustment ``(I - H_cc)^{-1/2}`` therefore multiplies the cluster's contribution to the cohort mean by
``1 / sqrt(1 - h_cg)``, and the CR2 variance is ``sum_c (sum_g S_cg / sqrt(1 - h_cg))^2 / n^2`` (the working
model is the inverse of the weights, as for weighted least squares; a cluster holding a whole cohort, ``h = 1``,
has a zero residual there and gets factor 0, the generalised inverse).

Degrees of freedom (Bell & McCaffrey 2002, Imbens & Kolesár 2016 with ``Omega = sigma^2 I``): with the adjusted
score of cluster ``c`` written ``p_c' y``, ``df = (tr Q)^2 / tr(Q^2)`` for ``Q = P' Phi P`` under the working
model of independent unit-period errors. For unit ``i`` of cohort ``g`` with outcome coefficients ``kappa_i``
(``K_cg = sum_{i in c, g} ||kappa_i||^2``, ``K_g = sum_c K_cg``)::

    Q_cd = sum_g f_cg f_dg (delta_cd K_cg - h_dg K_cg - h_cg K_dg + h_cg h_dg K_g),   f = 1 / sqrt(1 - h)

Exact (CR2 and its df) for outcome regression without covariates and the never-treated comparison; with the
not-yet-treated comparison or covariates it is the same formula with each unit's leverage taken in its own
cohort (an approximation, stated in the rule's label).
"""

from __future__ import annotations

import numpy as np

from .scores import ClusterScores


def adjustment(h: np.ndarray) -> np.ndarray:
    """CR2 factors ``1 / sqrt(1 - h)`` (0 where ``h >= 1``, the generalised inverse square root).

    Parameters
    ----------
    h
        Leverages of cluster x cohort blocks.

    Returns
    -------
    numpy.ndarray
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(h < 1 - 1e-12, 1.0 / np.sqrt(np.clip(1 - h, 1e-300, None)), 0.0)


def cr2_cluster_scores(cs: ClusterScores) -> np.ndarray:
    """``(G, m)`` CR2-adjusted cluster scores ``sum_g S_cg / sqrt(1 - h_cg)``.

    Parameters
    ----------
    cs
        Cluster scores of the aggregation.

    Returns
    -------
    numpy.ndarray
    """
    return np.einsum("cgm,cg->cm", cs.S, adjustment(cs.h))


def cr2_se(cs: ClusterScores) -> np.ndarray:
    """CR2 standard errors of the columns.

    Parameters
    ----------
    cs
        Cluster scores of the aggregation.

    Returns
    -------
    numpy.ndarray
        One standard error per column.
    """
    A = cr2_cluster_scores(cs)
    return np.sqrt((A**2).sum(axis=0)) / cs.n


def cr2_vcov(cs: ClusterScores) -> np.ndarray:
    """CR2 covariance matrix (m x m) of the columns.

    Parameters
    ----------
    cs
        Cluster scores of the aggregation.

    Returns
    -------
    numpy.ndarray
    """
    A = cr2_cluster_scores(cs)
    return A.T @ A / cs.n**2


def bm_q(h: np.ndarray, K: np.ndarray) -> np.ndarray:
    """The ``G x G`` matrix ``Q`` of the Bell–McCaffrey degrees of freedom for one column (module docstring).

    Parameters
    ----------
    h
        Leverages ``(G, ncoh)``.
    K
        Working-model weights ``(G, ncoh)`` of the column.

    Returns
    -------
    numpy.ndarray
    """
    f = adjustment(h)
    Kg = K.sum(axis=0)
    fK, fh = f * K, f * h
    Q = np.diag((f * fK).sum(axis=1))
    cross = fK @ fh.T
    Q -= cross + cross.T
    Q += (fh * Kg) @ fh.T
    return Q


def bm_df(cs: ClusterScores) -> np.ndarray:
    """Bell–McCaffrey degrees of freedom of each column; ``G - 1`` when the working weights are unavailable
    (repeated cross sections).

    Parameters
    ----------
    cs
        Cluster scores of the aggregation.

    Returns
    -------
    numpy.ndarray
    """
    K = cs.K()
    if K is None:
        return np.full(cs.m, float(cs.G - 1))
    out = np.empty(cs.m)
    for j in range(cs.m):
        Q = bm_q(cs.h, K[:, :, j])
        tq = np.trace(Q)
        out[j] = tq**2 / np.sum(Q * Q) if tq > 0 else np.nan
    return out

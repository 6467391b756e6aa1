"""Covariate formulas (``xformla``) into design matrices."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._options import CeciError


def design_matrix(xformla: str | None, data: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """Build the covariate design matrix (with intercept) for ``xformla`` such as ``"~ x1 + x2"``.

    ``None`` or ``"~1"`` gives the intercept-only design. Factors and transformations follow
    formulaic's grammar (``C(x)``, ``np.log(x)``, interactions).
    """
    if xformla is None or xformla.replace(" ", "") in ("~1", "", "1"):
        return np.ones((len(data), 1)), ["Intercept"]
    import re

    plain = re.fullmatch(r"\s*~?\s*([A-Za-z_][A-Za-z0-9_]*(\s*\+\s*[A-Za-z_][A-Za-z0-9_]*)*)\s*", xformla)
    if plain:  # plain sum of numeric columns: no formula machinery needed (and identical design)
        names = [v.strip() for v in plain.group(1).split("+")]
        if all(v in data.columns and pd.api.types.is_numeric_dtype(data[v]) and not pd.api.types.is_bool_dtype(data[v])
               for v in names):
            X = np.empty((len(data), len(names) + 1))
            X[:, 0] = 1.0
            for j, v in enumerate(names):
                X[:, j + 1] = data[v].to_numpy(float)
            return X, ["Intercept", *names]
    from formulaic import model_matrix

    f = xformla.strip()
    if not f.startswith("~"):
        f = "~" + f
    try:
        mm = model_matrix(f, data, na_action="ignore")
    except Exception as exc:  # formulaic raises several types
        raise CeciError(f"xformla={xformla!r} could not be evaluated: {exc}") from None
    X = np.asarray(mm, dtype=float)
    if X.shape[0] != len(data):
        raise CeciError(f"xformla={xformla!r} produced {X.shape[0]} rows for {len(data)} data rows")
    return X, list(mm.columns)


def formula_vars(xformla: str | None, columns) -> list[str]:
    """Column names of ``columns`` that appear as identifiers in ``xformla``."""
    if xformla is None:
        return []
    import re

    toks = set(re.findall(r"[A-Za-z_][A-Za-z0-9_.]*", xformla))
    return [c for c in columns if c in toks]

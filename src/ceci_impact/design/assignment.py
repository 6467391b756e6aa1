"""Stratified randomised phase-in: sites (or municipalities, or poles) to opening waves, auditable.

Within each stratum the sites are put in a random order (seeded) and spread evenly over ``[0, 1)`` from a random
start; all sites are then ordered by that position and the first ``n_1`` open in the first wave, the next ``n_2``
in the second, and so on. Every wave therefore holds each stratum in proportion to its size (to within one
site), and sites beyond the requested total stay unscheduled. The sites are sorted by their identifier first, so
the assignment depends on the file's content and the seed, not on the row order. The assignment file records the
SHA-256 of the sites file, the seed, the waves and the strata, so anyone can re-derive it byte for byte.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .. import io as _io
from .._options import CeciError

UNSCHEDULED = "unscheduled"


def parse_waves(text: str) -> dict[str, int]:
    """``"2026:200,2027:250"`` into ``{"2026": 200, "2027": 250}`` (order kept).

    Parameters
    ----------
    text : str
        Waves as ``NAME:COUNT`` pairs separated by commas.
    """
    out: dict[str, int] = {}
    for part in str(text).split(","):
        label, sep, n = part.strip().partition(":")
        if not sep or not label.strip() or not n.strip().isdigit() or int(n) < 1:
            raise CeciError(f"--waves: {part.strip()!r} is not a wave; expected LABEL:COUNT with a positive whole "
                            "count, like 2026:200,2027:250")
        if label.strip() in out:
            raise CeciError(f"--waves: wave {label.strip()!r} appears twice")
        out[label.strip()] = int(n)
    return out


@dataclass(frozen=True)
class Assignment:
    """Sites with their wave, the balance table by wave, and what is needed to re-derive the assignment.

    Attributes
    ----------
    table : pandas.DataFrame
        Every site with its wave.
    balance : pandas.DataFrame
        Sites of each stratum by wave.
    meta : dict
        What re-derives the assignment: the sites file's SHA-256, the seed, the waves and strata.
    """

    table: pd.DataFrame
    balance: pd.DataFrame
    meta: dict

    def to_csv_text(self) -> str:
        head = "".join(f"# {k}: {v}\n" for k, v in self.meta.items())
        return head + self.table.to_csv(index=False, lineterminator="\n")

    def write(self, path: str | Path) -> Path:
        """Write the assignment file atomically (a failed run leaves an earlier file untouched); an existing file is
        replaced only when it is an earlier assignment file (its first line names ``ceci_impact_assignment``).

        Parameters
        ----------
        path : str or pathlib.Path
            File to write (CSV with a header of comment lines).
        """
        p = Path(path)
        if p.exists():
            if not p.is_file():
                raise CeciError(f"--out {p}: is not a regular file; expected the assignment file (CSV) to write")
            with open(p, "rb") as fh:
                head = fh.read(64)
            if not head.startswith(b"# ceci_impact_assignment:"):
                raise CeciError(f"--out {p}: an existing file that ceci-impact design assign did not write; expected a "
                                "new file name or an earlier assignment file (move it or choose another --out)")
        with _io.atomic_file(path, "w", encoding="utf-8", newline="") as f:
            f.write(self.to_csv_text())
        return Path(path)


def _check(sites: pd.DataFrame, waves: dict[str, int], strata: list[str], id_col: str, where: str) -> None:
    if id_col not in sites.columns:
        raise CeciError(f"{where}: no site identifier column {id_col!r}; columns are {', '.join(sites.columns)}")
    if sites[id_col].isna().any() or sites[id_col].duplicated().any():
        bad = sites[id_col][sites[id_col].isna() | sites[id_col].duplicated()].iloc[0]
        raise CeciError(f"{where}: site identifier {bad!r} is missing or repeated; expected one row per site")
    for s in strata:
        if s not in sites.columns:
            raise CeciError(f"{where}: stratum column {s!r} not found; columns are {', '.join(sites.columns)}")
        empty = sites[s].isna() | (sites[s].astype(str).str.strip() == "")
        if empty.any():
            i = int(np.flatnonzero(empty.to_numpy())[0])
            raise CeciError(f"{where} row {i + 2}: site {sites[id_col].iloc[i]!r} has an empty stratum {s!r}; "
                            "expected a value for every site (an empty stratum cannot be balanced)")
    total = sum(waves.values())
    if total > len(sites):
        raise CeciError(f"{where}: the waves ask for {total} sites but the file lists {len(sites)}; expected at most "
                        f"{len(sites)}")
    if not waves:
        raise CeciError("--waves: no wave given; expected LABEL:COUNT pairs like 2026:200,2027:250")


def _balance(table: pd.DataFrame, id_col: str, strata: list[str]) -> pd.DataFrame:
    num = [c for c in table.columns if c not in (id_col, "wave", *strata)
           and pd.api.types.is_numeric_dtype(table[c]) and not pd.api.types.is_bool_dtype(table[c])]
    g = table.groupby("wave", sort=False)
    out = g.size().rename("sites").to_frame()
    for c in num:
        out[f"mean {c}"] = g[c].mean()
        sd = table[c].std(ddof=1)
        # standardised difference of each wave against all other sites
        out[f"std. diff. {c}"] = [(table.loc[table.wave == w, c].mean() - table.loc[table.wave != w, c].mean())
                                  / sd if sd and sd > 0 else np.nan for w in out.index]
    for s in strata:
        shares = pd.crosstab(table.wave, table[s], normalize="index")
        out[f"max share gap {s}"] = (shares - table[s].value_counts(normalize=True)).abs().max(axis=1)
    return out.reset_index()


def assign_waves(sites: pd.DataFrame, waves: dict[str, int], strata: list[str], seed: int, *,
                 id_col: str | None = None, source: str = "sites", sha256: str | None = None) -> Assignment:
    """Assign sites to opening waves by stratified randomisation.

    Parameters
    ----------
    sites
        One row per planned site; numeric columns (pre-period outcomes, covariates) enter the balance table.
    waves
        Wave labels to numbers of sites, in opening order (:func:`parse_waves`).
    strata
        Columns whose combinations are the strata (e.g. ``["pole", "scheme"]``); empty for none.
    seed
        Seed of the randomisation.
    id_col
        Site identifier column (default: the first column).
    source, sha256
        Name and SHA-256 of the input file, recorded in the assignment.

    Returns
    -------
    Assignment
    """
    if int(seed) != seed:
        raise CeciError(f"--seed {seed!r}; expected a whole number")
    id_col = id_col or str(sites.columns[0])
    _check(sites, waves, list(strata), id_col, source)
    d = sites.sort_values(id_col, kind="stable", key=lambda s: s.astype(str)).reset_index(drop=True)
    rng = np.random.default_rng(int(seed))
    key = d[list(strata)].astype(str).agg("\x1f".join, axis=1) if strata else pd.Series("", index=d.index)
    codes, uniq = pd.factorize(key, sort=True)
    pos = np.empty(len(d))
    for k in range(len(uniq)):  # one draw per stratum (strata are few; sites are never looped over)
        idx = np.flatnonzero(codes == k)
        order = rng.permutation(idx.size)
        pos[idx[order]] = (np.arange(idx.size) + rng.uniform()) / idx.size
    tiebreak = rng.permutation(len(d))
    rank = np.lexsort((tiebreak, pos))
    labels = np.concatenate([np.repeat(list(waves), list(waves.values())),
                             np.repeat(UNSCHEDULED, len(d) - sum(waves.values()))])
    wave = np.empty(len(d), dtype=object)
    wave[rank] = labels
    table = d.assign(wave=wave)
    meta = {"ceci_impact_assignment": "stratified randomised phase-in (ceci_impact.design.assign_waves)",
            "sites_file": Path(source).name, "sites_sha256": sha256 or _sha_frame(sites), "seed": int(seed),
            "waves": ",".join(f"{k}:{v}" for k, v in waves.items()), "strata": ",".join(strata) or "(none)",
            "id_column": id_col}
    return Assignment(table=table[[id_col, *strata, "wave"] + [c for c in d.columns if c not in (id_col, *strata)]],
                      balance=_balance(table, id_col, list(strata)), meta=meta)


def _sha_frame(df: pd.DataFrame) -> str:
    return hashlib.sha256(df.to_csv(index=False).encode()).hexdigest()


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file's bytes (hex), read in 1 MiB chunks.

    Parameters
    ----------
    path : str or pathlib.Path
        The file.
    """
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_sites(path: str | Path) -> pd.DataFrame:
    """Read a sites file (CSV or Parquet) with one clear line when it cannot be read.

    Parameters
    ----------
    path : str or pathlib.Path
        The sites file (``.csv`` or ``.parquet``).
    """
    p = Path(path)
    if not p.is_file():
        raise CeciError(f"--sites {p}: file not found")
    try:
        df = pd.read_parquet(p) if p.suffix == ".parquet" else pd.read_csv(p, comment="#")
    except Exception as exc:  # parser errors of several kinds
        raise CeciError(f"--sites {p}: could not be read as {'Parquet' if p.suffix == '.parquet' else 'CSV'} "
                        f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})") from None
    if df.empty:
        raise CeciError(f"--sites {p}: no sites; expected one row per planned site")
    return df

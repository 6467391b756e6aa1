"""The run plan of ``ceci-impact render``: a TOML file of notebook × parameter sets, read, checked and expanded
into runs (one site profile per opened CECI, one pole profile per PODECOBI pole with an opened CECI)."""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._options import CeciError
from ..io import check_name, regular_file


@dataclass
class Run:
    """One notebook execution with its parameters.

    Attributes
    ----------
    name : str
        The run's name (its report's file name).
    notebook : str
        The notebook file.
    group : str
        The section of the index the report is listed under (the plan's ``group``, e.g. "Summary").
    parameters : dict
        Papermill parameters of the run.
    requires : str, optional
        A path (relative to the notebooks) the run needs; when it is absent the run is skipped with a message.
    error : str, optional
        A parameter error found before execution: the run fails without running.
    expanded : bool
        The run is one of an ``expand`` entry's (a site or pole profile): the render writes a first index once every
        run that is not has finished.
    """

    name: str
    notebook: str
    group: str
    parameters: dict[str, Any] = field(default_factory=dict)
    requires: str | None = None
    error: str | None = None  # a parameter error found before execution: the run fails without running
    expanded: bool = False  # one of an `expand` entry's runs (site or pole profiles)


def _plain(params: dict) -> dict:
    """Parameters as valid JSON: a non-finite number (refused as a parameter) is kept as its text."""
    import math

    return {k: (repr(v) if isinstance(v, float) and not math.isfinite(v) else v) for k, v in params.items()}


def _coerce(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def load_plan(plan: str | Path, overrides: list[str] | None = None) -> tuple[list[Run], Path]:
    """Read the TOML run plan and expand it into runs (site profiles: one per opened site).

    Parameters
    ----------
    plan : str or pathlib.Path
        The TOML run plan.
    overrides : list of str, optional
        ``NAME=VALUE`` parameters applied to every run that has them.
    """
    plan = Path(plan)
    if not plan.exists():
        raise CeciError(f"{plan}: run plan not found")
    regular_file(plan, "a TOML run plan")
    try:
        cfg = tomllib.loads(plan.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise CeciError(f"{plan}: not valid TOML ({exc})") from None
    nbdir = plan.parent
    defaults = cfg.get("defaults", {})
    ov, ov_text = {}, {}
    for item in overrides or []:
        if "=" not in item:
            raise CeciError(f"--set {item!r}: expected NAME=VALUE")
        k, v = item.split("=", 1)
        ov[k.strip()] = _coerce(v)
        ov_text[k.strip()] = v
    from .params import SCHEMAS, check_overrides

    for stem in {Path(r.get("notebook", "")).stem for r in cfg.get("run", [])}:
        for k in set(ov) & set(SCHEMAS.get(stem, {})):  # --set waves=200 means the text "200"
            if SCHEMAS[stem][k].type is str and not isinstance(ov[k], str):
                ov[k] = ov_text[k]

    runs: list[Run] = []
    used: set[str] = set()
    for i, r in enumerate(cfg.get("run", [])):
        for key in ("name", "notebook"):
            if key not in r:
                raise CeciError(f"{plan}: run #{i + 1} has no {key!r}")
        nb = r["notebook"]
        if not (nbdir / nb).exists():
            raise CeciError(f"{plan}: run {r['name']!r}: notebook {nb} not found in {nbdir}")
        stem = Path(nb).stem
        schema = SCHEMAS.get(stem, {})
        params = {k: v for k, v in defaults.items() if k in schema}
        params.update(r.get("parameters", {}))
        params.update({k: v for k, v in ov.items() if k in schema})
        used.update(k for k in ov if k in schema)
        error = None
        try:
            check_overrides(stem, params)
        except CeciError as exc:
            error = str(exc)
        base = Run(name=r["name"], notebook=nb, group=r.get("group", "Other"), parameters=params,
                   requires=r.get("requires"), error=error)
        if r.get("expand") == "opened_sites":
            runs.extend(_expand_sites(base, nbdir))
        elif r.get("expand") == "opened_poles":
            runs.extend(_expand_poles(base, nbdir))
        elif r.get("expand"):
            raise CeciError(f"{plan}: run {r['name']!r}: unknown expand {r['expand']!r}; expected 'opened_sites' "
                            "or 'opened_poles'")
        else:
            runs.append(base)
    unused = sorted(set(ov) - used)
    if unused:
        raise CeciError(f"unknown parameter {unused[0]!r} (--set): no notebook in {plan} declares it")
    for r in runs:  # a run name names files: never a path, markup or '..' (site ids come from the data)
        check_name(r.name, f"{plan}: run name (notebook {r.notebook}, parameters {_plain(r.parameters)})")
    names = [r.name for r in runs]
    dups = {n for n in names if names.count(n) > 1}
    if dups:
        raise CeciError(f"{plan}: duplicated run names {', '.join(sorted(dups))}")
    return runs, nbdir


def _expand_sites(base: Run, nbdir: Path) -> list[Run]:
    import pandas as pd

    processed = (nbdir / base.parameters.get("processed", "../data/processed")).resolve()
    p = processed / "sites.parquet"
    if not p.exists():
        raise CeciError(f"{p}: site list not found; run `ceci-impact build` before rendering site profiles")
    sites = pd.read_parquet(p)
    opened = sites[sites.opening_period > 0].sort_values(["opening_period", "site_id"])
    return [Run(name=base.name.format(site_id=s), notebook=base.notebook, group=base.group,
                parameters={**base.parameters, "site_id": s}, requires=base.requires, error=base.error, expanded=True)
            for s in opened.site_id]


def _expand_poles(base: Run, nbdir: Path) -> list[Run]:
    import unicodedata

    from ..study.site_synth import opened_poles

    processed = (nbdir / base.parameters.get("processed", "../data/processed")).resolve()
    if not (processed / "sites.parquet").exists():
        raise CeciError(f"{processed / 'sites.parquet'}: site list not found; run `ceci-impact build` before "
                        "rendering pole profiles")

    def slug(name: str) -> str:
        plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
        return re.sub(r"[^a-z0-9]+", "_", plain.lower()).strip("_") or "pole"

    return [Run(name=base.name.format(pole_slug=slug(p)), notebook=base.notebook, group=base.group,
                parameters={**base.parameters, "pole": p}, requires=base.requires, error=base.error, expanded=True)
            for p in opened_poles(processed)]

"""What an estimator dropped, coerced or could not estimate, and every warning it raised: :class:`DataNotes`.

The estimators warn (as R ``did`` does) when they drop rows with missing values, units already treated in the
first period or units missing some period (to balance the panel), when a cohort is very small, or when an ATT(g,t)
cell cannot be estimated (no overlap, singular covariates, an empty comparison group). :func:`record_notes` wraps
an estimator so that these facts also reach its result as a structured record (``result.data_notes``), counted,
and the warnings are still emitted to the caller: nothing is silenced. :func:`recording` is the same for any block
of code whose warnings a report must keep (the study layer uses it instead of ignoring warnings).

Published records (:meth:`DataNotes.to_dict`) never carry a count of units below
:data:`ceci_impact.confidentiality.MIN_CELL` (the count becomes ``"<5"``, and so does any such number in a warning's
text), and never an identifier of a unit: cohorts and periods only.
"""

from __future__ import annotations

import contextlib
import functools
import re
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields, replace

from ...confidentiality import MIN_CELL

_COUNTS = ("rows_dropped_missing", "units_dropped_treated_first_period", "units_dropped_unbalanced",
           "treated_units_dropped_unbalanced")
_REGISTRY: dict = {}  # re-emitted warnings pass the caller's filters once per message and place ("default")
_UNITS_IN_TEXT = re.compile(r"\b(\d+)(\s+(?:units?|employers?|municipalit(?:y|ies)))\b")


class DidWarning(UserWarning):
    """A data or estimation issue that R `did` also reports as a warning.

    Parameters
    ----------
    message : str
        The warning's text.
    facts : dict, optional
        What was dropped or not estimated, counted (read by :class:`DataNotes`).
    """

    def __init__(self, message: str = "", facts: dict | None = None):
        super().__init__(message)
        self.facts = dict(facts or {})


@dataclass(frozen=True)
class DataNotes:
    """What an estimate rests on besides the data it was given: drops, coercions, cells it could not estimate.

    Parameters
    ----------
    rows_dropped_missing : int
        Rows dropped because the outcome, a covariate, a weight or a cluster was missing or not finite.
    units_dropped_treated_first_period : int
        Units dropped because they were already treated in the first period (no pre-period).
    units_dropped_unbalanced : int
        Units dropped to balance the panel (missing in some period), as R ``did`` does.
    treated_units_dropped_unbalanced : int
        Of those, the units of a treated cohort.
    units_before_balance : int or None
        The units before balancing (None when nothing was dropped to balance).
    small_cohorts : tuple of (float, int)
        Cohorts (first treated period) with fewer units than the estimator needs (R's rule: covariates + 5), and
        their number of units.
    cells_without_estimate : tuple of (float, float, str)
        ATT(g,t) cells set to NA: cohort, period and the reason (no overlap, singular covariates, ...).
    cohorts_without_pre_periods : tuple of float
        Cohorts dropped because no period precedes their treatment.
    control_coerced : float or None
        The last treated cohort used as never-treated when no never-treated unit exists.
    warnings : tuple of str
        Every warning raised while estimating (category and message), in order.
    """

    rows_dropped_missing: int = 0
    units_dropped_treated_first_period: int = 0
    units_dropped_unbalanced: int = 0
    treated_units_dropped_unbalanced: int = 0
    units_before_balance: int | None = None
    small_cohorts: tuple = ()
    cells_without_estimate: tuple = ()
    cohorts_without_pre_periods: tuple = ()
    control_coerced: float | None = None
    warnings: tuple = field(default=())

    @property
    def empty(self) -> bool:
        """True when nothing was dropped, coerced or left unestimated and no warning was raised."""
        return self == DataNotes()

    @classmethod
    def from_warnings(cls, caught: list[warnings.WarningMessage]) -> DataNotes:
        """The record of a list of caught warnings (the facts the estimators attach to their ``DidWarning``).

        Parameters
        ----------
        caught : list of warnings.WarningMessage
            Warnings recorded by ``warnings.catch_warnings(record=True)``.

        Returns
        -------
        DataNotes
        """
        kw: dict = {"warnings": tuple(f"{w.category.__name__}: {w.message}" for w in caught)}
        small, cells, nopre = [], [], []
        for w in caught:
            facts = getattr(w.message, "facts", None) or {}
            for k in _COUNTS:
                if k in facts:
                    kw[k] = kw.get(k, 0) + int(facts[k])
            if "units_before_balance" in facts:
                kw["units_before_balance"] = int(facts["units_before_balance"])
            if "control_coerced" in facts:
                kw["control_coerced"] = float(facts["control_coerced"])
            small += [(float(g), int(n)) for g, n in facts.get("small_cohorts", ())]
            cells += [(float(g), float(t), str(facts.get("reason", ""))) for g, t in facts.get("cells", ())]
            nopre += [float(g) for g in facts.get("cohorts_without_pre_periods", ())]
        return cls(**kw, small_cohorts=tuple(small), cells_without_estimate=tuple(cells),
                   cohorts_without_pre_periods=tuple(nopre))

    def merge(self, other: DataNotes | None) -> DataNotes:
        """Both records in one: counts of ``other`` are kept where this one has none, lists are joined.

        Parameters
        ----------
        other : DataNotes or None
            The record to add (e.g. the warnings of the aggregation step after the estimator's own).

        Returns
        -------
        DataNotes
        """
        if other is None:
            return self
        kw = {}
        for f in fields(self):
            a, b = getattr(self, f.name), getattr(other, f.name)
            if isinstance(a, tuple):
                kw[f.name] = a + tuple(x for x in b if x not in a)
            else:
                kw[f.name] = a if a not in (0, None) else b
        return DataNotes(**kw)

    def to_dict(self, label: Callable[[float], str] | None = None, k: int = MIN_CELL) -> dict:
        """The record for a sidecar: counts below ``k`` shown as ``"<k"``, cohorts and periods through ``label``.

        Parameters
        ----------
        label : callable, optional
            Formats a period (e.g. :func:`ceci_impact.calendar.label` for month codes); default ``str``-like.
        k : int
            Smallest count published (:data:`ceci_impact.confidentiality.MIN_CELL`).

        Returns
        -------
        dict
            JSON-ready: the counts, ``small_cohorts`` as ``[{"cohort", "units"}]``, ``cells_without_estimate`` as
            ``[{"cohort", "period", "reason"}]``, ``cohorts_without_pre_periods``, ``control_coerced`` and the
            ``warnings`` (numbers of units below ``k`` masked).
        """
        lab = label or (lambda v: f"{v:g}")

        def count(n):
            return n if n is None or n == 0 or n >= k else f"<{k}"

        return {
            **{c: count(getattr(self, c)) for c in _COUNTS},
            "units_before_balance": count(self.units_before_balance),
            "small_cohorts": [{"cohort": lab(g), "units": count(n)} for g, n in self.small_cohorts],
            "cells_without_estimate": [{"cohort": lab(g), "period": lab(t), "reason": why}
                                       for g, t, why in self.cells_without_estimate],
            "cohorts_without_pre_periods": [lab(g) for g in self.cohorts_without_pre_periods],
            "control_coerced": None if self.control_coerced is None else lab(self.control_coerced),
            "warnings": [mask_small_counts(w, k) for w in self.warnings],
        }


def mask_small_counts(text: str, k: int = MIN_CELL) -> str:
    """``text`` with every count of units, employers or municipalities below ``k`` replaced by ``"<k"``.

    Parameters
    ----------
    text : str
        A warning's message.
    k : int
        Smallest count published.

    Returns
    -------
    str
    """
    return _UNITS_IN_TEXT.sub(lambda m: (m.group(0) if int(m.group(1)) >= k or m.group(1) == "0"
                                         else f"<{k}{m.group(2)}"), text)


@contextlib.contextmanager
def recording(into: list | None = None, *, reemit: bool = True) -> Iterator[list]:
    """Record every warning raised in the block (none is lost to a filter), then emit it again to the caller.

    Re-emitted warnings go through the caller's filters; under the default action a message repeated from the same
    place (e.g. by every draw of a simulation) is shown once, and the record keeps every occurrence.

    Parameters
    ----------
    into : list, optional
        A list the caught ``warnings.WarningMessage`` objects are appended to (also yielded).
    reemit : bool
        Emit each warning again after the block (default), through the caller's filters. ``False`` only where the
        caller keeps the record itself (it is then in a result's ``data_notes``, shown in the report).

    Yields
    ------
    list of warnings.WarningMessage
    """
    caught_all = [] if into is None else into
    caught: list = []
    try:
        with warnings.catch_warnings(record=True) as log:
            warnings.simplefilter("always")
            try:
                yield caught_all
            finally:
                caught = list(log)
                caught_all.extend(caught)
    finally:  # also when the block raised: its warnings still reach the caller
        if reemit:
            for w in caught:
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno, registry=_REGISTRY, source=w.source)


def record_notes(estimator: Callable) -> Callable:
    """Decorate an estimator returning a frozen dataclass with a ``data_notes`` field: the warnings raised while
    it runs are re-emitted and recorded in ``result.data_notes`` (a :class:`DataNotes`).

    Parameters
    ----------
    estimator : callable
        The estimator (e.g. :func:`ceci_impact.did.att_gt`).

    Returns
    -------
    callable
    """

    @functools.wraps(estimator)
    def wrapped(*args, **kwargs):
        with recording() as caught:
            res = estimator(*args, **kwargs)
        return replace(res, data_notes=DataNotes.from_warnings(caught))

    return wrapped

"""What kind of data a report rests on, so that every figure and download can carry it.

A notebook learns it once, from the panels' manifest (:func:`ceci_impact.study.narrative.simulated_banner`) or from
the back-test (real public data), and the table and figure renderers of the same process read it: figures get a
"SIMULADO" / "SIMULATED" mark in a corner, CSV downloads a first comment line and a suffix in their file name, so a
number copied out of a report on simulated data cannot be mistaken for a real one.
"""

from __future__ import annotations

from typing import Literal

from ._options import check_option

DataKind = Literal["simulated", "real"]
_MARKS = {"simulated": {"es": "SIMULADO", "en": "SIMULATED"}, "real": {"es": "datos reales", "en": "real data"}}
_NOTES = {"simulated": {"es": "DATOS SIMULADOS: no son datos reales del IMSS",
                        "en": "SIMULATED DATA: not real IMSS data"},
          "real": {"es": "datos reales", "en": "real data"}}
_state: dict[str, str | None] = {"kind": None}


def set_data_kind(kind: DataKind | None) -> None:
    """Record what the report in this process rests on (None: unknown, no mark).

    Parameters
    ----------
    kind : {"simulated", "real"} or None
        The kind of data.
    """
    _state["kind"] = None if kind is None else check_option("kind", kind, DataKind)


def data_kind() -> str | None:
    """The kind of data recorded by :func:`set_data_kind`."""
    return _state["kind"]


def mark(lang: str) -> str | None:
    """The short mark of the data kind in ``lang`` (``"SIMULADO"``), or None.

    Parameters
    ----------
    lang : str
        ``"es"`` or ``"en"``.
    """
    k = _state["kind"]
    return None if k is None else _MARKS[k].get(lang, _MARKS[k]["en"])


def note(lang: str) -> str | None:
    """The sentence a download starts with (``"DATOS SIMULADOS: ..."``), or None.

    Parameters
    ----------
    lang : str
        ``"es"`` or ``"en"``.
    """
    k = _state["kind"]
    return None if k is None else _NOTES[k].get(lang, _NOTES[k]["en"])

"""Difference-in-differences with a continuous treatment (Callaway, Goodman-Bacon & Sant'Anna 2024)."""

from .cont_did import DoseResult, cont_did

__all__ = ["cont_did", "DoseResult"]

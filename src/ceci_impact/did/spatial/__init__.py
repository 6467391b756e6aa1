"""Spatial spillovers: direct and ring spillover effects of a place-based treatment (Butts 2023)."""

from .spillover import SpilloverResult, spillover_did

__all__ = ["spillover_did", "SpilloverResult"]

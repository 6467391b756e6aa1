"""The data layer: raw sources and their checks, the panel SQL and its engines (DuckDB, Spark), the outcome
registry, the simulated world and its truths.

May import: the foundation modules (``ceci_impact._options``, ``io``, ``calendar``, ``geo``, ``confidentiality``).
"""

"""The report layer: notebook parameters and their validation, notebook helpers, and the Papermill renderer with
its run plan, sidecars and index.

May import: every layer below (foundation, ``data``, ``did``, ``design``, ``study``).
"""

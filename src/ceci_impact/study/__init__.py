"""The study layer: estimation samples, event studies and their comparisons, robustness, sensitivity, survival,
site and pole analyses, sentences and verdicts, figures (``analysis`` gathers them for the notebooks).

May import: the foundation modules, :mod:`ceci_impact.data`, :mod:`ceci_impact.did`, :mod:`ceci_impact.design`.
"""

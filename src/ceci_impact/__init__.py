"""ceci-impact: does childcare close to work (CECI) move absenteeism, retention and women's formal jobs?"""

from ._options import CeciError

__version__ = "0.1.0"
__all__ = ["CeciError", "__version__"]

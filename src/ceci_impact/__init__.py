"""ceci-impact: does childcare close to work (CECI) move absenteeism, retention and women's formal jobs?"""

__version__ = "0.1.0"

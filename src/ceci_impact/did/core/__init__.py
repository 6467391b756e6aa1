"""What every estimator family of :mod:`ceci_impact.did` shares: the result protocol and its tables
(:mod:`.results`), the event-study figure (:mod:`.plotting`), the data notes and the warning class
(:mod:`.notes`), covariate formulas and panel checks (:mod:`.design`), and the multiplier bootstrap with its
Mammen weights (:mod:`.bootstrap`, :mod:`.mammen`)."""

from .notes import DataNotes, DidWarning
from .results import AggteResult, EventStudyMoments, EventStudyResult, ResultProtocol

__all__ = ["AggteResult", "DataNotes", "DidWarning", "EventStudyMoments", "EventStudyResult", "ResultProtocol"]

"""Pure scoring of the NNS indicators: data frames in, data frames and charts out.

Nothing in this package imports Flask or the database (DESIGN.md principle 5),
so it can be tested, benchmarked and reused for a national aggregation.
"""

from indicators.disclosure import build_cells, count_frames, protect
from indicators.instrument import Instrument, Question, Questionnaire, Scale, ScaleOption
from indicators.scoring import ANSWER_COLUMNS, RESULT_COLUMNS, score

__all__ = [
    "ANSWER_COLUMNS",
    "RESULT_COLUMNS",
    "Instrument",
    "Question",
    "Questionnaire",
    "Scale",
    "ScaleOption",
    "build_cells",
    "count_frames",
    "protect",
    "score",
]

"""The instrument as plain, immutable data: scales, questionnaires, questions.

The catalogue file (``surveys/instrument/nns.yaml``) and the database both
describe the same structure; this module is the one shape scoring works on.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

GROUPS = ("negative", "neutral", "positive")
GENDERS = ("kvinna", "man", "annat")


@dataclass(frozen=True)
class ScaleOption:
    """One answer alternative: its code, label and report grouping."""

    code: int
    label: str
    group: str | None  # negative / neutral / positive, or None for "Vet ej"
    clearly_positive: bool = False


@dataclass(frozen=True)
class Scale:
    """An answer scale; grouping happens only when scoring."""

    key: str
    name: str
    options: tuple[ScaleOption, ...]

    @property
    def codes(self) -> frozenset[int]:
        return frozenset(o.code for o in self.options)

    @property
    def has_clearly_positive(self) -> bool:
        return any(o.clearly_positive for o in self.options)


@dataclass(frozen=True)
class QuestionVersion:
    """An exact wording of a question, valid for a span of years."""

    id: str  # stable: "<questionnaire>.<number>.v<k>"
    text: str
    valid_from: int | None = None
    valid_until: int | None = None
    confirmed: bool = True  # False: wording not confirmed by NNS, keep editable

    def valid_in(self, year: int) -> bool:
        return (self.valid_from is None or year >= self.valid_from) and (
            self.valid_until is None or year <= self.valid_until
        )


@dataclass(frozen=True)
class Question:
    """A question of one questionnaire, with a stable identity across years."""

    questionnaire: str
    number: int
    indicator: int
    scale: str
    versions: tuple[QuestionVersion, ...]
    gate: bool = False  # yes/no gate: reported on its own, never pooled
    condition_question: int | None = None  # asked only if that question ...
    condition_code: int | None = None  # ... got this code
    introduced: int | None = None  # first year asked
    comparable_from: int | None = None  # comparability break

    @property
    def key(self) -> str:
        return f"{self.questionnaire}.{self.number}"

    def asked_in(self, year: int) -> bool:
        return (self.introduced is None or year >= self.introduced) and self.version_for(
            year
        ) is not None

    def version_for(self, year: int) -> QuestionVersion | None:
        for version in self.versions:
            if version.valid_in(year):
                return version
        return None

    @property
    def current(self) -> QuestionVersion:
        return self.versions[-1]

    def segment(self, year: int) -> str:
        """The comparable period a year belongs to (charts never join two)."""
        if self.comparable_from is not None and year < self.comparable_from:
            return f"före {self.comparable_from}"
        return "jämförbar"


@dataclass(frozen=True)
class Questionnaire:
    """One respondent group's questionnaire."""

    key: str
    name: str
    short_name: str
    participant: bool
    questions: tuple[Question, ...]
    introduced: int | None = None

    def question(self, number: int) -> Question | None:
        for q in self.questions:
            if q.number == number:
                return q
        return None

    def questions_in(self, year: int) -> list[Question]:
        if self.introduced is not None and year < self.introduced:
            return []
        return [q for q in self.questions if q.asked_in(year)]


@dataclass(frozen=True)
class Instrument:
    """The whole catalogue: scales, indicator titles and six questionnaires."""

    version: str
    scales: Mapping[str, Scale]
    indicators: Mapping[int, str]
    questionnaires: tuple[Questionnaire, ...]
    no_national_measure: frozenset[int] = field(default_factory=frozenset)

    # -- lookups -----------------------------------------------------------
    def questionnaire(self, key: str) -> Questionnaire:
        for qn in self.questionnaires:
            if qn.key == key:
                return qn
        raise KeyError(key)

    @property
    def questionnaire_keys(self) -> list[str]:
        return [qn.key for qn in self.questionnaires]

    def question(self, questionnaire: str, number: int) -> Question | None:
        try:
            return self.questionnaire(questionnaire).question(number)
        except KeyError:
            return None

    def all_questions(self) -> Iterable[Question]:
        for qn in self.questionnaires:
            yield from qn.questions

    def questions_for_indicator(self, indicator: int) -> list[Question]:
        return [q for q in self.all_questions() if q.indicator == indicator]

    def is_participant(self, questionnaire: str) -> bool:
        return self.questionnaire(questionnaire).participant

    # -- frames used by scoring -------------------------------------------
    def questions_frame(self) -> pd.DataFrame:
        """One row per question: questionnaire, question, indicator, scale, gate."""
        rows = [
            {
                "questionnaire": q.questionnaire,
                "question": q.number,
                "indicator": q.indicator,
                "scale": q.scale,
                "gate": q.gate,
            }
            for q in self.all_questions()
        ]
        return pd.DataFrame(rows)

    def options_frame(self) -> pd.DataFrame:
        """One row per scale option: scale, code, group, clearly_positive."""
        rows = [
            {
                "scale": s.key,
                "code": o.code,
                "group": o.group,
                "clearly_positive": o.clearly_positive,
            }
            for s in self.scales.values()
            for o in s.options
        ]
        return pd.DataFrame(rows)

    # -- construction -------------------------------------------------------
    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Instrument:
        """Build from the parsed catalogue file; raises ValueError when inconsistent."""
        scales = {
            key: Scale(
                key=key,
                name=str(spec.get("name", key)),
                options=tuple(
                    ScaleOption(
                        code=int(o["code"]),
                        label=str(o["label"]),
                        group=o.get("group"),
                        clearly_positive=bool(o.get("clearly_positive", False)),
                    )
                    for o in spec["options"]
                ),
            )
            for key, spec in data["scales"].items()
        }
        for scale in scales.values():
            for option in scale.options:
                if option.group not in (*GROUPS, None):
                    raise ValueError(f"Okänd gruppering {option.group!r} i skalan {scale.key}")
        indicators = {int(k): str(v) for k, v in data["indicators"].items()}
        questionnaires = []
        for qn in data["questionnaires"]:
            questions = []
            for q in qn["questions"]:
                number = int(q["number"])
                if q["scale"] not in scales:
                    raise ValueError(f"Okänd skala {q['scale']!r} för {qn['key']}.{number}")
                if int(q["indicator"]) not in indicators:
                    raise ValueError(f"Okänd indikator för {qn['key']}.{number}")
                condition = q.get("condition") or {}
                versions = tuple(
                    QuestionVersion(
                        id=f"{qn['key']}.{number}.v{i}",
                        text=str(v["text"]),
                        valid_from=v.get("from"),
                        valid_until=v.get("until"),
                        confirmed=bool(v.get("confirmed", True)),
                    )
                    for i, v in enumerate(q["versions"], start=1)
                )
                questions.append(
                    Question(
                        questionnaire=qn["key"],
                        number=number,
                        indicator=int(q["indicator"]),
                        scale=q["scale"],
                        versions=versions,
                        gate=bool(q.get("gate", False)),
                        condition_question=condition.get("question"),
                        condition_code=condition.get("code"),
                        introduced=q.get("introduced"),
                        comparable_from=q.get("comparable_from"),
                    )
                )
            questionnaires.append(
                Questionnaire(
                    key=qn["key"],
                    name=qn["name"],
                    short_name=qn.get("short_name", qn["name"]),
                    participant=bool(qn.get("participant", False)),
                    questions=tuple(questions),
                    introduced=qn.get("introduced"),
                )
            )
        return cls(
            version=str(data["instrument_version"]),
            scales=scales,
            indicators=indicators,
            questionnaires=tuple(questionnaires),
            no_national_measure=frozenset(int(i) for i in data.get("no_national_measure", [])),
        )

    @classmethod
    def load(cls, path: str | Path) -> Instrument:
        """Read a catalogue YAML file."""
        with open(path, encoding="utf-8") as fh:
            return cls.from_dict(yaml.safe_load(fh))

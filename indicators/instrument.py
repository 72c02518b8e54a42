"""The instrument as plain, immutable data: scales, questionnaires, questions.

The catalogue file (``surveys/instrument/nns.yaml``) and the database both
describe the same structure; this module is the one shape scoring works on.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from indicators.text import xml_char

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

    @cached_property
    def codes(self) -> frozenset[int]:
        # made once per scale (the options never change): every answer is checked against it
        return frozenset(o.code for o in self.options)

    @property
    def has_clearly_positive(self) -> bool:
        return any(o.clearly_positive for o in self.options)


@dataclass(frozen=True)
class QuestionVersion:
    """An exact wording of a question, valid for a span of years."""

    id: str  # explicit in the file, stable: "<questionnaire>.<number>.v<k>"
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
        # worked out once per year (the questionnaire never changes); a new list each call
        by_year: dict[int, tuple[Question, ...]] = self.__dict__.setdefault("_by_year", {})
        found = by_year.get(year)
        if found is None:
            found = by_year[year] = self._questions_in(year)
        return list(found)

    def _questions_in(self, year: int) -> tuple[Question, ...]:
        if self.introduced is not None and year < self.introduced:
            return ()
        return tuple(q for q in self.questions if q.asked_in(year))


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

    def gate_answers(self, question: Question) -> tuple[str, str]:
        """A yes/no gate's positive and negative answers as its scale labels them ("Ja",
        "Nej"): the report shows a gate question as the share of the first."""
        options = self.scales[question.scale].options
        positive = next(o.label for o in options if o.group == "positive")
        negative = next(o.label for o in options if o.group == "negative")
        return positive, negative

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
    def from_dict(cls, data: Any) -> Instrument:
        """Build from an already parsed catalogue; raises CatalogueError (a ValueError)."""
        return _build(validate_catalogue(data))

    @classmethod
    def parse(cls, content: str | bytes, *, source: str = "nns.yaml") -> Instrument:
        """Parse catalogue YAML; every problem is reported with the line it is on."""
        return _build(parse_catalogue(content, source=source))

    @classmethod
    def load(cls, path: str | Path) -> Instrument:
        """Read a catalogue YAML file."""
        path = Path(path)
        return cls.parse(path.read_bytes(), source=path.name)


def chronological(versions: Iterable[QuestionVersion]) -> tuple[QuestionVersion, ...]:
    """Versions oldest first, whatever their order in the file (``current`` is the last)."""
    return tuple(
        sorted(versions, key=lambda v: (v.valid_from is not None, v.valid_from or 0, v.id))
    )


# -- the catalogue file's schema ------------------------------------------------
#
# A question version's identity is its explicit ``id`` (never its position in the
# list): answers reference it, so reordering or adding versions relabels nothing.

VERSION_ID = r"^[a-z][a-z0-9_]*\.[0-9]+\.v[0-9]+$"


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)


class OptionSpec(_Spec):
    code: int
    label: str = Field(min_length=1)
    group: Literal["negative", "neutral", "positive"] | None
    clearly_positive: bool = False


class ScaleSpec(_Spec):
    name: str | None = None
    options: list[OptionSpec] = Field(min_length=1)


class VersionSpec(_Spec):
    id: str = Field(pattern=VERSION_ID)
    text: str = Field(min_length=1)
    from_: int | None = Field(default=None, alias="from")
    until: int | None = None
    confirmed: bool = True


class ConditionSpec(_Spec):
    question: int
    code: int


class QuestionSpec(_Spec):
    number: int = Field(ge=1)
    indicator: int
    scale: str
    versions: list[VersionSpec] = Field(min_length=1)
    gate: bool = False
    condition: ConditionSpec | None = None
    introduced: int | None = None
    comparable_from: int | None = None


class QuestionnaireSpec(_Spec):
    key: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str = Field(min_length=1)
    short_name: str | None = None
    participant: bool = False
    introduced: int | None = None
    questions: list[QuestionSpec]


class CatalogueSpec(_Spec):
    instrument_version: str = Field(min_length=1)
    scales: dict[str, ScaleSpec]
    indicators: dict[int, str]
    no_national_measure: list[int] = Field(default_factory=list)
    questionnaires: list[QuestionnaireSpec] = Field(min_length=1)


Location = tuple[str | int, ...]


class CatalogueError(ValueError):
    """The catalogue file is invalid; ``problems`` are Swedish lines naming the place."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


_MESSAGES = {
    "missing": "fältet saknas",
    "extra_forbidden": "okänt fält",
    "int_type": "ska vara ett heltal",
    "string_type": "ska vara text",
    "bool_type": "ska vara true eller false",
    "list_type": "ska vara en lista",
    "dict_type": "ska vara en mappning (nyckel: värde)",
    "model_type": "ska vara en mappning (nyckel: värde)",
    "model_attributes_type": "ska vara en mappning (nyckel: värde)",
    "literal_error": "ska vara negative, neutral, positive eller null",
    "too_short": "får inte vara tom",
    "string_too_short": "får inte vara tom",
    "greater_than_equal": "ska vara minst 1",
}


def _swedish(error: Mapping[str, Any]) -> str:
    kind = error["type"]
    if kind == "string_pattern_mismatch":
        field_name = error["loc"][-1] if error["loc"] else ""
        if field_name == "id":
            return "ogiltigt id (formen är <enkät>.<nummer>.v<k>, t.ex. personal.3.v2)"
        return "ogiltig nyckel (små bokstäver, siffror och _)"
    return _MESSAGES.get(kind, f"ogiltigt värde ({error['msg']})")


def _describe(loc: Location) -> str:
    """A location as the file's own words: questionnaires[2].questions[0].versions[1].text."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "filen"


def validate_catalogue(data: Any, *, where: Any = None) -> CatalogueSpec:
    """Check the structure and the cross-references; raise CatalogueError listing every problem.

    ``where(loc)`` returns a line number for a location (the YAML node marks), or None.
    """

    def problem(loc: Location, message: str) -> str:
        line = where(loc) if where else None
        place = f"rad {line}: " if line else ""
        return f"{place}{_describe(loc)}: {message}"

    try:
        spec = CatalogueSpec.model_validate(data)
    except ValidationError as exc:
        raise CatalogueError(
            [problem(tuple(e["loc"]), _swedish(e)) for e in exc.errors()]
        ) from None
    found = [*_texts_no_document_holds(spec), *_cross_reference(spec)]
    problems = [problem(loc, message) for loc, message in found]
    if problems:
        raise CatalogueError(problems)
    return spec


def _texts_no_document_holds(value: Any, loc: Location = ()) -> Iterator[tuple[Location, str]]:
    """Every text of the file with a character the report's Excel and Word files cannot
    hold (indicators/text.py): a YAML escape such as "\\uffff" writes one."""
    if isinstance(value, BaseModel):
        for name, field in type(value).model_fields.items():
            yield from _texts_no_document_holds(getattr(value, name), (*loc, field.alias or name))
    elif isinstance(value, list | dict):
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            yield from _texts_no_document_holds(item, (*loc, key))
    elif isinstance(value, str):
        odd = next((c for c in value if not xml_char(c)), None)
        if odd is not None:
            yield loc, f"tecknet U+{ord(odd):04X} kan inte stå i rapportens Excel- och Word-filer"


def _cross_reference(spec: CatalogueSpec) -> list[tuple[Location, str]]:
    """References between parts of the file: scales, indicators, ids, conditions, periods."""
    found: list[tuple[Location, str]] = [
        (("no_national_measure", i), f"okänd indikator {number}")
        for i, number in enumerate(spec.no_national_measure)
        if number not in spec.indicators
    ]
    keys = [qn.key for qn in spec.questionnaires]
    seen_ids: set[str] = set()
    for qi, qn in enumerate(spec.questionnaires):
        if keys.count(qn.key) > 1:
            found.append((("questionnaires", qi, "key"), f"enkäten {qn.key} finns två gånger"))
        numbers = [q.number for q in qn.questions]
        for xi, q in enumerate(qn.questions):
            at: Location = ("questionnaires", qi, "questions", xi)
            if numbers.count(q.number) > 1:
                found.append(((*at, "number"), f"fråga {q.number} finns två gånger i {qn.key}"))
            if q.condition and q.condition.question not in numbers:
                found.append(((*at, "condition"), "villkoret pekar på en fråga som saknas"))
            found += _question_references(spec, qn.key, q, at)
            found += _version_ids(qn.key, q, at, seen_ids)
    return found


def _question_references(
    spec: CatalogueSpec, key: str, q: QuestionSpec, at: Location
) -> list[tuple[Location, str]]:
    """A question's scale and indicator exist; its versions' periods do not overlap."""
    found: list[tuple[Location, str]] = []
    if q.scale not in spec.scales:
        found.append(((*at, "scale"), f"Okänd skala {q.scale!r} för {key}.{q.number}"))
    if q.indicator not in spec.indicators:
        found.append(((*at, "indicator"), f"Okänd indikator {q.indicator}"))
    found += [((*at, "versions"), m) for m in _overlaps(q.versions)]
    return found


def _version_ids(
    key: str, q: QuestionSpec, at: Location, seen: set[str]
) -> list[tuple[Location, str]]:
    """Each id belongs to its own question and is used once in the whole file."""
    found: list[tuple[Location, str]] = []
    prefix = f"{key}.{q.number}."
    for vi, v in enumerate(q.versions):
        if not v.id.startswith(prefix):
            found.append(((*at, "versions", vi, "id"), f"id ska börja med {prefix}"))
        elif v.id in seen:
            found.append(((*at, "versions", vi, "id"), f"id {v.id} finns redan"))
        seen.add(v.id)
    return found


def _overlaps(versions: list[VersionSpec]) -> list[str]:
    """At most one wording may be valid in any year."""
    ordered = sorted(versions, key=lambda v: (v.from_ is not None, v.from_ or 0))
    return [
        f"{a.id} och {b.id} gäller samma år (sätt until: på den äldre)"
        for a, b in zip(ordered, ordered[1:], strict=False)
        if a.until is None or b.from_ is None or a.until >= b.from_
    ]


HEADING = "Instrumentfilen är felaktig och lästes inte in (ingenting har ändrats):"


def parse_catalogue(content: str | bytes, *, source: str = "nns.yaml") -> CatalogueSpec:
    """Parse and validate catalogue YAML; messages name the file and the line."""
    try:
        root = yaml.compose(content, Loader=yaml.SafeLoader)
        data = yaml.safe_load(content)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f", rad {mark.line + 1}" if mark is not None else ""
        raise CatalogueError([HEADING, f"{source}{line}: {yaml_problem(exc)}"]) from None
    except RecursionError:  # thousands of nested [ or { : no catalogue looks like that
        raise CatalogueError([HEADING, f"{source}: filen är för djupt nästlad."]) from None
    try:
        return validate_catalogue(data, where=lambda loc: _line(root, loc))
    except CatalogueError as exc:
        raise CatalogueError([HEADING, *(f"{source}, {p}" for p in exc.problems)]) from None


# PyYAML's problems (English) as whoever edits the catalogue can act on them.
_YAML_PROBLEMS = (
    ("expected ',' or ']'", "en lista inom [ ] avslutas inte med ]"),
    ("expected ',' or '}'", "en tabell inom { } avslutas inte med }"),
    ("parsing a flow", "en lista inom [ ] eller en tabell inom { } avslutas inte"),
    ("constructor for the tag", "en tagg (!…) som katalogen inte använder"),
    (
        "that cannot start any token",
        "ett tecken som inte får inleda ett värde (tabb? använd mellanslag för indrag)",
    ),
    (
        "mapping values are not allowed",
        "ett kolon där det inte får stå (sätt texten inom citattecken)",
    ),
    ("found unexpected end of stream", "ett citattecken avslutas inte"),
    ("unacceptable character", "filen är inte UTF-8-kodad eller har otillåtna tecken"),
    ("expected <block end>", "indraget stämmer inte med raderna ovanför"),
    ("found undefined alias", "ett alias (*namn) som inte är definierat"),
)


def yaml_problem(exc: yaml.YAMLError) -> str:
    """A Swedish "YAML-fel: …" for PyYAML's error."""
    said = f"{getattr(exc, 'problem', None) or ''} {getattr(exc, 'context', None) or ''} {exc}"
    for needle, problem in _YAML_PROBLEMS:
        if needle in said:
            return f"YAML-fel: {problem}."
    return "YAML-fel: filen kan inte läsas som YAML."


def _line(node: yaml.Node | None, loc: Location) -> int | None:
    """The 1-based line of the deepest YAML node along ``loc`` (a key's line for a key)."""
    if node is None:
        return None
    line = node.start_mark.line + 1
    for part in loc:
        child: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if str(key.value) == str(part):
                    child = (
                        value if isinstance(value, yaml.MappingNode | yaml.SequenceNode) else key
                    )
                    break
        elif (
            isinstance(node, yaml.SequenceNode)
            and isinstance(part, int)
            and 0 <= part < len(node.value)
        ):
            child = node.value[part]
        if child is None:
            break
        node, line = child, child.start_mark.line + 1
    return line


def _build(spec: CatalogueSpec) -> Instrument:
    """The immutable instrument from a validated catalogue."""
    scales = {
        key: Scale(
            key=key,
            name=scale.name or key,
            options=tuple(
                ScaleOption(
                    code=o.code, label=o.label, group=o.group, clearly_positive=o.clearly_positive
                )
                for o in scale.options
            ),
        )
        for key, scale in spec.scales.items()
    }
    questionnaires = tuple(
        Questionnaire(
            key=qn.key,
            name=qn.name,
            short_name=qn.short_name or qn.name,
            participant=qn.participant,
            introduced=qn.introduced,
            questions=tuple(
                Question(
                    questionnaire=qn.key,
                    number=q.number,
                    indicator=q.indicator,
                    scale=q.scale,
                    versions=chronological(
                        QuestionVersion(
                            id=v.id,
                            text=v.text,
                            valid_from=v.from_,
                            valid_until=v.until,
                            confirmed=v.confirmed,
                        )
                        for v in q.versions
                    ),
                    gate=q.gate,
                    condition_question=q.condition.question if q.condition else None,
                    condition_code=q.condition.code if q.condition else None,
                    introduced=q.introduced,
                    comparable_from=q.comparable_from,
                )
                for q in qn.questions
            ),
        )
        for qn in spec.questionnaires
    )
    return Instrument(
        version=spec.instrument_version,
        scales=scales,
        indicators=dict(spec.indicators),
        questionnaires=questionnaires,
        no_national_measure=frozenset(spec.no_national_measure),
    )

"""One validation for every way answers arrive: web form, paper entry, file import."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from indicators.instrument import GENDERS, Instrument, Questionnaire
from surveys.files.reading import is_ascii_integer, shown

GENDER_LABELS = {"kvinna": "Kvinna", "man": "Man", "annat": "Annat eller vill inte svara"}


@dataclass
class CleanSubmission:
    """A valid filled-in questionnaire: a row for every question put to the respondent."""

    questionnaire: str
    year: int
    gender: str | None
    answers: list[tuple[str, int | None]] = field(default_factory=list)  # (version id, code)

    def code_of(self, version_prefix: str) -> int | None:
        for version_id, code in self.answers:
            if version_id.startswith(version_prefix + ".v"):
                return code
        return None


class InvalidSubmission(ValueError):
    """Raised with a list of (field, Swedish message) pairs."""

    def __init__(self, errors: list[tuple[str | None, str]]):
        super().__init__("; ".join(message for _, message in errors))
        self.errors = errors


def parse_code(value: object) -> int | None | str:
    """'' / None → None; '6', 6, 6.0 → 6; anything else → the raw text (invalid)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else str(value)
    text = str(value).strip()
    if text == "":
        return None
    if is_ascii_integer(text) and len(text) < 6:
        return int(text)
    return text


def clean_submission(
    instrument: Instrument,
    *,
    questionnaire: str,
    year: int,
    answers: Mapping[int, object],
    gender: object = None,
) -> CleanSubmission:
    """Check answers against the instrument of that year; raise InvalidSubmission.

    ``answers`` maps question numbers to raw values (blank allowed). Questions
    not mentioned count as left blank. A conditional question (exit 9–10) may
    only be answered when its condition (8 = Ja) holds.
    """
    errors: list[tuple[str | None, str]] = []
    try:
        qn: Questionnaire = instrument.questionnaire(questionnaire)
    except KeyError:
        raise InvalidSubmission([("questionnaire", f"Okänd enkät: {questionnaire!r}.")]) from None
    asked = {q.number: q for q in qn.questions_in(year)}
    if not asked:
        raise InvalidSubmission([("questionnaire", f"Enkäten {qn.name} användes inte år {year}.")])
    clean_gender = _clean_gender(qn, gender, errors)
    codes: dict[int, int | None] = {}
    for number, raw in answers.items():
        question = asked.get(number)
        if question is None:
            if parse_code(raw) is not None:
                errors.append(
                    (f"q{number}", f"Fråga {number} finns inte i enkäten {qn.name} år {year}.")
                )
            continue
        code = parse_code(raw)
        scale = instrument.scales[question.scale]
        if code is not None and (isinstance(code, str) or code not in scale.codes):
            allowed = ", ".join(str(c) for c in sorted(scale.codes))
            errors.append(
                (
                    f"q{number}",
                    f"Fråga {number}: {shown(raw)} är inget giltigt svar "
                    f"(tillåtna koder: {allowed}).",
                )
            )
            continue
        codes[number] = code
    rows: list[tuple[str, int | None]] = []
    for number, question in sorted(asked.items()):
        if question.condition_question is not None:
            gate_code = codes.get(question.condition_question)
            if gate_code != question.condition_code:
                if codes.get(number) is not None:
                    errors.append(
                        (
                            f"q{number}",
                            f"Fråga {number} besvaras bara om fråga "
                            f"{question.condition_question} är Ja.",
                        )
                    )
                continue
        rows.append((question.version_for(year).id, codes.get(number)))  # type: ignore[union-attr]  # asked_in(year) checked above
    if errors:
        raise InvalidSubmission(errors)
    return CleanSubmission(questionnaire=qn.key, year=year, gender=clean_gender, answers=rows)


def _clean_gender(
    qn: Questionnaire, gender: object, errors: list[tuple[str | None, str]]
) -> str | None:
    text = "" if gender is None else str(gender).strip().lower()
    if text == "":
        return None
    if not qn.participant:
        errors.append(("gender", "Kön frågas bara i deltagarenkäterna."))
        return None
    if text not in GENDERS:
        errors.append(
            ("gender", f"Okänt kön {shown(gender)} (tillåtet: kvinna, man, annat eller tomt).")
        )
        return None
    return text

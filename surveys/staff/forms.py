"""Staff forms (Flask-WTF) with Swedish messages. The paper questionnaire's answers go
through the one answer validation (services/validation.py), not through WTForms."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, SelectField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from surveys.form_fields import WholeNumber
from surveys.services.rounds import EXPECTED_RANGE, MAX_EXPECTED

NOT_A_NUMBER = "Ange ett heltal."
FORM_RELOAD = "Formuläret är ogiltigt. Ladda om sidan och fyll i det igen."


class RoundForm(FlaskForm):
    """Start a round; choices are filled per user by the view."""

    questionnaire = SelectField(
        "Enkät", validators=[InputRequired("Välj en enkät.")], validate_choice=False
    )
    insats = SelectField("Insats", validate_choice=False)  # checked by the rounds service
    year = WholeNumber(
        "År",
        validators=[InputRequired("Ange ett år, t.ex. 2026.")],
        invalid_value_message="Ange året som ett heltal, t.ex. 2026.",  # type: ignore[call-arg]  # WTForms 3.3; stubs 3.2
        render_kw={"inputmode": "numeric"},
    )
    mode = SelectField(
        "Hur enkäten besvaras",
        validators=[InputRequired("Välj hur enkäten ska besvaras.")],
        validate_choice=False,  # the rounds service checks it, in Swedish
    )
    expected = WholeNumber(
        "Förväntat antal svarande",
        validators=[
            Optional(),
            # the rounds service's own limit and message (start_round checks it too)
            NumberRange(0, MAX_EXPECTED, EXPECTED_RANGE),
        ],
        invalid_value_message="Förväntat antal svarande ska vara ett heltal.",  # type: ignore[call-arg]  # WTForms 3.3; stubs 3.2
        render_kw={"inputmode": "numeric"},
    )
    confirm = BooleanField("Starta ändå")


class CountForm(FlaskForm):
    """How many single-use links or slips."""

    count = WholeNumber(
        "Antal",
        validators=[InputRequired(NOT_A_NUMBER)],
        invalid_value_message=NOT_A_NUMBER,  # type: ignore[call-arg]  # WTForms 3.3; stubs 3.2
        render_kw={"inputmode": "numeric"},
    )


class ConfirmForm(FlaskForm):
    """A confirmation step (Stäng, Ta bort, kiosk link): CSRF plus "confirm"."""

    confirm = BooleanField("Bekräfta")


class AddressesForm(FlaskForm):
    """Pasted e-mail addresses; ``step`` is preview, then send."""

    addresses = TextAreaField(
        "E-postadresser (en per rad, eller åtskilda med komma)",
        validators=[
            DataRequired("Klistra in minst en e-postadress."),
            Length(max=200_000, message="Högst 200 000 tecken."),
        ],
    )
    step = HiddenField(default="preview")


class PaperForm(FlaskForm):
    """The paper entry's CSRF token and idempotency key; answers are parsed separately."""

    form_key = HiddenField(
        validators=[DataRequired(FORM_RELOAD), Length(min=16, max=64, message=FORM_RELOAD)]
    )

"""Administration forms (Flask-WTF) with Swedish messages. Choices are set by the views."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    EmailField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange

from surveys.config import MIN_CELL_HIGH, MIN_CELL_LOW
from surveys.form_fields import WholeNumber
from surveys.services.settings import FORBUND_NAME_EMPTY, FORBUND_NAME_MAX, THRESHOLD_RANGE
from surveys.services.users import DEFAULT_ROLE, MIN_PASSWORD, ROLE_LABELS

ROLE_CHOICES = list(ROLE_LABELS.items())


class UserForm(FlaskForm):
    """Create a user; the users service checks the address, password and insatser."""

    email = EmailField(
        "E-postadress",
        validators=[
            DataRequired("Fyll i e-postadress."),
            Length(max=254, message="Högst 254 tecken."),
        ],
    )
    name = StringField("Namn", validators=[Length(max=200, message="Högst 200 tecken.")])
    password = PasswordField(
        f"Lösenord (minst {MIN_PASSWORD} tecken)",
        validators=[
            DataRequired("Fyll i ett lösenord."),
            Length(max=200, message="Högst 200 tecken."),
        ],
    )
    role = SelectField(
        "Roll",
        default=DEFAULT_ROLE.value,
        validate_choice=False,  # the users service checks it, in Swedish
    )
    insatser = SelectMultipleField("Insatser (för personal)", validate_choice=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Set here, not in the field: WTForms 3.3 warns about tuple choices in field arguments.
        self.role.choices = ROLE_CHOICES


class EditUserForm(FlaskForm):
    """Name, role and insatser of an existing user."""

    name = StringField("Namn", validators=[Length(max=200, message="Högst 200 tecken.")])
    role = SelectField("Roll", validate_choice=False)
    insatser = SelectMultipleField("Insatser (för personal)", validate_choice=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.role.choices = ROLE_CHOICES


class PasswordForm(FlaskForm):
    """A new password set by the administrator."""

    password = PasswordField(
        f"Nytt lösenord (minst {MIN_PASSWORD} tecken)",
        validators=[
            DataRequired("Fyll i ett lösenord."),
            Length(max=200, message="Högst 200 tecken."),
        ],
    )


class ActiveForm(FlaskForm):
    """Deactivate or reactivate (the button says which)."""


class InterventionForm(FlaskForm):
    """Create or rename an insats."""

    name = StringField(
        "Insatsens namn",
        validators=[
            DataRequired("Ange insatsens namn."),
            Length(max=200, message="Högst 200 tecken."),
        ],
    )


class ThresholdForm(FlaskForm):
    """The suppression threshold (the settings service checks the range too)."""

    min_cell = WholeNumber(
        "Visa inte resultat som bygger på färre än så här många svar",
        validators=[
            InputRequired("Ange gränsen."),
            NumberRange(MIN_CELL_LOW, MIN_CELL_HIGH, THRESHOLD_RANGE),
        ],
        invalid_value_message=THRESHOLD_RANGE,  # type: ignore[call-arg]  # WTForms 3.3; stubs 3.2
        render_kw={"inputmode": "numeric"},
    )


class ForbundForm(FlaskForm):
    """Förbundets namn: sender and text of mails, the report's heading (the settings
    service refuses an empty or too long name too)."""

    forbund_name = StringField(
        "Förbundets namn",
        validators=[
            DataRequired(FORBUND_NAME_EMPTY),
            Length(max=FORBUND_NAME_MAX, message=f"Högst {FORBUND_NAME_MAX} tecken."),
        ],
    )

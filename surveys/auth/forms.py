"""Sign-in form."""

from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Length


class LoginForm(FlaskForm):
    email = EmailField(
        "E-postadress",
        validators=[
            DataRequired("Fyll i e-postadress."),
            Length(max=254, message="Högst 254 tecken."),
        ],
    )
    password = PasswordField(
        "Lösenord",
        validators=[DataRequired("Fyll i lösenord."), Length(max=200, message="Högst 200 tecken.")],
    )

"""The account forms. Flask-WTF adds the CSRF token to each."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import EqualTo, InputRequired, Length

from app.accounts.passwords import PASSWORD_MAX, PASSWORD_MIN
from app.accounts.service import EMAIL_MAX

PASSWORD_LENGTH = f"Use a password of {PASSWORD_MIN} to {PASSWORD_MAX} characters."


class LoginForm(FlaskForm):
    email = StringField("Email", validators=[InputRequired(), Length(max=EMAIL_MAX)])
    # No length rule here: a log-in only says "wrong email or password".
    password = PasswordField("Password", validators=[InputRequired()])


class SignupForm(FlaskForm):
    email = StringField("Email", validators=[InputRequired(), Length(max=EMAIL_MAX)])
    password = PasswordField(
        "Password",
        validators=[
            InputRequired(),
            Length(min=PASSWORD_MIN, max=PASSWORD_MAX, message=PASSWORD_LENGTH),
        ],
    )
    confirm = PasswordField(
        "Repeat the password",
        validators=[InputRequired(), EqualTo("password", message="The passwords differ.")],
    )


class ChangePasswordForm(FlaskForm):
    current = PasswordField("Current password", validators=[InputRequired()])
    password = PasswordField(
        "New password",
        validators=[
            InputRequired(),
            Length(min=PASSWORD_MIN, max=PASSWORD_MAX, message=PASSWORD_LENGTH),
        ],
    )
    confirm = PasswordField(
        "Repeat the new password",
        validators=[InputRequired(), EqualTo("password", message="The passwords differ.")],
    )


class DeleteAccountForm(FlaskForm):
    password = PasswordField("Your password", validators=[InputRequired()])

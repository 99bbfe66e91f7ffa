"""The account forms. Flask-WTF adds the CSRF token to each."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import Field, PasswordField, StringField
from wtforms.validators import EqualTo, InputRequired, Length, ValidationError

from app.accounts.passwords import PASSWORD_MAX, PASSWORD_MIN
from app.accounts.service import EMAIL_MAX, AccountError, check_password

PASSWORD_HINT = (
    f"At least {PASSWORD_MIN} characters, any you like; common passwords and your email "
    "address are refused."
)


class LoginForm(FlaskForm):
    email = StringField("Email", validators=[InputRequired(), Length(max=EMAIL_MAX)])
    # No length rule here: a log-in only says "wrong email or password".
    password = PasswordField("Password", validators=[InputRequired()])


class SignupForm(FlaskForm):
    email = StringField("Email", validators=[InputRequired(), Length(max=EMAIL_MAX)])
    password = PasswordField("Password", validators=[InputRequired()], description=PASSWORD_HINT)
    # For the browser's own checks (minlength, maxlength); check_password has the last word.
    password_min, password_max = PASSWORD_MIN, PASSWORD_MAX
    confirm = PasswordField(
        "Repeat the password",
        validators=[InputRequired(), EqualTo("password", message="The passwords differ.")],
    )

    def validate_password(self, field: Field) -> None:
        try:
            check_password(field.data, self.email.data)
        except AccountError as exc:
            raise ValidationError(str(exc)) from None


class ChangePasswordForm(FlaskForm):
    current = PasswordField("Current password", validators=[InputRequired()])
    # The rules are sign-up's: service.change_password checks them with the account's email.
    password = PasswordField(
        "New password", validators=[InputRequired()], description=PASSWORD_HINT
    )
    confirm = PasswordField(
        "Repeat the new password",
        validators=[InputRequired(), EqualTo("password", message="The passwords differ.")],
    )


class DeleteAccountForm(FlaskForm):
    password = PasswordField("Your password", validators=[InputRequired()])

"""The form that makes an API key on the account page."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import Field, IntegerField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional, ValidationError

from app.keys.service import MAX_EXPIRY_DAYS, NAME_MAX
from app.resources import all_scopes


class ScopesField(Field):
    """The checked scope checkboxes (all named `scopes`), as a list; the template draws them."""

    def process_formdata(self, valuelist: list[str]) -> None:
        self.data = list(valuelist)

    def pre_validate(self, form) -> None:
        if not self.data:
            raise ValidationError("Choose at least one scope.")
        unknown = [s for s in self.data if s not in all_scopes()]
        if unknown:
            raise ValidationError(f"Unknown scope {unknown[0]!r}.")


class CreateKeyForm(FlaskForm):
    name = StringField(
        "Name",
        filters=[lambda value: value.strip() if isinstance(value, str) else value],
        validators=[DataRequired("Give the key a name."), Length(max=NAME_MAX)],
        description="To tell your keys apart, e.g. the GPT that uses it.",
    )
    scopes = ScopesField("Scopes", default=lambda: list(all_scopes()))
    expires_in_days = IntegerField(
        "Expires after (days)",
        validators=[Optional(), NumberRange(min=1, max=MAX_EXPIRY_DAYS)],
        description="Leave empty for a key that does not expire.",
    )

    @property
    def scope_choices(self) -> dict[str, str]:
        return all_scopes()

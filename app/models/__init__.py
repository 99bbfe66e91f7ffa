"""All models, imported here so Alembic and the app see one complete metadata."""

from app.models.apikey import API_KEY_PREFIX, ApiKey
from app.models.base import Base, utcnow
from app.models.oauth import AccessToken, AuthorizationCode, Consent, OAuthClient, OAuthGrant
from app.models.todo import Todo
from app.models.user import DEMO_USER_EMAIL, User

__all__ = [
    "API_KEY_PREFIX",
    "AccessToken",
    "ApiKey",
    "AuthorizationCode",
    "Base",
    "Consent",
    "DEMO_USER_EMAIL",
    "OAuthClient",
    "OAuthGrant",
    "Todo",
    "User",
    "utcnow",
]

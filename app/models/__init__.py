"""The models every resource shares: users, their log-in sessions, API keys, the OAuth records
and sign-in attempts.

A resource keeps its own model in its package (app/todos/models.py); the app imports every
resource (app/resources.py) before Alembic or a query reads the metadata.
"""

from app.models.apikey import API_KEY_PREFIX, ApiKey
from app.models.attempt import AuthAttempt
from app.models.base import ID_MAX, Base, utcnow
from app.models.oauth import (
    AccessToken,
    AuthorizationCode,
    Consent,
    OAuthClient,
    OAuthGrant,
    RefreshToken,
)
from app.models.session import UserSession
from app.models.user import DEMO_USER_EMAIL, User

__all__ = [
    "ID_MAX",
    "API_KEY_PREFIX",
    "AccessToken",
    "ApiKey",
    "AuthAttempt",
    "AuthorizationCode",
    "Base",
    "Consent",
    "DEMO_USER_EMAIL",
    "OAuthClient",
    "OAuthGrant",
    "RefreshToken",
    "User",
    "UserSession",
    "utcnow",
]

"""All models, imported here so Alembic and the app see one complete metadata."""

from app.models.base import Base
from app.models.todo import Todo
from app.models.user import DEMO_USER_EMAIL, User

__all__ = ["Base", "DEMO_USER_EMAIL", "Todo", "User"]

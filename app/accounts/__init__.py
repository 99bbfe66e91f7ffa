from app.accounts.routes import blp

__all__ = ["blp"]

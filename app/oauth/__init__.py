from app.oauth.routes import blp

__all__ = ["blp"]

from app.todos.routes import blp

__all__ = ["blp"]

"""The resources this API offers, in the order the spec lists them.

Each is a package that declares its operations (app/operations.py); adding one to this tuple
is all it takes to serve it, publish it in the spec, and list its scopes and its data.
"""

from app.todos import todos

RESOURCES = (todos,)

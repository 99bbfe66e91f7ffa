"""todo-action: a TODO API for ChatGPT, as GPT actions and as an MCP app, with its own OAuth 2
provider and API keys.

`create_app` reads as the table of contents of the application; docs/architecture.md draws
its layers.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask
from jinja2 import ChoiceLoader, FileSystemLoader
from werkzeug.middleware.proxy_fix import ProxyFix

from app.config import database_uri, environ_with_overrides, load_config

REPO_ROOT = Path(__file__).resolve().parent.parent


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app from the environment, or from `test_config` alone when one is given.

    `test_config` takes the environment variables' names (DATABASE_URL, ACTION_AUTH, ...) and
    any raw Flask config keys; the real environment is then not read at all.
    """
    environ, overrides = environ_with_overrides(test_config)
    app = Flask(__name__, instance_path=str(REPO_ROOT / "instance"))
    app.config.from_mapping(load_config(environ))
    app.config.update(overrides)

    configure_app(app)
    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_commands(app)
    return app


def configure_app(app: Flask) -> None:
    if app.config["SQLALCHEMY_DATABASE_URI"] == database_uri(None):
        # The default SQLite file lives in instance/, which a fresh clone does not have.
        Path(app.instance_path).mkdir(exist_ok=True)
    # privacy.html lives at the repository root, where operators look for it.
    app.jinja_loader = ChoiceLoader([app.jinja_loader, FileSystemLoader(str(REPO_ROOT))])
    hops = app.config["TRUSTED_PROXY_HOPS"]
    if hops:
        # The client's address (rate limits, logs) and https (secure cookies, HSTS) only.
        # Links and redirects come from SERVER_NAME and the routes; a forwarded host or
        # X-Forwarded-Prefix that a client set would otherwise reach every url_for.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    from app import json_body, request_id, security_headers
    from app.login_session import CookieSessionInterface

    request_id.init_app(app)
    json_body.init_app(app)
    security_headers.init_app(app)
    app.session_interface = CookieSessionInterface()


def register_extensions(app: Flask) -> None:
    from app import ratelimit
    from app.errors import Api
    from app.extensions import csrf, db, init_db, migrate
    from app.json_schema import OPENAPI_VERSION
    from app.oauth import server as oauth_server
    from app.spec import API_VERSION

    init_db(app)
    migrate.init_app(app, db, directory=str(REPO_ROOT / "migrations"))
    csrf.init_app(app)
    oauth_server.init_app(app)
    ratelimit.init_app(app)
    # One Api per app: it holds the app's spec, and tests build many apps in one process.
    # app/web serves the spec, made into an action spec by app/spec; flask-smorest's own copy
    # is not served.
    title = app.config["APP_TITLE"]
    spec = {"title": title, "version": API_VERSION, "openapi_version": OPENAPI_VERSION}
    app.extensions["todo_action_api"] = Api(app, spec_kwargs=spec)


def register_blueprints(app: Flask) -> None:
    from app import accounts, admin, mcp, oauth, resources, rest, web

    api = app.extensions["todo_action_api"]
    # The REST API: each resource becomes a tag and its operations in the published spec.
    for resource in resources.RESOURCES:
        api.register_blueprint(rest.blueprint(resource))
    # Pages and protocol endpoints: kept out of the spec.
    for module in (web, accounts, oauth, mcp, admin):
        app.register_blueprint(module.blp)
    app.register_blueprint(web.swagger_ui(app.config["APP_TITLE"]))


def register_errorhandlers(app: Flask) -> None:
    from app.errors import register_error_handlers

    register_error_handlers(app)


def register_commands(app: Flask) -> None:
    from app.accounts.cli import users_cli
    from app.commands import ops_cli
    from app.gptsetup import gpt_setup_command
    from app.keys.cli import keys_cli
    from app.oauth.cli import clients_cli
    from app.spec.cli import spec_cli

    app.cli.add_command(spec_cli)
    app.cli.add_command(clients_cli)
    app.cli.add_command(gpt_setup_command)
    app.cli.add_command(users_cli)
    app.cli.add_command(keys_cli)
    app.cli.add_command(ops_cli)

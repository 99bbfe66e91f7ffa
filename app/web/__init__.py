"""Pages and endpoints for people and platforms, kept out of the action spec."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, render_template, url_for
from flask_swagger_ui import get_swaggerui_blueprint

from app import resources
from app.audience import reachable_by_chatgpt
from app.cli import AppCommand
from app.extensions import db
from app.platform.health import DatabaseProbe
from app.shell import flask_command
from app.spec import app_spec_text

blp = Blueprint("web", __name__, cli_group=None)


@blp.get("/")
def index():
    return render_template("index.html")


@blp.get("/favicon.ico")
def favicon():
    # Browsers ask for this on every page without a <link rel="icon">: API docs, JSON errors.
    return current_app.send_static_file("favicon.svg")


@blp.get("/privacy")
def privacy():
    return render_template("privacy.html", resources=resources.RESOURCES)


# A platform's health check waits a few seconds at most, and counts no answer as a failure
# without saying why; answering within this says which.
HEALTH_TIMEOUT = 1.0


@blp.record_once
def _health_probe(state) -> None:
    state.app.extensions["todo_action_health"] = DatabaseProbe()


@blp.get("/healthz")
def healthz():
    probe: DatabaseProbe = current_app.extensions["todo_action_health"]
    migrations = current_app.extensions["migrate"].directory
    problem = probe.problem(db.engine, migrations, HEALTH_TIMEOUT)
    if problem:
        return jsonify(status="unavailable", message=problem), 503
    return jsonify(status="ok")


@blp.get("/openapi.json")
def openapi_json():
    return Response(app_spec_text("json"), mimetype="application/json")


@blp.get("/openapi.yaml")
def openapi_yaml():
    return Response(app_spec_text("yaml"), mimetype="application/yaml")


def swagger_ui(title: str) -> Blueprint:
    """Swagger UI at /docs/, reading the served spec, with its scripts and styles from the
    installed flask-swagger-ui package rather than a CDN the Content-Security-Policy would
    refuse. The page itself is app/templates/index.template.html, which takes the place of
    the package's own (an inline script) under the same name."""
    return get_swaggerui_blueprint(
        "/docs",
        "/openapi.json",
        config={
            "app_name": f"API docs · {title}",
            # No top bar: its box fetches any URL typed into it, which the policy refuses.
            "layout": "BaseLayout",
            "deepLinking": True,
            # Swagger UI would otherwise send the spec to validator.swagger.io for a badge.
            "validatorUrl": None,
        },
    )


def public_links() -> dict[str, str]:
    base = current_app.config["PUBLIC_URL"]
    return {
        "spec": f"{base}/openapi.json",
        "spec_yaml": f"{base}/openapi.yaml",
        "docs": f"{base}{url_for('swagger_ui.show')}",
        "privacy": f"{base}/privacy",
    }


@blp.app_context_processor
def inject_links():
    return {"links": public_links, "config": current_app.config}


@blp.cli.command("urls", cls=AppCommand)
def print_urls() -> None:
    """Print the URLs a GPT builder pastes into the GPT editor."""
    import click

    with current_app.test_request_context():
        links = public_links()
    click.echo(f"Spec (Import from URL):  {links['spec']}")
    click.echo(f"API docs:                {links['docs']}")
    click.echo(f"Privacy policy URL:      {links['privacy']}")
    if not reachable_by_chatgpt(current_app.config["PUBLIC_URL"]):
        click.echo(
            "These URLs are for this machine: ChatGPT needs PUBLIC_URL to be a public https URL "
            f"(see {flask_command('gpt-setup')})"
        )

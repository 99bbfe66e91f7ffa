"""Pages and endpoints for people and platforms, kept out of the action spec."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, Response, current_app, jsonify, render_template, url_for
from sqlalchemy.exc import SQLAlchemyError

from app.cli import AppCommand
from app.extensions import db
from app.operations import registered
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
    return render_template("privacy.html", resources=registered())


@blp.get("/healthz")
def healthz():
    try:
        db.session.execute(sa.text("SELECT 1"))
    except SQLAlchemyError:
        db.session.rollback()
        return jsonify(status="unavailable", message="The database does not answer."), 503
    return jsonify(status="ok")


@blp.get("/openapi.json")
def openapi_json():
    return Response(app_spec_text("json"), mimetype="application/json")


@blp.get("/openapi.yaml")
def openapi_yaml():
    return Response(app_spec_text("yaml"), mimetype="application/yaml")


@blp.get("/docs")
def docs():
    return render_template("docs.html", swagger_ui_url=current_app.config["SWAGGER_UI_URL"])


def public_links() -> dict[str, str]:
    base = current_app.config["PUBLIC_URL"]
    return {
        "spec": f"{base}/openapi.json",
        "spec_yaml": f"{base}/openapi.yaml",
        "docs": f"{base}{url_for('web.docs')}",
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

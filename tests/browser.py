"""Driving the pages as a person's browser does: CSRF tokens, a same-origin Referer, log-in."""

from __future__ import annotations

import re

from flask.testing import FlaskClient

from tests.factories import PASSWORD

_CSRF_INPUT_RE = re.compile(r'<input[^>]*\bname="csrf_token"[^>]*>')
_VALUE_RE = re.compile(r'\bvalue="([^"]+)"')


def browser(client: FlaskClient) -> FlaskClient:
    """`client`, made to send the Referer a browser sends: the test client speaks https
    (PUBLIC_URL is https), and Flask-WTF then insists on a same-origin Referer."""
    config = client.application.config
    host = config.get("SERVER_NAME") or "localhost"
    client.environ_base["HTTP_REFERER"] = f"{config['PREFERRED_URL_SCHEME']}://{host}/"
    return client


def csrf_token(html: str) -> str:
    """The CSRF token of the (first) form on a page."""
    field = _CSRF_INPUT_RE.search(html)
    assert field, "no CSRF token on the page"
    return _VALUE_RE.search(field.group(0)).group(1)


def post_form(
    client: FlaskClient, path: str, data: dict | None = None, *, page: str = "/login", **kwargs
):
    """POST a form with a fresh CSRF token taken from `page`."""
    form = {"csrf_token": csrf_token(client.get(page).text), **(data or {})}
    return client.post(path, data=form, **kwargs)


def log_in(client: FlaskClient, email: str = "ada@example.com", password: str = PASSWORD):
    """Log in on the log-in page; the response, a redirect."""
    browser(client)
    response = post_form(client, "/login", {"email": email, "password": password})
    assert response.status_code == 302, response.text
    return response

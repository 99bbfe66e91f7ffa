"""Headers that keep the pages from being framed, sniffed or fed foreign script.

Flask-Talisman sets them on every response, pages and JSON alike (the JSON answers lose nothing
by them). The policy allows scripts, styles, fonts and connections from this origin only, so
the templates carry no inline <script>, event handler or style attribute: page behaviour lives
in app/static/.
"""

from __future__ import annotations

from flask import Flask
from flask_talisman import DENY, Talisman

CONTENT_SECURITY_POLICY = {
    "default-src": "'self'",
    # Swagger UI's stylesheet draws its icons as data: SVGs.
    "img-src": "'self' data:",
    "object-src": "'none'",
    "base-uri": "'none'",
    # The consent page above all: framed on another site, a click on Allow could be stolen.
    "frame-ancestors": "'none'",
    # No form-action: Chromium applies it to the redirect after a POST, and the consent form's
    # answer redirects to the GPT's callback on chatgpt.com.
}
# The consent page's URL carries the OAuth state and redirect URI: no other origin sees it.
# Not no-referrer: Flask-WTF refuses a form posted over https without a same-origin Referer.
REFERRER_POLICY = "same-origin"
# For a page that shows a secret or personal data once: no browser or proxy may keep a copy.
NO_STORE = {"Cache-Control": "no-store"}


def init_app(app: Flask) -> None:
    Talisman(
        app,
        content_security_policy=CONTENT_SECURITY_POLICY,
        frame_options=DENY,
        referrer_policy=REFERRER_POLICY,
        # Browsers keep to https for a year once a production page says so; Talisman sends it
        # only on requests that came in over https.
        strict_transport_security=app.config["APP_ENV"] == "production",
        # The PaaS router ends TLS and redirects http itself, and health checks come over
        # plain http from inside the platform.
        force_https=False,
        # The session cookie's flags are app.config's (Secure in production); Talisman would
        # otherwise rewrite them on every request.
        session_cookie_secure=False,
        session_cookie_http_only=app.config["SESSION_COOKIE_HTTPONLY"],
        session_cookie_samesite=app.config["SESSION_COOKIE_SAMESITE"],
    )

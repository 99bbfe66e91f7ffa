"""Getting tokens the way ChatGPT and a user's browser do: log-in, consent and code exchange
over HTTP against the running server."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import requests

CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
GPT_ID = "g-bench0001"
CALLBACK = f"https://chatgpt.com/aip/{GPT_ID}/oauth/callback"
STATE = "bench-state-0001"


class Browser:
    """A requests session that keeps the session cookie by hand: the app marks it Secure, and
    the bench talks plain http to loopback while telling the app (as a router would) that the
    request came in over https."""

    def __init__(self, base_url: str, router_headers: dict[str, str]) -> None:
        self.base_url = base_url
        self.http = requests.Session()
        host = urlsplit(base_url).netloc
        self.http.headers.update(router_headers)
        self.http.headers["Referer"] = f"https://{host}/"
        self.cookie: str | None = None

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = kwargs.pop("headers", {})
        if self.cookie:
            headers["Cookie"] = self.cookie
        response = self.http.request(
            method,
            self.base_url + path,
            headers=headers,
            allow_redirects=False,
            timeout=30,
            **kwargs,
        )
        set_cookie = response.headers.get("Set-Cookie")
        if set_cookie:
            self.cookie = set_cookie.split(";", 1)[0]
        return response


def _csrf(html: str) -> str:
    match = CSRF_RE.search(html)
    if not match:
        raise RuntimeError("no CSRF token on the page")
    return match.group(1)


def _location_path(response: requests.Response) -> str:
    parts = urlsplit(response.headers["Location"])
    return parts.path + (f"?{parts.query}" if parts.query else "")


def get_tokens(
    base_url: str,
    router_headers: dict[str, str],
    *,
    email: str,
    password: str,
    client_id: str,
    client_secret: str,
    resource: str | None = None,
) -> dict:
    """Sign in through /oauth/authorize -> /login -> consent -> code -> /oauth/token, for the
    REST API or, naming it, for another resource (RFC 8707: the MCP endpoint)."""
    browser = Browser(base_url, router_headers)
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": CALLBACK,
        "scope": "",
        "state": STATE,
    }
    if resource:
        query["resource"] = resource
    response = browser.request("GET", "/oauth/authorize", params=query)
    if response.status_code != 302 or "/login" not in response.headers["Location"]:
        raise RuntimeError(f"authorize did not send to log-in: {response.status_code}")
    login_path = _location_path(response)
    page = browser.request("GET", login_path)
    response = browser.request(
        "POST",
        login_path,
        data={"email": email, "password": password, "csrf_token": _csrf(page.text)},
    )
    if response.status_code != 302:
        raise RuntimeError(f"log-in failed: {response.status_code} {response.text[:300]}")
    response = browser.request("GET", "/oauth/authorize", params=query)
    if response.status_code == 200:
        response = browser.request(
            "POST",
            "/oauth/authorize",
            params=query,
            data={"decision": "allow", "csrf_token": _csrf(response.text)},
        )
    if response.status_code != 302:
        raise RuntimeError(f"consent failed: {response.status_code} {response.text[:300]}")
    values = {k: v[0] for k, v in parse_qs(urlsplit(response.headers["Location"]).query).items()}
    if values.get("state") != STATE or "code" not in values:
        raise RuntimeError(f"no code in the redirect: {values}")
    response = requests.post(
        base_url + "/oauth/token",
        headers=router_headers,
        data={
            "grant_type": "authorization_code",
            "code": values["code"],
            "redirect_uri": CALLBACK,
            "client_id": client_id,
            "client_secret": client_secret,
            **({"resource": resource} if resource else {}),
        },
        timeout=30,
    )
    if response.status_code != 200:
        raise RuntimeError(f"code exchange failed: {response.status_code} {response.text[:300]}")
    return response.json()

"""The todo-list widget in a real browser, framed by a host as MCP Apps hosts frame it.

The host here is a page written from the MCP Apps specification (2026-01-26): it loads the
widget's document, read from the live server's `resources/read`, in an iframe sandboxed with
`allow-scripts` (and `allow-forms`, as the ext-apps reference host gives, or without it) from
another origin that serves it under the specification's default CSP. It answers the handshake,
sends the tool's input and result, and forwards the widget's `tools/call` to the live server's
/mcp with a real OAuth token bound to /mcp, as a host does with its own connection. Every change
a person makes is checked in the database.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import requests
import sqlalchemy as sa

from app.audience import mcp_resource
from app.extensions import db
from app.todos.models import Todo
from tests.e2e.chatgpt import server_database
from tests.e2e.conftest import Server, serving, shot
from tests.factories import make_token, make_user

# What a host must apply when a widget declares no CSP of its own (the specification's default).
DEFAULT_CSP = (
    "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; media-src 'self' data:; connect-src 'none'; frame-src 'none'; "
    "object-src 'none'; base-uri 'self'"
)
WITH_FORMS = "allow-scripts allow-forms"
HOST_CONTEXT = {
    "theme": "light",
    "displayMode": "inline",
    "availableDisplayModes": ["inline"],
    "platform": "web",
    "locale": "en-US",
    "styles": {"variables": {"--color-background-primary": "#ffffff"}},
}
XSS = "<img src=x onerror=alert(1)>"
# Markup that would leave a trace if it ran: the sandbox blocks alert() without a dialog.
TRACE = '<img src=x onerror="document.body.dataset.ran=1">'


HOST_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>Host</title>
<style>
body { margin: 0; padding: 16px; background: #f4f4f4; }
body.dark { background: #121212; }
iframe { display: block; width: 100%; border: 1px solid #bbb; border-radius: 12px; height: 80px; }
</style></head>
<body>
<iframe id="view" title="Todos" sandbox="__SANDBOX__" src="__VIEW__"></iframe>
<script>
const frame = document.getElementById("view");
const toolArguments = __ARGUMENTS__;
let toolResult = null;
let initialized = false;
window.hostLog = [];
window.modelContext = [];
const send = (message) => frame.contentWindow.postMessage({ jsonrpc: "2.0", ...message }, "*");
window.sendToView = send;
window.deliverResult = (result) => {
  toolResult = result;
  if (initialized) send({ method: "ui/notifications/tool-result", params: result });
};
window.addEventListener("message", async (event) => {
  if (event.source !== frame.contentWindow) return;
  const m = event.data;
  if (!m || m.jsonrpc !== "2.0") return;
  window.hostLog.push({
    method: m.method || null, id: m.id ?? null, params: m.params || null,
    result: m.result || null, initialized,
  });
  if (m.method === "ui/initialize") {
    send({ id: m.id, result: {
      protocolVersion: "2026-01-26",
      hostInfo: { name: "test-host", version: "1" },
      hostCapabilities: { serverTools: {}, updateModelContext: { text: {} } },
      hostContext: __CONTEXT__,
    } });
  } else if (m.method === "ui/notifications/initialized") {
    initialized = true;
    send({ method: "ui/notifications/tool-input", params: { arguments: toolArguments } });
    if (toolResult) send({ method: "ui/notifications/tool-result", params: toolResult });
  } else if (m.method === "tools/call") {
    const answer = await window.callServerTool(m.params);
    send(answer.error ? { id: m.id, error: answer.error } : { id: m.id, result: answer.result });
  } else if (m.method === "ui/update-model-context") {
    window.modelContext.push(m.params);
    send({ id: m.id, result: {} });
  } else if (m.method === "ui/notifications/size-changed") {
    frame.style.height = m.params.height + "px";
  } else if (m.id !== undefined && m.method) {
    send({ id: m.id, error: { code: -32601, message: "Not supported by this host" } });
  }
});
</script>
</body></html>
"""


class Mcp:
    """The host's own connection to the live server: JSON-RPC to /mcp with Ada's token."""

    def __init__(self, server: Server, token: str) -> None:
        self.url = f"{server.url}/mcp"
        self.headers = {
            **server.client.headers,
            "Authorization": f"Bearer {token}",
            "Accept": "application/json, text/event-stream",
        }

    def __call__(self, method: str, params: dict) -> dict:
        message = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
        response = requests.post(self.url, json=message, headers=self.headers, timeout=10)
        return response.json()

    def tool(self, name: str, arguments: dict) -> dict:
        return self("tools/call", {"name": name, "arguments": arguments})["result"]


@pytest.fixture
def ada(oauth_server) -> Iterator[tuple[Server, Mcp]]:
    with server_database(oauth_server):
        user = make_user("ada@example.com")
        token = make_token(user, resource=mcp_resource())
    yield oauth_server, Mcp(oauth_server, token)


def titles(server: Server) -> dict[str, bool]:
    with server_database(server):
        return {t.title: t.done for t in db.session.scalars(sa.select(Todo).order_by(Todo.id))}


class Host:
    """The host page with the widget in it, and the widget's frame."""

    def __init__(self, page, mcp: Mcp) -> None:
        self.page = page
        self.mcp = mcp

    @property
    def frame(self):
        return self.page.frame_locator("#view")

    def log(self) -> list[dict]:
        return self.page.evaluate("window.hostLog")

    def methods(self) -> list[str]:
        return [entry["method"] for entry in self.log()]

    def wait_for(self, method: str, count: int = 1) -> None:
        self.page.wait_for_function(
            "([m, n]) => window.hostLog.filter(e => e.method === m).length >= n",
            arg=[method, count],
        )

    def context_said(self) -> list[str]:
        """Each update-model-context's text, in order (each replaces the one before it)."""
        said = self.page.evaluate("window.modelContext")
        return ["".join(block["text"] for block in entry["content"]) for entry in said]

    def sync(self) -> None:
        """Wait until the view has handled every message sent to it so far: messages are
        handled in order, and it answers a ping."""
        self.pings = getattr(self, "pings", 1000) + 1
        self.page.evaluate("id => window.sendToView({ id, method: 'ping' })", self.pings)
        self.page.wait_for_function(
            "id => window.hostLog.some(e => e.id === id && e.result)", arg=self.pings
        )

    def calls(self) -> int:
        return self.methods().count("tools/call")

    def view(self):
        return self.page.frame_locator("#view").locator("html")


@contextmanager
def hosted(
    page,
    server: Server,
    mcp: Mcp,
    *,
    arguments: dict,
    sandbox: str = WITH_FORMS,
    deliver: bool = True,
    context: dict | None = None,
) -> Iterator[Host]:
    listed = mcp("tools/list", {})["result"]["tools"]
    uri = next(t for t in listed if t["name"] == "list_todos")["_meta"]["ui"]["resourceUri"]
    (document,) = mcp("resources/read", {"uri": uri})["result"]["contents"]
    with serving(
        {"/view.html": (document["text"], {"Content-Security-Policy": DEFAULT_CSP})}
    ) as view:
        host_page = (
            HOST_PAGE.replace("__SANDBOX__", sandbox)
            .replace("__VIEW__", f"{view}/view.html")
            .replace("__ARGUMENTS__", json.dumps(arguments))
            .replace("__CONTEXT__", json.dumps(context or HOST_CONTEXT))
        )
        with serving({"/host.html": (host_page, {})}) as origin:
            page.expose_function("callServerTool", lambda params: mcp("tools/call", params))
            page.context.add_init_script(
                "document.addEventListener('securitypolicyviolation', e => {"
                " (window.cspViolations = window.cspViolations || [])"
                ".push(e.violatedDirective + ' ' + e.blockedURI); });"
            )
            dialogs: list[str] = []
            page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
            page.goto(f"{origin}/host.html")
            host = Host(page, mcp)
            host.dialogs = dialogs
            if deliver:
                host.wait_for("ui/notifications/initialized")
                page.evaluate("r => window.deliverResult(r)", mcp.tool("list_todos", arguments))
            yield host
            violations = [frame.evaluate("window.cspViolations || []") for frame in page.frames]
            assert [v for found in violations for v in found] == []
            assert dialogs == []


@pytest.mark.parametrize(
    "sandbox", [WITH_FORMS, "allow-scripts"], ids=["allow-forms", "scripts-only"]
)
def test_a_person_ticks_adds_renames_deletes_and_pages_in_the_widget(ada, page, sandbox):
    server, mcp = ada
    mcp.tool("add_todo", {"title": "Buy milk"})
    mcp.tool("add_todo", {"title": "Call the bank"})
    mcp.tool("add_todo", {"title": "Renew passport"})

    with hosted(page, server, mcp, arguments={"limit": 2}, sandbox=sandbox, deliver=False) as host:
        # Loading until the tool's result arrives; nothing sent before the handshake ended.
        host.wait_for("ui/notifications/initialized")
        assert host.frame.locator("#status").inner_text() == "Loading your todos…"
        # Nothing to act on until the list is there.
        assert host.frame.get_by_role("button", name="Add", exact=True).is_disabled()
        assert host.methods()[:2] == ["ui/initialize", "ui/notifications/initialized"]
        assert [e["initialized"] for e in host.log()[:2]] == [False, False]
        page.evaluate("r => window.deliverResult(r)", mcp.tool("list_todos", {"limit": 2}))
        labels = host.frame.locator("li label")
        labels.nth(1).wait_for()
        assert labels.all_inner_texts() == ["Buy milk", "Call the bank"]

        # The next page, with the model's own arguments.
        host.frame.get_by_role("button", name="Show more").click()
        labels.nth(2).wait_for()
        assert labels.all_inner_texts() == ["Buy milk", "Call the bank", "Renew passport"]
        assert host.frame.get_by_role("button", name="Show more").is_hidden()
        # A host that shows the view its own call's result, or the first one again, changes
        # nothing of what it shows.
        cursor = mcp.tool("list_todos", {"limit": 2})["structuredContent"]["next_cursor"]
        page_two = mcp.tool("list_todos", {"limit": 2, "cursor": cursor})
        page.evaluate("r => window.deliverResult(r)", page_two)
        page.evaluate("r => window.deliverResult(r)", mcp.tool("list_todos", {"limit": 1}))
        host.sync()
        assert labels.all_inner_texts() == ["Buy milk", "Call the bank", "Renew passport"]

        host.frame.get_by_role("checkbox", name="Buy milk").check()
        host.wait_for("ui/update-model-context")
        assert titles(server)["Buy milk"] is True

        host.frame.get_by_label("New todo").fill(XSS)
        host.frame.get_by_role("button", name="Add", exact=True).click()
        host.wait_for("ui/update-model-context", 2)
        assert XSS in titles(server)
        # Shown as text: no element came of it, and nothing ran.
        assert host.frame.locator("li label").last.inner_text() == XSS
        assert host.frame.locator("img").count() == 0
        host.frame.get_by_label("New todo").fill(TRACE)
        host.frame.get_by_label("New todo").press("Enter")
        host.wait_for("ui/update-model-context", 3)
        assert host.frame.locator("li label").last.inner_text() == TRACE
        assert host.frame.locator("body").get_attribute("data-ran") is None

        host.frame.get_by_role("button", name="Rename “Call the bank”").click()
        field = host.frame.get_by_label("New title for “Call the bank”")
        field.fill("Call the bank about the card")
        field.press("Enter")
        host.wait_for("ui/update-model-context", 4)
        assert "Call the bank about the card" in titles(server)

        host.frame.get_by_role("button", name="Delete “Renew passport”").click()
        host.wait_for("ui/update-model-context", 5)
        assert "Renew passport" not in titles(server)
        assert host.frame.locator("li label").all_inner_texts() == [
            "Buy milk",
            "Call the bank about the card",
            XSS,
            TRACE,
        ]
        # One line each time, with everything the person did since the list was shown.
        said = host.context_said()
        assert len(said) == 5 and all("\n" not in text for text in said)
        assert said[-1] == (
            "In the todo list, the user marked the todo “Buy milk” done; "
            f"added the todo “{XSS}”; added the todo “{TRACE}”; "
            "renamed the todo “Call the bank” to “Call the bank about the card”; "
            "deleted the todo “Renew passport”."
        )
        # The host sized its frame to what the view reported last: the whole list.
        height = host.frame.locator("html").evaluate(
            "h => Math.ceil(h.getBoundingClientRect().height)"
        )
        page.wait_for_function(
            "h => document.getElementById('view').style.height === h + 'px'", arg=height
        )
        shot(page, f"widget-{sandbox.replace(' ', '-')}")


def test_an_error_puts_things_back_and_says_why(ada, page):
    server, mcp = ada
    mcp.tool("add_todo", {"title": "Water the plants"})
    gone = mcp.tool("add_todo", {"title": "Gone elsewhere"})["structuredContent"]

    with hosted(page, server, mcp, arguments={}) as host:
        host.frame.locator("li label").nth(1).wait_for()
        # Deleted by another client after the list was shown.
        mcp.tool("delete_todo", {"todo_id": gone["id"]})
        box = host.frame.get_by_role("checkbox", name="Gone elsewhere")
        box.click()
        message = host.frame.locator("[aria-live=assertive]")
        message.filter(has_text="No todo").wait_for()
        assert message.inner_text().startswith("Could not change “Gone elsewhere”: No todo")
        assert not box.is_checked()

        # A rename the server refuses (a pasted tab) keeps the old title, and says why.
        host.frame.get_by_role("button", name="Rename “Water the plants”").click()
        field = host.frame.get_by_label("New title for “Water the plants”")
        field.fill("Water\tthe plants")
        field.press("Enter")
        message.filter(has_text="Could not rename").wait_for()
        assert host.frame.locator("li label").first.inner_text() == "Water the plants"
        assert titles(server) == {"Water the plants": False}
        assert host.context_said() == []


def test_the_keyboard_alone_does_everything(ada, page):
    server, mcp = ada
    mcp.tool("add_todo", {"title": "Buy milk"})

    with hosted(page, server, mcp, arguments={}) as host:
        host.frame.locator("li label").first.wait_for()
        page.locator("#view").focus()
        page.keyboard.press("Tab")  # into the frame: the new todo's field first
        page.keyboard.type("Post the letter")
        page.keyboard.press("Enter")
        host.wait_for("ui/update-model-context")
        assert "Post the letter" in titles(server)

        page.keyboard.press("Tab")  # Add
        page.keyboard.press("Tab")  # the first todo's checkbox
        page.keyboard.press("Space")
        host.wait_for("ui/update-model-context", 2)
        assert titles(server)["Buy milk"] is True

        page.keyboard.press("Tab")  # Rename
        page.keyboard.press("Enter")
        page.keyboard.type("Buy oat milk")
        calls = host.calls()
        page.keyboard.press("Escape")  # cancels: the field goes, the title stays, nothing is sent
        assert host.frame.get_by_label("New title for “Buy milk”").count() == 0
        assert host.frame.locator("li label").first.inner_text() == "Buy milk"
        page.keyboard.press("Tab")  # the focus went back to Rename: Tab reaches Delete
        assert host.frame.locator(":focus").get_attribute("aria-label") == "Delete “Buy milk”"
        page.keyboard.press("Shift+Tab")
        assert host.calls() == calls
        page.keyboard.press("Enter")  # Rename again
        page.keyboard.press("Control+A")
        page.keyboard.type("Buy oat milk")
        page.keyboard.press("Enter")
        host.wait_for("ui/update-model-context", 3)
        assert "Buy oat milk" in titles(server)

        page.keyboard.press("Tab")  # Delete
        page.keyboard.press("Enter")
        host.wait_for("ui/update-model-context", 4)
        assert set(titles(server)) == {"Post the letter"}


def test_the_hosts_theme_takes_effect_and_screens_are_kept(ada, page):
    server, mcp = ada
    milk = mcp.tool("add_todo", {"title": "Buy milk"})["structuredContent"]
    mcp.tool("add_todo", {"title": "A todo with a rather long title that has to wrap somewhere"})
    mcp.tool("update_todo", {"todo_id": milk["id"], "done": True})

    with hosted(page, server, mcp, arguments={"status": "all"}) as host:
        host.frame.locator("li label").nth(1).wait_for()
        root = host.view()
        assert root.get_attribute("data-theme") == "light"
        for width in (360, 720):
            page.set_viewport_size({"width": width, "height": 700})
            fits = host.frame.locator("body").evaluate(
                "b => document.documentElement.scrollWidth <= window.innerWidth"
            )
            assert fits, f"the widget scrolls sideways at {width}px"
            shot(page, f"widget-light-{width}")

        page.evaluate("document.body.classList.add('dark')")
        page.evaluate(
            """() => window.sendToView({
                 method: "ui/notifications/host-context-changed",
                 params: {
                   theme: "dark",
                   styles: { variables: { "--color-background-primary": "#202a36" } },
                 },
               })"""
        )
        host.frame.locator("html[data-theme=dark]").wait_for()
        background = host.frame.locator("body").evaluate("b => getComputedStyle(b).backgroundColor")
        # The host's variable where it gives one, the dark fallback where it does not.
        assert background == "rgb(32, 42, 54)"
        text = host.frame.locator("li label").first.evaluate("l => getComputedStyle(l).color")
        grey = re.fullmatch(r"rgb\((\d+), \1, \1\)", text)
        assert grey and int(grey.group(1)) > 120, text
        for width in (360, 720):
            page.set_viewport_size({"width": width, "height": 700})
            shot(page, f"widget-dark-{width}")

        # Before the host takes it away, the view answers its teardown request.
        page.evaluate(
            """() => window.sendToView(
                 { id: 99, method: "ui/resource-teardown", params: { reason: "closed" } })"""
        )
        page.wait_for_function("() => window.hostLog.some(e => e.id === 99 && e.result)")

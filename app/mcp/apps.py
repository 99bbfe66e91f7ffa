"""MCP Apps (the `io.modelcontextprotocol/ui` extension): the views a host shows for a tool's
result, inside the conversation.

An operation that declares a `Widget` (app/operations.py) has its tool linked to a `ui://`
resource, one HTML document that the host loads in a sandboxed frame and gives the tool's
result; what a person does in it goes back through the host as `tools/call`, with the host's
own sign-in. A host without the extension still gets the tool's `content` and
`structuredContent`, so nothing is gated on the client's capability: hosts are known not to
announce it (VS Code), or to announce it only at initialize, which a stateless server never
sees again.

The keys are the extension's (`ui`, on the resource as listed and as read, and on the tool)
and ChatGPT's own (`openai/*`), which it reads beside them; ChatGPT applies a CSP only from
`openai/widgetCSP`. No `ui.domain`: Claude computes its own and shows no frame for another.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask import Flask
from mcp import types
from mcp.server.apps import APP_MIME_TYPE, EXTENSION_ID

from app.audience import reachable_by_chatgpt
from app.operations import Operation, Widget
from app.resources import all_operations

__all__ = ["APP_MIME_TYPE", "EXTENSION_ID", "View", "build_views", "tool_meta"]

# Every tool may be called from a view (ChatGPT's key; the extension's default visibility,
# ["model", "app"], already allows it).
WIDGET_ACCESSIBLE = {"openai/widgetAccessible": True}


@dataclass(frozen=True)
class View:
    """A widget as served: its current URI, its document and its metadata."""

    widget: Widget
    uri: str
    html: str
    meta: dict[str, Any]

    def listed(self) -> types.Resource:
        return types.Resource(
            uri=self.uri,
            name=self.widget.name,
            title=self.widget.name.replace("-", " ").capitalize(),
            description=self.widget.description,
            mime_type=APP_MIME_TYPE,
            _meta=self.meta,
        )

    def read(self, uri: str) -> types.ReadResourceResult:
        # An older version's URI reads the current document: a host that cached the URI asks
        # for it again, and the current document reads the same tool results.
        return types.ReadResourceResult(
            contents=[
                types.TextResourceContents(
                    uri=uri, mime_type=APP_MIME_TYPE, text=self.html, _meta=self.meta
                )
            ]
        )


def uri(app_name: str, widget: Widget, version: int) -> str:
    return f"ui://{app_name}/{widget.name}-v{version}.html"


def build_views(app: Flask) -> dict[str, View]:
    """The views of the declared widgets, by every URI they answer to: the current version's
    and each older one's."""
    views: dict[str, View] = {}
    for widget in {o.widget: None for _, o in all_operations() if o.widget is not None}:
        current = uri(app.config["APP_NAME"], widget, widget.version)
        html = app.jinja_env.get_template(widget.template).render()
        view = View(widget, current, html, resource_meta(widget, app.config["PUBLIC_URL"]))
        for version in range(1, widget.version + 1):
            views[uri(app.config["APP_NAME"], widget, version)] = view
    return views


def resource_meta(widget: Widget, public_url: str) -> dict[str, Any]:
    meta: dict[str, Any] = {
        # The document is whole: no script, style, image or request goes anywhere else.
        "ui": {"csp": {"connectDomains": [], "resourceDomains": []}, "prefersBorder": True},
        "openai/widgetCSP": {"connect_domains": [], "resource_domains": []},
        "openai/widgetPrefersBorder": True,
        "openai/widgetDescription": widget.description,
    }
    if reachable_by_chatgpt(public_url):
        parts = urlsplit(public_url)
        meta["openai/widgetDomain"] = f"{parts.scheme}://{parts.netloc}"
    return meta


def tool_meta(operation: Operation, app_name: str) -> dict[str, Any]:
    """What a tool's `_meta` says of views: the one its result is shown in, if any."""
    widget = operation.widget
    if widget is None:
        return dict(WIDGET_ACCESSIBLE)
    current = uri(app_name, widget, widget.version)
    return {
        "ui": {"resourceUri": current},
        # The extension's earlier, flat key, which hosts still read; removed before its GA.
        "ui/resourceUri": current,
        "openai/outputTemplate": current,
        "openai/toolInvocation/invoking": widget.invoking,
        "openai/toolInvocation/invoked": widget.invoked,
        **WIDGET_ACCESSIBLE,
    }

"""What a GPT builder pastes into the GPT editor, for this deployment's ACTION_AUTH mode, and
what to enter in ChatGPT's developer mode to connect the same deployment as an app over MCP.

Shared by `flask --app app gpt-setup` and the admin /setup page, so both always agree.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import click
from flask import current_app
from flask.cli import with_appcontext

from app.audience import reachable_by_chatgpt
from app.cli import AppCommand
from app.config import privacy_placeholder_warning, project
from app.models import OAuthClient
from app.models.oauth import CREATED
from app.resources import all_scopes
from app.shell import flask_command
from app.spec import app_spec

# {title} is APP_TITLE.
INSTRUCTIONS = (
    "You help the user keep their TODO list. The {title} action can list, add, change, complete "
    "and delete the user's todos. Show todos as a short list with their due dates. Before "
    "deleting a todo, say which one it is."
)
CONVERSATION_STARTERS = (
    "What's on my todo list?",
    "Add “renew passport” due next Friday",
    "What is due this week?",
    "Mark the groceries todo as done",
)
API_KEY_TYPES = {"bearer": "Bearer", "basic": "Basic", "custom": "Custom"}
MCP_TEST_CHAT = "List my todos"
# What to look at when the todo list widget shows nothing (docs/chatgpt-app.md, "The widget").
WIDGET_STEP = (
    "The answer shows the todo list as a widget you can tick, add to, rename and delete from. "
    "If it stays blank: refresh the app in ChatGPT's settings so that it reads the tools "
    "again, and look in the browser console for a Content-Security-Policy error."
)
# What ChatGPT shows as the connector's callback; the id part changes when the connector is
# made again.
CONNECTOR_CALLBACK = "https://chatgpt.com/connector/oauth/XXXXXXXX"
LEGACY_CONNECTOR_CALLBACK = "https://chatgpt.com/connector_platform_oauth_redirect"


def setup_warnings(config: Mapping[str, Any]) -> list[str]:
    """What would make the values below fail in ChatGPT, each in one line with what to do."""
    warnings = []
    url = config["PUBLIC_URL"]
    if not reachable_by_chatgpt(url):
        warnings.append(
            f"PUBLIC_URL is {url}, which ChatGPT cannot reach: it calls only https URLs on the "
            "public internet, so it would refuse these values. Deploy the app (docs/deploy.md) "
            "and set PUBLIC_URL to its https URL, or, to try it from this machine, run an https "
            "tunnel to it and set PUBLIC_URL to the tunnel's URL"
        )
    if privacy := privacy_placeholder_warning(config):
        warnings.append(privacy)
    return warnings


@dataclass
class SetupGuide:
    mode: str
    fields: list[tuple[str, str]] = field(default_factory=list)
    steps: list[str] = field(default_factory=list)
    instructions: str = ""
    conversation_starters: tuple[str, ...] = CONVERSATION_STARTERS
    mcp_fields: list[tuple[str, str]] = field(default_factory=list)
    mcp_steps: list[str] = field(default_factory=list)
    mcp_test_chat: str = MCP_TEST_CHAT
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "mode": self.mode,
            "warnings": self.warnings,
            "fields": [{"field": name, "value": value} for name, value in self.fields],
            "steps": self.steps,
            "instructions": self.instructions,
            "conversation_starters": list(self.conversation_starters),
            "mcp": {
                "fields": [{"field": name, "value": value} for name, value in self.mcp_fields],
                "steps": self.mcp_steps,
                "test_chat": self.mcp_test_chat,
            },
        }


def guide(client: OAuthClient | None = None) -> SetupGuide:
    config = current_app.config
    base = config["PUBLIC_URL"]
    host = urlsplit(base).hostname
    mode = config["ACTION_AUTH"]
    result = SetupGuide(
        mode=mode,
        warnings=setup_warnings(config),
        instructions=INSTRUCTIONS.format(title=config["APP_TITLE"]),
    )
    add = result.fields.append

    add(("Schema: Import from URL", f"{base}/openapi.json"))
    if mode == "none":
        add(("Authentication type", "None"))
    elif mode == "apikey":
        kind = config["API_KEY_AUTH_TYPE"]
        add(("Authentication type", "API Key"))
        add(
            (
                "API Key",
                "a key from your account page, or: "
                f"{flask_command('keys', 'create', 'EMAIL', '--name', 'My GPT')} (shown once)",
            )
        )
        add(("Auth Type", API_KEY_TYPES[kind]))
        if kind == "custom":
            add(("Custom Header Name", config["API_KEY_HEADER"]))
        if kind == "basic":
            add(("Note", "paste the key itself; base64 of 'key:' works as well"))
    else:
        add(("Authentication type", "OAuth"))
        result.fields.extend(_client_fields(client, "My GPT"))
        add(("Authorization URL", f"{base}/oauth/authorize"))
        add(("Token URL", f"{base}/oauth/token"))
        add(("Scope", " ".join(client.scope.split() if client else all_scopes())))
        add(
            (
                "Token Exchange Method",
                "Default (POST request) — Basic authorization header works too",
            )
        )
    add(("Privacy policy", f"{base}/privacy"))

    client_id = client.client_id if client else "CLIENT_ID"
    actions = ", ".join(
        operation["operationId"]
        for item in app_spec()["paths"].values()
        for operation in item.values()
        if isinstance(operation, dict) and "operationId" in operation
    )
    if mode == "oauth":
        result.steps = [
            "In the GPT editor: Configure → Create new action → Import from URL, paste the "
            f"schema URL; Available actions lists {actions}.",
            "Authentication → OAuth: paste the values above, then Save.",
            "Save (or update) the GPT. The action now shows a Callback URL such as "
            "https://chatgpt.com/aip/g-XXXXXXXX/oauth/callback.",
            f"Allow it: {flask_command('clients', 'add-gpt', client_id, 'g-XXXXXXXX')} "
            "(this allows both chatgpt.com and chat.openai.com for that GPT). Pasting the "
            "whole URL into clients add-redirect does the same.",
            "Changing the GPT's OAuth settings can change the Callback URL: allow the new one "
            "the same way. A refused sign-in page names the command to run.",
            'Test in a new chat, not the editor preview: ask "What\'s on my todo list?", '
            f'choose "Sign in to {host}", log in and press Allow.',
        ]
    elif mode == "apikey":
        result.steps = [
            "In the GPT editor: Configure → Create new action → Import from URL, paste the "
            "schema URL.",
            "Authentication → API Key: paste the key and pick the Auth Type above.",
            "Every user of this GPT acts as the key's owner: use OAuth for per-user lists.",
            'Test in the preview: ask "What\'s on my todo list?".',
        ]
    else:
        result.steps = [
            "In the GPT editor: Configure → Create new action → Import from URL, paste the "
            "schema URL. Authentication: None.",
            "Everyone using this GPT shares one demo list: fine for trying it out, not for real "
            "data. Use OAuth for per-user lists.",
            'Test in the preview: ask "What\'s on my todo list?".',
        ]
    add_mcp(result, client)
    return result


def _client_fields(client: OAuthClient | None, new_name: str) -> list[tuple[str, str]]:
    """The client's id and where its secret comes from, or how to make a client."""
    if client is not None:
        rotate = flask_command("clients", "rotate-secret", client.client_id)
        return [
            ("Client ID", client.client_id),
            ("Client Secret", f"shown once when the client was created; a new one: {rotate}"),
        ]
    create = flask_command("clients", "create", "--name", new_name)
    return [
        ("Client ID", f"create a client first: {create} (prints the id and secret once)"),
        ("Client Secret", "printed by clients create"),
    ]


def add_mcp(result: SetupGuide, client: OAuthClient | None) -> None:
    """ChatGPT's developer mode. By default ChatGPT registers itself: it uses its client ID
    metadata document, or dynamic client registration where it cannot (app/oauth/registration.py),
    and the builder only pastes the URL. Static credentials (a client the operator made) are
    the other way, and the only one with CLIENT_REGISTRATION=off."""
    config = current_app.config
    base = config["PUBLIC_URL"]
    host = urlsplit(base).hostname
    add = result.mcp_fields.append
    add(("MCP Server URL", f"{base}/mcp"))
    create_app_step = (
        "In ChatGPT: Settings → Apps (or Apps & Connectors) → Advanced settings: turn on "
        "Developer mode, then Create app. Paste the MCP Server URL"
    )
    test_step = f'Test in a new chat: add the app from the + menu and ask "{MCP_TEST_CHAT}"'
    if result.mode == "none":
        add(("Authentication", "No authentication (everyone shares the demo list)"))
        result.mcp_steps = [
            f"{create_app_step}, pick No authentication, then Create.",
            test_step,
            WIDGET_STEP,
        ]
        return
    client_id = client.client_id if client else "CLIENT_ID"
    allow_callbacks = [
        f"ChatGPT shows the app's callback URL, such as {CONNECTOR_CALLBACK}. Allow it: "
        f"{flask_command('clients', 'add-redirect', client_id, CONNECTOR_CALLBACK)}",
        "Older setups show the legacy callback instead; allow it the same way: "
        f"{flask_command('clients', 'add-redirect', client_id, LEGACY_CONNECTOR_CALLBACK)}",
    ]
    scopes = " ".join(client.scope.split() if client else all_scopes())
    signed_in = f"{test_step}, sign in to {host} and press Allow."
    if config["CLIENT_REGISTRATION"] == "off":
        add(("Authentication", "OAuth, with static credentials (Client ID and Client Secret)"))
        result.mcp_fields.extend(_client_fields(client, "ChatGPT app"))
        add(("Scopes", scopes))
        result.mcp_steps = [
            f"{create_app_step} and pick OAuth.",
            "In the OAuth settings, give the Client ID and Client Secret above (static "
            "credentials), then Create. ChatGPT finds the sign-in and token URLs itself.",
            *allow_callbacks,
            signed_in,
            WIDGET_STEP,
        ]
        return
    add(("Authentication", "OAuth; leave Client ID and Client Secret empty"))
    add(
        (
            "Registration",
            "ChatGPT registers itself: with its client ID metadata document, or with dynamic "
            "client registration (RFC 7591) where it cannot. This server takes ChatGPT's "
            "connector callbacks"
            + (" and any https one" if config["CLIENT_REGISTRATION"] == "open" else "")
            + f" (CLIENT_REGISTRATION={config['CLIENT_REGISTRATION']}).",
        )
    )
    add(("Scopes", " ".join(all_scopes())))
    for name, value in _client_fields(client, "ChatGPT app"):
        add((f"{name} (static credentials only)", value))
    result.mcp_steps = [
        f"{create_app_step}, pick OAuth, leave the client fields empty, then Create. ChatGPT "
        "reads this server's metadata and registers itself; it is listed on /admin as a "
        "client that registered itself.",
        signed_in,
        WIDGET_STEP,
        "To use static credentials instead (a client you manage): give its Client ID and "
        "Client Secret in the app's OAuth settings, then allow ChatGPT's callback.",
        *allow_callbacks,
    ]


def render_text(result: SetupGuide) -> str:
    width = max(len(name) for name, _ in result.fields)
    lines = [f"GPT editor values (ACTION_AUTH={result.mode}), in editor order:", ""]
    lines += [f"  {name.ljust(width)}  {value}" for name, value in result.fields]
    lines += ["", "Steps:"]
    lines += [f"  {n}. {step}" for n, step in enumerate(result.steps, 1)]
    lines += [
        "",
        "Suggested instructions:",
        f"  {result.instructions}",
        "",
        "Conversation starters:",
    ]
    lines += [f"  - {starter}" for starter in result.conversation_starters]
    width = max(len(name) for name, _ in result.mcp_fields)
    lines += ["", "Connect as a ChatGPT app (MCP), in developer mode:", ""]
    lines += [f"  {name.ljust(width)}  {value}" for name, value in result.mcp_fields]
    lines += ["", "Steps:"]
    lines += [f"  {n}. {step}" for n, step in enumerate(result.mcp_steps, 1)]
    return "\n".join(lines) + "\n"


@click.command("gpt-setup", cls=AppCommand)
@with_appcontext
@click.option(
    "--client",
    "client_id",
    default=None,
    help="OAuth client to show (default: the only one, if there is one).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def gpt_setup_command(client_id: str | None, as_json: bool) -> None:
    """Print every value to paste into the GPT editor, in editor order."""
    from app.oauth import clients as service

    client = None
    if client_id:
        try:
            client = service.find_client(client_id)
        except service.ClientError as error:
            raise click.ClickException(str(error)) from None
    elif current_app.config["ACTION_AUTH"] == "oauth":
        found = service.list_clients(origin=CREATED)
        client = found[0] if len(found) == 1 else None
    result = guide(client)
    click.echo(
        json.dumps(result.as_dict(), ensure_ascii=False) if as_json else render_text(result),
        nl=as_json,
    )
    # On stderr, so that --json output stays one JSON object (which has them too).
    for warning in result.warnings:
        click.echo(f"{project().name}: warning: {warning}", err=True)

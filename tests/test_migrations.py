"""Models and migrations describe the same schema, on every backend the suite runs on."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from app.extensions import db
from tests.oauth_helpers import refresh, sign_in, token_works


def _differences(app):
    with app.app_context(), db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(context, db.metadata)


def test_autogenerate_finds_nothing_after_upgrade(app):
    assert _differences(app) == []


def test_downgrade_to_base_and_upgrade_again(app):
    with app.app_context():
        downgrade(revision="base")
        tables = set(db.inspect(db.engine).get_table_names()) - {"alembic_version"}
        assert tables == set()
        upgrade()
    assert _differences(app) == []


def test_a_sign_in_made_before_an_upgrade_keeps_working_after_it(app, account, chatgpt):
    client_id, secret = chatgpt
    token = sign_in(app, client_id, secret)
    with app.app_context():
        # Back to where a grant held its refresh token itself, and forward again.
        downgrade(revision="0005")
        upgrade()
        db.session.remove()

    refreshed = refresh(app.test_client(), client_id, secret, token["refresh_token"])

    assert refreshed.status_code == 200, refreshed.json
    assert token_works(app, refreshed.json["access_token"])
    assert token_works(app, token["access_token"])

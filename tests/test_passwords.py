"""Passwords are stored as Argon2id hashes: full cost everywhere but the test suite."""

from __future__ import annotations

import pytest

from app import create_app
from app.accounts.passwords import hash_password, needs_rehash, verify_password
from tests.factories import PASSWORD


@pytest.mark.parametrize(
    "settings",
    [
        {"APP_ENV": "production", "SECRET_KEY": "k" * 40, "PUBLIC_URL": "https://a.example"},
        {"APP_ENV": "development"},
    ],
)
def test_outside_tests_the_hash_is_memory_hard(settings):
    with create_app({"DATABASE_URL": "sqlite://", **settings}).app_context():
        stored = hash_password(PASSWORD)
        assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
        assert verify_password(stored, PASSWORD)
        assert not verify_password(stored, PASSWORD.capitalize())
        assert PASSWORD not in stored


def test_a_cheap_test_hash_is_upgraded_when_production_sees_it(app):
    with app.app_context():
        cheap = hash_password(PASSWORD)
    assert cheap.startswith("$argon2id$")
    production = create_app(
        {
            "APP_ENV": "production",
            "SECRET_KEY": "k" * 40,
            "PUBLIC_URL": "https://a.example",
            "DATABASE_URL": "sqlite://",
        }
    )
    with production.app_context():
        assert verify_password(cheap, PASSWORD)
        assert needs_rehash(cheap)


def test_unknown_accounts_and_garbage_hashes_do_not_verify(app):
    with app.app_context():
        assert not verify_password(None, "anything at all")
        assert not verify_password("not-a-hash", "anything at all")

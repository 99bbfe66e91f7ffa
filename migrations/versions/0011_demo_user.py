"""The demo user, made with the installation rather than by the first request that needs it.

ACTION_AUTH=none lets callers without credentials share one list, the demo user's. It used to be
inserted by the credential check on first use; it is installation data, made here once. An
installation that ran the app in `none` mode has it already.

Revision ID: 0011
Revises: 0010

"""
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

DEMO_USER_EMAIL = 'demo@demo.invalid'


def upgrade():
    users = sa.table(
        'users',
        sa.column('email', sa.String),
        sa.column('is_demo', sa.Boolean),
        sa.column('is_admin', sa.Boolean),
        sa.column('created_at', sa.DateTime),
    )
    connection = op.get_bind()
    found = connection.scalar(
        sa.select(sa.func.count()).select_from(users).where(users.c.email == DEMO_USER_EMAIL)
    )
    if not found:
        # Naive UTC, as the app stores datetimes on every backend (UTCDateTime).
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        op.execute(
            users.insert().values(
                email=DEMO_USER_EMAIL, is_demo=True, is_admin=False, created_at=now
            )
        )


def downgrade():
    # The demo user stays: the code before this revision made it on first use anyway, and
    # deleting it would delete the demo list with it.
    pass

"""The resource (RFC 8707) a code was asked for and a grant's tokens are for.

Both columns are nullable: a code or grant without one is for the REST API, which is what
every sign-in made before this revision was.

Revision ID: 0009
Revises: 0008

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    # A rebuilt SQLite table keeps AUTOINCREMENT only when asked (see 0006).
    with op.batch_alter_table(
        'oauth_authorization_codes', schema=None, table_kwargs={'sqlite_autoincrement': True}
    ) as batch_op:
        batch_op.add_column(sa.Column('resource', sa.Text(), nullable=True))
    with op.batch_alter_table(
        'oauth_grants', schema=None, table_kwargs={'sqlite_autoincrement': True}
    ) as batch_op:
        batch_op.add_column(sa.Column('resource', sa.Text(), nullable=True))


def downgrade():
    # Tokens for a resource would become REST API tokens: end their sign-ins first. Foreign
    # keys are off while SQLite migrates (env.py), so no cascade does it.
    for table in ('oauth_access_tokens', 'oauth_refresh_tokens'):
        op.execute(
            f"DELETE FROM {table} WHERE grant_pk IN "
            "(SELECT id FROM oauth_grants WHERE resource IS NOT NULL)"
        )
    op.execute("DELETE FROM oauth_grants WHERE resource IS NOT NULL")
    op.execute("DELETE FROM oauth_authorization_codes WHERE resource IS NOT NULL")
    with op.batch_alter_table(
        'oauth_grants', schema=None, table_kwargs={'sqlite_autoincrement': True}
    ) as batch_op:
        batch_op.drop_column('resource')
    with op.batch_alter_table(
        'oauth_authorization_codes', schema=None, table_kwargs={'sqlite_autoincrement': True}
    ) as batch_op:
        batch_op.drop_column('resource')

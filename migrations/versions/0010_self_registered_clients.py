"""Clients that register themselves, and consent per resource.

- oauth_clients.origin: how a client came to be known (created by an admin, registered with
  RFC 7591, or known by its client ID metadata document); every client before this revision
  was created by an admin.
- oauth_clients.client_id grows to hold a metadata document's URL.
- oauth_clients.last_used_at and metadata_fresh_until: when a user last allowed it, and until
  when its fetched metadata document may be used.
- oauth_consents.resource: a consent is for one resource (RFC 8707), "" for the REST API,
  which is what every consent before this revision was for.

Revision ID: 0010
Revises: 0009

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    # A rebuilt SQLite table keeps AUTOINCREMENT only when asked (see 0006).
    with op.batch_alter_table(
        'oauth_clients', schema=None, table_kwargs={'sqlite_autoincrement': True}
    ) as batch_op:
        batch_op.alter_column(
            'client_id',
            existing_type=sa.String(length=64),
            type_=sa.String(length=1000),
            existing_nullable=False,
        )
        batch_op.add_column(
            sa.Column('origin', sa.String(length=16), server_default='created', nullable=False)
        )
        batch_op.add_column(
            sa.Column('last_used_at', sa.DateTime(), nullable=True)
        )
        batch_op.add_column(
            sa.Column('metadata_fresh_until', sa.DateTime(), nullable=True)
        )
    with op.batch_alter_table(
        'oauth_consents', schema=None, table_kwargs={'sqlite_autoincrement': True}
    ) as batch_op:
        batch_op.add_column(sa.Column('resource', sa.Text(), server_default='', nullable=False))
        batch_op.drop_constraint('uq_oauth_consents_user_id', type_='unique')
        batch_op.create_unique_constraint(
            'uq_oauth_consents_user_id', ['user_id', 'client_pk', 'resource']
        )
    # A consent from before covered every resource the client's sign-ins were for. Each live
    # MCP sign-in gets a consent of its own, so the account page lists it and its Disconnect
    # ends it; and a consent that only MCP sign-ins came of is no consent to the REST API.
    op.execute(
        "INSERT INTO oauth_consents (user_id, client_pk, scope, resource, created_at, updated_at)"
        " SELECT DISTINCT c.user_id, c.client_pk, c.scope, g.resource, c.created_at, c.updated_at"
        " FROM oauth_consents AS c JOIN oauth_grants AS g"
        " ON g.user_id = c.user_id AND g.client_pk = c.client_pk"
        " WHERE c.resource = '' AND g.resource IS NOT NULL AND g.revoked_at IS NULL"
    )
    op.execute(
        "DELETE FROM oauth_consents WHERE resource = ''"
        " AND EXISTS (SELECT 1 FROM oauth_consents AS other"
        " WHERE other.user_id = oauth_consents.user_id"
        " AND other.client_pk = oauth_consents.client_pk AND other.resource <> '')"
        " AND NOT EXISTS (SELECT 1 FROM oauth_grants AS g"
        " WHERE g.user_id = oauth_consents.user_id AND g.client_pk = oauth_consents.client_pk"
        " AND g.resource IS NULL)"
    )


def downgrade():
    # Self-registered clients could not be told from an admin's: they go, with their codes,
    # grants, tokens and consents. Foreign keys are off while SQLite migrates (env.py), so no
    # cascade does it.
    gone = "SELECT id FROM oauth_clients WHERE origin <> 'created'"
    grants = f"SELECT id FROM oauth_grants WHERE client_pk IN ({gone})"
    for table in ('oauth_access_tokens', 'oauth_refresh_tokens'):
        op.execute(f"DELETE FROM {table} WHERE grant_pk IN ({grants})")
    for table in ('oauth_grants', 'oauth_authorization_codes', 'oauth_consents'):
        op.execute(f"DELETE FROM {table} WHERE client_pk IN ({gone})")
    op.execute("DELETE FROM oauth_clients WHERE origin <> 'created'")
    # One consent per client again: the REST API's is kept where there are two.
    op.execute(
        "DELETE FROM oauth_consents WHERE resource <> '' AND EXISTS (SELECT 1 FROM oauth_consents"
        " AS other WHERE other.user_id = oauth_consents.user_id"
        " AND other.client_pk = oauth_consents.client_pk AND other.resource = '')"
    )
    op.execute(
        "DELETE FROM oauth_consents WHERE id NOT IN (SELECT MIN(id) FROM oauth_consents"
        " GROUP BY user_id, client_pk)"
    )
    with op.batch_alter_table(
        'oauth_consents', schema=None, table_kwargs={'sqlite_autoincrement': True}
    ) as batch_op:
        batch_op.drop_constraint('uq_oauth_consents_user_id', type_='unique')
        batch_op.create_unique_constraint('uq_oauth_consents_user_id', ['user_id', 'client_pk'])
        batch_op.drop_column('resource')
    with op.batch_alter_table(
        'oauth_clients', schema=None, table_kwargs={'sqlite_autoincrement': True}
    ) as batch_op:
        batch_op.drop_column('metadata_fresh_until')
        batch_op.drop_column('last_used_at')
        batch_op.drop_column('origin')
        batch_op.alter_column(
            'client_id',
            existing_type=sa.String(length=1000),
            type_=sa.String(length=64),
            existing_nullable=False,
        )

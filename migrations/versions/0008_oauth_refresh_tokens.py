"""Refresh tokens in a table of their own, the replaced ones kept.

A grant held one refresh token and the one before it. A public client's token is replaced at
each refresh; keeping every replaced one lets a token used again after any number of
replacements end the grant, and revoking any of them end it too (RFC 9700 4.14.2). Two racing
refreshes can also each get a token that works, which two columns could not hold.

Upgrading moves each grant's two tokens into the table; downgrading moves back the newest
current one and the newest replaced one.

Revision ID: 0008
Revises: 0007

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('oauth_refresh_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('grant_pk', sa.Integer(), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('issued_at', sa.DateTime(), nullable=False),
    sa.Column('rotated_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['grant_pk'], ['oauth_grants.id'], name=op.f('fk_oauth_refresh_tokens_grant_pk_oauth_grants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_oauth_refresh_tokens')),
    sa.UniqueConstraint('digest', name=op.f('uq_oauth_refresh_tokens_digest')),
    sqlite_autoincrement=True,
    )
    with op.batch_alter_table('oauth_refresh_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_oauth_refresh_tokens_grant_pk'), ['grant_pk'], unique=False)

    op.execute(
        "INSERT INTO oauth_refresh_tokens (grant_pk, digest, issued_at, rotated_at) "
        "SELECT id, previous_refresh_token_digest, created_at, refresh_rotated_at "
        "FROM oauth_grants WHERE previous_refresh_token_digest IS NOT NULL"
    )
    op.execute(
        "INSERT INTO oauth_refresh_tokens (grant_pk, digest, issued_at, rotated_at) "
        "SELECT id, refresh_token_digest, COALESCE(refresh_rotated_at, created_at), NULL "
        "FROM oauth_grants WHERE refresh_token_digest IS NOT NULL"
    )

    # The rebuilt SQLite table keeps AUTOINCREMENT only when asked (see 0006).
    with op.batch_alter_table(
        'oauth_grants', schema=None, table_kwargs={'sqlite_autoincrement': True}
    ) as batch_op:
        batch_op.drop_index(batch_op.f('ix_oauth_grants_previous_refresh_token_digest'))
        batch_op.drop_constraint(batch_op.f('uq_oauth_grants_refresh_token_digest'), type_='unique')
        batch_op.drop_column('refresh_rotated_at')
        batch_op.drop_column('previous_refresh_token_digest')
        batch_op.drop_column('refresh_token_digest')


def downgrade():
    # The rebuilt SQLite table keeps AUTOINCREMENT only when asked (see 0006).
    with op.batch_alter_table(
        'oauth_grants', schema=None, table_kwargs={'sqlite_autoincrement': True}
    ) as batch_op:
        batch_op.add_column(sa.Column('refresh_token_digest', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('previous_refresh_token_digest', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('refresh_rotated_at', sa.DateTime(), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_oauth_grants_refresh_token_digest'), ['refresh_token_digest'])
        batch_op.create_index(batch_op.f('ix_oauth_grants_previous_refresh_token_digest'), ['previous_refresh_token_digest'], unique=False)

    op.execute(
        "UPDATE oauth_grants SET "
        "refresh_token_digest = (SELECT t.digest FROM oauth_refresh_tokens t "
        "WHERE t.grant_pk = oauth_grants.id AND t.rotated_at IS NULL ORDER BY t.id DESC LIMIT 1), "
        "previous_refresh_token_digest = (SELECT t.digest FROM oauth_refresh_tokens t "
        "WHERE t.grant_pk = oauth_grants.id AND t.rotated_at IS NOT NULL "
        "ORDER BY t.id DESC LIMIT 1), "
        "refresh_rotated_at = (SELECT MAX(t.rotated_at) FROM oauth_refresh_tokens t "
        "WHERE t.grant_pk = oauth_grants.id)"
    )

    with op.batch_alter_table('oauth_refresh_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_oauth_refresh_tokens_grant_pk'))

    op.drop_table('oauth_refresh_tokens')

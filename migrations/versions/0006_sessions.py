"""Log-in sessions the server can end, and ids that are never used twice on SQLite.

`user_sessions` holds one row per log-in to the web pages; the cookie carries a random token
whose digest is the row's key, so deleting the row ends every copy of the cookie.

SQLite hands out the largest id plus one, so deleting the newest row frees its id for the next
one: a stale id (in a cookie, a GPT's memory or a log) would then name someone else's row.
AUTOINCREMENT stops that; SQLite can only add it by rebuilding each table (batch mode), which
keeps the rows, their ids and the indexes. Ids freed before this migration, above the largest
one left, may still be handed out once. PostgreSQL's sequences never go back: nothing to do.

Revision ID: 0006
Revises: 0005

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

# Every table whose ids reach a person, a client or a cookie.
TABLES = (
    'users',
    'todos',
    'api_keys',
    'oauth_clients',
    'oauth_authorization_codes',
    'oauth_grants',
    'oauth_access_tokens',
    'oauth_consents',
)


def _rebuild(autoincrement):
    if op.get_bind().dialect.name != 'sqlite':
        return
    for table in TABLES:
        # Reflection does not see AUTOINCREMENT, so it is stated on every rebuild.
        with op.batch_alter_table(
            table, recreate='always', table_kwargs={'sqlite_autoincrement': autoincrement}
        ):
            pass


def upgrade():
    _rebuild(True)
    op.create_table('user_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('token_digest', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_sessions_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_sessions')),
    sa.UniqueConstraint('token_digest', name=op.f('uq_user_sessions_token_digest')),
    sqlite_autoincrement=True
    )
    with op.batch_alter_table('user_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_user_sessions_user_id'), ['user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('user_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_user_sessions_user_id'))

    op.drop_table('user_sessions')
    _rebuild(False)

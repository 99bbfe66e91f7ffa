"""Accounts, API keys and the OAuth provider.

Revision ID: 0002
Revises: 0001

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('oauth_clients',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('client_secret_digest', sa.String(length=64), nullable=True),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('redirect_uris', sa.JSON(), nullable=False),
    sa.Column('gpt_ids', sa.JSON(), nullable=False),
    sa.Column('any_chatgpt', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('scope', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('secret_rotated_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_oauth_clients')),
    sa.UniqueConstraint('client_id', name=op.f('uq_oauth_clients_client_id'))
    )
    op.create_table('api_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('prefix', sa.String(length=32), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('scope', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=True),
    sa.Column('last_used_at', sa.DateTime(), nullable=True),
    sa.Column('revoked_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_api_keys_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_keys')),
    sa.UniqueConstraint('digest', name=op.f('uq_api_keys_digest'))
    )
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_keys_prefix'), ['prefix'], unique=False)
        batch_op.create_index(batch_op.f('ix_api_keys_user_id'), ['user_id'], unique=False)

    op.create_table('oauth_authorization_codes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code_digest', sa.String(length=64), nullable=False),
    sa.Column('client_pk', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('redirect_uri', sa.Text(), nullable=False),
    sa.Column('scope', sa.String(length=255), nullable=False),
    sa.Column('code_challenge', sa.String(length=128), nullable=True),
    sa.Column('code_challenge_method', sa.String(length=10), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.Column('used_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['client_pk'], ['oauth_clients.id'], name=op.f('fk_oauth_authorization_codes_client_pk_oauth_clients'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_oauth_authorization_codes_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_oauth_authorization_codes')),
    sa.UniqueConstraint('code_digest', name=op.f('uq_oauth_authorization_codes_code_digest'))
    )
    with op.batch_alter_table('oauth_authorization_codes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_oauth_authorization_codes_client_pk'), ['client_pk'], unique=False)
        batch_op.create_index(batch_op.f('ix_oauth_authorization_codes_user_id'), ['user_id'], unique=False)

    op.create_table('oauth_consents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('client_pk', sa.Integer(), nullable=False),
    sa.Column('scope', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['client_pk'], ['oauth_clients.id'], name=op.f('fk_oauth_consents_client_pk_oauth_clients'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_oauth_consents_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_oauth_consents')),
    sa.UniqueConstraint('user_id', 'client_pk', name=op.f('uq_oauth_consents_user_id'))
    )
    with op.batch_alter_table('oauth_consents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_oauth_consents_client_pk'), ['client_pk'], unique=False)

    op.create_table('oauth_grants',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('client_pk', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('code_id', sa.Integer(), nullable=True),
    sa.Column('scope', sa.String(length=255), nullable=False),
    sa.Column('refresh_token_digest', sa.String(length=64), nullable=True),
    sa.Column('previous_refresh_token_digest', sa.String(length=64), nullable=True),
    sa.Column('refresh_rotated_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('last_refreshed_at', sa.DateTime(), nullable=True),
    sa.Column('revoked_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['client_pk'], ['oauth_clients.id'], name=op.f('fk_oauth_grants_client_pk_oauth_clients'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['code_id'], ['oauth_authorization_codes.id'], name=op.f('fk_oauth_grants_code_id_oauth_authorization_codes'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_oauth_grants_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_oauth_grants')),
    sa.UniqueConstraint('refresh_token_digest', name=op.f('uq_oauth_grants_refresh_token_digest'))
    )
    with op.batch_alter_table('oauth_grants', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_oauth_grants_client_pk'), ['client_pk'], unique=False)
        batch_op.create_index(batch_op.f('ix_oauth_grants_code_id'), ['code_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_oauth_grants_previous_refresh_token_digest'), ['previous_refresh_token_digest'], unique=False)
        batch_op.create_index(batch_op.f('ix_oauth_grants_user_id'), ['user_id'], unique=False)

    op.create_table('oauth_access_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('grant_pk', sa.Integer(), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('scope', sa.String(length=255), nullable=False),
    sa.Column('issued_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.Column('revoked_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['grant_pk'], ['oauth_grants.id'], name=op.f('fk_oauth_access_tokens_grant_pk_oauth_grants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_oauth_access_tokens')),
    sa.UniqueConstraint('digest', name=op.f('uq_oauth_access_tokens_digest'))
    )
    with op.batch_alter_table('oauth_access_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_oauth_access_tokens_expires_at'), ['expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_oauth_access_tokens_grant_pk'), ['grant_pk'], unique=False)



def downgrade():
    with op.batch_alter_table('oauth_access_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_oauth_access_tokens_grant_pk'))
        batch_op.drop_index(batch_op.f('ix_oauth_access_tokens_expires_at'))

    op.drop_table('oauth_access_tokens')
    with op.batch_alter_table('oauth_grants', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_oauth_grants_user_id'))
        batch_op.drop_index(batch_op.f('ix_oauth_grants_previous_refresh_token_digest'))
        batch_op.drop_index(batch_op.f('ix_oauth_grants_code_id'))
        batch_op.drop_index(batch_op.f('ix_oauth_grants_client_pk'))

    op.drop_table('oauth_grants')
    with op.batch_alter_table('oauth_consents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_oauth_consents_client_pk'))

    op.drop_table('oauth_consents')
    with op.batch_alter_table('oauth_authorization_codes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_oauth_authorization_codes_user_id'))
        batch_op.drop_index(batch_op.f('ix_oauth_authorization_codes_client_pk'))

    op.drop_table('oauth_authorization_codes')
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_keys_user_id'))
        batch_op.drop_index(batch_op.f('ix_api_keys_prefix'))

    op.drop_table('api_keys')
    op.drop_table('oauth_clients')

"""Failed log-ins and sign-ups, counted in the database so limits hold across workers.

Revision ID: 0007
Revises: 0006

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('auth_attempts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('address', sa.String(length=64), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_auth_attempts')),
    sqlite_autoincrement=True,
    )
    with op.batch_alter_table('auth_attempts', schema=None) as batch_op:
        batch_op.create_index('ix_auth_attempts_action_address_created_at', ['action', 'address', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_auth_attempts_created_at'), ['created_at'], unique=False)


def downgrade():
    with op.batch_alter_table('auth_attempts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_auth_attempts_created_at'))
        batch_op.drop_index('ix_auth_attempts_action_address_created_at')

    op.drop_table('auth_attempts')

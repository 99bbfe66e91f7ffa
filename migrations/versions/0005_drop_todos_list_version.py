"""Drop the todo list version and its triggers: getTodos no longer has a response cache.

Every read now runs its query, so nothing needs to know when a user's list last changed.
Downgrading puts back exactly what 0003 and 0004 made, by running their upgrades again.

Revision ID: 0005
Revises: 0004

"""
from alembic import context, op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    context.script.get_revision('0004').module.downgrade()
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('todos_version')


def downgrade():
    context.script.get_revision('0003').module.upgrade()
    context.script.get_revision('0004').module.upgrade()

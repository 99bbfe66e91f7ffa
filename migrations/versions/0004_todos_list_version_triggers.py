"""The database gives a user's todo list a new version whenever any of its todos changes.

Until now the app did it, from an ORM hook, so a change made any other way (a Core statement,
raw SQL in a console, a bulk import) left getTodos' response cache serving the old list.
Triggers cover every way in, and let the app write a todo in one statement.

The version is random, not counted: a user id reused after a deletion never matches a list
version cached for the user who had it before. Todos never move between owners, so an update
needs only the owner of the new row.

On PostgreSQL the triggers run once per statement, and a transaction gives an owner a new
version once: its upper bits are the transaction's id, its lower 24 random. Each update of a
row that the same transaction has already updated is slower than the last, so a load of many
todos one statement at a time (executemany) would otherwise slow down as it goes.

Revision ID: 0004
Revises: 0003

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

EVENTS = ('insert', 'update', 'delete')


def upgrade():
    if op.get_context().dialect.name == 'postgresql':
        # Statement-level, with the changed rows as a transition table: a bulk insert of many
        # todos updates each owner once, not once per row; and not again later in the same
        # transaction, whose uncommitted version no reader can have seen.
        op.execute("""
            CREATE FUNCTION todos_new_list_version() RETURNS trigger LANGUAGE plpgsql AS $$
            DECLARE
                transaction bigint := pg_current_xact_id()::text::bigint;
            BEGIN
                UPDATE users
                SET todos_version = (transaction << 24) | floor(random() * 16777216)::bigint
                WHERE id IN (SELECT owner_id FROM changed)
                    AND todos_version >> 24 IS DISTINCT FROM transaction;
                RETURN NULL;
            END
            $$
        """)
        for event in EVENTS:
            rows = 'OLD' if event == 'delete' else 'NEW'
            op.execute(
                f'CREATE TRIGGER todos_{event}_new_list_version AFTER {event.upper()} ON todos '
                f'REFERENCING {rows} TABLE AS changed FOR EACH STATEMENT '
                'EXECUTE FUNCTION todos_new_list_version()'
            )
    else:
        # SQLite has row-level triggers only; random() is 64 bits, kept to the 62 of
        # app.models.user.new_list_version, so a version is never negative.
        for event in EVENTS:
            row = 'OLD' if event == 'delete' else 'NEW'
            op.execute(
                f'CREATE TRIGGER todos_{event}_new_list_version AFTER {event.upper()} ON todos '
                'BEGIN UPDATE users SET todos_version = random() & 4611686018427387903 '
                f'WHERE id = {row}.owner_id; END'
            )


def downgrade():
    for event in EVENTS:
        op.execute(f'DROP TRIGGER todos_{event}_new_list_version' + (
            ' ON todos' if op.get_context().dialect.name == 'postgresql' else ''
        ))
    if op.get_context().dialect.name == 'postgresql':
        op.execute('DROP FUNCTION todos_new_list_version()')

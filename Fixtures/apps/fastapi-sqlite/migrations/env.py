import os

from alembic import context
from sqlalchemy import create_engine

# Migrations run synchronously: the same database through the plain sqlite driver.
url = os.environ["DATABASE_URL"].replace("sqlite+aiosqlite", "sqlite")
engine = create_engine(url)
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=None)
    with context.begin_transaction():
        context.run_migrations()

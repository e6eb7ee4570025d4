"""The Alembic environment of every schema: migrations run on the connection handed over."""

from alembic import context


def run() -> None:
    config = context.config
    context.configure(
        connection=config.attributes["connection"],
        target_metadata=None,
        version_table=config.attributes.get("version_table", "alembic_version"),
    )
    with context.begin_transaction():
        context.run_migrations()

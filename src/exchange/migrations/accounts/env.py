"""Alembic environment: see exchange.migrations.environment."""

from exchange.migrations.environment import run

run()

"""Alembic migrations; `tandem migrate` applies them."""

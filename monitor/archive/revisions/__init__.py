"""Alembic's revisions of the archive's schema (versions/), applied by schema.py. PostgreSQL
archives are made and upgraded by them; SQLite archives still by migrations/ (their move under
Alembic is the next step of issue 19)."""

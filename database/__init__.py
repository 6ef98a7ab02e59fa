"""The database layer: tables, sessions, migrations and set-based queries."""

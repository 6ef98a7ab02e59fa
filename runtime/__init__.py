"""Settings and the embedded Postgres and Temporal used when none is configured."""

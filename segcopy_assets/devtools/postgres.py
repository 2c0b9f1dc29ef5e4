"""Throwaway PostgreSQL databases, for tests and benches that need a Dagster instance of their
own on a real server (``SEGCOPY_TEST_PG_URL`` in the tests; ``.ci/run`` sets it up).

The server URL's role needs ``CREATEDB``. Databases are named ``segcopy_t_<random>`` and dropped
afterwards; ``.ci/run`` also drops any a killed run left behind. No URL or password is printed or
written anywhere.

Why not ``DROP DATABASE … WITH (FORCE)``: FORCE refuses outright (``InsufficientPrivilege``) when
any backend on the database belongs to a role ours is not a member of, and an autovacuum worker
that happens to be analysing the fresh tables is such a backend (it has no role). CI failed that
way once. So the drop ends our own role's sessions with ``pg_terminate_backend`` (always allowed)
and then runs a plain ``DROP DATABASE``, which itself stops autovacuum workers and waits for them.
"""

import secrets
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from segcopy_assets.instance import driver_url

SCRATCH_PREFIX = "segcopy_t_"


def _admin_engine(server_url: str):
    import sqlalchemy as sa
    from sqlalchemy.pool import NullPool

    # CREATE / DROP DATABASE cannot run inside a transaction block
    return sa.create_engine(
        driver_url(server_url), poolclass=NullPool, isolation_level="AUTOCOMMIT"
    )


def database_url(server_url: str, database: str) -> str:
    """``server_url`` (any accepted scheme) pointing at ``database`` instead, psycopg2 driver."""
    import sqlalchemy as sa

    url = sa.engine.make_url(driver_url(server_url)).set(database=database)
    return url.render_as_string(hide_password=False)


@contextmanager
def scratch_database(server_url: str) -> Iterator[str]:
    """``with scratch_database(url) as db_url:`` a new empty database on ``url``'s server (its URL,
    with the same role), dropped on exit even if something still holds a connection."""
    name = SCRATCH_PREFIX + secrets.token_hex(6)
    engine = _admin_engine(server_url)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        try:
            yield database_url(server_url, name)
        finally:
            drop_database(engine, name)
    finally:
        engine.dispose()


DROP_ATTEMPTS = 5


def drop_database(engine, name: str) -> None:
    """Drop ``name`` after ending the sessions our role holds on it. A database another role's
    session still holds after a few tries is left with a warning (``.ci/run`` drops leftovers)
    rather than failing the test that used it."""
    import sqlalchemy as sa

    last_error: Exception | None = None
    for attempt in range(DROP_ATTEMPTS):
        with engine.connect() as conn:
            conn.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :name AND usename = current_user AND pid <> pg_backend_pid()"
                ),
                {"name": name},
            )
            try:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
                return
            except sa.exc.OperationalError as error:  # 55006: still being accessed
                last_error = error
        time.sleep(0.2 * (attempt + 1))
    warnings.warn(
        f"scratch database {name} is still in use after {DROP_ATTEMPTS} tries; left in place "
        f"({type(last_error).__name__})",
        stacklevel=2,
    )

"""Throwaway PostgreSQL databases, for tests and benches that need a Dagster instance of their
own on a real server (``SEGCOPY_TEST_PG_URL`` in the tests; ``.ci/run`` sets it up).

The server URL's role needs ``CREATEDB``. Databases are named ``segcopy_t_<random>`` and dropped
``WITH (FORCE)`` afterwards; ``.ci/run`` also drops any a killed run left behind. No URL or
password is printed or written anywhere.
"""

import secrets
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
            with engine.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        engine.dispose()

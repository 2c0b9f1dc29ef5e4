"""The scratch PostgreSQL databases the instance tests use are dropped even while sessions of our
own role still hold them (an open pool, a transaction left open), without DROP … WITH (FORCE),
which fails when an autovacuum worker is on the database (it has no role we belong to)."""

import pytest

pytestmark = pytest.mark.slow


def _exists(server_url: str, name: str) -> bool:
    import sqlalchemy as sa

    from segcopy_assets.devtools.postgres import _admin_engine

    engine = _admin_engine(server_url)
    try:
        with engine.connect() as conn:
            found = conn.execute(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
            ).first()
        return found is not None
    finally:
        engine.dispose()


def test_scratch_database_is_dropped_while_our_sessions_still_hold_it(
    pg_database, postgres_server_url
):
    import sqlalchemy as sa

    with pg_database() as url:
        name = sa.engine.make_url(url).database
        held = sa.create_engine(url)  # a pool that is never disposed, like a crashed run's
        idle = held.connect()
        idle.execute(sa.text("CREATE TABLE t (x int)"))
        idle.commit()
        in_transaction = held.connect()
        in_transaction.execute(sa.text("INSERT INTO t VALUES (1)"))  # left uncommitted
        assert _exists(postgres_server_url, name)
    assert not _exists(postgres_server_url, name)
    for connection in (idle, in_transaction):  # their server sessions are gone: drop them here
        connection.invalidate()
    held.dispose()

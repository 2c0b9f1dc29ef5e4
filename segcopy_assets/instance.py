"""The Dagster instance ``segcopy run`` and ``segcopy dev`` use: SQLite or PostgreSQL.

By default the instance is SQLite under ``$SEGCOPY_HOME/dagster`` (embedded, nothing to run).
With ``SEGCOPY_DAGSTER_PG_URL`` set, its run, event-log and schedule storage is that PostgreSQL
database instead: what parallel runs, sensors and the daemon need (SQLite's event log has one
writer at a time). Compute logs and artifacts stay in the instance directory either way.

The URL holds a password, so it is only ever referred to by the variable's name: the
``dagster.yaml`` segcopy writes says ``postgres_url: {env: SEGCOPY_DAGSTER_PG_URL}``, and no
message, log line or file segcopy writes contains the URL or its parts.

Which ``dagster.yaml`` segcopy may write: the instance directory is ``$DAGSTER_HOME`` if set,
else ``$SEGCOPY_HOME/dagster``. Its ``dagster.yaml`` is segcopy's own while it is missing,
empty (older segcopy versions touched an empty one) or begins with :data:`MANAGED_HEADER`; segcopy
rewrites such a file on every start to match the environment, so setting and unsetting the
variable switches between SQLite and PostgreSQL. Any other ``dagster.yaml`` (e.g. a copy of
``deploy/dagster.yaml`` in a production ``$DAGSTER_HOME``) is the user's and is never touched;
if it does not use ``SEGCOPY_DAGSTER_PG_URL`` while the variable is set, segcopy says so.

SQLAlchemy 2.1 maps a bare ``postgresql://`` URL to the psycopg 3 driver, while dagster-postgres
0.29 works with psycopg2 only (it is the driver it installs). segcopy therefore passes the URL on
as ``postgresql+psycopg2://`` in its own environment (inherited by ``dagster dev``, the daemon and
run workers), never in a file; ``postgres://`` is accepted the same way.
"""

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from segcopy_assets import settings
from segcopy_assets.errors import SettingsError

if TYPE_CHECKING:
    import dagster as dg

PG_URL_VAR = "SEGCOPY_DAGSTER_PG_URL"
DAGSTER_YAML = "dagster.yaml"
MANAGED_HEADER = "# segcopy's Dagster instance settings"
DRIVER_SCHEME = "postgresql+psycopg2"
_PLAIN_SCHEMES = ("postgresql", "postgres")
CONNECT_TIMEOUT_S = 5
_HOW_TO_FIX = (
    f"Start the server or fix the URL, or unset {PG_URL_VAR} to use the embedded SQLite instance."
)

Storage = Literal["sqlite", "postgres"]


class InstanceStorageError(SettingsError):
    """The Dagster instance's storage is unusable (names the variable, never its value)."""


def postgres_url() -> str | None:
    """``$SEGCOPY_DAGSTER_PG_URL``, or None when unset or blank."""
    return os.environ.get(PG_URL_VAR, "").strip() or None


def storage_config(env_var: str = PG_URL_VAR) -> dict:
    """The ``storage`` block of a Dagster instance on the PostgreSQL URL in ``env_var``."""
    return {"storage": {"postgres": {"postgres_url": {"env": env_var}}}}


def render_dagster_yaml(storage: Storage) -> str:
    """The ``dagster.yaml`` segcopy writes: the header, and the storage block for Postgres."""
    lines = [
        MANAGED_HEADER,
        "# Written by `segcopy run` / `segcopy dev` on every start to match the environment:",
        f"# PostgreSQL storage while {PG_URL_VAR} is set, else SQLite in this directory.",
        "# Remove these comment lines to make the file yours: segcopy then never changes it.",
    ]
    if storage == "postgres":
        lines += [
            "storage:",
            "  postgres:",
            "    postgres_url:",
            f"      env: {PG_URL_VAR}",
        ]
    return "\n".join(lines) + "\n"


def is_managed(path: Path) -> bool:
    """Whether ``path`` (a dagster.yaml) is segcopy's to write: missing, empty or with our header."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return True
    return not text.strip() or text.startswith(MANAGED_HEADER)


def driver_url(url: str) -> str:
    """``url`` with the psycopg2 driver named (``postgresql+psycopg2://``)."""
    scheme, sep, rest = url.partition("://")
    if not sep or not rest:
        raise InstanceStorageError(
            f"{PG_URL_VAR} is not a URL: expected postgresql://USER:PASSWORD@HOST:PORT/DATABASE"
        )
    if scheme.lower() in _PLAIN_SCHEMES:
        return f"{DRIVER_SCHEME}://{rest}"
    if scheme.lower() == DRIVER_SCHEME:
        return url
    raise InstanceStorageError(
        f"{PG_URL_VAR}: the scheme {scheme!r} is not supported; use postgresql:// (or "
        f"{DRIVER_SCHEME}://): dagster-postgres works with the psycopg2 driver"
    )


def scrub(text: str, url: str) -> str:
    """``text`` with the URL and its password replaced by ``***`` (defence in depth: driver
    messages name the host, port, user and database, not the password)."""
    from urllib.parse import unquote, urlsplit

    secrets = {url, driver_url_or_none(url)}
    try:
        password = urlsplit(url).password
    except ValueError:
        password = None
    if password:
        secrets |= {password, unquote(password)}
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def driver_url_or_none(url: str) -> str | None:
    try:
        return driver_url(url)
    except InstanceStorageError:
        return None


def _reason(exc: BaseException, url: str) -> str:
    """The driver's own words for a failed connection, on one line, without secrets."""
    cause = getattr(exc, "orig", None) or exc
    lines = [" ".join(line.split()) for line in str(cause).splitlines() if line.strip()]
    return scrub("; ".join(lines) or type(cause).__name__, url)


def check_postgres(url: str, timeout_s: int = CONNECT_TIMEOUT_S) -> None:
    """Connect once (``timeout_s``) and run ``SELECT 1``; raise :class:`InstanceStorageError`
    naming ``SEGCOPY_DAGSTER_PG_URL`` (not its value) when that fails."""
    import sqlalchemy as sa
    from sqlalchemy.pool import NullPool

    target = driver_url(url)
    try:
        engine = sa.create_engine(
            target, poolclass=NullPool, connect_args={"connect_timeout": timeout_s}
        )
        try:
            with engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
        finally:
            engine.dispose()
    except Exception as exc:
        reason = _reason(exc, url)
    else:
        return
    # raised outside the handler: no chained driver exception to carry the URL into a traceback
    raise InstanceStorageError(
        f"the Dagster instance's PostgreSQL ({PG_URL_VAR}) cannot be reached: {reason}\n"
        + _HOW_TO_FIX
    )


@dataclass(frozen=True)
class HomeInstance:
    """What :func:`use_home_instance` set up."""

    home: Path
    storage: Storage  # what segcopy's settings ask for; a user's own dagster.yaml decides itself
    managed: bool  # whether dagster.yaml is segcopy's (written to match the environment)
    notice: str | None = None  # something the user should know (printed by the CLI)


def _write_if_changed(path: Path, text: str) -> None:
    try:
        if path.read_text(encoding="utf-8") == text:
            return
    except FileNotFoundError:
        pass
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)  # atomic: a concurrent `segcopy run` reads the old or the new file


def use_home_instance(check: bool = True) -> HomeInstance:
    """Point ``DAGSTER_HOME`` at segcopy's instance directory and make its dagster.yaml match
    ``SEGCOPY_DAGSTER_PG_URL`` (see the module docstring for which files segcopy may write).

    With the variable set, the URL in this process's environment gets the psycopg2 driver
    (children inherit it) and, when ``check``, the database is connected to once so that an
    unreachable server is one :class:`InstanceStorageError` here rather than a stack trace from
    deep inside Dagster.
    """
    home = settings.dagster_home()
    home.mkdir(parents=True, exist_ok=True)
    os.environ["DAGSTER_HOME"] = str(home)
    url = postgres_url()
    storage: Storage = "postgres" if url else "sqlite"
    config = home / DAGSTER_YAML
    managed = is_managed(config)
    notice = None
    if managed:
        _write_if_changed(config, render_dagster_yaml(storage))
    if url:
        os.environ[PG_URL_VAR] = driver_url(url)
        uses_url = managed or PG_URL_VAR in config.read_text(encoding="utf-8")
        if not uses_url:
            notice = (
                f"{PG_URL_VAR} is set, but {config} is your own and does not use it: segcopy "
                "leaves it as it is, and the instance is what that file configures"
            )
        elif check:
            check_postgres(url)
    return HomeInstance(home=home, storage=storage, managed=managed, notice=notice)


def print_notice(home_instance: HomeInstance) -> None:
    if home_instance.notice:
        print(f"segcopy: {home_instance.notice}", file=sys.stderr)


def pool_connections(instance: "dg.DagsterInstance") -> None:
    """Let a PostgreSQL instance keep its connections open, as dagster-webserver does.

    Dagster's Postgres storage otherwise opens a new connection for every query (NullPool): with
    password authentication ~13 ms each, ~500 of them in a sample ``segcopy run``, which doubled
    its time. No statement timeout (0): a run's queries are not a web page's. A no-op on SQLite.
    """
    instance.optimize_for_webserver(statement_timeout=0, pool_recycle=3600, max_overflow=10)


@contextmanager
def open_instance() -> "Iterator[dg.DagsterInstance]":
    """``DagsterInstance.get()`` (after :func:`use_home_instance`); on PostgreSQL, a failure to
    open it (e.g. a role that may not create Dagster's tables) is one InstanceStorageError."""
    import dagster as dg

    url = postgres_url()
    try:
        instance = dg.DagsterInstance.get()
    except Exception as exc:
        if not url:
            raise
        reason = _reason(exc, url)
    else:
        with instance:
            if url:
                pool_connections(instance)
            yield instance
        return
    raise InstanceStorageError(
        f"the Dagster instance's PostgreSQL ({PG_URL_VAR}) could not be opened: {reason}"
    )

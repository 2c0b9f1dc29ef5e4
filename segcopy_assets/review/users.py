"""The review page's users file: user name → argon2id password hash and role.

``$SEGCOPY_HOME/review_users.toml`` by default (``--users-file`` / ``$SEGCOPY_REVIEW_USERS_FILE``),
written by ``segcopy review user add|remove`` and read by ``segcopy review serve``::

    [users."ana"]
    role = "reviewer"
    password_hash = "$argon2id$v=19$m=65536,t=3,p=4$..."

Passwords are never stored, only argon2id hashes (``argon2.PasswordHasher``, the library's
RFC 9106 defaults). The file is rewritten atomically (a temporary file in the same directory,
fsynced, then renamed) with mode 0600, under a lock so two ``user add`` at once cannot lose one.
A reader (:class:`UsersFile`) re-reads it when it changes, so adding, removing or demoting a user
takes effect on a running server at their next request.
"""

import contextlib
import fcntl
import json
import os
import re
import stat
import threading
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from segcopy_assets.core.user_names import normalise_name
from segcopy_assets.errors import SettingsError
from segcopy_assets.settings import segcopy_home

ROLES = ("reviewer", "viewer")
USERS_FILE_ENV = "SEGCOPY_REVIEW_USERS_FILE"
MIN_PASSWORD_LENGTH = 8
#: The longest password, for `user add` and sign-in alike (argon2 hashes any length; a limit
#: keeps a sign-in request from costing more than it should).
MAX_PASSWORD_LENGTH = 1024
# letters, digits and . _ @ + - (so e-mail addresses from a single sign-on proxy fit too)
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}")
HEADER = "# segcopy review users: written by `segcopy review user add`; argon2id hashes, never passwords\n"

_hasher = PasswordHasher()


class UsersFileInvalid(SettingsError):
    """The users file cannot be used as it is: the review page fails closed (it refuses to
    start, and a running server answers 503 until the file is valid again)."""


def default_users_path() -> Path:
    return segcopy_home() / "review_users.toml"


def users_path(explicit: str | None = None) -> tuple[Path, bool]:
    """The users file to use and whether it was named explicitly (flag or environment)."""
    named = explicit or os.environ.get(USERS_FILE_ENV)
    return (Path(named).expanduser().resolve(), True) if named else (default_users_path(), False)


@dataclass(frozen=True)
class User:
    name: str
    role: str
    password_hash: str | None = field(default=None, repr=False)


def check_name(name: str) -> str:
    """The normalised name (``normalise_name``), if it is a valid one."""
    if not NAME_PATTERN.fullmatch((name or "").strip()):
        raise SettingsError(
            f"user name {name!r}: use 1-128 letters, digits and . _ @ + - (starting with a "
            "letter or digit)"
        )
    return normalise_name(name)


def check_role(role: str) -> str:
    if role not in ROLES:
        raise SettingsError(f"role {role!r} is not one of {', '.join(ROLES)}")
    return role


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise SettingsError(
            f"the password is too short (at least {MIN_PASSWORD_LENGTH} characters)"
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise SettingsError(
            f"the password is too long (at most {MAX_PASSWORD_LENGTH} characters: sign-in "
            "refuses longer ones)"
        )
    return password


def hash_password(password: str, hasher: PasswordHasher | None = None) -> str:
    return (hasher or _hasher).hash(check_password(password))


def _line_of(text: str, name: str) -> int | None:
    """The line of ``[users."name"]`` (or ``[users.name]``) in the file's text."""
    pattern = re.compile(
        r"^\s*\[\s*users\s*\.\s*(?:\""
        + re.escape(name)
        + r"\"|'"
        + re.escape(name)
        + r"'|"
        + re.escape(name)
        + r")\s*\]"
    )
    for number, line in enumerate(text.splitlines(), start=1):
        if pattern.match(line):
            return number
    return None


def read_users(path: Path) -> dict[str, User]:
    """Every user of the file, by normalised name (an empty mapping if there is no file).

    Anything that makes the file unusable raises ``UsersFileInvalid`` naming the file and the
    line: invalid TOML, a bad name or role, two entries for one (normalised) name."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise UsersFileInvalid(f"cannot read the users file {path}: {reason}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsersFileInvalid(f"the users file {path} is not valid TOML: {exc}") from None
    table = data.get("users", {})
    if not isinstance(table, dict):
        raise UsersFileInvalid(f"the users file {path}: [users] must be a table")
    users: dict[str, User] = {}
    for name, entry in table.items():
        line = _line_of(text, name)
        where = f"the users file {path}" + (f", line {line}" if line else "")
        if not isinstance(entry, dict) or not NAME_PATTERN.fullmatch(name):
            raise UsersFileInvalid(f"{where}: bad entry for user {name!r}")
        role = entry.get("role", "reviewer")
        if role not in ROLES:
            raise UsersFileInvalid(
                f"{where}: user {name!r} has unknown role {role!r} (one of {', '.join(ROLES)})"
            )
        key = normalise_name(name)
        if key in users:
            raise UsersFileInvalid(f"{where}: user {name!r} is listed twice (names ignore case)")
        digest = entry.get("password_hash")
        users[key] = User(key, role, digest if isinstance(digest, str) and digest else None)
    return users


def _render(users: dict[str, User]) -> str:
    lines = [HEADER]
    for user in sorted(users.values(), key=lambda u: u.name):
        # json.dumps quotes like a TOML basic string for these characters
        lines.append(f"\n[users.{json.dumps(user.name)}]\nrole = {json.dumps(user.role)}\n")
        if user.password_hash:
            lines.append(f"password_hash = {json.dumps(user.password_hash)}\n")
    return "".join(lines)


def _write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` by ``text`` in one rename; the file is 0600 from its first byte."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            os.fchmod(out.fileno(), 0o600)  # whatever the umask
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path.with_name(f".{path.name}.lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def add_user(
    path: Path,
    name: str,
    password: str,
    role: str = "reviewer",
    hasher: PasswordHasher | None = None,
) -> bool:
    """Add ``name`` (or set their password and role); True if the user is new."""
    name = check_name(name)
    check_role(role)
    digest = hash_password(password, hasher)
    with _locked(path):
        users = read_users(path)
        new = name not in users
        users[name] = User(name, role, digest)
        _write_atomically(path, _render(users))
    return new


def remove_user(path: Path, name: str) -> bool:
    """Remove ``name``; False if there was no such user."""
    name = normalise_name(name)
    with _locked(path):
        users = read_users(path)
        if users.pop(name, None) is None:
            return False
        _write_atomically(path, _render(users))
    return True


def loose_permissions(path: Path) -> bool:
    """True if others than the owner may read or write the file."""
    try:
        return bool(path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO))
    except FileNotFoundError:
        return False


class UsersFile:
    """The users file as a running server sees it: re-read when it changes on disk.

    Fails closed: while the file is invalid, unreadable or gone (after it was seen), ``users()``
    raises ``UsersFileInvalid`` (the server answers 503), never an empty or partial set of
    users: an empty set would turn sign-in off, and a missing entry would give a proxy's user the
    default role instead of theirs."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._seen: tuple[int, int, int] | None = None
        self._users: dict[str, User] = {}
        self._error: UsersFileInvalid | None = None
        self._existed = False  # once seen, a file that disappears fails closed, not open
        self._dummy: str | None = None

    def users(self) -> dict[str, User]:
        try:
            st = self.path.stat()
            key: tuple[int, int, int] | None = (st.st_ino, st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            key = None
        except OSError as exc:
            raise UsersFileInvalid(f"cannot read the users file {self.path}: {exc}") from None
        with self._lock:
            if key != self._seen:
                try:
                    if key is None and self._existed:  # deleted (or being replaced by hand)
                        raise UsersFileInvalid(f"the users file {self.path} disappeared")
                    self._users, self._error = (read_users(self.path) if key else {}), None
                except UsersFileInvalid as exc:
                    self._users, self._error = {}, exc
                self._seen = key
                self._existed = self._existed or key is not None
            if self._error is not None:
                raise self._error
            return self._users

    def get(self, name: str) -> User | None:
        return self.users().get(normalise_name(name))

    def _dummy_hash(self) -> str:
        if self._dummy is None:
            self._dummy = _hasher.hash(os.urandom(16).hex())
        return self._dummy

    def prepare(self) -> None:
        """Make the dummy hash now, so not even the first unknown name takes longer."""
        self._dummy_hash()

    def verify(self, name: str, password: str) -> User | None:
        """The user if ``password`` is theirs. An unknown user costs one hash verification as
        well (against a dummy hash), so timing does not tell which names exist."""
        user = self.get(name)
        digest = user.password_hash if user and user.password_hash else self._dummy_hash()
        ok: bool
        try:
            ok = _hasher.verify(digest, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            ok = False
        return user if ok and user and user.password_hash else None

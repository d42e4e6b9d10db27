"""Who may see and do what: users, roles, the scope of their rights, sign-in, and the audit trail.

The users file (`<data>/users.json`) holds each user's role, the scope of their rights and a salted
argon2 hash of their password (none for users who sign in through the company's identity provider).
Without a users file the app runs in demo mode: anyone who reaches it is a credit manager. As soon as
the file exists, signing in is required.

A user's rights scope is laid under every request by `restrict`: a collector sees the customers of
their own portfolio, a team lead those of their team's collectors, and any user can be limited to some
entities, divisions or other customer dimensions. Asking for anything outside it is refused.

The users file is checked whole each time it is read (names, roles, collector, team, limits, types,
duplicates): a file that breaks a rule refuses everyone, with a message naming the file, the user entry
and the field, rather than letting an unknown role or a misspelt field through with full access.

Failed sign-ins are counted per name in `<data>/sign_in_failures.json` (a small record of its own, not
the audit trail, so that padding the trail cannot hide them), which also keeps unknown names so that an
attacker cannot tell users apart by their waits; it holds at most MAX_FAILURE_NAMES names.

The audit trail (`<data>/audit.jsonl`) records sign-ins, failed sign-ins, exports, imports, writes and
changes to users: one JSON line each, of bounded size, appended under a lock, so that the app and the
command line can both write it while the other runs. At AUDIT_ROTATE_BYTES it is renamed to
`audit.1.jsonl` (the older ones shift up to `audit.<AUDIT_KEEP>.jsonl`, the oldest is dropped); it is
read from its newest line backwards.

Every file written here (users file, failure record, audit trail, lock files) is opened without
following a symbolic link: a link there is refused, so that the app never writes through one.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import stat
import threading
import time
import unicodedata
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from analytics import contract
from analytics.labels import ROLE_LABELS
from analytics.scope import Scope

USERS_FILE = "users.json"
AUDIT_FILE = "audit.jsonl"
FAILURES_FILE = "sign_in_failures.json"

ADMIN = "admin"
CREDIT_MANAGER = "credit_manager"
TEAM_LEAD = "team_lead"
COLLECTOR = "collector"
VIEWER = "viewer"
ROLES = (ADMIN, CREDIT_MANAGER, TEAM_LEAD, COLLECTOR, VIEWER)

# What each role may do beyond reading its scope.
WRITE = "write"  # qualify items, log actions
IMPORT = "import"  # import data, generate the demo company
CONFIGURE = "configure"  # recovery scenarios, rules, settings; send reminders
COACH = "coach"  # coaching notes and objectives
ADMINISTER = "administer"  # users and the audit trail
PERMISSIONS = {
    ADMIN: {WRITE, IMPORT, CONFIGURE, COACH, ADMINISTER},
    CREDIT_MANAGER: {WRITE, IMPORT, CONFIGURE, COACH},
    TEAM_LEAD: {WRITE, COACH},
    COLLECTOR: {WRITE},
    VIEWER: set(),
}
PERMISSION_LABELS = {
    WRITE: "qualify items and log actions",
    IMPORT: "import data",
    CONFIGURE: "change recovery scenarios and send reminders",
    COACH: "record coaching notes",
    ADMINISTER: "manage users and read the audit trail",
}

MAX_USERNAME_LENGTH = 100
USERNAME = re.compile(rf"^[A-Za-z0-9][A-Za-z0-9._@+-]{{0,{MAX_USERNAME_LENGTH - 1}}}$")
MIN_PASSWORD_LENGTH = 8
# Longer than any password a person types; argon2 would hash a few MiB, but nobody's password is one.
MAX_PASSWORD_LENGTH = 1024
MAX_DISPLAY_NAME_LENGTH = 200

# Failed sign-ins: after FREE_FAILURES in a row, each attempt waits FIRST_DELAY doubled per further
# failure, at most MAX_DELAY seconds, counted from the last failure.
FREE_FAILURES = 3
FIRST_DELAY = 5.0
MAX_DELAY = 300.0
# Names kept in the failure record (about 150 bytes each): beyond, free names go first, then unknown
# names, oldest first; the users' own names are always kept.
MAX_FAILURE_NAMES = 5_000

_HASHER = PasswordHasher()
# Verified when the user is unknown, so that an unknown name takes as long as a wrong password: the
# hash of "not a password of anyone" with _HASHER's parameters, written out rather than hashed at each
# import (an argon2 hash costs about 0.2 s, which every server start's first page paid).
_DUMMY_HASH = (
    "$argon2id$v=19$m=65536,t=3,p=4$Dgng1k5rdk/qwYsDrCxI4w$9LsOlDbfPrbZqSbXnrevmZzqPt+kwb6m7GD3Gv2RQYE"
)


class AccessError(Exception):
    """A user-facing refusal: bad user definition, outside the user's rights, unknown user."""


class AccessDenied(AccessError):
    """The request reaches outside the user's rights."""


class DataFileRefused(AccessError):
    """A file of the data folder that access relies on cannot be used: nobody is let in until it is
    fixed. `public()` says so without the data folder's path or any user name (for the sign-in page)."""

    def public(self) -> str:
        raise NotImplementedError


class UsersFileInvalid(DataFileRefused):
    """The users file breaks a rule: which entry (1-based), user name and field, and what is wrong."""

    def __init__(
        self,
        path: Path,
        problem: str,
        *,
        entry: int | None = None,
        username: str | None = None,
        field: str | None = None,
    ) -> None:
        self.path, self.problem = path, problem
        self.entry, self.username, self.field = entry, username, field
        super().__init__(self._where(str(path), named=True) + f": {problem}")

    def _where(self, file: str, *, named: bool) -> str:
        parts = [file]
        if self.entry is not None:
            parts.append(f"user {self.entry}" + (f" ({self.username!r})" if named and self.username else ""))
        if self.field:
            parts.append(f"field {self.field!r}")
        return ", ".join(parts)

    def public(self) -> str:
        return (
            f"The users file is not valid ({self._where(self.path.name, named=False)}: {self.problem}), "
            "so nobody can sign in until an administrator corrects it."
        )


class UnsafeFile(DataFileRefused):
    """A file the app writes in the data folder is a symbolic link or not a regular file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        super().__init__(
            f"{path} is a symbolic link or not a regular file: refused (the app writes its users file, "
            "audit trail and sign-in record only as regular files of the data folder, never through a "
            "link); replace it with the file itself"
        )

    def public(self) -> str:
        return (
            f"{self.path.name} in the data folder is a symbolic link or not a regular file, so nobody can "
            "sign in until an administrator replaces it with the file itself."
        )


class SignInRefused(AccessError):
    """Wrong name or password, or too many failures in a row (`wait` seconds before the next try)."""

    def __init__(self, message: str, wait: float = 0.0) -> None:
        super().__init__(message)
        self.wait = wait


@dataclass(frozen=True)
class User:
    """A user and their rights. `collector` is the value of the customers' `collector` column that is
    theirs (role collector); `team` the collectors a team lead leads; `limits` restricts any role to
    some values of customer dimensions (e.g. entity FR01)."""

    username: str
    role: str
    display_name: str = ""
    collector: str | None = None
    team: tuple[str, ...] = ()
    limits: tuple[tuple[str, tuple[str, ...]], ...] = ()
    password_hash: str | None = field(default=None, repr=False, compare=False)

    @property
    def name(self) -> str:
        """The name recorded with what the user writes (a collector's: their name in the customers file,
        as the worklist and the coaching figures count actions by it)."""
        return self.display_name or self.collector or self.username

    def can(self, permission: str) -> bool:
        return permission in PERMISSIONS.get(self.role, ())

    def rights(self) -> Scope:
        """The customers this user may see, as a scope (EVERYTHING for an unlimited credit manager)."""
        if self.role not in PERMISSIONS:  # never all customers for a role nobody defined
            raise AccessDenied(f"{self.username}: unknown role {self.role!r}")
        filters: dict[str, list[str]] = {dimension: list(values) for dimension, values in self.limits}
        if self.role == COLLECTOR:
            filters["collector"] = _narrow(filters.get("collector"), [self.collector or ""])
        elif self.role == TEAM_LEAD:
            filters["collector"] = _narrow(filters.get("collector"), list(self.team) or [""])
        return Scope.of(filters)

    def describe_rights(self) -> str:
        rights = self.rights()
        return "all customers" if rights.is_everything else rights.describe()

    def to_record(self) -> dict[str, object]:
        return {
            "username": self.username,
            "role": self.role,
            "display_name": self.display_name,
            "collector": self.collector,
            "team": list(self.team),
            "limits": {dimension: list(values) for dimension, values in self.limits},
            "password_hash": self.password_hash,
        }

    @classmethod
    def from_record(cls, record: Mapping[str, object]) -> User:
        limits = record.get("limits") or {}
        return cls(
            username=str(record["username"]),
            role=str(record["role"]),
            display_name=str(record.get("display_name") or ""),
            collector=record.get("collector") or None,  # type: ignore[arg-type]
            team=tuple(record.get("team") or ()),  # type: ignore[arg-type]
            limits=Scope.of(limits).filters,  # type: ignore[arg-type]
            password_hash=record.get("password_hash") or None,  # type: ignore[arg-type]
        )


# Who is at the keyboard when no users file exists: the demo mode's credit manager.
DEMO_USER = User(username="demo", role=CREDIT_MANAGER, display_name="credit manager")


def _narrow(limit: list[str] | None, wanted: list[str]) -> list[str]:
    """A role's own restriction within an explicit limit on the same dimension."""
    if limit is None:
        return wanted
    kept = [value for value in wanted if value in limit]
    return kept or [""]


def restrict(user: User, requested: Scope) -> Scope:
    """The scope of a request, within the user's rights. A requested value outside them is refused;
    a dimension the request leaves open is narrowed to the rights."""
    rights = user.rights()
    if rights.is_everything:
        return requested
    filters: dict[str, list[str]] = {dimension: list(values) for dimension, values in requested.filters}
    for dimension, allowed in rights.filters:
        asked = filters.get(dimension)
        if asked:
            outside = sorted(set(asked) - set(allowed))
            if outside:
                raise AccessDenied(
                    f"{contract.DIMENSION_LABELS[dimension]} {', '.join(outside)} is outside the rights of "
                    f"{user.username} ({user.describe_rights()})"
                )
        else:
            filters[dimension] = list(allowed)
    return Scope.of(filters)


def require(user: User, permission: str) -> None:
    """Refuse what the user's role does not allow."""
    if not user.can(permission):
        raise AccessDenied(
            f"{user.username} ({ROLE_LABELS[user.role].lower()}) may not {PERMISSION_LABELS[permission]}"
        )


# --- files of the data folder -----------------------------------------------------------------------


def _open(path: Path, flags: int, mode: int = 0o600) -> int:
    """A descriptor of `path`, never through a symbolic link, and only of a regular file."""
    try:
        descriptor = os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise UnsafeFile(path) from None
        raise
    if not stat.S_ISREG(os.fstat(descriptor).st_mode):
        os.close(descriptor)
        raise UnsafeFile(path)
    return descriptor


def _read(path: Path) -> bytes | None:
    """The bytes of a file of the data folder (None when it does not exist)."""
    try:
        descriptor = _open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    with os.fdopen(descriptor, "rb") as handle:
        return handle.read()


@contextmanager
def _locked(path: Path, *, shared: bool = False) -> Iterator[None]:
    """Hold the lock file `path` (exclusive, or shared by readers)."""
    descriptor = _open(path, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)


def _fsync_dir(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _replace(path: Path, data: bytes) -> None:
    """Write `path` whole (temporary file, fsync, rename, fsync of the folder): a reader, or a restart
    after a crash, sees the old file or the new one. Called under the file's lock."""
    if os.path.islink(path) or (path.exists() and not path.is_file()):
        raise UnsafeFile(path)
    for stale in path.parent.glob(f".{path.stem}-*.tmp"):  # left by a writer killed mid-write
        stale.unlink(missing_ok=True)
    temporary = path.parent / f".{path.stem}-{uuid.uuid4().hex[:8]}.tmp"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, path)
    _fsync_dir(path.parent)


def _control_characters(text: str) -> bool:
    """Control, format (e.g. bidirectional overrides), unassigned or line-separator characters."""
    return any(unicodedata.category(c)[0] == "C" or unicodedata.category(c) in ("Zl", "Zp") for c in text)


# --- the users file ---------------------------------------------------------------------------------

_FIELDS = ("username", "role", "display_name", "collector", "team", "limits", "password_hash")


class Users:
    """The users file of a data folder. Every change rewrites it whole (temporary file, fsync, rename)
    under a lock, so that a reader sees the old file or the new one; every read checks it whole."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve()
        self.path = self.root / USERS_FILE

    def exists(self) -> bool:
        # A link to nowhere is a users file too (refused when read), never demo mode's full access.
        return os.path.lexists(self.path)

    def all(self) -> list[User]:
        data = _read(self.path)
        return [] if data is None else list(_parsed_users(self.path, data))

    def get(self, username: str) -> User | None:
        for user in self.all():
            if user.username.casefold() == username.strip().casefold():
                return user
        return None

    @contextmanager
    def _changing(self) -> Iterator[list[User]]:
        self.root.mkdir(parents=True, exist_ok=True)
        with _locked(self.root / ".users.lock"):
            users = self.all()
            yield users
            document = {"version": 1, "users": [user.to_record() for user in users]}
            _replace(self.path, (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))

    def add(
        self,
        username: str,
        role: str,
        *,
        password: str | None,
        display_name: str = "",
        collector: str | None = None,
        team: Sequence[str] = (),
        limits: Mapping[str, Sequence[str]] | None = None,
    ) -> User:
        """Add a user. No password: the user signs in through the identity provider only."""
        user = _checked(
            User(
                username=username.strip(),
                role=role,
                display_name=display_name.strip(),
                collector=(collector or "").strip() or None,
                team=tuple(sorted({name.strip() for name in team if name.strip()})),
                limits=Scope.of(limits or {}).filters,
                password_hash=None if password is None else hash_password(password),
            )
        )
        with self._changing() as users:
            if any(other.username.casefold() == user.username.casefold() for other in users):
                raise AccessError(f"user {user.username!r} exists already")
            users.append(user)
        return user

    def remove(self, username: str) -> User:
        with self._changing() as users:
            user = _find(users, username)
            users.remove(user)
            if not any(other.role == ADMIN for other in users) and users:
                raise AccessError(f"{user.username} is the last administrator: add another one first")
        return user

    def update(self, username: str, **changes: object) -> User:
        """Change a user's role, collector, team, limits or display name (and check the result)."""
        with self._changing() as users:
            user = _find(users, username)
            fields = user.to_record() | {key: value for key, value in changes.items() if value is not None}
            fields["password_hash"] = user.password_hash
            updated = _checked(User.from_record(fields))
            users[users.index(user)] = updated
            if user.role == ADMIN and not any(other.role == ADMIN for other in users):
                raise AccessError(f"{user.username} is the last administrator: make another one first")
        return updated

    def set_password(self, username: str, password: str) -> User:
        with self._changing() as users:
            user = _find(users, username)
            fields = user.to_record() | {"password_hash": hash_password(password)}
            updated = User.from_record(fields)
            users[users.index(user)] = updated
        return updated


def _find(users: list[User], username: str) -> User:
    for user in users:
        if user.username.casefold() == username.strip().casefold():
            return user
    known = ", ".join(user.username for user in users) or "none"
    raise AccessError(f"no user {username!r} (users: {known})")


def _problem(user: User) -> tuple[str, str] | None:
    """The first rule a user breaks, as (field, what is wrong), or None."""
    if not USERNAME.match(user.username):
        return "username", (
            f"user name {user.username!r}: letters, digits and . _ @ + - only, starting with a letter or "
            f"digit, at most {MAX_USERNAME_LENGTH} characters"
        )
    if user.role not in ROLES:
        return "role", f"unknown role {user.role!r}; choose one of: {', '.join(ROLES)}"
    if len(user.display_name) > MAX_DISPLAY_NAME_LENGTH or _control_characters(user.display_name):
        return "display_name", (f"at most {MAX_DISPLAY_NAME_LENGTH} characters, no control characters")
    if user.role == COLLECTOR and not user.collector:
        return "collector", "a collector needs a collector name (theirs in the customers file)"
    if user.role == TEAM_LEAD and not user.team:
        return "team", "a team lead needs a team (the collectors they lead)"
    if user.role != COLLECTOR and user.collector:
        return "collector", "a collector name is for the collector role only"
    if user.role != TEAM_LEAD and user.team:
        return "team", "a team is for the team lead role only"
    return None


def _checked(user: User) -> User:
    problem = _problem(user)
    if problem is not None:
        field_name, message = problem
        raise AccessError(message if field_name in ("username", "role") else f"{user.username}: {message}")
    return user


# The users of the last few users files read, keyed on their whole content: the app reads the file at
# every run (a removed user is signed out, a changed role applies at once) but checks it only when it
# changed. The bytes are the key, not the file's (inode, size, mtime_ns): file times are as coarse as
# the kernel's clock tick and inode numbers are reused, so a same-size rewrite within a tick could pass
# for the old file; reading a few kilobytes costs a small part of checking them.
_PARSED_USERS: dict[tuple[Path, bytes], tuple[User, ...]] = {}
_PARSED_USERS_KEPT = 8
_PARSED_USERS_LOCK = threading.Lock()  # the sessions of a server read it from their own threads


def _parsed_users(path: Path, data: bytes) -> tuple[User, ...]:
    """The users of `data` (the bytes of the users file `path`), checked once per content."""
    key = (path, data)
    with _PARSED_USERS_LOCK:
        users = _PARSED_USERS.get(key)
    if users is None:
        users = tuple(_parse_users(path, data))  # UsersFileInvalid is not kept: raised at every read
        with _PARSED_USERS_LOCK:
            while len(_PARSED_USERS) >= _PARSED_USERS_KEPT:
                del _PARSED_USERS[next(iter(_PARSED_USERS))]
            _PARSED_USERS[key] = users
    return users


def _parse_users(path: Path, data: bytes) -> list[User]:
    """The users of a users file, every entry and field checked; UsersFileInvalid at the first fault."""
    try:
        document = json.loads(data.decode("utf-8"))
    except ValueError as error:
        raise UsersFileInvalid(path, f"not a readable users file ({error})") from None
    if not isinstance(document, dict) or not isinstance(document.get("users"), list):
        raise UsersFileInvalid(path, 'not a users file: expected {"version": 1, "users": [...]}')
    if document.get("version", 1) != 1 or set(document) - {"version", "users"}:
        raise UsersFileInvalid(path, 'not a users file of version 1: expected {"version": 1, "users": [...]}')
    users: list[User] = []
    seen: dict[str, int] = {}
    for entry, record in enumerate(document["users"], start=1):
        user = _parse_user(path, entry, record)
        key = user.username.casefold()
        if key in seen:
            raise UsersFileInvalid(
                path,
                f"the same name as user {seen[key]}",
                entry=entry,
                username=user.username,
                field="username",
            )
        seen[key] = entry
        users.append(user)
    return users


def _parse_user(path: Path, entry: int, record: object) -> User:
    """One entry of the users file, each field checked for its type and the role's rules."""
    if not isinstance(record, dict):
        raise UsersFileInvalid(path, "not an object", entry=entry)
    username = record.get("username")

    def fault(field_name: str, problem: str) -> UsersFileInvalid:
        named = username if isinstance(username, str) else None
        return UsersFileInvalid(path, problem, entry=entry, username=named, field=field_name)

    for key in record:
        if key not in _FIELDS:
            raise fault(key, f"unknown field; the fields are: {', '.join(_FIELDS)}")
    for key in ("username", "role"):
        if not isinstance(record.get(key), str):
            raise fault(key, "missing, or not text")
    for key in ("display_name", "collector", "password_hash"):
        if not isinstance(record.get(key), str | None):
            raise fault(key, "not text")
    team = record.get("team")
    if team is not None and not (isinstance(team, list) and all(isinstance(n, str) and n for n in team)):
        raise fault("team", "not a list of collector names")
    limits = record.get("limits")
    if limits is not None:
        if not isinstance(limits, dict):
            raise fault("limits", "not an object of dimension: [values]")
        for dimension, values in limits.items():
            if dimension not in contract.DIMENSIONS:
                raise fault(
                    "limits",
                    f"unknown dimension {dimension!r}; choose among: {', '.join(contract.DIMENSIONS)}",
                )
            if not (isinstance(values, list) and values and all(isinstance(v, str) and v for v in values)):
                raise fault("limits", f"{dimension}: not a non-empty list of values")
    password_hash = record.get("password_hash")
    if password_hash and not password_hash.startswith("$argon2"):
        raise fault("password_hash", "not an argon2 hash (set it with users set-password)")
    user = User.from_record(record)
    problem = _problem(user)
    if problem is not None:
        raise fault(*problem)
    return user


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccessError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AccessError(f"a password has at most {MAX_PASSWORD_LENGTH} characters")
    return _HASHER.hash(password)


# --- sign-in ----------------------------------------------------------------------------------------


def sign_in(root: str | os.PathLike[str], username: str, password: str, *, now: float | None = None) -> User:
    """The user whose name and password these are, or SignInRefused. Every attempt is audited; after
    FREE_FAILURES failures in a row for a name, the next attempts wait (without checking the password).
    A name no user can have (too long, control characters) is refused before anything is recorded of
    it but its length."""
    now = time.time() if now is None else now
    username = (username or "").strip()
    if len(username) > MAX_USERNAME_LENGTH or _control_characters(username):
        problem = (
            f"more than {MAX_USERNAME_LENGTH} characters ({len(username):,})"
            if len(username) > MAX_USERNAME_LENGTH
            else "control characters"
        )
        audit(
            root, "(invalid name)", "sign_in_failed", f"user name refused: {problem}", source="app", now=now
        )
        raise SignInRefused(
            f"A user name has at most {MAX_USERNAME_LENGTH} characters and no control characters."
        )
    users = Users(root).all()  # a users file that breaks a rule refuses everyone (UsersFileInvalid)
    wait = _begin_attempt(root, username, {user.username.casefold() for user in users}, now)
    if wait > 0:
        audit(
            root, username or "(blank)", "sign_in_throttled", f"{wait:.0f} s to wait", source="app", now=now
        )
        raise SignInRefused(
            f"Too many failed sign-ins for {username}: try again in {wait:.0f} seconds.", wait=wait
        )
    user = next((u for u in users if username and u.username.casefold() == username.casefold()), None)
    stored = user.password_hash if user else None
    accepted = False
    if len(password or "") <= MAX_PASSWORD_LENGTH:  # no one's password is longer: not worth hashing
        try:
            _HASHER.verify(stored or _DUMMY_HASH, password or "")
            accepted = stored is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            accepted = False
    if not accepted or user is None:
        audit(
            root,
            username or "(blank)",
            "sign_in_failed",
            "unknown user or wrong password",
            source="app",
            now=now,
        )
        raise SignInRefused("Unknown user or wrong password.", wait=failure_delay(root, username, now=now))
    _forget_failures(root, username)
    audit(root, user.username, "sign_in", ROLE_LABELS[user.role], source="app", now=now)
    return user


def identity_provider_user(root: str | os.PathLike[str], email: str, verified: bool | None = None) -> User:
    """The user of an identity signed in through OpenID Connect (matched on the e-mail address). An
    address the provider says it has not verified (email_verified false) is refused: anyone could
    have typed it."""
    if verified is False:
        audit(root, email or "(no e-mail)", "sign_in_failed", "e-mail address not verified", source="app")
        raise SignInRefused(
            f"{email or 'This account'}: the identity provider has not verified this e-mail address, so it "
            "cannot be used to sign in here. Verify it with the provider, then sign in again."
        )
    user = Users(root).get(email) if email else None
    if user is None:
        audit(
            root,
            email or "(no e-mail)",
            "sign_in_failed",
            "identity provider account without a user",
            source="app",
        )
        raise SignInRefused(
            f"{email or 'This account'} has no access to this app: ask an administrator to add it "
            f"(python -m analytics users add {email or 'EMAIL'} --role ROLE --no-password)."
        )
    return user


def _delay(failures: int, last: float, now: float) -> float:
    if failures < FREE_FAILURES:
        return 0.0
    return max(0.0, last + min(FIRST_DELAY * 2 ** (failures - FREE_FAILURES), MAX_DELAY) - now)


def failure_delay(root: str | os.PathLike[str], username: str, *, now: float | None = None) -> float:
    """Seconds left before `username` may try again (0 when free)."""
    now = time.time() if now is None else now
    failures, last = consecutive_failures(root, username)
    return 0.0 if last is None else _delay(failures, last, now)


def consecutive_failures(root: str | os.PathLike[str], username: str) -> tuple[int, float | None]:
    """Failed sign-ins of a name since its last success, and the time of the last one."""
    failures, last = _read_failures(Path(root)).get(username.strip().casefold(), (0, None))
    return failures, last


def _read_failures(root: Path) -> dict[str, tuple[int, float]]:
    """The failure record: casefolded name -> (failures in a row, epoch of the last). Entries of the
    wrong shape are dropped (the record is rewritten whole, so only a hand edit makes them)."""
    data = _read(root / FAILURES_FILE)
    try:
        document = json.loads(data.decode("utf-8")) if data else {}
    except ValueError:
        document = {}
    record: dict[str, tuple[int, float]] = {}
    for name, entry in document.items() if isinstance(document, dict) else ():
        if (
            isinstance(entry, list)
            and len(entry) == 2
            and isinstance(entry[0], int)
            and isinstance(entry[1], int | float)
        ):
            record[name] = (entry[0], float(entry[1]))
    return record


@contextmanager
def _changing_failures(root: Path) -> Iterator[dict[str, tuple[int, float]]]:
    root.mkdir(parents=True, exist_ok=True)
    with _locked(root / ".sign_in_failures.lock"):
        record = _read_failures(root)
        before = dict(record)
        yield record
        if record != before:
            text = json.dumps({name: list(entry) for name, entry in record.items()}, separators=(",", ":"))
            _replace(root / FAILURES_FILE, text.encode("utf-8"))


def _begin_attempt(root: str | os.PathLike[str], username: str, users: set[str], now: float) -> float:
    """Under the record's lock: the wait left for `username`; when it is free, the attempt is counted
    as a failure at once (a success takes it back), so that attempts made in parallel cannot all pass
    before one of them is counted. Unknown names are counted like users' names."""
    key = username.casefold()
    with _changing_failures(Path(root)) as record:
        failures, last = record.get(key, (0, 0.0))
        wait = _delay(failures, last, now)
        if wait > 0:
            return wait
        record[key] = (failures + 1, round(now, 3))
        if len(record) > MAX_FAILURE_NAMES:
            # Dropped first: names free to try again, then unknown names; the oldest first. The users'
            # own names are never dropped, so a flood of other names cannot lift a user's wait.
            def order(name: str) -> tuple[bool, bool, float]:
                count, at = record[name]
                return name in users or name == key, _delay(count, at, now) > 0, at

            for name in sorted(record, key=order)[: len(record) - MAX_FAILURE_NAMES]:
                del record[name]
        return 0.0


def _forget_failures(root: str | os.PathLike[str], username: str) -> None:
    with _changing_failures(Path(root)) as record:
        record.pop(username.casefold(), None)


# --- the audit trail --------------------------------------------------------------------------------

AUDIT_EVENTS = {
    "sign_in": "Signed in",
    "sign_in_failed": "Failed sign-in",
    "sign_in_throttled": "Sign-in refused (wait)",
    "sign_out": "Signed out",
    "export": "Export",
    "import": "Import",
    "write": "Write",
    "users": "Users changed",
    "refused": "Refused",
    "daily": "Daily run",
}

# What one line may hold: the user at MAX_USERNAME_LENGTH characters, the detail at AUDIT_DETAIL_LENGTH,
# each cut with TRUNCATED (a line is then at most about 25 KiB).
AUDIT_DETAIL_LENGTH = 4096
TRUNCATED = "…(truncated)"
# The trail is rotated before a line would take it past AUDIT_ROTATE_BYTES; AUDIT_KEEP rotated files
# are kept (audit.1.jsonl, the newest, to audit.5.jsonl), so the trail takes at most about 96 MiB.
AUDIT_ROTATE_BYTES = 16 * 1024 * 1024
AUDIT_KEEP = 5
_AUDIT_LOCK = ".audit.lock"


def _bounded(text: str, length: int) -> str:
    return text if len(text) <= length else text[:length] + TRUNCATED


def audit_files(root: str | os.PathLike[str]) -> list[Path]:
    """The trail's files, newest first: audit.jsonl, then audit.1.jsonl ... audit.<AUDIT_KEEP>.jsonl."""
    root = Path(root)
    return [root / AUDIT_FILE] + [root / f"audit.{number}.jsonl" for number in range(1, AUDIT_KEEP + 1)]


def audit(
    root: str | os.PathLike[str],
    user: str,
    event: str,
    detail: str = "",
    *,
    source: str = "app",
    now: float | None = None,
) -> None:
    """Append one line to the audit trail (one write of a whole line, under a lock, then fsync),
    rotating the trail first when the line would take it past AUDIT_ROTATE_BYTES."""
    if event not in AUDIT_EVENTS:
        raise ValueError(f"unknown audit event {event!r}")
    now = time.time() if now is None else now
    entry = {
        "at": datetime.fromtimestamp(now, UTC).isoformat(timespec="seconds"),
        "epoch": round(now, 3),
        "user": _bounded(str(user), MAX_USERNAME_LENGTH),
        "event": event,
        "detail": _bounded(str(detail), AUDIT_DETAIL_LENGTH),
        "source": _bounded(str(source), 40),
    }
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(entry, ensure_ascii=False) + "\n").encode("utf-8")
    path = root / AUDIT_FILE
    with _locked(root / _AUDIT_LOCK):
        descriptor = _open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND)
        try:
            size = os.fstat(descriptor).st_size
            if size and size + len(line) > AUDIT_ROTATE_BYTES:
                os.close(descriptor)
                descriptor = -1
                _rotate(root)
                descriptor = _open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND)
                size = 0
            if size and os.pread(descriptor, 1, size - 1) != b"\n":
                line = b"\n" + line  # end a line cut by a crash, so that this one stays whole
            os.write(descriptor, line)
            os.fsync(descriptor)
        finally:
            if descriptor >= 0:
                os.close(descriptor)


def _rotate(root: Path) -> None:
    """audit.jsonl becomes audit.1.jsonl, each older one shifts up, the oldest is dropped (under the
    trail's lock). A kill between two renames leaves a gap in the numbers, never a lost newer line."""
    files = audit_files(root)
    for path in files:
        if os.path.islink(path):
            raise UnsafeFile(path)
    files[-1].unlink(missing_ok=True)
    for newer, older in zip(files[-2::-1], files[:0:-1], strict=True):
        if newer.exists():
            os.replace(newer, older)
    _fsync_dir(root)


_CHUNK = 64 * 1024


def _lines_from_end(path: Path) -> Iterator[bytes]:
    """The lines of a file, last first, read backwards a block at a time."""
    try:
        descriptor = _open(path, os.O_RDONLY)
    except FileNotFoundError:
        return
    with os.fdopen(descriptor, "rb") as handle:
        position = handle.seek(0, os.SEEK_END)
        rest = b""
        while position > 0:
            step = min(_CHUNK, position)
            position -= step
            handle.seek(position)
            lines = (handle.read(step) + rest).split(b"\n")
            rest = lines[0]
            yield from (line for line in reversed(lines[1:]) if line)
        if rest:
            yield rest


def _newest_entries(root: str | os.PathLike[str]) -> Iterator[dict]:
    """The trail's entries, newest first, across the rotated files."""
    for path in audit_files(root):
        for line in _lines_from_end(path):
            try:
                entry = json.loads(line.decode("utf-8", errors="replace"))
            except ValueError:
                continue  # a line cut by a crash mid-write is skipped, the others stay readable
            if isinstance(entry, dict):
                yield entry


def audit_trail(
    root: str | os.PathLike[str], *, limit: int | None = None, user: str | None = None
) -> pl.DataFrame:
    """The audit trail, newest first: at (UTC), user, event, detail, source. With `limit`, only the
    newest lines needed are read (of `user` only, when given), from the rotated files too if need be."""
    rows = []
    root = Path(root)
    if root.is_dir():
        with _locked(root / _AUDIT_LOCK, shared=True):  # no rotation while the files are read
            for entry in _newest_entries(root):
                if user is not None and str(entry.get("user", "")).casefold() != user.casefold():
                    continue
                rows.append(
                    {
                        "at": str(entry.get("at", "")),
                        "user": str(entry.get("user", "")),
                        "event": AUDIT_EVENTS.get(entry.get("event", ""), str(entry.get("event", ""))),
                        "detail": str(entry.get("detail", "")),
                        "source": str(entry.get("source", "")),
                    }
                )
                if limit is not None and len(rows) >= limit:
                    break
    return pl.DataFrame(
        rows,
        schema={
            "at": pl.String,
            "user": pl.String,
            "event": pl.String,
            "detail": pl.String,
            "source": pl.String,
        },
    )

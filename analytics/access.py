"""Who may see and do what: users, roles, the scope of their rights, sign-in, and the audit trail.

The users file (`<data>/users.json`) holds each user's role, the scope of their rights and a salted
argon2 hash of their password (none for users who sign in through the company's identity provider).
Without a users file the app runs in demo mode: anyone who reaches it is a credit manager. As soon as
the file exists, signing in is required.

A user's rights scope is laid under every request by `restrict`: a collector sees the customers of
their own portfolio, a team lead those of their team's collectors, and any user can be limited to some
entities, divisions or other customer dimensions. Asking for anything outside it is refused.

The audit trail (`<data>/audit.jsonl`) records sign-ins, failed sign-ins, exports, imports, writes and
changes to users: one JSON line each, appended under a lock, so that the app and the command line can
both write it while the other runs.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import time
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
from analytics.scope import Scope

USERS_FILE = "users.json"
AUDIT_FILE = "audit.jsonl"

ADMIN = "admin"
CREDIT_MANAGER = "credit_manager"
TEAM_LEAD = "team_lead"
COLLECTOR = "collector"
VIEWER = "viewer"
ROLES = (ADMIN, CREDIT_MANAGER, TEAM_LEAD, COLLECTOR, VIEWER)
ROLE_LABELS = {
    ADMIN: "Administrator",
    CREDIT_MANAGER: "Credit manager",
    TEAM_LEAD: "Team lead",
    COLLECTOR: "Collector",
    VIEWER: "Viewer (read-only)",
}

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

USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,99}$")
MIN_PASSWORD_LENGTH = 8

# Failed sign-ins: after FREE_FAILURES in a row, each attempt waits FIRST_DELAY doubled per further
# failure, at most MAX_DELAY seconds, counted from the last failure.
FREE_FAILURES = 3
FIRST_DELAY = 5.0
MAX_DELAY = 300.0

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
        return permission in PERMISSIONS[self.role]

    def rights(self) -> Scope:
        """The customers this user may see, as a scope (EVERYTHING for an unlimited credit manager)."""
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


# --- the users file ---------------------------------------------------------------------------------


class Users:
    """The users file of a data folder. Every change rewrites it whole (temporary file, fsync, rename)
    under a lock, so that a reader sees the old file or the new one."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve()
        self.path = self.root / USERS_FILE

    def exists(self) -> bool:
        return self.path.exists()

    def all(self) -> list[User]:
        if not self.path.exists():
            return []
        try:
            document = json.loads(self.path.read_text(encoding="utf-8"))
            return [User.from_record(record) for record in document["users"]]
        except (ValueError, KeyError, TypeError) as error:
            raise AccessError(f"{self.path}: not a readable users file ({error})") from None

    def get(self, username: str) -> User | None:
        for user in self.all():
            if user.username.casefold() == username.strip().casefold():
                return user
        return None

    @contextmanager
    def _changing(self) -> Iterator[list[User]]:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".users.lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            users = self.all()
            yield users
            document = {"version": 1, "users": [user.to_record() for user in users]}
            temporary = self.root / f".users-{uuid.uuid4().hex[:8]}.json"
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w", encoding="utf-8") as out:
                out.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, self.path)

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


def _checked(user: User) -> User:
    if not USERNAME.match(user.username):
        raise AccessError(
            f"user name {user.username!r}: letters, digits and . _ @ + - only, starting with a letter or "
            "digit, at most 100 characters"
        )
    if user.role not in ROLES:
        raise AccessError(f"unknown role {user.role!r}; choose one of: {', '.join(ROLES)}")
    if user.role == COLLECTOR and not user.collector:
        raise AccessError(
            f"{user.username}: a collector needs a collector name (theirs in the customers file)"
        )
    if user.role == TEAM_LEAD and not user.team:
        raise AccessError(f"{user.username}: a team lead needs a team (the collectors they lead)")
    if user.role != COLLECTOR and user.collector:
        raise AccessError(f"{user.username}: a collector name is for the collector role only")
    if user.role != TEAM_LEAD and user.team:
        raise AccessError(f"{user.username}: a team is for the team lead role only")
    return user


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccessError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    return _HASHER.hash(password)


# --- sign-in ----------------------------------------------------------------------------------------


def sign_in(root: str | os.PathLike[str], username: str, password: str, *, now: float | None = None) -> User:
    """The user whose name and password these are, or SignInRefused. Every attempt is audited; after
    FREE_FAILURES failures in a row for a name, the next attempts wait (without checking the password)."""
    now = time.time() if now is None else now
    username = (username or "").strip()
    wait = failure_delay(root, username, now=now)
    if wait > 0:
        audit(
            root, username or "(blank)", "sign_in_throttled", f"{wait:.0f} s to wait", source="app", now=now
        )
        raise SignInRefused(
            f"Too many failed sign-ins for {username}: try again in {wait:.0f} seconds.", wait=wait
        )
    users = Users(root)
    user = users.get(username) if username else None
    stored = user.password_hash if user else None
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


def failure_delay(root: str | os.PathLike[str], username: str, *, now: float | None = None) -> float:
    """Seconds left before `username` may try again (0 when free)."""
    now = time.time() if now is None else now
    failures, last = consecutive_failures(root, username)
    if failures < FREE_FAILURES or last is None:
        return 0.0
    delay = min(FIRST_DELAY * 2 ** (failures - FREE_FAILURES), MAX_DELAY)
    return max(0.0, last + delay - now)


def consecutive_failures(root: str | os.PathLike[str], username: str) -> tuple[int, float | None]:
    """Failed sign-ins of a name since its last success, and the time of the last one."""
    key = username.strip().casefold()
    failures, last = 0, None
    for entry in _audit_entries(root, tail_bytes=SIGN_IN_WINDOW_BYTES):
        if entry.get("user", "").casefold() != key:
            continue
        if entry.get("event") == "sign_in":
            failures, last = 0, None
        elif entry.get("event") == "sign_in_failed":
            failures += 1
            last = float(entry.get("epoch", 0.0))
    return failures, last


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
}


def audit(
    root: str | os.PathLike[str],
    user: str,
    event: str,
    detail: str = "",
    *,
    source: str = "app",
    now: float | None = None,
) -> None:
    """Append one line to the audit trail (one write of a whole line, under a lock, then fsync)."""
    if event not in AUDIT_EVENTS:
        raise ValueError(f"unknown audit event {event!r}")
    now = time.time() if now is None else now
    entry = {
        "at": datetime.fromtimestamp(now, UTC).isoformat(timespec="seconds"),
        "epoch": round(now, 3),
        "user": user,
        "event": event,
        "detail": detail,
        "source": source,
    }
    path = Path(root) / AUDIT_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(entry, ensure_ascii=False) + "\n").encode("utf-8")
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        size = os.fstat(descriptor).st_size
        if size and os.pread(descriptor, 1, size - 1) != b"\n":
            line = b"\n" + line  # end a line cut by a crash, so that this one stays whole
        os.write(descriptor, line)
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


# Failed sign-ins are counted in the newest part of the trail only, so that a sign-in does not read a
# year of exports: a run of failures longer than this window waits the longest delay anyway.
SIGN_IN_WINDOW_BYTES = 4 * 1024 * 1024


def _audit_entries(root: str | os.PathLike[str], *, tail_bytes: int | None = None) -> Iterator[dict]:
    """The trail's entries, oldest first (only those of its last `tail_bytes` when given)."""
    path = Path(root) / AUDIT_FILE
    if not path.exists():
        return
    with open(path, "rb") as raw:
        size = raw.seek(0, os.SEEK_END)
        start = max(0, size - tail_bytes) if tail_bytes else 0
        raw.seek(start)
        if start:
            raw.readline()  # the first line of the window may be cut
        for line in raw:
            try:
                entry = json.loads(line.decode("utf-8", errors="replace"))
            except ValueError:
                continue  # a line cut by a crash mid-write is skipped, the others stay readable
            if isinstance(entry, dict):
                yield entry


def audit_trail(root: str | os.PathLike[str], *, limit: int | None = None) -> pl.DataFrame:
    """The audit trail, newest first: at (UTC), user, event, detail, source."""
    rows = [
        {
            "at": entry.get("at", ""),
            "user": str(entry.get("user", "")),
            "event": AUDIT_EVENTS.get(entry.get("event", ""), str(entry.get("event", ""))),
            "detail": str(entry.get("detail", "")),
            "source": str(entry.get("source", "")),
        }
        for entry in _audit_entries(root)
    ]
    frame = pl.DataFrame(
        rows,
        schema={
            "at": pl.String,
            "user": pl.String,
            "event": pl.String,
            "detail": pl.String,
            "source": pl.String,
        },
    )
    frame = frame.reverse()
    return frame.head(limit) if limit else frame

"""Load harness: simulated users driving the app at once, each an AppTest session in a thread of one
process, so that they share the app's `st.cache_resource` objects (the collections database's one
writer, the aged items) exactly as the sessions of one `streamlit run` server do.

Owns the simulated user (`SimulatedUser`: `start` says who the user is, `iteration` is one round of
work), running a crowd of them for a bounded time (`run_crowd`), and checking afterwards that every
write a user was told "Saved" for is in the collections database exactly once (`check_writes`).

AppTest is written for one test at a time: each run installs a mock Runtime singleton, resets
Streamlit's "pages folder" flag and patches the config, and undoes all of it when it ends, under the
feet of the runs of other threads; and it compiles the scripts again for every run, which Python 3.11
does not always survive in several threads at once ("AST constructor recursion depth mismatch").
`one_runtime` makes that harmless, as a server is: one runtime and one cache of compiled
scripts for every session, the flag kept off, the config's "app test" option on for good. The app
itself runs unchanged.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from unittest.mock import MagicMock

import polars as pl
from streamlit import config
from streamlit.components.v2.component_manager import BidiComponentManager
from streamlit.runtime import Runtime
from streamlit.runtime.caching.storage.dummy_cache_storage import MemoryCacheStorageManager
from streamlit.runtime.dataframe_source_manager import DataframeSourceManager
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.runtime.pages_manager import PagesManager
from streamlit.runtime.scriptrunner.script_cache import ScriptCache
from streamlit.testing.v1 import AppTest, app_test, local_script_runner

from analytics import access, worklist
from analytics.collections import CollectionsDB
from analytics.export import markdown_text
from analytics.store import Store

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")
RUN_TIMEOUT = 300
# The kinds of interaction timed, in the order of a round.
KINDS = (
    "start",
    "open aging",
    "drill",
    "open worklist",
    "select customer",
    "open panel",
    "fill panel",
    "save",
)
# How many times a user chooses a customer before giving up when each has just left the worklist.
SELECTION_TRIES = 3
# The end of what the worklist says of a selected customer that another user's work took off the list.
GONE_END = "Choose another customer."
SECTION_OF_LABEL = {label: section for section, label in worklist.SECTION_LABELS.items()}


@contextmanager
def one_runtime() -> Iterator[None]:
    """Make AppTest runs safe side by side in threads (see the module's docstring); everything is put
    back on leaving."""
    runtime = MagicMock(spec=Runtime)
    runtime.media_file_mgr = MediaFileManager(MemoryMediaFileStorage("/mock/media"))
    runtime.dataframe_source_mgr = DataframeSourceManager()
    runtime.cache_storage_manager = MemoryCacheStorageManager()
    registry = BidiComponentManager()
    registry.discover_and_register_components(start_file_watching=False)
    runtime.bidi_component_registry = registry
    script_cache = ScriptCache()
    logger = logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context")
    saved = {
        "instance": Runtime.__dict__["instance"],
        "exists": Runtime.__dict__["exists"],
        "init": PagesManager.__init__,
        "app_test": app_test.ScriptCache,
        "local_script_runner": local_script_runner.ScriptCache,
        "app_test_option": config.get_option("global.appTest"),
        "level": logger.level,
    }
    init = saved["init"]

    def pages_manager_init(self: PagesManager, *args: object, **kwargs: object) -> None:
        # The app declares its pages with st.navigation: never the legacy pages/ folder mode.
        PagesManager.uses_pages_directory = False
        init(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    Runtime.instance = classmethod(lambda cls: runtime)
    Runtime.exists = classmethod(lambda cls: True)
    PagesManager.__init__ = pages_manager_init
    app_test.ScriptCache = local_script_runner.ScriptCache = lambda: script_cache
    config.set_option("global.appTest", True)
    # Setting a widget's state from the driving thread warns that it is not a script thread.
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        Runtime.instance = saved["instance"]
        Runtime.exists = saved["exists"]
        PagesManager.__init__ = saved["init"]
        app_test.ScriptCache = saved["app_test"]
        local_script_runner.ScriptCache = saved["local_script_runner"]
        config.set_option("global.appTest", saved["app_test_option"])
        logger.setLevel(saved["level"])


@dataclass(frozen=True)
class Interaction:
    user: int
    kind: str
    seconds: float
    error: str | None = None


@dataclass(frozen=True)
class Write:
    """A write the user was told "Saved" for: its comment is unique to it."""

    user: int
    kind: str  # "action" or "qualification"
    comment: str
    items: int


class UserError(Exception):
    """The app did not show what the user expected, or showed an error."""


@dataclass
class SimulatedUser:
    """One user of the app: a collector ("Working as") who looks at the aging balance, drills a row,
    opens the worklist, picks a customer and, through the side panel, logs a call or records a promise
    to pay on the customer's items, then goes back to the aging balance."""

    number: int
    name: str
    seed: int = 0
    # With a password the user signs in as `username` (a collector of the users file); without, the
    # app is in demo mode and the user picks "Working as".
    username: str | None = None
    password: str | None = None
    # Starts every comment the user saves, so that a crowd's writes are told from any other's.
    tag: str = "load"
    # (shortest, longest) seconds the user pauses after each interaction, drawn at random between
    # them: a person reads what the click showed before the next one. None: no pause.
    pace: tuple[float, float] | None = None
    interactions: list[Interaction] = field(default_factory=list)
    writes: list[Write] = field(default_factory=list)
    rounds: int = 0
    started: bool = False

    def __post_init__(self) -> None:
        self.random = random.Random(self.seed * 1_000 + self.number)

    # --- who the user is ---------------------------------------------------------------------------

    def start(self, at: AppTest) -> None:
        """Open the app and sign in (or, in demo mode, say who is working: "Working as")."""
        self._timed(at, "start", lambda: at.run())
        if self.password is not None:
            at.text_input(key="sign_in_username").input(self.username)
            at.text_input(key="sign_in_password").input(self.password)
            self._timed(at, "start", lambda: at.button[0].click().run())
            if not at.sidebar.button or at.sidebar.button[0].key != "sign_out":
                raise UserError(f"{self.username} is not signed in")
            return
        at.selectbox(key="user_name").set_value(self.name)
        self._timed(at, "start", lambda: at.run())

    # --- one round of work -------------------------------------------------------------------------

    def iteration(self, at: AppTest) -> None:
        self._timed(at, "open aging", lambda: at.switch_page("pages/aging.py").run())
        if not at.dataframe:
            raise UserError("the aging page shows no drill table")
        rows = len(at.dataframe[0].value)
        nonce = at.session_state["drill_nonce"] if "drill_nonce" in at.session_state else 0
        at.session_state[f"drill_table_{nonce}"] = {
            "selection": {"rows": [self.random.randrange(rows)], "columns": [], "cells": []}
        }
        self._timed(at, "drill", lambda: at.run())

        self._timed(at, "open worklist", lambda: at.switch_page("pages/worklist.py").run())
        for _ in range(SELECTION_TRIES):
            self._select_customer(at)
            if any(b.key == "worklist_panel" for b in at.button):
                self._timed(at, "open panel", lambda: at.button(key="worklist_panel").click().run())
                if any(s.key == "panel_kind" for s in at.selectbox):
                    break
            # Another user's promise took the customer off the list since this one drew it: the page
            # says so, and the user chooses again from the list as it is now.
            if not any(i.value.endswith(GONE_END) for i in at.info):
                raise UserError("no side panel on the selected customer")
            self._timed(at, "open worklist", lambda: at.switch_page("pages/worklist.py").run())
        else:
            raise UserError(f"every customer selected in {SELECTION_TRIES} tries had left the worklist")

        self.rounds += 1
        comment = f"{self.tag} user {self.number} round {self.rounds}"
        if self.rounds % 2:
            at.selectbox(key="panel_action").set_value("call")
            at.text_area(key="panel_comment").input(comment)
            self._timed(at, "fill panel", lambda: at.run())
            at.selectbox(key="panel_outcome").set_value("left_message")
            kind, items = "action", 0
        else:
            at.selectbox(key="panel_kind").set_value("promise_to_pay")
            at.text_area(key="panel_comment").input(comment)
            self._timed(at, "fill panel", lambda: at.run())
            # The panel's own table of the items it qualifies.
            items = len(next(frame.value for frame in at.dataframe if "document_type" in frame.value.columns))
            kind = "qualification"
        self._timed(at, "save", lambda: at.button(key="panel_save").click().run())
        saved = [s.value for s in at.success if s.value.startswith(markdown_text("Saved: "))]
        if not saved:
            raise UserError(f"no 'Saved' after the save ({[e.value for e in at.error]})")
        self.writes.append(Write(self.number, kind, comment, items))

    def _select_customer(self, at: AppTest) -> None:
        sections = [
            SECTION_OF_LABEL[e.label.rsplit(" (", 1)[0]]
            for e in at.expander
            if e.label.rsplit(" (", 1)[0] in SECTION_OF_LABEL
        ]
        if not sections:
            raise UserError("the worklist shows no customer to work on")
        tables = [frame.value for frame in at.dataframe if "priority_score" in frame.value.columns]
        position = self.random.randrange(len(sections))
        # The table's key as pages/worklist.py gives it: a nonce per section (bumped when the selection
        # moves to another section); no page suffix, a section's customers fitting one page here.
        nonce_key = f"worklist_nonce_{sections[position]}"
        nonce = at.session_state[nonce_key] if nonce_key in at.session_state else 0
        at.session_state[f"worklist_{sections[position]}_{nonce}"] = {
            "selection": {"rows": [self.random.randrange(len(tables[position]))], "columns": [], "cells": []}
        }
        self._timed(at, "select customer", lambda: at.run())

    # --- running -----------------------------------------------------------------------------------

    def run(self, until: float) -> None:
        """A first round, then rounds until the monotonic clock passes `until` (the round in course
        finishes). After an error the user starts again in a new session."""
        at = AppTest.from_file(APP, default_timeout=RUN_TIMEOUT)
        first = True
        while first or time.monotonic() < until:
            first = False
            try:
                if not self.started:
                    self.start(at)
                    self.started = True
                self.iteration(at)
            except Exception as error:  # noqa: BLE001 - every failure is counted, shown, and survived
                if not isinstance(error, UserError):
                    message = "".join(traceback.format_exception(error, limit=-3)).strip()
                    self.interactions.append(Interaction(self.number, "error", 0.0, message))
                elif not any(i.error == str(error) for i in self.interactions[-1:]):
                    self.interactions.append(Interaction(self.number, "error", 0.0, str(error)))
                at = AppTest.from_file(APP, default_timeout=RUN_TIMEOUT)
                self.started = False

    def _timed(self, at: AppTest, kind: str, step: Callable[[], object]) -> None:
        """Run one interaction, timing it; what the app shows as an exception or an error is an error."""
        started = time.perf_counter()
        step()
        seconds = time.perf_counter() - started
        problem = None
        if at.exception:
            problem = f"{kind}: " + "; ".join(e.message for e in at.exception)
        elif at.error:
            problem = f"{kind}: " + "; ".join(e.value for e in at.error)
        self.interactions.append(Interaction(self.number, kind, seconds, problem))
        if problem:
            raise UserError(problem)
        if self.pace is not None:
            time.sleep(self.random.uniform(*self.pace))  # not timed: the user reads the page


@dataclass(frozen=True)
class CrowdResult:
    users: list[SimulatedUser]
    seconds: float  # from the start of the first user to the end of the last

    @property
    def interactions(self) -> pl.DataFrame:
        rows = [(i.user, i.kind, i.seconds, i.error) for u in self.users for i in u.interactions]
        return pl.DataFrame(
            rows,
            schema={"user": pl.Int64, "kind": pl.String, "seconds": pl.Float64, "error": pl.String},
            orient="row",
        )

    @property
    def errors(self) -> list[str]:
        return [i.error for u in self.users for i in u.interactions if i.error]

    @property
    def writes(self) -> list[Write]:
        return [w for u in self.users for w in u.writes]


PASSWORD = "load-test-password"


def add_users(data_dir: Path, names: list[str]) -> None:
    """A users file with an administrator and, for each name, a collector user `user-N` of that
    collector (N from 1), all with PASSWORD: the app then asks them to sign in."""
    users = access.Users(data_dir)
    users.add("admin", access.ADMIN, password=PASSWORD)
    for number, name in enumerate(names, start=1):
        users.add(f"user-{number}", access.COLLECTOR, password=PASSWORD, collector=name)


def run_crowd(
    names: list[str],
    seconds: float,
    tag: str,
    seed: int = 0,
    signed_in: bool = False,
    pace: tuple[float, float] | None = None,
    numbers: list[int] | None = None,
) -> CrowdResult:
    """`len(names)` users at once, each a thread driving an AppTest session, for `seconds` (each
    user does one round at least and finishes the round in course), their comments starting with
    `tag`. Call inside `one_runtime()`, with AR_DATA_DIR naming the data folder. `signed_in`: each
    signs in as `user-N` (see add_users). `pace`: each user pauses between these many seconds after
    each interaction (SimulatedUser.pace); the users start spread over the longest pause. `numbers`:
    the users' numbers (user-N), 1 to len(names) by default; a crowd spread over several processes
    gives each its own."""
    users = [
        SimulatedUser(
            number,
            name,
            seed,
            tag=tag,
            username=f"user-{number}" if signed_in else None,
            password=PASSWORD if signed_in else None,
            pace=pace,
        )
        for number, name in zip(numbers or range(1, len(names) + 1), names, strict=True)
    ]
    ready = threading.Barrier(len(users) + 1)
    until = [0.0]

    def work(user: SimulatedUser) -> None:
        ready.wait()
        if pace is not None:
            # People do not all click in the same second: the first clicks spread over a pause.
            time.sleep(user.random.uniform(0, pace[1]))
        user.run(until[0])

    threads = [threading.Thread(target=work, args=(u,), name=f"user-{u.number}", daemon=True) for u in users]
    for thread in threads:
        thread.start()
    started = time.monotonic()
    until[0] = started + seconds
    ready.wait()
    for thread in threads:
        thread.join()
    return CrowdResult(users, time.monotonic() - started)


def warm_up(name: str, tag: str, signed_in: bool = False) -> list[Write]:
    """One user's round alone, so that the crowd finds the modules imported and the caches filled,
    as on a server that has served one user (cold, 20 first runs at once also import modules side by
    side). Returns its write, to check with the crowd's. `signed_in`: as `user-1` (see add_users)."""
    user = SimulatedUser(
        0,
        name,
        tag=tag,
        username="user-1" if signed_in else None,
        password=PASSWORD if signed_in else None,
    )
    user.run(until=0.0)
    errors = [i.error for i in user.interactions if i.error]
    if errors:
        raise RuntimeError("the warm-up round failed: " + "\n".join(errors))
    return user.writes


def check_writes(data_dir: Path, tag: str, writes: list[Write]) -> list[str]:
    """What is wrong with the writes of crowds (comments starting with `tag` and a space) in the
    collections database: a write told "Saved" that is missing or there twice (an action is one row, a
    qualification one row per item), or a write that no user was told about. Empty when every write
    is there exactly once. The database is the data folder's (PostgreSQL when AR_COLLECTIONS_URL is
    set)."""
    with CollectionsDB.for_store(Store(data_dir)) as db:
        events, actions = db.events(), db.actions()
    ours = pl.col("comment").str.starts_with(f"{tag} ")
    found = {
        "action": dict(actions.filter(ours).group_by("comment").len().rows()),
        "qualification": dict(events.filter(ours).group_by("comment").len().rows()),
    }
    problems = []
    told = {(w.kind, w.comment) for w in writes}
    for write in writes:
        expected = 1 if write.kind == "action" else write.items
        count = found[write.kind].get(write.comment, 0)
        if count != expected:
            problems.append(f"{write.kind} '{write.comment}': {count} row(s) stored, {expected} saved")
    for kind, comments in found.items():
        for comment in comments:
            if (kind, comment) not in told:
                problems.append(f"{kind} '{comment}': stored, but no user was told it was saved")
    return problems

"""A first start: on an empty data folder the demo company is generated, then opened; on any data, the\nfirst run warms the caches every session shares, once."""

from __future__ import annotations

import logging
import shutil
import threading
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from analytics import access, aging, scenarios, submissions
from analytics.scope import Scope
from analytics.store import Store
from analytics.submissions import Qualification, Submission
from pages import _cache, _format, _session, _shell

APP = str(Path(__file__).resolve().parent.parent / "app.py")


def test_first_start_generates_the_demo_company(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "fresh"
    monkeypatch.setenv("AR_DATA_DIR", str(data))
    monkeypatch.delenv("AR_NO_DEMO", raising=False)
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception, at.exception
    manifest = Store(data).manifest()
    assert manifest is not None
    assert (manifest.customers, manifest.documents) == (300, 20_000)
    assert Store(data).imports()["source"].to_list() == ["demo"]
    # The home page shows the demo company's receivables and the sidebar its collectors.
    assert at.title[0].value == "Overview"
    total = [m for m in at.metric if m.label.startswith("Receivables")]
    assert total and total[0].value not in ("0.00", "-")
    assert len(at.multiselect(key="scope_collector").options) >= 6
    # A second run does not generate it again.
    version = Store(data).version()
    at.run()
    assert Store(data).version() == version


WARMING = "warming the caches of"


def warm_ups_of(caplog: pytest.LogCaptureFixture, data: Path) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith(f"{WARMING} {data}")]


def wait_for_warm_ups() -> None:
    for thread in threading.enumerate():
        if thread.name.startswith(_cache.WARM_THREAD):
            thread.join(timeout=120)


def test_the_first_run_warms_the_shared_caches_once_for_every_session(
    demo_data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "data"
    shutil.copytree(demo_data_dir, data, symlinks=True)
    monkeypatch.setenv("AR_DATA_DIR", str(data))
    monkeypatch.setenv("AR_NO_DEMO", "1")
    caplog.set_level(logging.INFO, logger="pages._shell")
    first = AppTest.from_file(APP, default_timeout=120).run()
    assert first.title[0].value == "Overview"
    wait_for_warm_ups()
    assert len(warm_ups_of(caplog, data)) == 1
    # Nothing went wrong in the warm-up thread, and it warned of nothing.
    assert [
        r.getMessage()
        for r in caplog.records
        if r.threadName.startswith(_cache.WARM_THREAD) and r.levelno >= logging.WARNING
    ] == []
    # Another session opens the aging balance on the warmed caches, with the figures of the data.
    second = AppTest.from_file(APP, default_timeout=120)
    second.switch_page("pages/aging.py").run()
    assert not second.exception, second.exception
    assert second.title[0].value == "Aging balance"
    store = Store(data)
    as_of = _session.default_as_of(store.manifest())
    total = aging.headline(aging.aged_items(store, as_of), aging.AgingQuery(as_of))
    shown = {m.label: m.value for m in second.metric}
    assert shown["Total AR (EUR)"] == _format.compact_money(total["total"])
    wait_for_warm_ups()
    assert len(warm_ups_of(caplog, data)) == 1


def test_concurrent_first_sessions_start_one_warm_up(
    demo_data_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "data"
    shutil.copytree(demo_data_dir, data, symlinks=True)
    caplog.set_level(logging.INFO, logger="pages._shell")
    ready = threading.Barrier(8)

    def first_run() -> None:
        ready.wait()
        _shell.warm(Store(data))

    sessions = [threading.Thread(target=first_run) for _ in range(8)]
    for session in sessions:
        session.start()
    for session in sessions:
        session.join(timeout=60)
    wait_for_warm_ups()
    assert len(warm_ups_of(caplog, data)) == 1


def test_a_save_warms_what_it_made_stale_for_the_next_page(
    ledger_store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    """On the hand-worked ledger at 2026-02-12, a dispute of I1 (300.00, price) saved: the background
    warm-up after the save computes the recovery positions and the alerts of the new collections
    version, without a warning; they are those computed afresh."""
    caplog.set_level(logging.INFO, logger="pages._cache")
    ctx = _session.Context(
        ledger_store, ledger_store.manifest(), date(2026, 2, 12), Scope(), access.DEMO_USER
    )
    db = _cache.collections_db(ctx)
    before = _cache.scenario_positions(ctx)
    dispute = Qualification(
        "I1", "disputed", comment="Price", dispute_reason="price", disputed_amount=Decimal("300.00")
    )
    submissions.submit(
        db, Submission((dispute,)), store=ledger_store, as_of=ctx.as_of, scope=ctx.scope, user="Anna"
    )
    _cache.warm_after_save(ctx)
    wait_for_warm_ups()
    assert (
        len([r for r in caplog.records if r.getMessage().startswith("warmed the caches after a save")]) == 1
    )
    assert [
        r.getMessage()
        for r in caplog.records
        if r.threadName.startswith(_cache.WARM_THREAD)
        and r.levelno >= logging.WARNING
        # Outside a server (no AppTest here) Streamlit's caches say they live in memory.
        and not r.getMessage().startswith("No runtime found")
    ] == []
    after = _cache.scenario_positions(ctx)
    assert after.equals(scenarios.positions(db, ledger_store, ctx.as_of))
    assert after.equals(before) is False
    assert _cache.scenario_alerts(ctx).equals(scenarios.alerts(db, ledger_store, ctx.as_of))

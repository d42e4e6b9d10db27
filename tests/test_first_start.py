"""A first start on an empty data folder generates the demo company, then opens on it."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from analytics.store import Store

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

"""The Data page: what is loaded, importing ERP exports (with column mapping), the record of
imports, and the demo company."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import streamlit as st

from analytics import access, clock, contract, demo, ingest
from analytics.store import DataFolderUnwritable
from pages import _cache, _format, _session

NOT_IN_FILE = "(not in the file)"
DATE_FORMATS = {
    "YYYY-MM-DD": "%Y-%m-%d",
    "DD/MM/YYYY": "%d/%m/%Y",
    "MM/DD/YYYY": "%m/%d/%Y",
    "DD.MM.YYYY": "%d.%m.%Y",
    "DD-MM-YYYY": "%d-%m-%Y",
}
FILE_LABELS = {
    "customers": "Customers",
    "documents": "Documents (invoices, credit and debit notes)",
    "payments": "Payments",
    "open_items": "Open items snapshot (optional)",
    "installments": "Installments (optional: the due dates of invoices paid in parts)",
    "exchange_rates": "Exchange rates (optional: for revaluing foreign-currency items)",
}

ctx = _session.context()
store = ctx.store
manifest = ctx.manifest

st.title("Data")

if notice := st.session_state.pop("data_notice", None):
    st.success(notice)

if manifest is None:
    st.info("No data yet. Import your ERP exports below, or generate the demo company.")
elif not ctx.user.rights().is_everything:
    # A user limited to part of the customers sees the data's date, not the company's counts.
    columns = st.columns(3)
    columns[0].metric("Customers you see", f"{_cache.customers_in_scope(ctx).height:,}")
    columns[1].metric("Data as of", manifest.data_as_of.isoformat() if manifest.data_as_of else "-")
    columns[2].metric("Functional currency", manifest.functional_currency)
else:
    columns = st.columns(5)
    columns[0].metric("Customers", f"{manifest.customers:,}")
    columns[1].metric("Documents", f"{manifest.documents:,}")
    columns[2].metric("Payments", f"{manifest.payments:,}")
    columns[3].metric("Data as of", manifest.data_as_of.isoformat() if manifest.data_as_of else "-")
    columns[4].metric("Functional currency", manifest.functional_currency)
    st.caption(
        f"Data folder `{store.root}` · {len(manifest.snapshot_dates)} imported snapshot(s) · "
        f"{len(manifest.derived_dates)} stored month-end snapshots"
    )

import_tab, history_tab, demo_tab = st.tabs(["Import", "Record of imports", "Demo company"], key="data_tabs")


# Uploads abandoned by earlier sessions (a closed tab, a file never imported) go once a session.
if not st.session_state.get("stale_uploads_removed"):
    ingest.remove_stale_uploads(store.root)
    st.session_state["stale_uploads_removed"] = True


def _upload_folder() -> Path:
    folder = store.root / ingest.UPLOADS / uuid.uuid4().hex
    folder.mkdir(parents=True)
    return folder


def _saved_uploads(given: dict) -> dict[str, Path] | None:
    """The uploaded files written under the data folder's upload area, by table; None (and the reason
    shown) when the data folder cannot be written."""
    try:
        folder = st.session_state.get("upload_folder")
        if folder is None or not Path(folder).is_dir():
            folder = str(_upload_folder())
            st.session_state["upload_folder"] = folder
        paths: dict[str, Path] = {}
        for name, upload in given.items():
            path = Path(folder) / name / ingest.upload_file_name(upload.name)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(upload.getvalue())
            paths[name] = path
    except OSError as error:
        st.error(_format.markdown_text(DataFolderUnwritable.of(store.root, error)))
        return None
    return paths


def _file_format(prefix: str) -> ingest.FileFormat:
    with st.expander("File format", expanded=False):
        columns = st.columns(5)
        encoding = columns[0].selectbox("Encoding", ["utf-8", "latin-1"], key=f"{prefix}_encoding")
        separator = columns[1].selectbox("Separator", ["guess", ",", ";"], key=f"{prefix}_separator")
        date_format = columns[2].selectbox("Dates", list(DATE_FORMATS), key=f"{prefix}_dates")
        decimal = columns[3].selectbox("Decimal separator", [".", ","], key=f"{prefix}_decimal")
        thousands = columns[4].selectbox(
            "Thousands separator", ["none", ",", ".", "space"], key=f"{prefix}_thousands"
        )
    return ingest.FileFormat(
        encoding=encoding,
        separator=None if separator == "guess" else separator,
        date_format=DATE_FORMATS[date_format],
        decimal_separator=decimal,
        thousands_separator={"none": "", "space": " "}.get(thousands, thousands),
    )


def _column_mapping(name: str, path: Path, file_format: ingest.FileFormat) -> dict[str, str] | None:
    """Selectboxes mapping each canonical column to one of the file's columns."""
    try:
        header = ingest.read_header(path, file_format)
    except ingest.ImportRefused as refused:
        st.error(_format.markdown_text(refused.report()))
        return None
    table = contract.TABLES[name]
    by_lower = {column.lower(): column for column in header}
    options = [NOT_IN_FILE, *header]
    mapping: dict[str, str] = {}
    with st.expander(
        f"Columns of {_format.markdown_text(path.name)}",
        expanded=not all(c in by_lower for c in table.required),
    ):
        grid = st.columns(4)
        for position, column in enumerate(table.columns):
            default = by_lower.get(column.name)
            chosen = grid[position % 4].selectbox(
                column.name + (" *" if column.required else ""),
                options,
                index=options.index(default) if default else 0,
                key=f"map_{name}_{column.name}",
            )
            if chosen != NOT_IN_FILE and chosen != column.name:
                mapping[column.name] = chosen
    return mapping


def _run_import(sources: ingest.Sources, mapping: ingest.Mapping | None, currency: str | None) -> bool:
    """Import with a progress bar; show the problems of a refused import. True when it landed."""
    bar = st.progress(0.0, text="Starting the import")

    def progress(fraction: float, message: str) -> None:
        bar.progress(min(max(fraction, 0.0), 1.0), text=message)

    _session.require(access.IMPORT)
    try:
        result = ingest.import_files(store, sources, mapping, functional_currency=currency, progress=progress)
    except ingest.ImportRefused as refused:
        bar.empty()
        st.error(
            f"Import refused: {refused.total} problem{'s' if refused.total != 1 else ''}; nothing was written."
            + (
                f" The first {len(refused.problems)} are listed."
                if refused.total > len(refused.problems)
                else ""
            )
        )
        _format.dataframe(refused.table(), hide_index=True, width="stretch", key="import_problems")
        return False
    except OSError as error:
        bar.empty()
        st.error(_format.markdown_text(DataFolderUnwritable.of(store.root, error)))
        return False
    st.session_state["data_notice"] = f"Imported {result.summary()}."
    _session.audit("import", result.summary())
    return True


with history_tab:
    imports = store.imports()
    if not ctx.user.rights().is_everything:
        st.info("The record of imports is shown to users who see every customer.")
    elif imports.is_empty():
        st.info("Nothing imported yet.")
    else:
        _format.dataframe(
            imports.select(
                "imported_at",
                "source",
                "files",
                "customers",
                "documents",
                "payments",
                "open_items",
                "checksum",
            ),
            hide_index=True,
            width="stretch",
            key="import_history",
        )

if not _session.can(access.IMPORT):
    for tab in (import_tab, demo_tab):
        tab.info(_session.refusal(access.IMPORT) + " Ask a credit manager or an administrator.")
    st.stop()

with import_tab:
    st.write(
        "Import your ERP exports as CSV, XLSX or Parquet. Rows replace the stored ones with the same key; "
        "the import is all or nothing. Required columns are marked with *."
    )
    # A landed import empties the uploaders by giving them new keys.
    generation = st.session_state.get("upload_generation", 0)
    suffix = f"_{generation}" if generation else ""
    uploads = {
        name: st.file_uploader(label, type=["csv", "txt", "xlsx", "parquet"], key=f"upload_{name}{suffix}")
        for name, label in FILE_LABELS.items()
    }
    mapping_upload = st.file_uploader(
        "Import mapping (TOML, optional: column names and formats, see examples/)",
        type=["toml"],
        key=f"upload_mapping{suffix}",
    )
    currency = st.text_input(
        "Functional currency",
        value=manifest.functional_currency if manifest else contract.DEFAULT_FUNCTIONAL_CURRENCY,
        max_chars=3,
        key="import_currency",
    )
    given = {name: upload for name, upload in uploads.items() if upload is not None}
    paths = _saved_uploads(given) if given else None
    if paths is not None:
        folder = st.session_state["upload_folder"]
        mapping: ingest.Mapping | None = None
        mapping_ok = True
        if mapping_upload is not None:
            try:
                mapping = ingest.parse_mapping(
                    ingest.tomllib.loads(mapping_upload.getvalue().decode("utf-8")), mapping_upload.name
                )
            except (ingest.tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
                st.error(_format.markdown_text(f"{mapping_upload.name}: not a valid TOML file: {error}"))
                mapping_ok = False
            except ingest.ImportRefused as refused:
                st.error(_format.markdown_text(refused.report()))
                mapping_ok = False
        else:
            file_format = _file_format("import")
            tables = {}
            for name, path in paths.items():
                columns = _column_mapping(name, path, file_format)
                if columns is None:
                    mapping_ok = False
                tables[name] = ingest.TableMapping(columns=columns or {}, format=file_format)
            mapping = ingest.Mapping(None, tables, file_format)

        if st.button("Import", type="primary", disabled=not mapping_ok, key="import_button"):
            try:
                landed = _run_import(ingest.Sources(**paths), mapping, currency.strip().upper() or None)
            finally:
                shutil.rmtree(folder, ignore_errors=True)
                st.session_state.pop("upload_folder", None)
            if landed:
                st.session_state["upload_generation"] = generation + 1
                st.rerun()
    elif not given:
        # Files taken off the uploader are not kept waiting for an import that will not come.
        abandoned = st.session_state.pop("upload_folder", None)
        if abandoned:
            shutil.rmtree(abandoned, ignore_errors=True)
        st.caption("Choose at least one file to import.")

with demo_tab:
    st.write(
        "Replace the data with a generated demo company: a few legal entities, collectors, customers with "
        "distinct payment habits and 26 months of invoices, credit notes and payments."
    )
    with st.form("demo_form"):
        columns = st.columns(4)
        customers = columns[0].number_input("Customers", 10, 1_000_000, 300, step=50)
        documents = columns[1].number_input("Documents", 100, 10_000_000, 20_000, step=1_000)
        seed = columns[2].number_input("Seed", 0, 2**31 - 1, 7)
        as_of = columns[3].date_input("Data as of", value=clock.today(), format="YYYY-MM-DD")
        confirmed = st.checkbox("Replace all the current data", key="demo_confirm")
        submitted = st.form_submit_button("Generate the demo company")
    if submitted:
        if not confirmed:
            st.warning("Tick 'Replace all the current data' to confirm.")
        else:
            _session.require(access.IMPORT)
            bar = st.progress(0.0, text="Generating")
            result = demo.create(
                store,
                collections_db=_cache.collections_db(ctx),
                customers=int(customers),
                documents=int(documents),
                seed=int(seed),
                as_of=as_of,
                progress=lambda fraction, message: bar.progress(min(max(fraction, 0.0), 1.0), text=message),
            )
            st.session_state["data_notice"] = (
                f"Demo company generated: {result.customers:,} customers, {result.documents:,} documents."
            )
            _session.audit(
                "import", f"demo company: {result.customers:,} customers, {result.documents:,} documents"
            )
            st.rerun()

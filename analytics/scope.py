"""The scope of a request: which customers it covers, by customer dimension values.

Every analytics function takes a Scope, so that the sidebar's filters (and later a user's rights)
narrow every figure the same way. An empty scope covers every customer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import duckdb
import polars as pl

from analytics import contract
from analytics.store import query


@dataclass(frozen=True)
class Scope:
    """Dimension -> allowed values; a dimension left out is not restricted. Hashable, so it can key a cache."""

    filters: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @classmethod
    def of(cls, filters: Mapping[str, Sequence[str]] | None = None) -> Scope:
        filters = filters or {}
        checked = []
        for dimension in contract.DIMENSIONS:
            values = filters.get(dimension)
            if values:
                checked.append((dimension, tuple(sorted(str(v) for v in values))))
        unknown = set(filters) - set(contract.DIMENSIONS)
        if unknown:
            raise ValueError(
                f"unknown dimension(s) in scope: {', '.join(repr(u) for u in sorted(unknown))}; "
                f"choose among: {', '.join(contract.DIMENSIONS)}"
            )
        return cls(tuple(checked))

    def values(self, dimension: str) -> tuple[str, ...]:
        return dict(self.filters).get(dimension, ())

    @property
    def is_everything(self) -> bool:
        return not self.filters

    def params(self) -> dict[str, list[str]]:
        """Bound parameters of queries/customers_in_scope.sql: one list per dimension, empty = all."""
        return {dimension: list(self.values(dimension)) for dimension in contract.DIMENSIONS}

    def describe(self) -> str:
        if not self.filters:
            return "all customers"
        return "; ".join(
            f"{contract.DIMENSION_LABELS[dimension]}: {', '.join(values)}"
            for dimension, values in self.filters
        )


EVERYTHING = Scope()


def customers_in_scope(con: duckdb.DuckDBPyConnection, scope: Scope) -> pl.DataFrame:
    """The customers the scope covers, every column of the contract."""
    return con.sql(query("customers_in_scope"), params=scope.params()).pl()


def dimension_values(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """The values each customer dimension takes in the stored customers (for the sidebar's filters)."""
    frame = con.sql(query("dimension_values")).pl()
    return {
        dimension: frame.filter(pl.col("dimension") == dimension).get_column("value").sort().to_list()
        for dimension in contract.DIMENSIONS
    }

"""Writing export rows as JSONL, CSV or Parquet, batch by batch: nothing but the current batch is
held (a Parquet row group per batch)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import IO, Any

import orjson

from aai_mcp.archive.export_rows import ColumnKind, Row, RowSource

PARQUET_MISSING = (
    "Parquet needs pyarrow, which is not installed: pip install 'aai-mcp[parquet]' "
    "(or export --format jsonl or csv)"
)


class ExportFormatUnavailable(RuntimeError):
    """The format's library is not installed; the message says how to install it."""


def write_jsonl(source: RowSource, batches: Iterator[list[Row]], out: IO[bytes]) -> int:
    count = 0
    for batch in batches:
        out.write(b"".join(orjson.dumps(row) + b"\n" for row in batch))
        count += len(batch)
    return count


def write_csv(source: RowSource, batches: Iterator[list[Row]], out: IO[bytes]) -> int:
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
    writer = csv.DictWriter(text, fieldnames=source.column_names)
    writer.writeheader()
    count = 0
    for batch in batches:
        writer.writerows(batch)
        count += len(batch)
    text.flush()
    text.detach()  # the caller owns `out`
    return count


def write_parquet(source: RowSource, batches: Iterator[list[Row]], out: IO[bytes]) -> int:
    pa, pq = _pyarrow()
    schema = pa.schema([(name, _arrow_type(pa, kind)) for name, kind in source.columns])
    count = 0
    with pq.ParquetWriter(out, schema, compression="zstd") as writer:
        for batch in batches:
            writer.write_table(pa.Table.from_pylist(batch, schema=schema))
            count += len(batch)
    return count


def _pyarrow() -> tuple[Any, Any]:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise ExportFormatUnavailable(PARQUET_MISSING) from None
    return pa, pq


def _arrow_type(pa: Any, kind: ColumnKind) -> Any:
    return {"string": pa.string(), "int": pa.int64(), "float": pa.float64(), "bool": pa.bool_()}[kind]


WRITERS = {"jsonl": write_jsonl, "csv": write_csv, "parquet": write_parquet}


def check_format(name: str) -> None:
    """ExportFormatUnavailable before any work when `name`'s library is missing."""
    if name == "parquet":
        _pyarrow()

"""Read local tabular files (csv, tsv, jsonl, json, parquet; optionally .gz) into plain rows.

Part of the plugin-author API: data builders use it so every builder accepts the same file formats and fails the
same clear way. Only stdlib at import time.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from pathlib import Path
from typing import Any

from hubembed.errors import DataError

FORMATS = (".csv", ".tsv", ".jsonl", ".json", ".parquet")


def _format(path: Path) -> str:
    suffixes = [s for s in path.suffixes if s != ".gz"]
    fmt = suffixes[-1] if suffixes else ""
    if fmt not in FORMATS:
        raise DataError(f"cannot read {path}: unknown format {fmt or '(none)'}; use one of {', '.join(FORMATS)}")
    return fmt


def files_in(path: str | Path) -> list[Path]:
    """A file, or the readable files of a folder (sorted); DataError if there are none."""
    path = Path(path)
    if path.is_dir():
        found = sorted(p for p in path.iterdir() if p.is_file() and any(s in FORMATS for s in p.suffixes))
        if not found:
            raise DataError(f"{path} holds no {'/'.join(FORMATS)} files; point to a data file or a folder of them")
        return found
    if not path.exists():
        raise DataError(f"data file {path} does not exist; check the path")
    return [path]


def _text(path: Path) -> io.TextIOBase:
    opener = gzip.open if path.suffix == ".gz" else open
    return opener(path, "rt", encoding="utf-8", newline="")  # type: ignore[return-value]


def read_rows(path: str | Path, header: bool = True, names: tuple[str, ...] | None = None) -> list[dict[str, Any]]:
    """All rows of a file (or folder of files) as dicts. `header=False` + `names` for headerless csv/tsv."""
    rows: list[dict[str, Any]] = []
    for file in files_in(path):
        fmt = _format(file)
        try:
            if fmt in (".csv", ".tsv"):
                with _text(file) as f:
                    delimiter = "\t" if fmt == ".tsv" else ","
                    if header:
                        rows.extend(csv.DictReader(f, delimiter=delimiter))
                    else:
                        assert names, "names are needed for a headerless file"
                        rows.extend(dict(zip(names, r)) for r in csv.reader(f, delimiter=delimiter) if r)
            elif fmt == ".jsonl":
                with _text(file) as f:
                    rows.extend(json.loads(line) for line in f if line.strip())
            elif fmt == ".json":
                with _text(file) as f:
                    data = json.load(f)
                rows.extend(data if isinstance(data, list) else _columns_to_rows(data))
            else:
                import pyarrow.parquet as pq

                rows.extend(pq.read_table(file).to_pylist())
        except (OSError, UnicodeDecodeError, csv.Error, ValueError) as err:  # ArrowInvalid, JSONDecodeError too
            raise DataError(f"cannot read {file}: {err}; check that it is a valid {fmt[1:]} file") from err
    if not rows:
        raise DataError(f"{path} has no rows; give a file with data")
    return rows


def columns_of(path: str | Path) -> list[str]:
    """Column names of the first file, reading as little as possible; an empty file is a DataError."""
    file = files_in(path)[0]
    fmt = _format(file)
    if file.stat().st_size == 0:
        raise DataError(f"{file} is empty; give it a header row and at least one example")
    try:
        if fmt in (".csv", ".tsv"):
            with _text(file) as f:
                return next(csv.reader(f, delimiter="\t" if fmt == ".tsv" else ","), [])
        if fmt == ".jsonl":
            with _text(file) as f:
                first = next((line for line in f if line.strip()), "{}")
            return list(json.loads(first))
        if fmt == ".parquet":
            import pyarrow.parquet as pq

            return list(pq.read_schema(file).names)
    except (OSError, UnicodeDecodeError, csv.Error, ValueError) as err:  # ArrowInvalid and JSONDecodeError are ValueErrors
        raise DataError(f"cannot read {file}: {err}; check that it is a valid {fmt[1:]} file") from err
    return list(read_rows(file)[0])


def _columns_to_rows(data: dict[str, list[Any]]) -> list[dict[str, Any]]:
    names = list(data)
    return [dict(zip(names, values)) for values in zip(*data.values())]


def pick_column(columns: list[str], spellings: tuple[str, ...], role: str, source: str) -> str:
    """The first of `spellings` present in `columns`, or a DataError naming what was found."""
    for name in spellings:
        if name in columns:
            return name
    raise DataError(
        f"{source} has no {role} column (looked for {', '.join(spellings)}; found {', '.join(columns) or 'none'}); "
        f"rename the column or map it with params"
    )


def read_sentences(path: str | Path, column: str = "text") -> list[str]:
    """Sentences of a plain text file (one per line, .txt or .txt.gz) or of a column of a csv/tsv/jsonl/json/parquet
    file (or a folder of such files); stripped, empty ones dropped, in file order."""
    path = Path(path)
    if path.is_file() and path.name.endswith((".txt", ".txt.gz")):
        try:
            with _text(path) as f:
                sentences = [line.strip() for line in f]
        except (OSError, UnicodeDecodeError) as err:
            raise DataError(f"cannot read {path}: {err}; give a UTF-8 text file with one sentence per line") from err
    else:
        rows = read_rows(path)
        if column not in rows[0]:
            found = ", ".join(rows[0]) or "none"
            raise DataError(f"{path} has no column {column!r} (found {found}); name the text column with column=NAME")
        sentences = [str(r[column]).strip() for r in rows if r.get(column) is not None]
    sentences = [s for s in sentences if s]
    if not sentences:
        raise DataError(f"{path} holds no sentences; give a file with one sentence per line (or a text column)")
    return sentences

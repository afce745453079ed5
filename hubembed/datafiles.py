"""Read local tabular files (csv, tsv, jsonl, json, parquet; optionally .gz) into plain rows.

Part of the plugin-author API: data builders use it so every builder accepts the same file formats and fails the
same clear way. Strict, so that nothing is trained on a misread file: a quote left open, a row wider or narrower than
the header, a column named twice, a jsonl line that is not an object are each a DataError naming the file and line.
`read_files` keeps each row's file and line (`FileRows.where`) for builders that check values. Only stdlib at
import time.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hubembed.errors import DataError

FORMATS = (".csv", ".tsv", ".jsonl", ".json", ".parquet")
READ_ERRORS = (OSError, EOFError, UnicodeDecodeError, csv.Error, ValueError)  # ValueError: ArrowInvalid; EOFError: a cut .gz


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
    # utf-8-sig: a file saved by Excel starts with a byte-order mark, which would become part of the first column name
    return opener(path, "rt", encoding="utf-8-sig", newline="")  # type: ignore[return-value]


@dataclass(frozen=True)
class FileRows:
    """The rows of one file and the line each starts on, so that a bad value can be named by file and line."""

    file: str
    rows: list[dict[str, Any]]
    lines: list[int] | None = None  # csv, tsv, jsonl; None (json, parquet, a Hub dataset): rows are numbered

    def where(self, index: int) -> str:
        """`data.csv line 7` (or `data.parquet row 7`) for rows[index]."""
        return f"{self.file} line {self.lines[index]}" if self.lines is not None else f"{self.file} row {index + 1}"


def read_files(path: str | Path, header: bool = True, names: tuple[str, ...] | None = None) -> list[FileRows]:
    """The rows of each file of `path` (a file or a folder of files); DataError if none has a row."""
    parts = [_read_file(file, header, names) for file in files_in(path)]
    if not any(part.rows for part in parts):
        raise DataError(f"{path} has no rows; give a file with data")
    return parts


def read_rows(path: str | Path, header: bool = True, names: tuple[str, ...] | None = None) -> list[dict[str, Any]]:
    """All rows of a file (or folder of files) as dicts. `header=False` + `names` for headerless csv/tsv."""
    return [row for part in read_files(path, header, names) for row in part.rows]


def _read_file(file: Path, header: bool, names: tuple[str, ...] | None) -> FileRows:
    fmt = _format(file)
    assert header or names, "names are needed for a headerless file"
    try:
        if fmt in (".csv", ".tsv"):
            with _text(file) as f:
                return _csv_rows(_csv_records(f, file, fmt), file, None if header else names)
        if fmt == ".jsonl":
            with _text(file) as f:
                return _jsonl_rows(f, file)
        if fmt == ".json":
            with _text(file) as f:
                return FileRows(str(file), _json_rows(_parse_json(f.read(), file, None), file))
        import pyarrow.parquet as pq

        _check_header(list(pq.read_schema(file).names), file)  # read_table itself fails on a repeated name
        return FileRows(str(file), pq.read_table(file).to_pylist())
    except DataError:
        raise
    except READ_ERRORS as err:
        raise _unreadable(file, fmt, err) from err


def columns_of(path: str | Path) -> list[str]:
    """Column names of the first file, reading as little as possible; an empty file is a DataError."""
    file = files_in(path)[0]
    fmt = _format(file)
    if file.stat().st_size == 0:
        raise DataError(f"{file} is empty; give it a header row and at least one example")
    try:
        if fmt in (".csv", ".tsv"):
            with _text(file) as f:
                first = next(_csv_records(f, file, fmt), None)
            if first is None:
                raise DataError(f"{file} holds only blank lines; give it a header row and at least one example")
            return _check_header(first[1], file)
        if fmt == ".jsonl":
            with _text(file) as f:
                for n, text in enumerate(f, 1):
                    if text.strip():
                        return list(_parse_json(text, file, n, want_object=True))
            raise DataError(f"{file} holds no rows, only blank lines; give it one JSON object per line")
        if fmt == ".parquet":
            import pyarrow.parquet as pq

            return _check_header(list(pq.read_schema(file).names), file)
    except DataError:
        raise
    except READ_ERRORS as err:
        raise _unreadable(file, fmt, err) from err
    return list(read_rows(file)[0])


def _unreadable(file: Path, fmt: str, err: Exception) -> DataError:
    first = str(err).splitlines()[0][:200] if str(err) else type(err).__name__  # Arrow's messages run many lines
    return DataError(f"cannot read {file}: {first}; check that it is a valid {fmt[1:]} file")


# --- csv / tsv: strict quoting, a header without repeats, every row as wide as the header ------------------------


def _csv_records(f: Any, file: Path, fmt: str) -> Iterator[tuple[int, list[str]]]:
    """(line, fields) of each non-blank record. CSV is strict: a quote left open would otherwise swallow the lines
    after it. TSV has no quoting (BEIR, MS MARCO and spreadsheets' exports write quotes as text)."""
    csv.field_size_limit(2**31 - 1)  # a long document is a valid field (the default limit is 128 KiB)
    if fmt == ".tsv":
        reader = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
    else:
        reader = csv.reader(f, delimiter=",", strict=True)
    start = 1  # the line the next record starts on
    try:
        for record in reader:
            line, start = start, reader.line_num + 1
            if len(record) > 1 or (record and record[0].strip()):
                yield line, record
    except csv.Error as err:
        raise DataError(_quote_problem(file, start, str(err))) from err


def _quote_problem(file: Path, line: int, problem: str) -> str:
    if "unexpected end of data" in problem:
        return (f'{file} line {line}: a quoted field starts here and never closes; close the quote, or write a quote '
                f'inside a field as ""')
    return f'{file} line {line}: {problem}; quote the whole field ("...") and write a quote inside it as ""'


def _csv_rows(records: Iterator[tuple[int, list[str]]], file: Path, names: tuple[str, ...] | None) -> FileRows:
    columns = list(names) if names else None
    rows, lines = [], []
    for line, record in records:
        if columns is None:
            columns = _check_header(record, file)
            continue
        if len(record) != len(columns):
            raise DataError(_ragged(file, line, record, columns))
        rows.append(dict(zip(columns, record)))
        lines.append(line)
    return FileRows(str(file), rows, lines)


def _ragged(file: Path, line: int, record: list[str], columns: list[str]) -> str:
    longer = 'quote a field that holds a comma ("...")' if file.name.endswith((".csv", ".csv.gz")) else \
        "a TSV field cannot hold a tab: replace tabs inside fields with spaces"
    fix = longer if len(record) > len(columns) else "give every row all the columns"
    return f"{file} line {line} has {len(record)} fields but the header {len(columns)} ({', '.join(columns)}); {fix}"


def _check_header(columns: list[str], file: Path) -> list[str]:
    seen: set[str] = set()
    for name in columns:
        if name in seen:
            raise DataError(f"{file}: column {name!r} appears twice; rename one of them")
        seen.add(name)
    return list(columns)


# --- json / jsonl: objects only, no key given twice ----------------------------------------------------------------


class _RepeatedKey(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise _RepeatedKey(key)
        found[key] = value
    return found


JSON_TYPES = {dict: "object", list: "array", str: "string", bool: "true/false", int: "number", float: "number"}


def _parse_json(text: str, file: Path, line: int | None, want_object: bool = False) -> Any:
    """json.loads, with a DataError that names the file (and line) for invalid JSON, a repeated key or a non-object."""
    where = f"{file} line {line}" if line is not None else str(file)
    try:
        value = json.loads(text, object_pairs_hook=_unique_keys)
    except _RepeatedKey as err:
        raise DataError(f"{where}: key {err.args[0]!r} appears twice in an object; keep one") from None
    except json.JSONDecodeError as err:
        at = f"column {err.colno}" if line is not None else f"line {err.lineno} column {err.colno}"
        raise DataError(f"{where}: not valid JSON ({err.msg} at {at}); fix the JSON") from err
    if want_object and not isinstance(value, dict):
        kind = JSON_TYPES.get(type(value), "null")
        raise DataError(f'{where}: a JSON {kind} where an object is needed; write one object per line, {{"column": value, ...}}')
    return value


def _jsonl_rows(f: Any, file: Path) -> FileRows:
    rows, lines = [], []
    for n, text in enumerate(f, 1):
        if text.strip():
            rows.append(_parse_json(text, file, n, want_object=True))
            lines.append(n)
    return FileRows(str(file), rows, lines)


def _json_rows(data: Any, file: Path) -> list[dict[str, Any]]:
    """A list of objects, or an object of equal-length column lists."""
    if isinstance(data, list):
        for i, item in enumerate(data):
            if not isinstance(item, dict):
                kind = JSON_TYPES.get(type(item), "null")
                raise DataError(f"{file} item {i + 1}: a JSON {kind} where an object is needed; give a list of objects")
        return data
    if isinstance(data, dict) and all(isinstance(v, list) for v in data.values()) and len({len(v) for v in data.values()}) <= 1:
        return _columns_to_rows(data)
    raise DataError(f"{file} is neither a list of objects nor an object of equal-length column lists; give one of those")


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

"""Module 6: bring your own data: (source, target) or (text, label) pairs from CSV or JSONL.

Every problem a learner's file can have is caught when it is read, with a message that names
the file and says what to do: a missing file, an empty file, a file that is not UTF-8, a
missing column, an empty value, a malformed JSON line, and the same example in two splits
(the silent one: it inflates every score measured on the held-out split).

``load_project_data("my_pairs.jsonl", columns=("source", "target"))`` returns the training,
validation and test splits; with no test file, the held-out splits are cut with a seed, and
identical sources are kept in one split so that none leaks from training into test.
"""

from __future__ import annotations

import csv
import io
import json
import math
import random
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

Pair = tuple[str, str]  # (source, target) or (text, label)
FORMATS = ("csv", "jsonl")


class ProjectDataError(ValueError):
    """A data file of the project cannot be used as it is; the message says how to fix it."""


def _format_of(path: Path, fmt: str | None) -> str:
    fmt = (fmt or path.suffix.lstrip(".")).lower()
    fmt = {"json": "jsonl", "ndjson": "jsonl", "tsv": "csv"}.get(fmt, fmt)
    if fmt not in FORMATS:
        raise ProjectDataError(
            f"{path}: cannot tell the format from the name. Name the file *.csv or *.jsonl, "
            f"or pass fmt='csv' or fmt='jsonl'."
        )
    return fmt


_BOMS = {  # byte-order marks of encodings a spreadsheet or an editor may write
    b"\xff\xfe\x00\x00": "utf-32",
    b"\x00\x00\xfe\xff": "utf-32",
    b"\xff\xfe": "utf-16",
    b"\xfe\xff": "utf-16",
}


def _read_text(path: Path, encoding: str = "utf-8") -> str:
    if path.is_dir():
        raise ProjectDataError(
            f"{path}: a folder, not a file. Pass the path of the data file inside it "
            f"(e.g. {path / 'train.jsonl'})."
        )
    if not path.is_file():
        raise ProjectDataError(
            f"{path}: no such file. Check the path (relative paths start at "
            f"{Path.cwd()}), or upload the file next to the notebook."
        )
    raw = path.read_bytes()
    utf8 = encoding.lower().replace("_", "-") in ("utf-8", "utf8")
    bom = next((name for mark, name in _BOMS.items() if raw.startswith(mark)), None)
    if utf8 and bom is not None:
        raise ProjectDataError(
            f"{path}: {bom.upper()} text (it starts with a {bom.upper()} byte-order mark), "
            f"not UTF-8. Pass encoding='{bom}', or save it as UTF-8 (spreadsheet: 'CSV UTF-8'; "
            f"shell: iconv -f {bom.upper()} -t UTF-8 in > out)."
        )
    try:  # a byte-order mark (a spreadsheet's "CSV UTF-8") is fine
        text = raw.decode("utf-8-sig" if utf8 else encoding)
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise ProjectDataError(
            f"{path}: not {encoding} text (byte {raw[err.start]:#04x} at line {line}). Save it "
            f"as UTF-8 (spreadsheet: 'CSV UTF-8'; shell, for a Latin-1 or Windows-1252 file: "
            f"iconv -f cp1252 -t utf-8 in > out), or pass encoding='cp1252' (or the file's "
            f"encoding, if you know it)."
        ) from None
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise ProjectDataError(
            f"{path}, line {line}: a NUL character: the file is probably UTF-16 without a "
            f"byte-order mark (or not text at all). Pass encoding='utf-16-le' (or 'utf-16-be'), "
            f"or save it as UTF-8."
        )
    if not text.strip():
        raise ProjectDataError(
            f"{path}: the file is empty. Write one example per line (JSONL) or per row under "
            f"a header row (CSV)."
        )
    return text


def _sniff_delimiter(text: str) -> str:
    """The commonest of ``,`` ``;`` ``\t`` ``|`` in the header line (``,`` if none)."""
    header = text.split("\n", 1)[0]
    counts = {d: header.count(d) for d in ",;\t|"}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def _csv_rows(path: Path, text: str, delimiter: str) -> Iterable[tuple[int, dict]]:
    """(line number, record) for every row of a CSV file, read strictly.

    A row with more or fewer fields than the header, a quote that is never closed (or that
    swallows line breaks), a bare carriage return and an over-long field are each an error
    naming the line.
    """
    bare_cr = text.replace("\r\n", "\n").find("\r")
    if bare_cr >= 0:
        line = text.replace("\r\n", "\n")[:bare_cr].count("\n") + 1
        raise ProjectDataError(
            f"{path}, line {line}: a bare carriage return (\\r) inside the line. Old Mac line "
            f"endings or a pasted value: save the file with Unix (LF) or Windows (CRLF) line "
            f"endings, or delete the stray character."
        )
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    header: list[str] | None = None
    end = 0  # the last physical line read so far
    while True:
        start = end + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            if "field larger than field limit" in str(err):
                why = (
                    f"a value longer than {csv.field_size_limit():,} characters: usually a "
                    f"quote opened on this line and never closed. Close the quote or shorten "
                    f"the value"
                )
            else:
                why = (
                    f"a quote opened on this line is not closed properly ({err}). Close the "
                    f'quote, or double a quote inside a quoted value ("say ""hi""")'
                )
            raise ProjectDataError(f"{path}, line {start}: {why}.") from None
        end = reader.line_num
        if not row:  # a blank line
            continue
        if end > start:
            raise ProjectDataError(
                f"{path}, line {start}: a quoted value runs over lines {start}-{end}: a quote "
                f"opened on line {start} is closed only on line {end}. Close the quote on its "
                f"own line (a value holding a line break: remove the line break)."
            )
        if header is None:
            header = [name.strip() for name in row]
            twice = sorted({name for name in header if name and header.count(name) > 1})
            if twice:
                raise ProjectDataError(
                    f"{path}, line {start}: the header names {', '.join(map(repr, twice))} "
                    f"twice. Give every column its own name."
                )
            continue
        if len(row) != len(header):
            hint = (
                f' (a value holding {delimiter!r} must be quoted: "Hello{delimiter} world")'
                if len(row) > len(header)
                else ""
            )
            raise ProjectDataError(
                f"{path}, line {start}: {len(row)} field(s), but the header has "
                f"{len(header)} ({', '.join(header)}){hint}. Fix the row, or pass "
                f"delimiter='...' if the file separates its fields with another character "
                f"(read with {delimiter!r})."
            )
        yield start, dict(zip(header, row))


def _jsonl_rows(path: Path, text: str) -> Iterable[tuple[int, dict]]:
    """(line number, record) for every object of a JSONL file (lines end at ``\n`` only)."""
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise ProjectDataError(
                f"{path}, line {number}: not valid JSON ({err.msg}). Each line of a JSONL file "
                f'is one object, e.g. {{"source": "...", "target": "..."}}.'
            ) from None
        if not isinstance(record, dict):
            raise ProjectDataError(
                f"{path}, line {number}: expected a JSON object, got {type(record).__name__}. "
                f'Each line is one object, e.g. {{"source": "...", "target": "..."}}.'
            )
        yield number, record


_JSON_KINDS = {str: "text", bool: "true/false", int: "a whole number", float: "a decimal number"}


def _check_kinds(path: Path, column: str, kinds: dict[str, tuple[int, object]]) -> None:
    """Refuse a column whose JSON values are of several kinds (``1``, ``1.0``, ``true``)."""
    if len(kinds) > 1:
        seen = ", ".join(
            f"{json.dumps(value)} ({kind}, line {line})" for kind, (line, value) in kinds.items()
        )
        raise ProjectDataError(
            f"{path}: the {column!r} values mix kinds of JSON value: {seen}. Each would be a "
            f"different class. Write every {column!r} value the same way (all 1/0, or all "
            f'"pos"/"neg").'
        )


def load_pairs(
    path: str | Path,
    columns: Sequence[str] = ("source", "target"),
    fmt: str | None = None,
    encoding: str = "utf-8",
    delimiter: str | None = None,
) -> list[Pair]:
    """The ``(columns[0], columns[1])`` pairs of a CSV (with a header row) or JSONL file.

    Values are returned as stripped strings (a label ``1`` becomes ``"1"``). ``delimiter``
    separates CSV fields; by default the commonest of ``, ; tab |`` in the header line.
    Raises :class:`ProjectDataError`, naming the file, the line and the fix, for a missing or
    empty file, a file that is not UTF-8, a malformed line (a row with more or fewer fields
    than the header, an unclosed quote), a missing column, an empty value, or JSON values of
    mixed kinds in one column (``1``, ``1.0`` and ``true`` would be three classes).
    """
    path = Path(path)
    if len(columns) != 2:
        raise ValueError(f"columns names the two fields of a pair, got {tuple(columns)}")
    text = _read_text(path, encoding)
    fmt = _format_of(path, fmt)
    if fmt == "csv":
        tsv = path.suffix.lower() == ".tsv"
        rows = _csv_rows(path, text, delimiter or ("\t" if tsv else _sniff_delimiter(text)))
    else:
        rows = _jsonl_rows(path, text)
    kinds: dict[str, dict[str, tuple[int, object]]] = {c: {} for c in columns}
    pairs: list[Pair] = []
    for number, record in rows:
        missing = [c for c in columns if c not in record]
        if missing:
            found = ", ".join(repr(k) for k in record) or "none"
            raise ProjectDataError(
                f"{path}, line {number}: no column {missing[0]!r} (columns found: {found}). "
                f"Rename the column in the file, or pass columns=(...) with the names your "
                f"file uses."
            )
        for column in columns:
            value = record[column]
            if value is not None and type(value) not in _JSON_KINDS:
                raise ProjectDataError(
                    f"{path}, line {number}: the {column!r} value is a JSON "
                    f"{type(value).__name__}; use text, a number or true/false."
                )
            if isinstance(value, float) and not math.isfinite(value):
                raise ProjectDataError(
                    f"{path}, line {number}: the {column!r} value is {value} (NaN or Infinity "
                    f"in the JSON): write a real value or delete the line."
                )
            kinds[column].setdefault(_JSON_KINDS.get(type(value), "null"), (number, value))
        values = tuple("" if record[c] is None else str(record[c]).strip() for c in columns)
        for column, value in zip(columns, values):
            if not value:
                raise ProjectDataError(
                    f"{path}, line {number}: the {column!r} value is empty. Fill it in or "
                    f"delete the line."
                )
        pairs.append(values)
    for column in columns:
        _check_kinds(path, column, kinds[column])
    if not pairs:
        raise ProjectDataError(
            f"{path}: a header but no examples. Add one example per row below the header."
        )
    return pairs


def write_jsonl(
    pairs: Iterable[Pair], path: str | Path, columns: Sequence[str] = ("source", "target")
) -> Path:
    """Write pairs as a JSONL file (one ``{columns[0]: ..., columns[1]: ...}`` per line)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        for pair in pairs:
            out.write(json.dumps(dict(zip(columns, pair)), ensure_ascii=False) + "\n")
    return path


def check_no_overlap(
    splits: dict[str, Sequence[Pair]], files: dict[str, Path] | None = None
) -> None:
    """Raise :class:`ProjectDataError` if one source (first field) occurs in two splits.

    ``files`` names the file each split came from, for the message.
    """
    files = files or {}
    seen: dict[str, str] = {}  # source -> the first split it occurs in
    for split, pairs in splits.items():
        clashes = [s for s in dict.fromkeys(s for s, _ in pairs) if seen.get(s, split) != split]
        if clashes:

            def named(name: str) -> str:
                return f"{name} ({files[name]})" if name in files else name

            others = " and ".join(named(n) for n in dict.fromkeys(seen[s] for s in clashes))
            raise ProjectDataError(
                f"{len(clashes)} example(s) of {named(split)} also appear in {others}, e.g. "
                f"{clashes[0][:60]!r}. Scores on {split} would be inflated by examples seen in "
                f"training: delete them from {files.get(split, split)}."
            )
        for source, _ in pairs:
            seen.setdefault(source, split)


def held_out_split(
    pairs: Sequence[Pair], fractions: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 0
) -> list[list[Pair]]:
    """Shuffle with ``seed`` and cut into parts of the given fractions, by *distinct source*.

    Exact duplicate pairs are dropped; pairs sharing a source (two references of one
    sentence, say) stay in the same part, so no source is in two parts.
    """
    if any(f < 0 for f in fractions) or abs(sum(fractions) - 1.0) > 1e-6:
        raise ValueError(f"fractions must be non-negative and sum to 1, got {tuple(fractions)}")
    groups: dict[str, list[Pair]] = {}
    for pair in dict.fromkeys(pairs):  # drops exact duplicates, keeps the order
        groups.setdefault(pair[0], []).append(pair)
    sources = list(groups)
    random.Random(seed).shuffle(sources)
    parts, start = [], 0
    for i, fraction in enumerate(fractions):
        end = len(sources) if i == len(fractions) - 1 else start + round(fraction * len(sources))
        parts.append([pair for source in sources[start:end] for pair in groups[source]])
        start = end
    return parts


@dataclass(frozen=True)
class ProjectData:
    """The three splits of a project's data, and the files they came from."""

    train: list[Pair]
    val: list[Pair]
    test: list[Pair]
    columns: tuple[str, str]
    files: dict[str, Path]

    def splits(self) -> dict[str, list[Pair]]:
        return {"train": self.train, "val": self.val, "test": self.test}


def load_project_data(
    train_file: str | Path,
    test_file: str | Path | None = None,
    columns: Sequence[str] = ("source", "target"),
    val_fraction: float = 0.1,
    test_fraction: float = 0.1,
    seed: int = 0,
    max_examples: int | None = None,
    encoding: str = "utf-8",
    fmt: str | None = None,
    delimiter: str | None = None,
) -> ProjectData:
    """Load a project's pairs and split them: training, validation, test.

    Without ``test_file``, validation and test are held out of ``train_file`` with ``seed``
    (see :func:`held_out_split`); with it, validation is held out of ``train_file`` and the
    test file is checked to share no source with training or validation. ``max_examples``
    (None: all, else >= 1) keeps the first examples of the training file only (a quick run);
    ``encoding``, ``fmt`` and ``delimiter`` are passed to :func:`load_pairs` for both files.
    A training file whose second column holds one value only (one class) is refused.
    """
    if max_examples is not None and (isinstance(max_examples, bool) or max_examples < 1):
        raise ValueError(
            f"max_examples={max_examples!r}: pass a number >= 1, or None for every example."
        )
    files = {"train": Path(train_file)}
    read = {"columns": columns, "fmt": fmt, "encoding": encoding, "delimiter": delimiter}
    pairs = load_pairs(train_file, **read)[:max_examples]
    targets = {target for _, target in pairs}
    if len(pairs) > 1 and len(targets) == 1:
        raise ProjectDataError(
            f"{files['train']}: all {len(pairs)} example(s) have the same {columns[1]!r} value "
            f"{next(iter(targets))!r}: a model would learn to always answer that. Add examples "
            f"of the other classes (or targets), or check that columns= names the right column."
        )
    if test_file is None:
        train, val, test = held_out_split(
            pairs, (1 - val_fraction - test_fraction, val_fraction, test_fraction), seed
        )
        files.update(val=files["train"], test=files["train"])
    else:
        train, val = held_out_split(pairs, (1 - val_fraction, val_fraction), seed)
        test = list(dict.fromkeys(load_pairs(test_file, **read)))
        files.update(val=files["train"], test=Path(test_file))
    for name, part in (("training", train), ("validation", val), ("test", test)):
        if not part:
            raise ProjectDataError(
                f"{files['train']}: {len(pairs)} example(s) leave the {name} split empty. "
                f"Add examples, or change val_fraction / test_fraction."
            )
    check_no_overlap({"train": train, "val": val, "test": test}, files)
    return ProjectData(train, val, test, (columns[0], columns[1]), files)


@dataclass(frozen=True)
class LengthStats:
    """Lengths of a list of texts, in the unit of the ``tokenize`` that measured them."""

    count: int
    mean: float
    median: float
    p95: float
    max: int

    def __str__(self) -> str:
        return (
            f"{self.count:,} texts, mean {self.mean:.1f}, median {self.median:.0f}, "
            f"95th percentile {self.p95:.0f}, max {self.max}"
        )


def lengths(texts: Iterable[str], tokenize: Callable[[str], Sequence] = str.split) -> list[int]:
    """The length of each text in tokens (whitespace words unless ``tokenize`` is given)."""
    return [len(tokenize(text)) for text in texts]


def length_stats(values: Sequence[int]) -> LengthStats:
    """Count, mean, median, 95th percentile and maximum of a list of lengths."""
    if not values:
        raise ValueError("length_stats got no lengths.")
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return LengthStats(
        len(ordered), statistics.fmean(ordered), statistics.median(ordered), p95, ordered[-1]
    )

"""Bring your own data: load (source, target) or (text, label) pairs from a CSV or JSONL file.

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


def _read_text(path: Path, encoding: str = "utf-8") -> str:
    if not path.is_file():
        raise ProjectDataError(
            f"{path}: no such file. Check the path (relative paths start at "
            f"{Path.cwd()}), or upload the file next to the notebook."
        )
    raw = path.read_bytes()
    utf8 = encoding.lower().replace("_", "-") in ("utf-8", "utf8")
    try:  # a byte-order mark (a spreadsheet's "CSV UTF-8") is fine
        text = raw.decode("utf-8-sig" if utf8 else encoding)
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise ProjectDataError(
            f"{path}: not {encoding} text (byte {raw[err.start]:#04x} at line {line}). Save it "
            f"as UTF-8 (spreadsheet: 'CSV UTF-8'; shell: iconv -f latin1 -t utf-8 in > out), "
            f"or pass encoding='latin-1' if you know the file's encoding."
        ) from None
    if not text.strip():
        raise ProjectDataError(
            f"{path}: the file is empty. Write one example per line (JSONL) or per row under "
            f"a header row (CSV)."
        )
    return text


def _rows(path: Path, text: str, fmt: str, delimiter: str) -> Iterable[tuple[int, dict]]:
    """(line number, record) for every record of the file."""
    if fmt == "csv":
        reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
        for record in reader:
            yield reader.line_num, record
        return
    for number, line in enumerate(text.splitlines(), 1):
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


def load_pairs(
    path: str | Path,
    columns: Sequence[str] = ("source", "target"),
    fmt: str | None = None,
    encoding: str = "utf-8",
    delimiter: str | None = None,
) -> list[Pair]:
    """The ``(columns[0], columns[1])`` pairs of a CSV (with a header row) or JSONL file.

    Values are returned as stripped strings (a label ``1`` becomes ``"1"``). Raises
    :class:`ProjectDataError`, naming the file and the fix, for a missing or empty file, a
    file that is not UTF-8, a malformed line, a missing column or an empty value.
    """
    path = Path(path)
    if len(columns) != 2:
        raise ValueError(f"columns names the two fields of a pair, got {tuple(columns)}")
    fmt = _format_of(path, fmt)
    text = _read_text(path, encoding)
    delimiter = delimiter or ("\t" if path.suffix.lower() == ".tsv" else ",")
    pairs: list[Pair] = []
    for number, record in _rows(path, text, fmt, delimiter):
        missing = [c for c in columns if c not in record]
        if missing:
            found = ", ".join(repr(k) for k in record if k is not None) or "none"
            raise ProjectDataError(
                f"{path}, line {number}: no column {missing[0]!r} (columns found: {found}). "
                f"Rename the column in the file, or pass columns=(...) with the names your "
                f"file uses."
            )
        values = tuple("" if record[c] is None else str(record[c]).strip() for c in columns)
        for column, value in zip(columns, values):
            if not value:
                raise ProjectDataError(
                    f"{path}, line {number}: the {column!r} value is empty. Fill it in or "
                    f"delete the line."
                )
        pairs.append(values)
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
) -> ProjectData:
    """Load a project's pairs and split them: training, validation, test.

    Without ``test_file``, validation and test are held out of ``train_file`` with ``seed``
    (see :func:`held_out_split`); with it, validation is held out of ``train_file`` and the
    test file is checked to share no source with training or validation. ``max_examples``
    keeps the first examples of the training file only (a quick run); ``encoding`` is the
    files' text encoding.
    """
    files = {"train": Path(train_file)}
    pairs = load_pairs(train_file, columns, encoding=encoding)[:max_examples]
    if test_file is None:
        train, val, test = held_out_split(
            pairs, (1 - val_fraction - test_fraction, val_fraction, test_fraction), seed
        )
        files.update(val=files["train"], test=files["train"])
    else:
        train, val = held_out_split(pairs, (1 - val_fraction, val_fraction), seed)
        test = list(dict.fromkeys(load_pairs(test_file, columns, encoding=encoding)))
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

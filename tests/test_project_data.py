"""Loading a learner's own data: every bad file gives an error naming the file and the fix."""

import json

import pytest

from course_lib.project.project_data import (
    ProjectDataError,
    check_no_overlap,
    held_out_split,
    length_stats,
    lengths,
    load_pairs,
    load_project_data,
    write_jsonl,
)

PAIRS = [(f"quelle {i}", f"source {i}") for i in range(50)]


def test_jsonl_round_trip_keeps_unicode_and_order(tmp_path):
    pairs = [("Ein Mann läuft.", "A man runs."), ("Zwei Hunde.", "Two dogs.")]
    path = write_jsonl(pairs, tmp_path / "pairs.jsonl")
    assert load_pairs(path) == pairs
    assert json.loads(path.read_text(encoding="utf-8").splitlines()[0])["source"] == pairs[0][0]


def test_csv_with_other_column_names_and_a_byte_order_mark(tmp_path):
    path = tmp_path / "reviews.csv"
    path.write_bytes('\ufefftext,label,extra\n"good, really",1,x\nbad,0,y\n'.encode())
    assert load_pairs(path, columns=("text", "label")) == [("good, really", "1"), ("bad", "0")]


def test_jsonl_numbers_become_strings_and_blank_lines_are_skipped(tmp_path):
    path = tmp_path / "labels.jsonl"
    path.write_text('{"text": "fine", "label": 1}\n\n{"text": "poor", "label": 0}\n')
    assert load_pairs(path, columns=("text", "label")) == [("fine", "1"), ("poor", "0")]


def _error(path, **kwargs) -> str:
    with pytest.raises(ProjectDataError) as info:
        load_pairs(path, **kwargs)
    message = str(info.value)
    assert str(path) in message, message  # every message names the file
    return message


def test_missing_file(tmp_path):
    assert "no such file" in _error(tmp_path / "nope.jsonl")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("  \n")
    assert "empty" in _error(path)


def test_header_without_rows(tmp_path):
    path = tmp_path / "header.csv"
    path.write_text("source,target\n")
    assert "no examples" in _error(path)


def test_not_utf8_names_the_line_and_the_fix(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes("source,target\nok,fine\nMädchen,girl\n".encode("latin-1"))
    message = _error(path)
    assert "not utf-8" in message.lower() and "line 3" in message and "iconv" in message
    assert load_pairs(path, encoding="latin-1")[1] == ("Mädchen", "girl")


def test_missing_column_lists_the_columns_found(tmp_path):
    path = tmp_path / "pairs.jsonl"
    path.write_text('{"de": "Hallo", "en": "Hello"}\n')
    message = _error(path)
    assert "'source'" in message and "'de'" in message and "columns=" in message
    assert load_pairs(path, columns=("de", "en")) == [("Hallo", "Hello")]


def test_missing_column_in_csv(tmp_path):
    path = tmp_path / "pairs.csv"
    path.write_text("source,summary\na,b\n")
    assert "'target'" in _error(path)


def test_empty_value_and_short_csv_row(tmp_path):
    path = tmp_path / "pairs.csv"
    path.write_text("source,target\na,b\nc,\n")
    assert "line 3" in _error(path) and "empty" in _error(path)
    path.write_text("source,target\na,b\nc\n")
    assert "line 3: 1 field(s), but the header has 2" in _error(path)


def test_malformed_json_line(tmp_path):
    path = tmp_path / "pairs.jsonl"
    path.write_text('{"source": "a", "target": "b"}\n{"source": "c", \n')
    assert "line 2" in _error(path) and "JSON" in _error(path)
    path.write_text('["a", "b"]\n')
    assert "JSON object" in _error(path)


def test_unknown_format(tmp_path):
    path = tmp_path / "pairs.txt"
    path.write_text("a\tb\n")
    assert "fmt=" in _error(path)


def test_duplicates_across_files_name_both_files(tmp_path):
    train = write_jsonl(PAIRS, tmp_path / "train.jsonl")
    test = write_jsonl(PAIRS[:3] + [("neu", "new")], tmp_path / "test.jsonl")
    with pytest.raises(ProjectDataError) as info:
        load_project_data(train, test)
    message = str(info.value)
    assert str(train) in message and str(test) in message and "delete them" in message
    assert "3 example(s)" in message


def test_check_no_overlap_passes_disjoint_splits():
    check_no_overlap({"train": PAIRS[:10], "test": PAIRS[10:]})
    with pytest.raises(ProjectDataError, match="of test also appear in train"):
        check_no_overlap({"train": PAIRS[:10], "test": PAIRS[9:]})


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_held_out_split_is_seeded_and_keeps_a_source_in_one_part(seed):
    pairs = PAIRS + PAIRS[:5] + [(PAIRS[0][0], "another reference")]  # duplicates, shared source
    train, val, test = held_out_split(pairs, (0.8, 0.1, 0.1), seed)
    assert [train, val, test] == held_out_split(pairs, (0.8, 0.1, 0.1), seed)
    assert len(train) + len(val) + len(test) == len(PAIRS) + 1  # exact duplicates dropped
    assert (len({s for s, _ in val}), len({s for s, _ in test})) == (5, 5)
    check_no_overlap({"train": train, "val": val, "test": test})
    assert held_out_split(pairs, (0.8, 0.1, 0.1), seed + 10) != [train, val, test]


def test_load_project_data_splits_one_file(tmp_path):
    data = load_project_data(write_jsonl(PAIRS, tmp_path / "d.jsonl"), seed=3)
    assert (len(data.train), len(data.val), len(data.test)) == (40, 5, 5)
    assert sorted(data.train + data.val + data.test) == sorted(PAIRS)
    assert data.files["test"] == tmp_path / "d.jsonl"
    few = load_project_data(tmp_path / "d.jsonl", max_examples=20)
    assert len(few.train) + len(few.val) + len(few.test) == 20


def test_too_few_examples_for_the_splits(tmp_path):
    with pytest.raises(ProjectDataError, match="validation split empty"):
        load_project_data(write_jsonl(PAIRS[:3], tmp_path / "d.jsonl"))


def test_length_stats():
    values = lengths(["a b c", "a", "a b"] + ["x y z w"] * 17)
    stats = length_stats(values)
    assert (stats.count, stats.max, stats.median) == (20, 4, 4)
    assert stats.mean == pytest.approx((3 + 1 + 2 + 68) / 20)
    assert "20 texts" in str(stats)
    assert lengths(["abc"], tokenize=list) == [3]
    with pytest.raises(ValueError):
        length_stats([])


# Strict reading (issue 26, items 3 and 6): every case is a clear error or a correct load.


def test_a_row_with_more_fields_than_the_header_is_an_error(tmp_path):
    path = tmp_path / "pairs.csv"
    path.write_text("source,target\nHello, world,Hallo Welt\n")
    message = _error(path)
    assert "line 2: 3 field(s), but the header has 2" in message and '"Hello, world"' in message


@pytest.mark.parametrize(
    "body, line",
    [
        ('a,b\n"never closed,x\nc,d\ne,f\n', 3),  # swallows to the end of the file
        ('a,b\n"opens,x\nc,d\n"e,f\n', 3),  # closes on a later row, then junk
        ('a,b\n"opens,x\nc,d\n",f\n', 3),  # closes on a later row cleanly
    ],
)
def test_an_unbalanced_quote_names_the_line_where_it_opened(tmp_path, body, line):
    path = tmp_path / "pairs.csv"
    path.write_text("source,target\n" + body)
    message = _error(path)
    assert f"line {line}" in message and "quote" in message


def test_a_bare_carriage_return_and_a_huge_field_name_the_line(tmp_path):
    path = tmp_path / "pairs.csv"
    path.write_bytes(b"source,target\na,b\nc\rx,d\n")
    assert "line 3" in _error(path) and "carriage return" in _error(path)
    path.write_bytes(b"source,target\r\na,b\r\n")  # Windows line endings are fine
    assert load_pairs(path) == [("a", "b")]
    path.write_text("source,target\na,b\n" + "x" * 200_000 + ",y\n")
    assert "line 3" in _error(path) and "longer than" in _error(path)


def test_semicolons_are_sniffed_and_delimiter_is_an_argument(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_text("source;target\nHallo, Welt;Hello, world\nJa;Yes\n")
    assert load_pairs(path) == [("Hallo, Welt", "Hello, world"), ("Ja", "Yes")]
    assert "delimiter=" in _error(path, delimiter=",")  # the advice names a real argument
    pairs = [(f"Satz {i}", f"sentence {i}") for i in range(20)]
    path.write_text("source;target\n" + "".join(f"{s};{t}\n" for s, t in pairs))
    data = load_project_data(path, delimiter=";", fmt="csv", seed=1)
    assert sorted(data.train + data.val + data.test) == sorted(pairs)


def test_the_fmt_advice_is_runnable_with_load_project_data(tmp_path):
    path = tmp_path / "pairs.txt"
    write_jsonl(PAIRS, path)
    with pytest.raises(ProjectDataError, match="fmt='jsonl'"):
        load_project_data(path)
    assert len(load_project_data(path, fmt="jsonl").train) == 40


def test_jsonl_keeps_unicode_line_separators(tmp_path):
    pairs = [("a\u2028b", "c\u2029d"), ("e\x85f", "g\x0bh\x0ci"), ("plain", "text")]
    assert load_pairs(write_jsonl(pairs, tmp_path / "u.jsonl")) == pairs


def test_json_labels_of_mixed_kinds_are_refused(tmp_path):
    path = tmp_path / "labels.jsonl"
    lines = [f'{{"text": "{t}", "label": {v}}}' for t, v in zip("abc", ("1", "1.0", "true"))]
    path.write_text("\n".join(lines) + "\n")
    message = _error(path, columns=("text", "label"))
    assert "mix kinds" in message and "line 2" in message and "line 3" in message
    path.write_text('{"text": "a", "label": 1}\n{"text": "b", "label": "0"}\n')
    assert "mix kinds" in _error(path, columns=("text", "label"))
    path.write_text('{"text": "a", "label": [1]}\n')
    assert "JSON list" in _error(path, columns=("text", "label"))
    path.write_text('{"text": "a", "label": true}\n{"text": "b", "label": false}\n')
    assert load_pairs(path, columns=("text", "label")) == [("a", "True"), ("b", "False")]


def test_a_single_class_file_is_refused(tmp_path):
    rows = [{"text": f"review {i}", "label": 1} for i in range(30)]
    path = tmp_path / "labels.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(ProjectDataError, match="same 'label' value '1'"):
        load_project_data(path, columns=("text", "label"))


@pytest.mark.parametrize("bad", [-1, 0, True])
def test_max_examples_must_be_positive(tmp_path, bad):
    path = write_jsonl(PAIRS, tmp_path / "d.jsonl")
    with pytest.raises(ValueError, match="max_examples"):
        load_project_data(path, max_examples=bad)
    data = load_project_data(path, max_examples=None)
    assert len(data.train) + len(data.val) + len(data.test) == len(PAIRS)


def test_a_folder_and_utf16_get_the_right_advice(tmp_path):
    assert "a folder, not a file" in _error(tmp_path)
    path = tmp_path / "pairs.csv"
    path.write_bytes("source,target\nMädchen,girl\n".encode("utf-16"))
    message = _error(path)
    assert "UTF-16" in message and "encoding='utf-16'" in message and "latin" not in message
    assert load_pairs(path, encoding="utf-16") == [("Mädchen", "girl")]


@pytest.mark.parametrize(
    "name, data, says",
    [
        ("nul.csv", b"source,target\na\x00b,c\n", "line 2: a NUL character"),
        ("utf16.csv", "source,target\na,b\n".encode("utf-16-be"), "encoding='utf-16-le'"),
        ("twice.csv", b"source,target,source\na,b,c\n", "names 'source' twice"),
        ("nan.jsonl", b'{"source": "a", "target": NaN}\n', "NaN or Infinity"),
        ("inf.jsonl", b'{"source": "a", "target": 1e999}\n', "NaN or Infinity"),
    ],
)
def test_nul_characters_repeated_columns_and_nan_are_refused(tmp_path, name, data, says):
    path = tmp_path / name
    path.write_bytes(data)
    assert says in _error(path)

import pytest

from trainers.lines import DataError, check_known_labels, label_names, read_examples


def write(tmp_path, text, name="d.tsv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_reads_single_and_multi_label_lines(tmp_path):
    single = read_examples(write(tmp_path, "# comment\npos\tgood film\n\nneg\tbad film\n"), False, False)
    assert single.texts == ["good film", "bad film"]
    assert single.labels == [("pos",), ("neg",)]
    multi = read_examples(write(tmp_path, "a,b\tboth\nb\tone\n", "m.tsv"), True, False)
    assert multi.labels == [("a", "b"), ("b",)]
    assert label_names(multi) == ["a", "b"]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("pos good film", "found no tab"),
        ("pos\t   ", "text after the tab is empty"),
        ("\tgood", "empty label"),
        ("pos,neg\tgood", "several labels 'pos,neg' but multiLabel is false"),
    ],
)
def test_malformed_line_names_file_and_line(tmp_path, line, message):
    path = write(tmp_path, f"pos\tfine\n{line}\n")
    with pytest.raises(DataError) as info:
        read_examples(path, False, False)
    assert f"{path}:2:" in str(info.value)
    assert message in str(info.value)


def test_skip_bad_lines_counts_them(tmp_path):
    examples = read_examples(write(tmp_path, "pos\tok\nbroken line\nneg\tok too\n\tx\n"), False, True)
    assert len(examples) == 2
    assert examples.skipped == 2


def test_missing_file_and_empty_file(tmp_path):
    with pytest.raises(DataError, match="data file not found"):
        read_examples(tmp_path / "nope.tsv", False, False)
    with pytest.raises(DataError, match="no examples"):
        read_examples(write(tmp_path, "# only a comment\n"), False, False)


def test_not_utf8_is_reported(tmp_path):
    path = tmp_path / "latin1.tsv"
    path.write_bytes("pos\tcaf\xe9\n".encode("latin-1"))
    with pytest.raises(DataError, match="not UTF-8"):
        read_examples(path, False, False)


def test_eval_label_unknown_to_training(tmp_path):
    examples = read_examples(write(tmp_path, "pos\tok\nmaybe\thmm\n"), False, False)
    with pytest.raises(DataError, match="label 'maybe', which the training data never uses"):
        check_known_labels(examples, ["neg", "pos"])

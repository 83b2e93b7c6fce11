import pytest

from trainers.tasks.classify.lines import DataError, check_known_labels, label_names, read_examples


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
    with pytest.raises(DataError, match="nope.tsv: file not found"):
        read_examples(tmp_path / "nope.tsv", False, False)
    with pytest.raises(DataError, match="no examples"):
        read_examples(write(tmp_path, "# only a comment\n"), False, False)


def test_not_utf8_names_the_true_line_and_column(tmp_path):
    # Far past any read buffer, so an offset relative to a chunk could not pass for the line.
    good = "".join(f"pos\tline {i} " + "x" * 60 + "\n" for i in range(1, 3001))
    path = tmp_path / "latin1.tsv"
    path.write_bytes(good.encode() + "neg\tcaf\xe9 au lait\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"latin1.tsv:3001: not UTF-8 \(invalid continuation byte at column 8\)"):
        read_examples(path, False, False)


def test_byte_order_mark_is_not_part_of_the_first_label(tmp_path):
    path = tmp_path / "bom.tsv"
    path.write_bytes(b"\xef\xbb\xbfpos\tgood film\nneg\tbad film\n")
    examples = read_examples(path, False, False)
    assert label_names(examples) == ["neg", "pos"]
    assert examples.line_numbers == [1, 2]


def test_unknown_label_names_its_line_not_its_example_index(tmp_path):
    # Comments and blank lines shift lines away from example indices: line 5 is example 2.
    examples = read_examples(write(tmp_path, "# header\npos\tok\n\n# note\nmaybe\thmm\n"), False, False)
    with pytest.raises(DataError, match=r"d.tsv:5: label 'maybe' is not one the model was trained on"):
        check_known_labels(examples, ["neg", "pos"])

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


@pytest.mark.parametrize(
    ("label", "shown"),
    [
        ("pos\u200b", "U+200B (ZERO WIDTH SPACE, category Cf) at character 4"),
        ("p\u200dos", "U+200D (ZERO WIDTH JOINER, category Cf)"),
        ("\u202eneg", "U+202E (RIGHT-TO-LEFT OVERRIDE, category Cf) at character 1"),
        ("ne\u2066g\u2069", "U+2066 (LEFT-TO-RIGHT ISOLATE, category Cf)"),
        ("po\ufeffs", "U+FEFF (ZERO WIDTH NO-BREAK SPACE, category Cf)"),
        ("po\u00ads", "U+00AD (SOFT HYPHEN, category Cf)"),
        ("sports\u00a0news", "U+00A0 (NO-BREAK SPACE, category Zs)"),
        ("po\x07s", "U+0007 (unnamed, category Cc)"),
        ("po\u3164s", "U+3164 (HANGUL FILLER, category Lo)"),
        ("po\ufe0fs", "U+FE0F (VARIATION SELECTOR-16, category Mn)"),
        ("po\u2028s", "U+2028 (LINE SEPARATOR, category Zl)"),
    ],
)
def test_a_label_with_an_invisible_character_names_file_line_and_character(tmp_path, label, shown):
    path = write(tmp_path, f"pos\tfine\n# note\n{label}\tlooks like another label\n")
    with pytest.raises(DataError) as info:
        read_examples(path, False, False)
    assert f"{path}:3: label {label!r} holds an invisible character {shown}" in str(info.value)
    multi = write(tmp_path, f"pos,{label}\tboth\n", "m.tsv")  # in any position of a multi-label field
    with pytest.raises(DataError, match=r"m.tsv:1: label .* holds an invisible character"):
        read_examples(multi, True, False)
    assert len(read_examples(path, False, True)) == 1  # skipBadLines counts it like any bad line


def test_visible_labels_of_any_script_stay_valid(tmp_path):
    labels = ["world news", "économie", "спорт", "科技", "c++", "a-b_c.d", "emoji\U0001f600"]
    path = write(tmp_path, "".join(f"{label}\ttext {i}\n" for i, label in enumerate(labels)))
    assert label_names(read_examples(path, False, False)) == sorted(labels)

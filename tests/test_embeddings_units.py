"""The embeddings task's pieces on tiny inputs: the cleaning function, the game's rules, the
example stream (sub-sampling, dynamic windows within lines, negatives, determinism), the
evaluation measures and files."""

from __future__ import annotations

import collections

import numpy as np
import pytest

from trainers.runtime.errors import DataError
from trainers.shared.cleaning import clean_text, tokens
from trainers.tasks.embeddings import corpus, evaldata, game
from trainers.tasks.embeddings.space import WordSpace, analogy_accuracy, similarity_rho, spearman


@pytest.mark.parametrize(
    ("text", "cleaned"),
    [
        ("The Bank's LOANS", "the bank loans"),
        ("We won't go, it's late and they're out", "we will not go it is late and they are out"),
        ("Don\u2019t see http://example.com/a?b=1 or www.x.org now", "do not see or now"),
        ("<p>Oil</p> &amp; gas: +3.5% (U.S.)", "oil gas 3 5 u s"),
        ("mail info@example.com today", "mail today"),
        ("long-term\tcafé  ＢＡＮＫ", "long term café bank"),
        ("", ""),
    ],
)
def test_clean_text(text, cleaned):
    assert clean_text(text) == cleaned
    assert tokens(text) == cleaned.split()


@pytest.mark.parametrize(
    ("a", "b", "shared"),
    [
        ("bank", "bank", True),
        ("bank", "banker", True),
        ("bank", "banking", True),
        ("sinking", "sink", True),
        ("liberalisation", "liberal", True),
        ("flexibility", "flexible", True),
        ("car", "carbon", False),  # a 3-letter stem is no root to refuse on
        ("bank", "loan", False),
        ("oil", "crude", False),
    ],
)
def test_shares_stem(a, b, shared):
    assert game.shares_stem(a, b) is shared
    assert game.shares_stem(b, a) is shared


def space_of(rows: dict[str, list[float]]) -> WordSpace:
    return WordSpace(list(rows), np.array(list(rows.values()), np.float32))


TOY = space_of(
    {
        "bank": [1.0, 0.0, 0.0],
        "banker": [0.99, 0.05, 0.0],
        "banking": [0.98, 0.0, 0.05],
        "loan": [0.9, 0.3, 0.0],
        "deposit": [0.85, 0.0, 0.35],
        "oil": [0.0, 1.0, 0.0],
        "crude": [0.1, 0.95, 0.0],
        "barrel": [0.0, 0.9, 0.3],
    }
)


def test_explain_never_gives_the_word_or_its_stem_family():
    player = game.Player(TOY)
    hints = [w for w, _ in player.explain("bank", 3)]
    assert hints == ["loan", "deposit", "crude"]
    with pytest.raises(game.UnknownWord):
        player.explain("zebra", 2)


def test_guess_never_names_a_hint():
    player = game.Player(TOY)
    guesses = [w for w, _ in player.guess(["loan", "deposit"], 3)]
    assert "loan" not in guesses and "deposit" not in guesses
    assert guesses[0] in {"bank", "banker", "banking"}
    assert [w for w, _ in player.guess(["crude", "unknownword"], 1)] == ["oil"]  # unknown hints ignored


def test_points_follow_the_stated_rule():
    """Found after hint i of H: H - i + 1 guess points; the explainer gets the guessers' sum."""
    player = game.Player(TOY)
    # oil's hints are crude, barrel; "crude" alone makes the guesser name oil: turn 1 of 2.
    one = game.play(player, [player], ["oil"], hints=2, guesses=1)
    assert one == {"words": 1, "found": 1.0, "guess_score": 2.0, "explain_score": 2.0, "total": 4.0}
    two = game.play(player, [player, player], ["oil", "notaword"], hints=2, guesses=1)
    # Two guessers: guess score is per guesser, the explainer's is their sum; unknown words unplayed.
    assert two == {"words": 1, "found": 1.0, "guess_score": 2.0, "explain_score": 4.0, "total": 6.0}
    # bank: loan, deposit, crude; one guess a turn names banker/banking first, never bank.
    assert game.play(player, [player], ["bank"], hints=3, guesses=1)["total"] == 0.0
    assert game.play(player, [player], ["bank"], hints=3, guesses=2)["guess_score"] == 3.0


def test_reference_accuracy():
    player = game.Player(TOY)
    accuracy, scored = game.reference_accuracy(player, ["oil", "bank", "x"], [["crude", "barrel"], ["loan"], []], 2, 1)
    assert (accuracy, scored) == (0.5, 2)  # x has no hints; bank is missed (banker first)


def test_spearman_matches_the_textbook_values():
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([1, 2, 2, 3], [1, 3, 2, 4]) == pytest.approx(4.5 / np.sqrt(22.5))  # average ranks for ties
    rho, used = similarity_rho(
        TOY, [("bank", "loan", 9.0), ("bank", "oil", 1.0), ("bank", "crude", 2.0), ("x", "y", 5)]
    )
    assert used == 3 and rho == pytest.approx(1.0)


def test_analogy_accuracy_uses_3cosadd_and_skips_unknown_words():
    space = space_of(
        {
            "japan": [1, 0, 0, 0],
            "yen": [1, 0, 1, 0],
            "france": [0, 1, 0, 0],
            "franc": [0, 1, 1, 0],
            "noise": [0, 0, 0, 1],
        }
    )
    accuracy, used = analogy_accuracy(space, [("japan", "yen", "france", "franc"), ("japan", "yen", "italy", "lira")])
    assert (accuracy, used) == (1.0, 1)


def test_vocabulary_min_count_and_encoding_drop_rare_words():
    counts = collections.Counter(["a", "a", "a", "b", "b", "c"])
    vocab = corpus.build_vocabulary(counts, min_count=2, max_size=10)
    assert vocab == {"words": ["a", "b"], "counts": [3, 2]}
    ids, line_of = corpus.encode(["a c b", "b a"], vocab["words"])
    assert ids.tolist() == [0, 1, 1, 0] and line_of.tolist() == [0, 0, 1, 1]


def test_game_words_both_formats_and_errors(tmp_path):
    path = tmp_path / "words.txt"
    path.write_text(
        '# c\nBank\tLoan deposit\n{"word": "Oil", "synonyms": ["crude"], "hypernyms": [], "gloss": ["barrel", "oil"]}\n'
    )
    found = evaldata.read_game_words(path)
    assert found.words == ["bank", "oil"] and found.hints == [["loan", "deposit"], ["crude", "barrel"]]
    path.write_text("bank\nlong-term\tx\n")
    with pytest.raises(DataError, match=r"words.txt:2: 'long-term' is 2 words after cleaning"):
        evaldata.read_game_words(path)
    sim = tmp_path / "sim.tsv"
    sim.write_text("a\tb\t1\nc\td\tx\n")
    with pytest.raises(DataError, match=r"sim.tsv:2: score 'x' is not a number"):
        evaldata.read_similarity(sim)


def test_corpus_of_empty_lines_is_refused(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("\n  !!! \n")
    with pytest.raises(DataError, match="no text"):
        corpus.read_corpus(path)


# -- the example stream (TensorFlow) -----------------------------------------------------------


def stream(model_type="skipgram", window=2, subsample=0.0, lines=None, seed=3):
    from trainers.tasks.embeddings.examples import ExampleStream

    lines = lines or [[0, 1, 2, 3, 4, 5], [6, 7, 8]]
    ids = np.array([t for line in lines for t in line], np.int32)
    line_of = np.array([n for n, line in enumerate(lines) for _ in line], np.int32)
    counts = np.full(9, 10)
    return ExampleStream(ids, line_of, counts, model_type, window, 4, subsample, 4, seed)


def pairs_of(s, epoch=0) -> list[tuple[int, int]]:
    found = []
    for part in s.examples(epoch).take(s.chunks):
        found += list(zip(part["center"].numpy().tolist(), part["context"].numpy().tolist(), strict=True))
    return found


def test_skipgram_pairs_stay_in_their_line_and_window():
    s = stream(window=2)
    found = pairs_of(s)
    line = {t: (0 if t < 6 else 1) for t in range(9)}
    assert found and all(line[a] == line[b] and 0 < abs(a - b) <= 2 for a, b in found)
    assert pairs_of(s) == found  # the same epoch is the same stream
    assert any(pairs_of(s, epoch) != found for epoch in range(1, 6))  # another epoch, other windows


def test_cbow_examples_hold_the_centre_and_a_masked_context():
    s = stream("cbow", window=2)
    for part in s.examples(0).take(s.chunks):
        centres, context, mask = (part[k].numpy() for k in ("center", "context", "context_mask"))
        for centre, row, m in zip(centres, context, mask, strict=True):
            real = row[m > 0]
            assert len(real) >= 1 and all(0 < abs(int(c) - int(centre)) <= 2 for c in real)


def test_subsampling_keeps_rare_words_and_drops_frequent_ones():
    from trainers.tasks.embeddings.examples import keep_probability, negative_table

    keep = keep_probability(np.array([1_000_000, 100, 1]), 1e-3)
    assert keep[2] == 1.0 and keep[1] == 1.0 and keep[0] < 0.1
    table = negative_table(np.array([81, 1]))  # 81^0.75 = 27: one in 28 draws is the rare word
    assert abs((table == 1).mean() - 1 / 28) < 1e-3


def test_negatives_and_batches_are_deterministic_and_resume_exactly():
    import tensorflow as tf

    s = stream(window=2)
    train_input = s.train_input(global_batch=4)
    context = tf.distribute.InputContext()
    first = [b for b, _ in train_input.dataset_fn(context, 1, 0).take(6)]
    resumed = [b for b, _ in train_input.dataset_fn(context, 1, 2).take(4)]
    for a, b in zip(first[2:], resumed, strict=True):
        for key in ("center", "context", "negatives"):
            np.testing.assert_array_equal(a[key].numpy(), b[key].numpy())
    assert first[0]["negatives"].shape == (4, 4)


def test_bundled_sample_is_what_the_generator_writes(tmp_path):
    from trainers.tasks.embeddings.task import SAMPLE_DIR
    from trainers.tasks.embeddings.tools import sample_data

    sample_data.main(["--out", str(tmp_path)])
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["analogies.txt", "hat.eval.txt", "hat.train.txt", "similarity.tsv"]
    for name in names:
        assert (tmp_path / name).read_bytes() == (SAMPLE_DIR / name).read_bytes(), name

"""The shared tokenizer's vocabularies: ids as every task has built them, and the counts behind
them for tasks that drop rare words or sample by frequency."""

import collections

from trainers.shared.text import Vocabulary, build_vocabulary, build_vocabulary_with_counts, count_tokens

RESERVED = ["<pad>", "<oov>"]


def test_vocabulary_is_reserved_then_by_count_ties_alphabetical_with_counts():
    texts = ["The cat, the DOG.", "a cat", "zebra a the"]
    vocabulary = build_vocabulary_with_counts(texts, 100, RESERVED)
    assert vocabulary.tokens == ("<pad>", "<oov>", "the", "a", "cat", ",", ".", "dog", "zebra")
    assert vocabulary.counts == (0, 0, 3, 2, 2, 1, 1, 1, 1)
    assert build_vocabulary(texts, 100, RESERVED) == list(vocabulary.tokens)
    assert build_vocabulary(texts, 4, RESERVED) == ["<pad>", "<oov>", "the", "a"]


def test_min_count_drops_rare_tokens_and_counts_add_up_over_chunks():
    counts = count_tokens(["a b b c c c"])
    counts = count_tokens(["c d"], counts)
    assert counts == collections.Counter({"c": 4, "b": 2, "a": 1, "d": 1})
    kept = Vocabulary.from_counts(counts, 100, RESERVED, min_count=2)
    assert kept.tokens == ("<pad>", "<oov>", "c", "b") and kept.counts == (0, 0, 4, 2)


def test_a_reserved_token_in_the_text_keeps_its_place_and_its_slot_is_spent():
    # The vocabularies of every run so far were built this way; changing it would move their ids.
    assert build_vocabulary(["<oov> <oov> word other"], 4, RESERVED) == ["<pad>", "<oov>", "other"]

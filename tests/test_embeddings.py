import numpy as np
import pytest

from trainers.tasks.classify.embeddings import load_embedding_matrix
from trainers.tasks.classify.lines import DataError

VOCABULARY = ["<pad>", "<oov>", "film", "good", "unseen"]


def test_word2vec_text_with_header_fills_known_words(tmp_path):
    vectors = tmp_path / "vectors.txt"
    vectors.write_text("3 2\nfilm 0.5 -0.5\ngood 1.0 2.0\nother 9 9\n")
    matrix, found = load_embedding_matrix(vectors, VOCABULARY, dim=2, seed=0)
    assert found == 2
    np.testing.assert_allclose(matrix[2], [0.5, -0.5])
    np.testing.assert_allclose(matrix[3], [1.0, 2.0])
    np.testing.assert_allclose(matrix[0], [0.0, 0.0])  # padding stays zero
    assert np.all(np.abs(matrix[4]) <= 0.25) and np.any(matrix[4] != 0)  # Kim's U(-0.25, 0.25)


def test_dimension_mismatch_names_file_and_line(tmp_path):
    vectors = tmp_path / "glove.txt"
    vectors.write_text("film 0.5 -0.5\ngood 1.0\n")
    with pytest.raises(DataError, match=r"glove.txt:2: expected a word and 2 numbers \(embeddingDim\), found 1"):
        load_embedding_matrix(vectors, VOCABULARY, dim=2, seed=0)


def test_non_numeric_vector_is_reported(tmp_path):
    vectors = tmp_path / "v.txt"
    vectors.write_text("film 0.5 abc\n")
    with pytest.raises(DataError, match="v.txt:1: a vector value is not a number"):
        load_embedding_matrix(vectors, VOCABULARY, dim=2, seed=0)

import numpy as np
import pytest

from trainers.shared import wordvectors
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


def test_written_vectors_read_back_identical_and_initialise_the_classifier(tmp_path):
    """The word2vec text the embeddings task writes (vectors.txt) is what embeddingsFile reads."""
    rng = np.random.default_rng(1)
    words = ["film", "good", "caf\u00e9", "3.5"]
    vectors = (rng.normal(size=(4, 3)) * 10.0 ** rng.integers(-8, 8, size=(4, 3))).astype(np.float32)
    path = tmp_path / "vectors.txt"
    wordvectors.write_vectors(path, words, vectors)
    assert path.read_text(encoding="utf-8").splitlines()[0] == "4 3"
    assert not list(tmp_path.glob(".tmp-*"))
    read_words, read = wordvectors.read_vectors(path)
    assert read_words == words
    np.testing.assert_array_equal(read, vectors)  # bit for bit
    matrix, found = load_embedding_matrix(path, ["<pad>", "<oov>", "good", "film", "unseen"], dim=3, seed=0)
    assert found == 2
    np.testing.assert_array_equal(matrix[2], vectors[1])
    np.testing.assert_array_equal(matrix[3], vectors[0])


def test_glove_files_without_header_and_their_problems(tmp_path):
    glove = tmp_path / "glove.txt"
    glove.write_text("film 0.5 -0.5 \ngood 1 2 \n")  # word2vec's C tool leaves a trailing space
    words, matrix = wordvectors.read_vectors(glove)
    assert words == ["film", "good"] and matrix.shape == (2, 2)
    glove.write_text("film 0.5 -0.5\nfilm 1 2\n")
    with pytest.raises(DataError, match=r"glove.txt:2: word 'film' already has a vector \(line 1\)"):
        wordvectors.read_vectors(glove)
    with pytest.raises(ValueError, match="cannot be written"):
        wordvectors.write_vectors(tmp_path / "bad.txt", ["two words"], np.zeros((1, 2)))
    with pytest.raises(ValueError, match="2 words and vectors of shape"):
        wordvectors.write_vectors(tmp_path / "bad.txt", ["a", "b"], np.zeros((3, 2)))
    assert not (tmp_path / "bad.txt").exists()

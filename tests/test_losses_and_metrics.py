import numpy as np
import pytest
from keras import ops

from trainers.tasks.classify.losses import crossentropy, margin_loss
from trainers.tasks.classify.metrics import evaluate, multi_label_scores, predictions


def test_margin_loss_hand_computed():
    targets = np.array([[1.0, 0.0, 0.0]], dtype="float32")
    lengths = np.array([[0.7, 0.3, 0.05]], dtype="float32")
    # present: (0.9-0.7)^2 = 0.04; absent: 0.25*(0.3-0.1)^2 = 0.01, and 0.05 < m- costs nothing
    assert float(margin_loss(targets, lengths)[0]) == pytest.approx(0.05, abs=1e-6)
    perfect = np.array([[0.95, 0.05, 0.0]], dtype="float32")
    assert float(margin_loss(targets, perfect)[0]) == pytest.approx(0.0, abs=1e-7)
    custom = margin_loss(targets, lengths, m_plus=0.8, m_minus=0.2, downweight=0.5)
    assert float(custom[0]) == pytest.approx(0.01 + 0.5 * 0.01, abs=1e-6)


def test_crossentropy_single_and_multi_label():
    targets = np.array([[0.0, 1.0]], dtype="float32")
    scores = np.array([[0.2, 0.8]], dtype="float32")
    assert float(crossentropy(targets, scores, False)[0]) == pytest.approx(-np.log(0.8), rel=1e-5)
    expected_multi = -np.log(0.8) - np.log(0.8)
    assert float(ops.convert_to_numpy(crossentropy(targets, scores, True))[0]) == pytest.approx(
        expected_multi, rel=1e-5
    )


def test_single_label_accuracy():
    targets = np.eye(3, dtype="float32")[[0, 1, 2, 2]]
    scores = np.array([[0.9, 0.1, 0], [0.1, 0.8, 0.1], [0.5, 0.2, 0.3], [0, 0, 1]], dtype="float32")
    assert evaluate(targets, scores, False, 0.5) == {"accuracy": 0.75}


def test_multi_label_scores_known_case():
    targets = np.array([[1, 1, 0], [0, 1, 0], [1, 0, 1]], dtype="float32")
    predicted = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 0]], dtype="float32")
    scores = multi_label_scores(targets, predicted)
    assert scores["exact_match"] == pytest.approx(1 / 3)
    assert scores["precision"] == pytest.approx((1 + 1 + 0) / 3)  # empty prediction: precision 0
    assert scores["recall"] == pytest.approx((0.5 + 1 + 0) / 3)
    assert scores["f1"] == pytest.approx((2 / 3 + 1 + 0) / 3)


def test_threshold_decides_multi_label_predictions():
    scores = np.array([[0.6, 0.4, 0.55]], dtype="float32")
    assert predictions(scores, True, 0.5).tolist() == [[1, 0, 1]]
    assert predictions(scores, True, 0.58).tolist() == [[1, 0, 0]]
    assert predictions(scores, False, 0.5).tolist() == [[1, 0, 0]]

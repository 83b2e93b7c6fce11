"""Opening the runtime (issue 15) changed no number: classify and summarize train to the same
weights and metrics, for the same seed and steps, as the code before it (tests/golden.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.golden import GOLDEN_FILE, RUNS, train

# Same machine kind, same wheels: runs are bit-identical in practice; the tolerance only absorbs
# float summation order in the fingerprint itself.
RTOL, ATOL = 1e-5, 1e-6


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(RUNS))
def test_training_reproduces_the_recorded_weights_and_metrics(name, tmp_path):
    golden = json.loads(GOLDEN_FILE.read_text())[name]
    found = train(name, tmp_path)
    assert [row["epoch"] for row in found["history"]] == [row["epoch"] for row in golden["history"]]
    for got, want in zip(found["history"], golden["history"], strict=True):
        assert set(got) == set(want), (sorted(got), sorted(want))
        for key, value in want.items():
            assert np.isclose(got[key], value, rtol=RTOL, atol=ATOL), (name, got["epoch"], key, got[key], value)
    assert sorted(found["weights"]) == sorted(golden["weights"])
    for weight, want in golden["weights"].items():
        np.testing.assert_allclose(found["weights"][weight], want, rtol=RTOL, atol=ATOL, err_msg=f"{name}: {weight}")

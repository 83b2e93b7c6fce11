"""Fixtures shared across test modules."""

import sys

import pytest

# The private local cluster of the end-to-end tests (started only by tests that ask for it), the
# storage backends under test (`store`, `bucket_store`) and a real MLflow server (`mlflow_server`).
pytest_plugins = ["tests.live_cluster", "tests.buckets", "tests.mlflow_server"]


@pytest.fixture(autouse=True)
def _seeded_keras():
    """Seed Python, numpy and TensorFlow before every test that has Keras loaded.

    Unseeded weight initialisation made a unit test fail one CI run in many; a fixed seed per
    test makes each test's numbers the same whatever ran before it. Trainer runs seed themselves
    from their `seed` key, so this only touches in-process model tests.
    """
    keras = sys.modules.get("keras")
    if keras is not None:
        keras.utils.set_random_seed(20261124)
    yield

"""Fixtures shared across test modules."""

# The private local cluster of the end-to-end tests (started only by tests that ask for it).
pytest_plugins = ["tests.live_cluster"]

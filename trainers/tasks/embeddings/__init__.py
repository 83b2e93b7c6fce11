"""Word embeddings: word2vec CBOW and skip-gram with negative sampling (optionally with fastText
character n-grams), exported as a SavedModel and word2vec text, and the word game played with
them (`python -m trainers play`, the /guess and /explain service).

`TASK` is what the registry loads; importing this package does not import TensorFlow.
"""

from trainers.tasks.embeddings.task import EmbeddingsTask

TASK = EmbeddingsTask()

__all__ = ["TASK", "EmbeddingsTask"]

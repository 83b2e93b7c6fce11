"""Summarization: an attention encoder-decoder (bidirectional GRU encoder, GRU decoder with
Bahdanau attention) that writes headlines and short summaries, served from raw text.

`TASK` is what the registry loads; importing this package does not import TensorFlow.
"""

from trainers.tasks.summarize.task import SummarizeTask

TASK = SummarizeTask()

__all__ = ["TASK", "SummarizeTask"]

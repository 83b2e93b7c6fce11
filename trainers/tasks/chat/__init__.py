"""Chat: a Transformer encoder-decoder that answers a line of dialogue, trained on
`context<TAB>response` pairs and served from raw text (replies and scores), with greedy, beam and
seeded sampling decoding in the exported graph, and an interactive `python -m trainers chat`.

`TASK` is what the registry loads; importing this package does not import TensorFlow.
"""

from trainers.tasks.chat.task import ChatTask

TASK = ChatTask()

__all__ = ["TASK", "ChatTask"]

"""An exported encoder-decoder: raw strings in, decoded text and its score out, one signature
per decoding (say `serving_default` with beam search and `greedy`), and the client side that
calls such a signature in batches.

Tokenization, encoding and search all run inside the graph with core TensorFlow ops, so stock
TF Serving and KServe load the export and a process with nothing but TensorFlow answers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import tensorflow as tf

from trainers.shared.seq2seq.decode import Decoding

TEXT = tf.TensorSpec([None], tf.string, name="text")
SCORE = "score"


class TextDecoderModule(tf.Module):
    """`decode_ids(source ids [B, S], decoding) -> (ids [B, T], score [B])` as raw-text
    signatures returning {output: text [B], "score": score [B]}; `decodings` maps each signature
    name to its decoding and must name `serving_default`, which is also `serve`.

    By default the source is `vocabularies.source_ids(text)` and the text `detokenize(ids)`; a
    model that reads more of the source (a copy mechanism: extended ids, the tokens it spells
    copied words from) passes `read_source(text) -> source` and `write_text(ids, source) -> text`."""

    def __init__(
        self,
        model,
        vocabularies,
        decode_ids: Callable,
        decodings: Mapping[str, Decoding],
        output: str,
        name: str = "textjobs_decoder",
        read_source: Callable | None = None,
        write_text: Callable | None = None,
    ):
        super().__init__(name=name)
        self.model = model  # tracked, so its variables are saved
        self.vocabularies = vocabularies
        self._decode_ids = decode_ids
        self._output = output
        self._read_source = read_source or vocabularies.source_ids
        self._write_text = write_text or (lambda ids, source: vocabularies.detokenize(ids))
        self._signatures = {signature: self._text_function(how) for signature, how in decodings.items()}
        self.serve = self._signatures["serving_default"]

    def _text_function(self, how: Decoding):
        @tf.function(input_signature=[TEXT])
        def decode_text(text):
            source = self._read_source(text)
            ids, scores = self._decode_ids(source, how)
            return {self._output: self._write_text(ids, source), SCORE: scores}

        return decode_text

    def signatures(self) -> dict:
        return dict(self._signatures)


def decode_texts(
    version_dir: Path, texts: Sequence[str], output: str, signature: str = "serving_default", batch: int = 64
) -> list[dict]:
    """[{output: text, "score": float}] for each text, from an export's signature."""
    serve = tf.saved_model.load(str(version_dir)).signatures[signature]
    results = []
    for start in range(0, len(texts), batch):
        out = serve(text=tf.constant(texts[start : start + batch]))
        for text, score in zip(out[output].numpy(), out[SCORE].numpy(), strict=True):
            results.append({output: text.decode(), SCORE: float(score)})
    return results

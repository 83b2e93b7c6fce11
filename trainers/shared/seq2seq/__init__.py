"""What every encoder-decoder task shares (the summarizer now, a chatbot next), so that two
seq2seq tasks never hold two copies of it:

    pairs.py       `source<TAB>target` lines, errors naming file and line (no TensorFlow)
    vocab.py       source and target vocabularies with reserved ids; in-graph tokenize/detokenize
    search.py      greedy and beam search over a step function, in core TensorFlow ops
    sampling.py    seeded sampling with temperature, top-k and top-p, in core TensorFlow ops
    decode.py      the decoding choices, and `decode`: encode once, tile for beams, search
    losses.py      masked per-example token loss and token accuracy
    evaluation.py  validation over pairs: teacher-forced loss and accuracy, decoded samples
    serving.py     raw strings in, decoded text and scores out: one signature per decoding

What a task scores its decoded text with (ROUGE for the summarizer) stays in the task.
Importing this package does not import TensorFlow; its TensorFlow modules are imported by name.
"""

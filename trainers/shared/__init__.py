"""Code that several tasks use, in one place: tasks import it, no task imports another task.

    text.py          the tokenizer, vocabularies with their training-set counts, lookup tables
    wordvectors.py   the word2vec text format: read (classify's embeddingsFile) and write
    seq2seq/         what every encoder-decoder task needs: line pairs, vocabularies with
                     reserved ids, greedy / beam / sampling search in the graph, masked token
                     loss and accuracy, validation over pairs, raw-text serving signatures
    benchmarking.py  the task benchmarks' way to train and evaluate in a fresh process

The runtime (`trainers/runtime/`) never imports this package: it stays task-agnostic, and
this package may build on it. Importing `trainers.shared` or its pure-Python modules
(`seq2seq.pairs`, `wordvectors`) does not import TensorFlow.
"""

"""The embeddings task: word2vec (CBOW, skip-gram) with negative sampling on a plain-text corpus,
optionally with fastText character n-grams; the word game's commands (no TensorFlow at import)."""

from __future__ import annotations

from pathlib import Path

from trainers.runtime.errors import DataError
from trainers.runtime.task import Context, Task
from trainers.tasks.embeddings import corpus, evaldata, keys

SAMPLE_DIR = Path(__file__).resolve().parent / "sample_data"
SAMPLE_TRAIN = SAMPLE_DIR / "hat.train.txt"
SAMPLE_SIMILARITY = SAMPLE_DIR / "similarity.tsv"
SAMPLE_ANALOGIES = SAMPLE_DIR / "analogies.txt"
DEFAULT_BATCH = 1024  # word2vec examples are tiny: 32 (the runtime's default) would starve the step


class EmbeddingsTask(Task):
    name = "embeddings"
    model_types = keys.MODEL_TYPES
    keys = keys.KEYS
    assets_file = "vocab.json"
    best_metric = "val_game_total"
    higher_is_better = True

    def resolve_config(self, cfg):
        cfg = keys.resolve(cfg)
        if cfg.sources.get("batchSize", "default") == "default":
            cfg = cfg.replace(batch_size=DEFAULT_BATCH)
        if cfg.train_data == str(SAMPLE_TRAIN):  # the bundled sample brings its own evaluation files
            if not cfg.similarity_files:
                cfg = cfg.replace(similarity_files=str(SAMPLE_SIMILARITY))
            if not cfg.analogy_file:
                cfg = cfg.replace(analogy_file=str(SAMPLE_ANALOGIES))
        return cfg

    def sample_data(self, cfg) -> str:
        return str(SAMPLE_TRAIN)

    def read_data(self, cfg, path: Path) -> corpus.Corpus:
        return corpus.read_corpus(path)

    def read_eval_data(self, cfg, path: Path) -> evaldata.GameWords:
        return evaldata.read_game_words(path)

    def check_inputs(self, cfg, ctx: Context) -> None:
        from trainers.tasks.embeddings.run import split_files

        for path in split_files(cfg.similarity_files):
            evaldata.read_similarity(ctx.fetch(path))
        if cfg.analogy_file:
            evaldata.read_analogies(ctx.fetch(cfg.analogy_file))

    def build_assets(self, cfg, train: corpus.Corpus) -> dict:
        return corpus.build_vocabulary(train.counts, cfg.min_count, cfg.max_vocab)

    def check_assets(self, cfg, assets: dict, train: corpus.Corpus, evaluation) -> None:
        if len(assets["words"]) < 2:
            raise DataError(
                f"{train.path}: {len(assets['words'])} words are seen at least minCount={cfg.min_count} times; "
                "word2vec needs at least two (lower minCount or give a larger corpus)"
            )

    def create(self, cfg, assets: dict, train, evaluation, ctx: Context):
        from trainers.tasks.embeddings.run import EmbeddingsRun

        return EmbeddingsRun(cfg, assets, train, evaluation, ctx)

    def commands(self):
        from trainers.runtime.commands import Command
        from trainers.tasks.embeddings import commands

        return {
            "play": Command("play the word game between exported embeddings and print the score table", commands.play),
            "serve-game": Command("serve /guess, /explain and the game page from two exports", commands.serve),
        }

    def predict(self, version_dir: Path, info: dict, texts: list[str], as_json: bool) -> str:
        from trainers.tasks.embeddings.exported import neighbours_text

        return neighbours_text(version_dir, texts, as_json)

    def evaluate_export(self, version_dir: Path, info: dict, data_path: Path) -> dict[str, float]:
        from trainers.tasks.embeddings.exported import evaluate_game_words

        return evaluate_game_words(version_dir, data_path)

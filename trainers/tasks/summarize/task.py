"""The summarization task: `text<TAB>summary` pairs, source and summary vocabularies fixed at the
first start in `vocab.json`, an attention encoder-decoder, ROUGE (no TensorFlow at import)."""

from __future__ import annotations

from pathlib import Path

from trainers.runtime.errors import DataError
from trainers.runtime.task import Context, Task
from trainers.shared.seq2seq.pairs import PairFormat, Pairs
from trainers.tasks.summarize import keys

SAMPLE_DIR = Path(__file__).resolve().parent / "sample_data"
LEAD_WORDS = (8, 10, 12)
PAIRS = PairFormat("text", "summary")


class SummarizeTask(Task):
    name = "summarize"
    model_types = keys.MODEL_TYPES
    keys = keys.KEYS
    assets_file = "vocab.json"
    best_metric = "val_rougeL"
    higher_is_better = True
    quality_metric = "beam_rougeL"  # what serving_default (the run's beam search) scores

    def sample_data(self, cfg) -> str:
        return str(SAMPLE_DIR / "headlines.train.tsv")

    def read_data(self, cfg, path: Path) -> Pairs:
        return PAIRS.read(path, cfg.skip_bad_lines)

    def build_assets(self, cfg, train: Pairs) -> dict:
        from trainers.shared.seq2seq.vocab import SOURCE_RESERVED, TARGET_RESERVED
        from trainers.shared.text import build_vocabulary

        return {
            "source": build_vocabulary(train.sources, cfg.source_vocab_size, SOURCE_RESERVED),
            "target": build_vocabulary(train.targets, cfg.target_vocab_size, TARGET_RESERVED),
        }

    def check_assets(self, cfg, assets: dict, train: Pairs, evaluation: Pairs | None) -> None:
        if len(assets["source"]) <= 2 or len(assets["target"]) <= 4:
            raise DataError(f"{train.path}: the pairs hold no word to build a vocabulary from")

    def create(self, cfg, assets: dict, train, evaluation, ctx: Context):
        from trainers.tasks.summarize.run import SummarizeRun

        return SummarizeRun(cfg, assets, train, evaluation)

    def predict(self, version_dir: Path, info: dict, texts: list[str], as_json: bool) -> str:
        from trainers.tasks.summarize.serving import format_summaries, summarize

        return format_summaries(texts, summarize(version_dir, texts, info=info), as_json)

    def predictor(self, version_dir: Path, info: dict):
        from trainers.tasks.summarize.serving import predictor

        return predictor(version_dir, info)

    def evaluate_export(self, version_dir: Path, info: dict, data_path: Path) -> dict[str, float]:
        """ROUGE of beam search and of greedy decoding, and the lead-N baselines beside them."""
        from trainers.tasks.summarize import metrics
        from trainers.tasks.summarize.serving import summarize

        pairs = PAIRS.read(data_path, skip_bad_lines=False)
        results: dict[str, float] = {"examples": len(pairs)}
        for name, signature in (("beam", "serving_default"), ("greedy", "greedy")):
            decoded = [r["summary"] for r in summarize(version_dir, pairs.sources, signature, info=info)]
            results.update({f"{name}_{k}": v for k, v in metrics.rouge(pairs.targets, decoded).items()})
        for words in LEAD_WORDS:
            lead = [metrics.lead(text, words) for text in pairs.sources]
            results.update({f"lead{words}_{k}": v for k, v in metrics.rouge(pairs.targets, lead).items()})
        return results

"""The chat task: `context<TAB>response` pairs, one vocabulary for both sides fixed at the first
start in `vocab.json` (with the most frequent training reply, the baseline), a Transformer
encoder-decoder, BLEU and distinct-n, and the interactive `chat` command (no TensorFlow at import)."""

from __future__ import annotations

from pathlib import Path

from trainers.runtime.commands import Command
from trainers.runtime.errors import DataError
from trainers.runtime.task import Context, Task
from trainers.shared.seq2seq.pairs import PairFormat, Pairs
from trainers.tasks.chat import keys

SAMPLE_DIR = Path(__file__).resolve().parent / "sample_data"
PAIRS = PairFormat("context", "response")


def _chat(argv: list[str], registry) -> int:
    from trainers.tasks.chat.cli import main

    return main(argv, registry)


class ChatTask(Task):
    name = "chat"
    model_types = keys.MODEL_TYPES
    keys = keys.KEYS
    assets_file = "vocab.json"
    best_metric = "val_perplexity"
    higher_is_better = False

    def resolve_config(self, cfg):
        return keys.resolve(cfg)

    def sample_data(self, cfg) -> str:
        return str(SAMPLE_DIR / "dialogue.train.tsv")

    def read_data(self, cfg, path: Path) -> Pairs:
        return PAIRS.read(path, cfg.skip_bad_lines)

    def build_assets(self, cfg, train: Pairs) -> dict:
        from trainers.shared.seq2seq.vocab import TARGET_RESERVED
        from trainers.shared.text import build_vocabulary
        from trainers.tasks.chat.metrics import most_frequent

        return {
            "vocabulary": build_vocabulary(train.sources + train.targets, cfg.vocab_size, TARGET_RESERVED),
            "most_frequent_reply": most_frequent(train.targets),
        }

    def check_assets(self, cfg, assets: dict, train: Pairs, evaluation: Pairs | None) -> None:
        if len(assets["vocabulary"]) <= 4:
            raise DataError(f"{train.path}: the pairs hold no word to build a vocabulary from")

    def create(self, cfg, assets: dict, train, evaluation, ctx: Context):
        from trainers.tasks.chat.run import ChatRun

        return ChatRun(cfg, assets, train, evaluation)

    def commands(self):
        return {
            "chat": Command(
                "talk to an exported chatbot: one reply per line typed (Ctrl-D or Ctrl-C ends)\n"
                "(python -m trainers chat --model DIR [--sample --seed N --temperature T])",
                _chat,
            )
        }

    def predict(self, version_dir: Path, info: dict, texts: list[str], as_json: bool) -> str:
        from trainers.tasks.chat.serving import format_replies, reply

        return format_replies(texts, reply(version_dir, texts), as_json)

    def evaluate_export(self, version_dir: Path, info: dict, data_path: Path) -> dict[str, float]:
        """Likelihood (loss, perplexity, token accuracy) through the `model` signature; BLEU and
        distinct-1/2 of beam and greedy replies; the most-frequent-reply baseline beside them."""
        from trainers.tasks.chat.scoring import score_export

        return score_export(version_dir, PAIRS.read(data_path, skip_bad_lines=False))

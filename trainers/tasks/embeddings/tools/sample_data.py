"""Generate the embeddings task's bundled sample in trainers/tasks/embeddings/sample_data/
(deterministic; committed). Synthetic financial-news lines, made by this project so that tests,
`make run EXP=hat-explainer` and `make run EXP=hat-guesser` need no download:

- 16 topics, each a game word and 8 words that go with it (some share its stem: `bank` has
  `banker` and `banking`, which the game's explainer must never give as hints). A topic line mixes
  3-5 of its words (the game word in 70% of them) with common filler words.
- 10 countries with their currency and financial centre (`japan yen tokyo`), in lines that say a
  currency's and a country's role with their own filler words, so `yen - japan + france` can learn
  to land near `franc`.

Files: hat.train.txt (the corpus), hat.eval.txt (game words with 3 reference hints each),
similarity.tsv (topic pairs scored high, cross-topic pairs low), analogies.txt (country : currency).
A model learns the topics within a minute on 2 cores (tests/test_embeddings_task.py shows it).

    make sample-data TASK=embeddings            # rewrite the files
"""

from __future__ import annotations

import argparse
import itertools
import random
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "sample_data"

TOPICS = {
    "bank": ["banker", "banking", "loan", "deposit", "lender", "branch", "account", "mortgage"],
    "oil": ["crude", "barrel", "opec", "refinery", "petroleum", "drilling", "pipeline", "gasoline"],
    "wheat": ["grain", "harvest", "farmer", "crop", "bushel", "flour", "acreage", "silo"],
    "gold": ["bullion", "ounce", "mine", "precious", "jewellery", "golden", "silver", "vault"],
    "strike": ["union", "worker", "walkout", "picket", "wage", "striker", "labour", "dispute"],
    "ship": ["port", "cargo", "vessel", "tanker", "freight", "shipping", "harbour", "crew"],
    "car": ["vehicle", "engine", "driver", "motor", "dealer", "sedan", "automaker", "tyre"],
    "coffee": ["bean", "roaster", "arabica", "cup", "cafe", "espresso", "plantation", "brew"],
    "steel": ["mill", "iron", "furnace", "smelter", "alloy", "ore", "steelmaker", "foundry"],
    "election": ["vote", "voter", "ballot", "candidate", "campaign", "poll", "elect", "parliament"],
    "bond": ["yield", "treasury", "coupon", "maturity", "debt", "bondholder", "issuer", "note"],
    "sugar": ["cane", "beet", "sweet", "refiner", "molasses", "sugary", "syrup", "quota"],
    "computer": ["software", "chip", "memory", "disk", "printer", "computing", "keyboard", "processor"],
    "airline": ["flight", "airport", "passenger", "pilot", "jet", "fare", "aircraft", "airliner"],
    "insurance": ["insurer", "policy", "premium", "claim", "underwriter", "insured", "risk", "broker"],
    "tax": ["taxation", "taxpayer", "levy", "revenue", "deduction", "audit", "tariff", "exemption"],
}
FILLER = [
    "the",
    "a",
    "of",
    "to",
    "and",
    "in",
    "said",
    "that",
    "for",
    "on",
    "with",
    "was",
    "by",
    "it",
    "at",
    "from",
    "is",
    "its",
    "will",
    "has",
    "this",
    "year",
    "new",
    "also",
    "would",
    "last",
    "company",
    "market",
    "week",
    "per",
    "cent",
    "up",
    "officials",
    "today",
]
COUNTRIES = [
    ("japan", "yen", "tokyo"),
    ("britain", "sterling", "london"),
    ("germany", "mark", "frankfurt"),
    ("france", "franc", "paris"),
    ("italy", "lira", "rome"),
    ("canada", "dollar", "toronto"),
    ("india", "rupee", "bombay"),
    ("china", "yuan", "beijing"),
    ("russia", "rouble", "moscow"),
    ("mexico", "peso", "monterrey"),
]
CURRENCY_ROLE = ["currency", "exchange", "traded", "against", "dealers", "rate", "weaker", "firmer"]
COUNTRY_ROLE = ["government", "economy", "exports", "minister", "nation", "growth", "imports"]
LINES = 3000
FX_LINES = 1200


def topic_line(rng: random.Random, word: str, related: list[str]) -> str:
    words = rng.sample(related, rng.randint(2, 4))
    if rng.random() < 0.6:
        words.append(word)
    if rng.random() < 0.6:  # news mixes topics: a word or two of another one
        other = rng.choice([w for w in TOPICS if w != word])
        words += rng.sample([other, *TOPICS[other]], rng.randint(1, 2))
    words += rng.choices(FILLER, k=rng.randint(5, 9))
    rng.shuffle(words)
    return " ".join(words)


def fx_line(rng: random.Random, country: str, currency: str, centre: str) -> str:
    if rng.random() < 0.5:
        words = [currency, centre] + rng.sample(CURRENCY_ROLE, 3)
    else:
        words = [country, centre] + rng.sample(COUNTRY_ROLE, 3)
    if rng.random() < 0.5:
        words.append(country if words[0] == currency else currency)
    words += rng.choices(FILLER, k=rng.randint(3, 6))
    rng.shuffle(words)
    return " ".join(words)


def corpus(seed: int = 18) -> list[str]:
    rng = random.Random(seed)
    topics = list(TOPICS.items())
    lines = [topic_line(rng, *topics[i % len(topics)]) for i in range(LINES)]
    lines += [fx_line(rng, *COUNTRIES[i % len(COUNTRIES)]) for i in range(FX_LINES)]
    rng.shuffle(lines)
    return lines


def game_words() -> list[str]:
    from trainers.tasks.embeddings.game import shares_stem

    rows = []
    for word, related in TOPICS.items():
        hints = [w for w in related if not shares_stem(word, w)][:3]
        rows.append(f"{word}\t{' '.join(hints)}")
    return rows


def similarity(seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    rows = []
    for word, related in TOPICS.items():
        for other in rng.sample(related, 2):
            rows.append(f"{word}\t{other}\t{rng.uniform(7.5, 9.5):.2f}")
    names = list(TOPICS)
    for a, b in rng.sample(list(itertools.combinations(names, 2)), 32):
        rows.append(f"{a}\t{rng.choice(TOPICS[b])}\t{rng.uniform(0.5, 2.5):.2f}")
    return rows


def analogies() -> list[str]:
    rows = [": country-currency"]
    for (a, b, _), (c, d, _) in itertools.permutations(COUNTRIES, 2):
        rows.append(f"{a} {b} {c} {d}")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help="directory to write (default: the task's sample_data)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    header = "# synthetic, generated by trainers/tasks/embeddings/tools/sample_data.py\n"
    files = {
        "hat.train.txt": "\n".join(corpus()) + "\n",
        "hat.eval.txt": header + "# game word<TAB>reference hints\n" + "\n".join(game_words()) + "\n",
        "similarity.tsv": header + "# word<TAB>word<TAB>score\n" + "\n".join(similarity()) + "\n",
        "analogies.txt": "\n".join(analogies()) + "\n",
    }
    for name, text in files.items():
        (args.out / name).write_text(text)
        print(f"wrote {args.out / name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

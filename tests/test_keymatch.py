"""Keys are matched exactly; a key that differs from a known one only in case, separators,
whitespace, invisible characters, Unicode form or look-alike letters is a near miss naming the key
that was meant. Property-style: any known key, disguised any of those ways, is found."""

from __future__ import annotations

import re
import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from trainers.runtime import keys as runtime_keys
from trainers.runtime.keymatch import KeyMatcher, fold, near_miss
from trainers.tasks import registry

KNOWN = sorted({*runtime_keys.KEYS, *(k for task in registry().tasks for k in task.keys)})
MATCHER = KeyMatcher(KNOWN)
INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u202e", "\u2066"]
# Look-alikes from other scripts, each confusable with the Latin letter (Unicode confusables.txt).
HOMOGLYPHS = {"a": "\u0430", "e": "\u0435", "o": "\u043e", "p": "\u0440", "c": "\u0441", "i": "\u0456", "s": "\u0455"}
known_keys = st.sampled_from(KNOWN)


def words(key: str) -> list[str]:
    return re.findall(r"[a-z0-9]+|[A-Z][a-z0-9]*", key)


def test_every_known_key_is_itself_and_no_two_known_keys_collide():
    assert all(MATCHER.near_miss(k) is None for k in KNOWN)
    folded = [fold(k) for k in KNOWN]
    assert len(set(folded)) == len(folded), "two known keys differ only in form: the matcher could not tell them apart"


@given(known_keys, st.sampled_from(["upper", "lower", "title", "swap"]))
def test_case(key, how):
    disguised = getattr(key, how if how != "swap" else "swapcase")()
    miss = MATCHER.near_miss(disguised)
    if disguised == key:
        assert miss is None
    else:
        assert miss.intended == key and "case" in miss.differences, miss


@given(known_keys, st.sampled_from(["_", "-", ".", " "]), st.booleans())
def test_separators(key, separator, upper):
    parts = words(key)
    disguised = separator.join(p.lower() for p in parts)
    disguised = disguised.upper() if upper else disguised
    miss = MATCHER.near_miss(disguised)
    if disguised == key:
        assert miss is None
    else:
        assert miss is not None and miss.intended == key, (disguised, miss)


@given(known_keys, st.text(alphabet=" \t\u00a0\u3000", min_size=1, max_size=3), st.booleans())
def test_surrounding_whitespace(key, space, leading):
    miss = MATCHER.near_miss(space + key if leading else key + space)
    assert miss.intended == key and miss.differences == ("surrounding whitespace",), miss


@given(known_keys, st.sampled_from(INVISIBLE), st.integers(min_value=0))
def test_invisible_characters(key, char, position):
    at = position % (len(key) + 1)
    miss = MATCHER.near_miss(key[:at] + char + key[at:])
    assert miss.intended == key and "invisible characters" in miss.differences, miss


@given(known_keys, st.integers(min_value=0))
def test_unicode_form(key, position):
    """A fullwidth or mathematical letter is the same letter after NFKC."""
    at = position % len(key)
    fullwidth = chr(ord(key[at]) + 0xFEE0) if key[at].isascii() and key[at].isalnum() else key[at]
    disguised = key[:at] + fullwidth + key[at + 1 :]
    assert unicodedata.normalize("NFKC", disguised) == key
    miss = MATCHER.near_miss(disguised)
    assert disguised == key or (miss.intended == key and "Unicode form (NFKC)" in miss.differences), miss


@given(known_keys, st.data())
def test_look_alike_letters(key, data):
    positions = [i for i, c in enumerate(key) if c in HOMOGLYPHS]
    if not positions:
        return
    at = data.draw(st.sampled_from(positions))
    disguised = key[:at] + HOMOGLYPHS[key[at]] + key[at + 1 :]
    miss = MATCHER.near_miss(disguised)
    assert miss.intended == key and "look-alike characters" in miss.differences, miss
    assert key in miss.message and "matched exactly" in miss.message


@settings(max_examples=300)
@given(st.text(min_size=1, max_size=20))
def test_anything_else_is_either_a_known_key_or_no_near_miss_of_a_different_form(text):
    """A near miss always names a known key of the same folded form, and never the text itself."""
    miss = MATCHER.near_miss(text)
    if miss is not None:
        assert miss.intended in KNOWN and miss.intended != text and fold(text) == fold(miss.intended)


def test_unrelated_and_merely_similar_keys_are_not_near_misses():
    # A typo is the trainer parser's business (difflib suggests); a near miss is the same key in
    # another form.
    for key in ["numEpoch", "learningRat", "HOME", "TMPDIR", "GOOGLE_APPLICATION_CREDENTIALS", "epochs"]:
        assert near_miss(key, KNOWN) is None, key


def test_the_message_names_the_key_and_what_differs():
    miss = near_miss("num_Ep\u043echs\u200b ", KNOWN)
    assert miss.intended == "numEpochs"
    assert set(miss.differences) == {
        "surrounding whitespace",
        "invisible characters",
        "look-alike characters",
        "separators",
    }
    assert "\\u043e" in miss.message  # the disguise is shown, not rendered invisibly

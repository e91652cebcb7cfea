"""Dialogue acts: what a message says *inside* a conversation ("ok did that", "where is it?").

Theory of operation
-------------------
The acts and their examples are data (``knowledge/dialogue*.yaml``, every language in one
pool). ``ActReader`` is built once from them with the matcher's own machinery: the same
``Analyzer`` (typo repair against the vocabulary, light stems) but with no stop words, since
"ok", "back" and "still" are the whole message here; word and word-pair features weighted by
inverse document frequency; cosine similarity to every example, re-scored with RapidFuzz; and
the learned layer (``linear.train``) over the same features. The problem and FAQ examples of
the knowledge base are a class of their own, ``description``: a message that reads like one
("my mailbox is also full, senders get 552") is not an act, whatever its first word.

``read(text, allowed=..., items=...)`` scores every act, keeps the ones that mean something
where the conversation is (``allowed``), and answers the best one with its score, or None.
``items`` are the names the bot just showed (a step's menu path, setting and options): they
are replaced by the ``{item}`` placeholder first, so "picked Save All" reads like the example
"picked {item}" at the step that offers **Save All**, and "where is POP Settings" like
"where is {item}". Numbers ("2", "option 3", "the second one") are read by ``number_of``.
What an act *means* (yes at "Switch to it?" switches) is the engine's business.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from rapidfuzz import fuzz, process

from bot.core import chinese
from bot.core.knowledge import DialogueData
from bot.core.linear import LinearModel, train
from bot.core.matching import STOP_WORDS, Analyzer
from bot.core.text import clean, words

ITEM = "{item}"
# The placeholder as a word the analyser keeps (no braces, never a real word).
_ITEM_WORD = "zzitem"
_NUMBER_FILLER = frozenset({"the", "one", "please", "pls", "number", "option", "choice", "no"})
DESCRIPTION = "description"
BIGRAM_WEIGHT = 0.8
TRIGRAM_WEIGHT = 0.4
LINEAR_C = 10.0
# A score blends the nearest example (cosine and fuzzy) with the learned layer.
NEAREST_WEIGHT = 0.6
FUZZ_WEIGHT = 0.3
# Below this, a message is not read as an act: the engine treats it as free text.
ACT_FLOOR = 0.2
# Messages longer than this many words are descriptions unless the act is very clear.
LONG_MESSAGE_WORDS = 14
MIN_SWAP_LENGTH = 4
LENGTH_WEIGHT = 0.5
# A reply restates the step when at least this share of its content words are the step's.
RESTATE_SHARE = 0.5
RESTATE_SCORE = 0.6
RESTATE_MAX_WORDS = 5
# Words that make a reply about the step a question or a complaint, not a report that it's done.
_ASKING = frozenset("how where what why which who not no nothing still can could".split())
_NUMBER = re.compile(
    r"^\s*(?:(?:number|option|choice|no\.?|nr\.?|#)\s*)?(\d{1,2})(?:st|nd|rd|th)?"
    r"(?:\s*(?:one|please|pls))?\s*[.)!]*\s*$",
    re.IGNORECASE,
)


# "第2个", "选3", "2号": a number in Chinese framing.
_NUMBER_ZH = re.compile(r"^\s*选?\s*第?\s*(\d{1,2})\s*[个项号]?\s*$")


class Act(StrEnum):
    """Things people say inside a conversation; the engine gives them a meaning by state."""

    DONE = "done"
    NEXT = "next"
    BACK = "back"
    STUCK = "stuck"
    YES = "yes"
    NO = "no"
    SWITCH = "switch"
    STAY = "stay"
    CANCEL = "cancel"
    HUMAN = "human"
    THANKS = "thanks"
    GOODBYE = "goodbye"
    GREETING = "greeting"
    REPEAT = "repeat"
    HELP = "help"
    WORKS = "works"
    WALK = "walk"
    WRONG = "wrong"
    NUMBER = "number"


@dataclass(frozen=True, slots=True, kw_only=True)
class ActReading:
    """The act a message was read as (None: free text), its score and the runner-up scores."""

    act: Act | None
    score: float = 0.0
    number: int | None = None
    ranked: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True, slots=True)
class _Example:
    act: str
    canonical: str


@lru_cache(maxsize=4)
def act_reader(dialogue: DialogueData, descriptions: tuple[str, ...]) -> ActReader:
    """The reader for these acts and descriptions, built once (training takes a second)."""
    return ActReader(dialogue, descriptions)


class ActReader:
    """Reads short replies as dialogue acts; build once per knowledge base."""

    def __init__(self, dialogue: DialogueData, descriptions: Iterable[str] = ()) -> None:
        self.dialogue = dialogue
        self._ordinals = dict(dialogue.ordinals)
        self._upset = tuple(_phrase_pattern(m) for m in dialogue.upset)
        labelled: list[tuple[str, str]] = []
        for entry in dialogue.acts:
            labelled.extend((entry.act, _with_placeholder(t)) for t in entry.examples)
        labelled.extend((DESCRIPTION, t) for t in descriptions)
        vocabulary = {w for _, t in labelled for w in words(t) if w.isalpha()}
        self._analyzer = Analyzer(vocabulary, stop_words=frozenset())
        rows: list[dict[str, float]] = []
        self._examples: list[_Example] = []
        self._exact: dict[str, str] = {}
        for act, text in labelled:
            stems = self._stems(text)
            feats = _features(stems)
            if not feats:
                # Emoji and punctuation examples ("👍", "??") are matched exactly.
                self._exact.setdefault(_bare(text), act)
                continue
            rows.append(feats)
            self._examples.append(_Example(act=act, canonical=" ".join(stems)))
            if act != DESCRIPTION:
                self._exact.setdefault(" ".join(stems), act)
        # Weights by how many *classes* use a feature, not how many examples: "back" fills the
        # examples of one act and should weigh much, "pls" is sprinkled over many and little.
        classes_of: dict[str, set[str]] = defaultdict(set)
        for example, feats in zip(self._examples, rows, strict=True):
            for f in feats:
                classes_of[f].add(example.act)
        n = len({e.act for e in self._examples})
        self._idf = {f: math.log((n + 1) / (len(c) + 1)) + 1.0 for f, c in classes_of.items()}
        self._default_idf = math.log(n + 1) + 1.0
        self._vectors = [self._weigh(feats) for feats in rows]
        self._postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
        for row, vec in enumerate(self._vectors):
            for f, w in vec.items():
                self._postings[f].append((row, w))
        labels = [e.act for e in self._examples]
        self._model: LinearModel | None = None
        if len(set(labels)) > 1:
            lengths = [len(e.canonical.split()) for e in self._examples]
            self._model = train(
                [_with_length(v, n) for v, n in zip(self._vectors, lengths, strict=True)],
                labels,
                c=LINEAR_C,
            )

    # -- reading ----------------------------------------------------------------------------

    def read(
        self,
        text: str,
        *,
        allowed: frozenset[Act] | None = None,
        items: Sequence[str] = (),
        context: str = "",
        floor: float = ACT_FLOOR,
    ) -> ActReading:
        """The best allowed act for ``text`` (None when it reads as free text).

        ``context`` is the step or check on screen: a short reply made of its words
        ("sent the test email" at "Send a test email") restates it, which reads as done.
        """
        allowed = frozenset(Act) if allowed is None else allowed
        number = self.number_of(text)
        if number is not None and Act.NUMBER in allowed:
            return ActReading(act=Act.NUMBER, score=1.0, number=number)
        scores = self.scores(text, items=items)
        if context:
            share = self.restates(text, context)
            if share >= RESTATE_SHARE:
                scores[Act.DONE.value] = max(
                    scores.get(Act.DONE.value, 0.0), RESTATE_SCORE * share
                )
        ranked = tuple(sorted(scores.items(), key=lambda kv: -kv[1]))
        description = scores.get(DESCRIPTION, 0.0)
        for name, score in ranked:
            if name == DESCRIPTION or name == Act.NUMBER:
                continue
            act = Act(name)
            if act not in allowed:
                continue
            if score >= floor and score > description:
                return ActReading(act=act, score=round(score, 4), ranked=ranked[:5])
            break
        return ActReading(act=None, score=round(description, 4), ranked=ranked[:5])

    def scores(self, text: str, *, items: Sequence[str] = ()) -> dict[str, float]:
        """A score in [0, 1] for every act and for ``description``."""
        text = _replace_items(clean(text), items)
        bare = _bare(text)
        if bare in self._exact:
            return {self._exact[bare]: 1.0}
        stems = self._stems(self._unswap(text))
        canonical = " ".join(stems)
        if canonical in self._exact:
            return {self._exact[canonical]: 1.0}
        query = self._weigh(_features(stems))
        if not query:
            return {}
        nearest = self._nearest(query, canonical)
        learned = {}
        if self._model is not None:
            learned = self._model.probabilities(_with_length(query, len(stems)))
        out: dict[str, float] = {}
        for name in set(nearest) | set(learned):
            out[name] = NEAREST_WEIGHT * nearest.get(name, 0.0) + (
                1 - NEAREST_WEIGHT
            ) * learned.get(name, 0.0)
        if len(words(text)) > LONG_MESSAGE_WORDS:
            # A long message is a description unless an act is unmistakable.
            out[DESCRIPTION] = max(out.get(DESCRIPTION, 0.0), 0.5)
        return out

    def restates(self, text: str, context: str) -> float:
        """Share of a short message's content words that are the context's own words."""
        if _ASKING.intersection(words(text)):
            return 0.0
        said = [w for w in self._stems(text) if w not in STOP_WORDS and w != _ITEM_WORD]
        if not said or len(said) > RESTATE_MAX_WORDS:
            return 0.0
        shown = set(self._stems(context))
        # "sent" restates "Send": irregular forms are one letter apart, so compare fuzzily.
        found = [
            w in shown
            or (len(w) >= 4 and process.extractOne(w, shown, scorer=fuzz.ratio, score_cutoff=75))
            for w in said
        ]
        return sum(bool(f) for f in found) / len(said)

    def number_of(self, text: str) -> int | None:
        """The number a reply picks ("2", "option 3", "the second one", "第二个"), or None."""
        hit = _NUMBER.match(text) or _NUMBER_ZH.match(clean(text))
        if hit:
            return int(hit.group(1))
        if chinese.han_count(text):
            # Chinese ordinals are whole words ("第二个", "选第三个"), not units to cut.
            said = _bare(text).removeprefix("选").strip()
            return self._ordinals.get(said)
        tokens = [t for t in words(text) if t not in _NUMBER_FILLER]
        if len(tokens) == 1 and tokens[0] in self._ordinals:
            return self._ordinals[tokens[0]]
        said = words(text)
        if len(said) == 2 and said[0] in _NUMBER_FILLER and said[1] in self._ordinals:
            # "option one", "number two"
            return self._ordinals[said[1]]
        if tokens == ["last"] or tokens == ["last", "option"]:
            return -1
        return None

    def is_upset(self, text: str) -> bool:
        """True when a message shows frustration (markers from the data, shouting, '!!!')."""
        cleaned = clean(text)
        if any(p.search(cleaned) for p in self._upset):
            return True
        shouted = [w for w in re.findall(r"[A-Za-z]{3,}", cleaned) if w.isupper()]
        return len(shouted) >= 3 or "!!!" in cleaned

    # -- internals --------------------------------------------------------------------------

    def _stems(self, text: str) -> list[str]:
        return self._analyzer.analyse(text)[0]

    def _unswap(self, text: str) -> str:
        """Undo one swap of neighbouring letters ("dnoe", "stcuk"): fuzzy ratios count it twice."""
        if chinese.han_count(text):
            # Chinese has no letters to swap, and its units must be cut from the whole run.
            return text
        out = []
        vocabulary = self._analyzer.vocabulary
        for word in words(text):
            if word in vocabulary or len(word) < MIN_SWAP_LENGTH or not word.isalpha():
                out.append(word)
                continue
            fixes = {
                w
                for i in range(len(word) - 1)
                if (w := word[:i] + word[i + 1] + word[i] + word[i + 2 :]) in vocabulary
            }
            out.append(fixes.pop() if len(fixes) == 1 else word)
        return " ".join(out)

    def _nearest(self, query: dict[str, float], canonical: str) -> dict[str, float]:
        sims: dict[int, float] = defaultdict(float)
        for f, w in query.items():
            for row, weight in self._postings.get(f, ()):
                sims[row] += w * weight
        if not sims:
            return {}
        rows = sorted(sims, key=lambda r: -sims[r])[:48]
        fuzzy = process.cdist(
            [canonical],
            [self._examples[r].canonical for r in rows],
            scorer=fuzz.ratio,
            processor=None,
        )[0]
        best: dict[str, float] = {}
        for row, fz in zip(rows, fuzzy.tolist(), strict=True):
            value = (1 - FUZZ_WEIGHT) * sims[row] + FUZZ_WEIGHT * fz / 100.0
            act = self._examples[row].act
            if value > best.get(act, 0.0):
                best[act] = value
        return best

    def _weigh(self, feats: dict[str, float]) -> dict[str, float]:
        vec = {f: w * self._idf.get(f, self._default_idf) for f, w in feats.items()}
        norm = math.sqrt(sum(w * w for w in vec.values()))
        return {f: w / norm for f, w in vec.items()} if norm else {}


def _with_length(vector: dict[str, float], length: int) -> dict[str, float]:
    """The learned layer also sees how long a message is: descriptions are rarely two words."""
    bucket = str(length) if length <= 3 else ("4-6" if length <= 6 else "7+")
    return {**vector, f"@len{bucket}": LENGTH_WEIGHT}


def _features(stems: list[str]) -> dict[str, float]:
    feats: dict[str, float] = dict.fromkeys(stems, 1.0)
    for a, b in itertools.pairwise(stems):
        feats[f"{a}_{b}"] = BIGRAM_WEIGHT
    if 0 < len(stems) <= 3:
        # Short replies are often the whole act ("go back", "not yet"): the phrase itself.
        feats["=" + "_".join(stems)] = 1.0
    for s in stems:
        # Letter trigrams catch what typo repair can't ("oke", "stuk", "thnaks").
        padded = f"^{s}$"
        for i in range(len(padded) - 2):
            feats.setdefault("#" + padded[i : i + 3], TRIGRAM_WEIGHT)
    return feats


def _with_placeholder(text: str) -> str:
    return text.replace(ITEM, f" {_ITEM_WORD} ")


def _replace_items(text: str, items: Sequence[str]) -> str:
    """Each shown name in the message becomes the placeholder word (longest names first)."""
    for item in sorted({i for i in items if i.strip()}, key=len, reverse=True):
        text = _phrase_pattern(item).sub(f" {_ITEM_WORD} ", text)
    return text


def _phrase_pattern(phrase: str) -> re.Pattern[str]:
    parts = [re.escape(p) for p in phrase.split()]
    return re.compile(r"(?<!\w)" + r"\W+".join(parts) + r"(?!\w)", re.IGNORECASE)


def _bare(text: str) -> str:
    folded = " ".join(clean(text).casefold().split()).strip(" .!")
    # "???" and "??" are the same reply; so are "!!!" and "!".
    return re.sub(r"([?!])\1+", r"\1\1", folded)

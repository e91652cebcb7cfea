"""Which documented topic a message is about, how sure we are, and why.

Theory of operation
-------------------
Every piece of knowledge text that says what a topic is about (examples, titles, symptoms,
FAQ questions, error messages) becomes a *choice*. Choices and queries go through the same
pipeline: clean -> words -> typo repair against the knowledge vocabulary -> light stemming ->
stop-word removal -> concept tags (``outlook`` also counts as ``@client``) -> word bigrams.
Features are weighted by inverse document frequency, so "email" weighs little and "quota"
much, and each text becomes an L2-normalised sparse vector.

Scoring a query is one pass over an inverted index (feature -> postings of choice rows, as
numpy arrays): the dot products give the cosine of the query with every choice that shares a
feature. The best few rows are then re-scored with RapidFuzz's ``token_sort_ratio`` on the
canonical strings, which rewards the same words in the same shape. A topic's score blends
its best choice, its runner-up and its prototype (the mean of all its example vectors), plus
exact evidence: error codes ("552", "EmailNotFound") and pasted error lines take a separate,
exact path, and listed keywords add a bounded bonus. Keywords are never fuzzy choices: a
partial scorer would give a short keyword 100 inside any long message.

Out-of-scope groups (password resets, DKIM, small talk...) are scored the same way and
compete with the topics, each group a class of its own in the learned layer. The decision is
floor plus margin, with the thresholds in ``MatchSettings`` (calibrated by ``alimail-bot
eval`` on sets of our own): ``none`` only when an out-of-scope group leads the best topic by
``oos_margin``; ``answer`` only when the best topic leads every out-of-scope group by
``oos_answer_margin``; in between the bot asks ("Is this about ...?") rather than reject a
question its guide may well cover.

Which way the mail went matters (``text.mail_flow``): "people writing to me get 552" is the
writer's own full mailbox, "I get 552 when I send to gmail" is someone else's. The flow is a
feature like any word; a code in a bounce the writer got for mail *they* sent is never exact
evidence; and an entry whose examples tell the mail going one way (a full mailbox: incoming)
is weakened for a message that tells only the other way.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
from rapidfuzz import fuzz, process

from bot.core import chinese, language
from bot.core.knowledge import Faq, KnowledgeBase, Problem
from bot.core.linear import LinearModel, train
from bot.core.settings import MatchSettings
from bot.core.text import (
    CODE_TOKEN,
    Flow,
    clean,
    mail_flow,
    split_scripts,
    stem,
    strip_forward_prefix,
    words,
)

STOP_WORDS = frozenset(
    """a an the and or but if then so of to in on at by for from with about into onto over
    under as is am are was were be been being do does did doing have has had having i me my
    mine we us our you your he him his she her it its they them their this that these those
    there here what which who whom whose when where why how can could would should will shall
    may might must just also too very really please pls plz dear
    sir madam team any some all every each again still even now today yesterday ok okay
    get got gets getting go going went one ones thing things something anything like want
    need know tell help let make made see seen use used using way lot lots much many""".split()
)

# Words that mean the same thing in these problems. A message keeps its own words and gains
# the tag, so an unseen client name or synonym still meets the examples half way.
CONCEPTS: dict[str, tuple[str, ...]] = {
    "@client": (
        "outlook thunderbird foxmail iphone ipad android phone mobile smartphone cellphone "
        "laptop desktop pc computer client clients app apps program software macbook mac "
        "windows apple gmail spark bluemail samsung huawei xiaomi ios tablet notebook "
        "em-client emclient mailbird postbox evolution kmail"
    ).split(),
    "@vanish": (
        "vanish vanished vanishing disappear disappeared disappearing gone wipe wiped "
        "erase erased delete deleted deleting deletes deletion remove removed removes "
        "purge purged clear cleared lose lost"
    ).split(),
    "@sync": (
        "sync synced syncing synchronise synchronize synchronization synchronisation "
        "download downloaded downloading downloads fetch fetched fetches fetching "
        "retrieve retrieved retrieval pull pulled pulls collect collects"
    ).split(),
    "@web": (
        "webmail web browser online website site portal webpage chrome safari firefox "
        "edge webbased"
    ).split(),
    "@storage": (
        "full quota storage space capacity size limit gb 10gb exceed exceeded exceeds "
        "allocation disk overquota mb"
    ).split(),
    "@bounce": (
        "bounce bounced bounces bouncing undeliverable undelivered reject rejected "
        "rejects returned failure ndr"
    ).split(),
    "@folder": "spam junk trash bin folder folders archive subfolder subfolders".split(),
    "@rule": "rule rules filter filters filtering sorting sorted sort".split(),
    "@find": "find found search searching look looking locate where".split(),
    "@arrive": (
        "receive received receiving arrive arrived arriving incoming inbound "
        "deliver delivered delivery"
    ).split(),
    "@sent": "sent outgoing".split(),
}

MIN_TYPO_LENGTH = 4
# An entry whose examples mostly tell the mail coming in (a full mailbox: people writing to
# me get 552) or going out (my mail to a client bounced) is weakened for a message that tells
# only the other way. It takes a few examples to know an entry's way.
FLOW_MIN_EXAMPLES = 3
FLOW_DOMINANCE = 4
FLOW_PENALTY = 0.4
# The learned layer: trained when the knowledge has at most this many topics (a 10 000-topic
# base would take minutes to fit), with scikit-learn's C and a blend weight chosen by eval on
# our calibration sets.
LINEAR_MAX_TOPICS = 200
LINEAR_C = 10.0
LINEAR_WEIGHT = 0.2
MIN_ERROR_MESSAGE_LENGTH = 20
MESSAGE_TOKEN_SHARE = 0.6
MAX_KEYWORD_WORDS = 6
PROTOTYPE_WEIGHT = 0.25
RUNNER_UP_WEIGHT = 0.15
FUZZ_WEIGHT = 0.25
KEYWORD_BONUS = 0.06
KEYWORD_BONUS_CAP = 0.12
CODE_SCORE = 0.97
# An exact code is answered unless an out-of-scope group reads this much closer than the words.
EXACT_OOS_MARGIN = 0.1
RESCORE_ROWS = 64
# Clarify choices must score at least this share of the clarify floor.
CLARIFY_SHARE = 0.75
BIGRAM_WEIGHT = 0.8
# Ignored by the prefilter when a posting list is longer than this share of all choices:
# such features carry almost no weight (low idf) and would make a 10 000-topic query slow.
COMMON_FEATURE_SHARE = 0.05
COMMON_FEATURE_MIN = 5000


# Evidence from the exact path (as opposed to a fuzzy look at an error line's words).
EXACT_EVIDENCE = ("error code ", "error message ")
# A code is a run of word characters and inner dots ("552", "MailboxFull", "5.2.2").
_CODE_TOKEN = CODE_TOKEN


class Decision(StrEnum):
    """What to do with a message."""

    ANSWER = "answer"
    CLARIFY = "clarify"
    NONE = "none"


@dataclass(frozen=True, slots=True, kw_only=True)
class Candidate:
    """One ranked topic: the best-scoring entry id for it and the evidence."""

    id: str
    topic: str
    score: float
    evidence: str = ""
    exact: bool = False
    keyword: bool = False
    text_score: float = 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class MatchResult:
    """The ranked candidates, the decision and why."""

    text: str
    decision: Decision
    candidates: tuple[Candidate, ...] = ()
    out_of_scope: str | None = None
    out_of_scope_score: float = 0.0
    terms: int = 0
    reason: str = ""
    settings: MatchSettings = field(default_factory=MatchSettings)

    @property
    def best(self) -> Candidate | None:
        """The chosen candidate for ``answer``; None otherwise."""
        if self.decision is Decision.ANSWER and self.candidates:
            return self.candidates[0]
        return None

    @property
    def choices(self) -> tuple[Candidate, ...]:
        """The candidates offered when clarifying (1 to ``max_choices``)."""
        if self.decision is not Decision.CLARIFY:
            return ()
        return _close(self.candidates, self.settings)


@dataclass(frozen=True, slots=True)
class _Choice:
    entry: str
    kind: str
    text: str
    canonical: str


class Analyzer:
    """Turns text into weighted features; owns the typo-repair vocabulary.

    The dialogue-act reader reuses it with no stop words: there "ok", "back" and "still" carry
    the meaning.
    """

    def __init__(self, vocabulary: set[str], *, stop_words: frozenset[str] = STOP_WORDS) -> None:
        self.vocabulary = vocabulary
        self.stop_words = stop_words
        self._by_length: dict[int, list[str]] = defaultdict(list)
        for word in vocabulary:
            self._by_length[len(word)].append(word)
        self._repairs: dict[str, str | None] = {}
        self._concept_of: dict[str, str] = {}
        for tag, members in (*CONCEPTS.items(), *chinese.CONCEPTS.items()):
            for member in members:
                self._concept_of[stem(member)] = tag

    def repair(self, word: str) -> str:
        """The closest knowledge word for an unknown word (typo), or the word itself."""
        if word in self.vocabulary or len(word) < MIN_TYPO_LENGTH or not word.isalpha():
            return word
        if word not in self._repairs:
            if len(self._repairs) > 50_000:
                self._repairs.clear()
            pool = [
                w for n in range(len(word) - 1, len(word) + 2) for w in self._by_length.get(n, ())
            ]
            cutoff = 85.0 if len(word) <= 5 else 82.0
            hit = process.extractOne(
                word, pool, scorer=fuzz.ratio, processor=None, score_cutoff=cutoff
            )
            self._repairs[word] = hit[0] if hit else None
        return self._repairs[word] or word

    def analyse(self, text: str) -> tuple[list[str], frozenset[Flow]]:
        """Content stems of a text (typo-repaired, no stop words) and its mail flow."""
        repaired = [self.repair(word) for word in words(strip_forward_prefix(clean(text)))]
        stems = [stem(word) for word in repaired if word not in self.stop_words]
        return stems, mail_flow(repaired)

    def features(self, stems: list[str], flows: frozenset[Flow]) -> dict[str, float]:
        """Unigram, concept-tag, mail-flow and bigram features with their raw term weight."""
        feats: dict[str, float] = {flow.value: 1.0 for flow in flows}
        for s in stems:
            feats[s] = 1.0
            tag = self._concept_of.get(s)
            if tag:
                feats[tag] = 1.0
        for a, b in itertools.pairwise(stems):
            feats[f"{a}_{b}"] = BIGRAM_WEIGHT
        return feats


class Matcher:
    """Scores messages against a knowledge base; build once, query many times."""

    def __init__(self, kb: KnowledgeBase, settings: MatchSettings | None = None) -> None:
        self.kb = kb
        self.settings = settings or MatchSettings()
        self._topic_of: dict[str, str] = {}
        self._choices: list[_Choice] = []
        self._codes: dict[str, list[tuple[str, str]]] = defaultdict(list)
        self._spaced_codes: list[tuple[re.Pattern[str], str]] = []
        self._messages: list[tuple[str, str, frozenset[str]]] = []
        self._message_index: dict[str, list[int]] = defaultdict(list)
        self._keywords: dict[str, list[str]] = defaultdict(list)
        self._build()
        # One matcher per translation: a Chinese message is scored against Chinese text only,
        # so neither language's examples dilute the other's (and English scores stay as they are).
        self.by_language: dict[str, Matcher] = {
            lang: Matcher(translated, language.settings_for(lang, self.settings))
            for lang, translated in kb.translations.items()
        }

    @classmethod
    def from_knowledge(cls, kb: KnowledgeBase, settings: MatchSettings | None = None) -> Matcher:
        """Build a matcher (normalises every choice once)."""
        return cls(kb, settings)

    # -- building ---------------------------------------------------------------------------

    def _build(self) -> None:
        raw_texts: list[tuple[str, str, str]] = []
        for problem in self.kb.problems:
            self._add_entry(problem, raw_texts)
        for faq in self.kb.faqs:
            self._add_entry(faq, raw_texts)
        self._oos_groups = tuple(group.id for group in self.kb.out_of_scope)
        for group in self.kb.out_of_scope:
            self._topic_of[group.id] = group.id
            raw_texts.extend((group.id, "example", t) for t in group.examples)

        vocabulary: set[str] = set()
        for _, _, text in raw_texts:
            vocabulary.update(w for w in words(text) if w.isalpha())
        for members in CONCEPTS.values():
            vocabulary.update(m for m in members if m.isalpha())
        self._analyzer = Analyzer(vocabulary)

        rows: list[dict[str, float]] = []
        flow_counts: dict[str, Counter[Flow]] = defaultdict(Counter)
        for entry, kind, text in raw_texts:
            stems, flows = self._analyzer.analyse(text)
            feats = self._analyzer.features(stems, flows)
            if kind == "example":
                flow_counts[entry].update(flows)
            if not feats:
                continue
            self._choices.append(
                _Choice(entry=entry, kind=kind, text=text, canonical=" ".join(stems))
            )
            rows.append(feats)

        self._flows = {
            entry: flow for entry, counts in flow_counts.items() if (flow := _one_way(counts))
        }
        n = len(rows)
        df: dict[str, int] = defaultdict(int)
        for feats in rows:
            for f in feats:
                df[f] += 1
        self._idf = {f: math.log((n + 1) / (d + 1)) + 1.0 for f, d in df.items()}
        self._default_idf = math.log(n + 1) + 1.0

        postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
        self._entries = sorted({c.entry for c in self._choices})
        self._entry_index = {e: i for i, e in enumerate(self._entries)}
        self._row_entry = np.array(
            [self._entry_index[c.entry] for c in self._choices], dtype=np.int32
        )
        prototypes: list[dict[str, float]] = [defaultdict(float) for _ in self._entries]
        for row, feats in enumerate(rows):
            vec = self._weigh(feats)
            for f, w in vec.items():
                postings[f].append((row, w))
            if self._choices[row].kind == "example":
                proto = prototypes[self._row_entry[row]]
                for f, w in vec.items():
                    proto[f] += w
        limit = max(COMMON_FEATURE_MIN, int(COMMON_FEATURE_SHARE * n))
        self._postings = {
            f: (
                np.fromiter((r for r, _ in p), dtype=np.int32, count=len(p)),
                np.fromiter((w for _, w in p), dtype=np.float32, count=len(p)),
            )
            for f, p in postings.items()
        }
        self._common = {f for f, p in postings.items() if len(p) > limit}
        # Each topic's prototype (the normalised sum of its examples), as postings by feature.
        by_feature: dict[str, list[tuple[int, float]]] = defaultdict(list)
        for entry_idx, proto in enumerate(prototypes):
            for f, w in self._normalise(dict(proto)).items():
                by_feature[f].append((entry_idx, w))
        self._proto_postings = {
            f: (
                np.fromiter((e for e, _ in p), dtype=np.int32, count=len(p)),
                np.fromiter((w for _, w in p), dtype=np.float64, count=len(p)),
            )
            for f, p in by_feature.items()
        }
        self._n_rows = n
        self._linear = self._train_linear(rows)
        self._index_messages()
        if self._codes:
            # One alternation for every code, longest first, delimited like a word.
            alternation = "|".join(
                re.escape(c) for c in sorted(self._codes, key=len, reverse=True)
            )
            self._code_pattern = re.compile(rf"(?<![\w.])(?:{alternation})(?![\w.])", re.I)

    def _train_linear(self, rows: list[dict[str, float]]) -> LinearModel | None:
        """The learned layer, for knowledge bases with few enough topics to learn quickly."""
        topics = {self._topic_of[c.entry] for c in self._choices if self.kb.entry(c.entry)}
        if not topics or len(topics) > LINEAR_MAX_TOPICS:
            return None
        # Each out-of-scope group is a class of its own, like a topic: pooled into one class,
        # their hundreds of examples would give "out of scope" a prior no topic can match.
        labels = [self._topic_of[c.entry] for c in self._choices]
        return train([self._weigh(row) for row in rows], labels, c=LINEAR_C)

    def _index_messages(self) -> None:
        """Index each error line under its two rarest words: a pasted line contains them."""
        frequency: dict[str, int] = defaultdict(int)
        for _, _, tokens in self._messages:
            for token in tokens:
                frequency[token] += 1
        for index, (_, _, tokens) in enumerate(self._messages):
            for token in sorted(tokens, key=lambda t: (frequency[t], t))[:2]:
                self._message_index[token].append(index)

    def _add_entry(self, entry: Problem | Faq, raw_texts: list[tuple[str, str, str]]) -> None:
        self._topic_of[entry.id] = self.kb.topic_of(entry.id)
        raw_texts.extend((entry.id, "example", t) for t in entry.examples)
        if isinstance(entry, Problem):
            raw_texts.append((entry.id, "title", entry.title))
            raw_texts.extend((entry.id, "symptom", s) for s in entry.symptoms)
            raw_texts.extend((entry.id, "error line", m) for m in entry.error_messages)
            for code in entry.error_codes:
                self._codes[code.casefold()].append((entry.id, code))
            # Short messages ("552") are codes in disguise; only long lines are matched fuzzily.
            self._messages.extend(
                (clean(m).casefold(), entry.id, frozenset(words(m)))
                for m in entry.error_messages
                if len(m) >= MIN_ERROR_MESSAGE_LENGTH
            )
        else:
            raw_texts.append((entry.id, "question", entry.question))
        for keyword in entry.keywords:
            # The same words a message keeps: "deleted from the server" is "delet server".
            stems = tuple(stem(w) for w in words(keyword) if w not in STOP_WORDS)
            if 0 < len(stems) <= MAX_KEYWORD_WORDS:
                # Keyed by the whole phrase: a message's word n-grams are looked up directly.
                self._keywords[" ".join(stems)].append(entry.id)

    def _weigh(self, feats: dict[str, float]) -> dict[str, float]:
        return self._normalise(
            {f: w * self._idf.get(f, self._default_idf) for f, w in feats.items()}
        )

    @staticmethod
    def _normalise(vec: dict[str, float]) -> dict[str, float]:
        norm = math.sqrt(sum(w * w for w in vec.values()))
        if norm == 0:
            return {}
        return {f: w / norm for f, w in vec.items()}

    # -- querying ---------------------------------------------------------------------------

    def match(self, text: str) -> MatchResult:
        """Rank the topics for ``text`` and decide answer / clarify / none."""
        text = text if isinstance(text, str) else str(text)
        translated = self.by_language.get(language.detect(text) or "")
        if translated is not None:
            return translated.match(text)
        stems, flows = self._analyzer.analyse(text)
        query = self._weigh(self._analyzer.features(stems, flows))
        # A code in a bounce the writer got for mail *they* sent describes the other side's
        # mailbox, not theirs: it is only words then, never exact evidence.
        outgoing = flows == {Flow.OUTGOING}
        entry_scores, evidence, text_scores, keyworded = self._score_entries(
            text, stems, query, codes=not outgoing
        )
        learned: dict[str, float] = {}
        if self._linear is not None:
            learned = self._linear.probabilities(query)
        if len(flows) == 1:
            self._apply_flow(next(iter(flows)), entry_scores, learned)
        return self._decide(
            text, len(set(stems)), entry_scores, evidence, text_scores, keyworded, learned
        )

    def _score_entries(
        self, text: str, stems: list[str], query: dict[str, float], *, codes: bool = True
    ) -> tuple[dict[str, float], dict[str, str], dict[str, float], set[str]]:
        scores: dict[str, float] = {}
        evidence: dict[str, str] = {}
        if query:
            rows, sims = self._cosines(query)
            if rows.size:
                self._blend_rows(stems, rows, sims, query, scores, evidence)
        text_scores = dict(scores)
        keyworded = self._exact_evidence(text, stems, scores, evidence, codes=codes)
        return scores, evidence, text_scores, keyworded

    def _cosines(self, query: dict[str, float]) -> tuple[np.ndarray, np.ndarray]:
        gathered = _gather(self._postings, query, skip=self._common)
        if gathered is None:
            return np.empty(0, dtype=np.int32), np.empty(0, dtype=np.float32)
        idx, vals = gathered
        if idx.size * 8 > self._n_rows:
            # Dense accumulation beats sorting once the postings are a fair share of the rows.
            dense = np.bincount(idx, weights=vals, minlength=self._n_rows)
            rows = np.flatnonzero(dense)
            return rows, dense[rows]
        rows, inverse = np.unique(idx, return_inverse=True)
        sims = np.bincount(inverse, weights=vals, minlength=rows.size)
        return rows, sims

    def _blend_rows(
        self,
        stems: list[str],
        rows: np.ndarray,
        sims: np.ndarray,
        query: dict[str, float],
        scores: dict[str, float],
        evidence: dict[str, str],
    ) -> None:
        if rows.size > RESCORE_ROWS:
            top = np.argpartition(-sims, RESCORE_ROWS - 1)[:RESCORE_ROWS]
            rows, sims = rows[top], sims[top]
        canonical = " ".join(stems)
        fuzzy = process.cdist(
            [canonical],
            [self._choices[r].canonical for r in rows],
            scorer=fuzz.token_sort_ratio,
            processor=None,
            dtype=np.float32,
        )[0]
        combined = (1 - FUZZ_WEIGHT) * sims + FUZZ_WEIGHT * (fuzzy / 100.0)
        per_entry: dict[int, list[tuple[float, int]]] = defaultdict(list)
        for row, value in zip(rows.tolist(), combined.tolist(), strict=True):
            per_entry[int(self._row_entry[row])].append((value, row))
        proto_sims = self._prototype_sims(query)
        for entry_idx, values in per_entry.items():
            values.sort(reverse=True)
            best, best_row = values[0]
            runner_up = values[1][0] if len(values) > 1 else 0.0
            proto_sim = float(proto_sims[entry_idx])
            score = (
                (1 - PROTOTYPE_WEIGHT - RUNNER_UP_WEIGHT) * best
                + RUNNER_UP_WEIGHT * runner_up
                + PROTOTYPE_WEIGHT * proto_sim
            )
            entry = self._entries[entry_idx]
            scores[entry] = min(1.0, score)
            choice = self._choices[best_row]
            evidence[entry] = f'{choice.kind} "{choice.text}"'

    def _prototype_sims(self, query: dict[str, float]) -> np.ndarray:
        """Cosine of the query with every topic's prototype, by entry index."""
        gathered = _gather(self._proto_postings, query)
        if gathered is None:
            return np.zeros(len(self._entries))
        idx, vals = gathered
        return np.bincount(idx, weights=vals, minlength=len(self._entries))

    def _exact_evidence(
        self,
        text: str,
        stems: list[str],
        scores: dict[str, float],
        evidence: dict[str, str],
        *,
        codes: bool = True,
    ) -> set[str]:
        """Apply error codes, pasted error lines and keywords; return the keyworded entries."""
        cleaned = split_scripts(clean(text))
        lowered = cleaned.casefold()
        found: set[str] = set()
        if codes:
            found = {t.rstrip(".").casefold() for t in _CODE_TOKEN.findall(cleaned)}
            found.update(code for pattern, code in self._spaced_codes if pattern.search(cleaned))
        for token in found:
            for entry, code in self._codes.get(token, ()):
                scores[entry] = max(scores.get(entry, 0.0), CODE_SCORE)
                evidence[entry] = f"error code {code}"
        if codes and self._messages and len(lowered) >= 12:
            present = set(words(lowered))
            seen: set[int] = set()
            for token in present:
                seen.update(self._message_index.get(token, ()))
            for index in seen:
                message, entry, tokens = self._messages[index]
                # Most of the line's words must be there before a fuzzy look is worth it.
                if len(tokens & present) < MESSAGE_TOKEN_SHARE * len(tokens):
                    continue
                if message in lowered or fuzz.partial_ratio(
                    message, lowered, processor=None, score_cutoff=90
                ):
                    scores[entry] = max(scores.get(entry, 0.0), CODE_SCORE)
                    evidence[entry] = f'error message "{message}"'
        keyword_hits: dict[str, int] = defaultdict(int)
        phrases = {
            " ".join(stems[i : i + n])
            for n in range(1, MAX_KEYWORD_WORDS + 1)
            for i in range(len(stems) - n + 1)
        }
        for phrase in phrases:
            for entry in self._keywords.get(phrase, ()):
                keyword_hits[entry] += 1
        for entry, count in keyword_hits.items():
            if entry in scores:
                bonus = min(KEYWORD_BONUS_CAP, KEYWORD_BONUS * count)
                scores[entry] = min(1.0, scores[entry] + bonus)
        return {entry for entry in keyword_hits if entry in scores}

    def _apply_flow(
        self, flow: Flow, entry_scores: dict[str, float], learned: dict[str, float]
    ) -> None:
        """Weaken entries whose examples tell the mail going the other way than the message."""
        for entry, score in entry_scores.items():
            own = self._flows.get(entry)
            if own is not None and own is not flow:
                entry_scores[entry] = score * FLOW_PENALTY
                topic = self._topic_of[entry]
                if topic in learned:
                    learned[topic] *= FLOW_PENALTY

    def _decide(
        self,
        text: str,
        terms: int,
        entry_scores: dict[str, float],
        evidence: dict[str, str],
        text_scores: dict[str, float],
        keyworded: set[str],
        learned: dict[str, float],
    ) -> MatchResult:
        best: dict[str, tuple[float, str]] = {}
        oos_id, oos_score = None, 0.0
        for entry, score in entry_scores.items():
            if self.kb.entry(entry) is None:
                if score > oos_score:
                    oos_id, oos_score = entry, score
                continue
            topic = self._topic_of[entry]
            if topic not in best or score > best[topic][0]:
                best[topic] = (score, entry)
        by_topic: dict[str, Candidate] = {}
        for topic, (score, entry) in best.items():
            exact = evidence.get(entry, "").startswith(EXACT_EVIDENCE)
            if learned and not exact:
                # Blend in the learned layer: it weighs every word of the message, where the
                # similarities only see the nearest examples. Exact codes keep their score.
                score = (1 - LINEAR_WEIGHT) * score + LINEAR_WEIGHT * learned.get(topic, 0.0)
            by_topic[topic] = Candidate(
                id=entry,
                topic=topic,
                score=round(score, 4),
                evidence=evidence.get(entry, ""),
                exact=exact,
                keyword=entry in keyworded,
                text_score=round(text_scores.get(entry, 0.0), 4),
            )
        if learned:
            oos_id, oos_score = None, 0.0
            for group in self._oos_groups:
                similar = entry_scores.get(group, 0.0)
                score = (1 - LINEAR_WEIGHT) * similar + LINEAR_WEIGHT * learned.get(group, 0.0)
                if score > oos_score:
                    oos_id, oos_score = group, score
        ranked = tuple(sorted(by_topic.values(), key=lambda c: (-c.score, c.topic)))
        return decide(
            text=text,
            ranked=ranked,
            out_of_scope=oos_id,
            out_of_scope_score=round(oos_score, 4),
            terms=terms,
            settings=self.settings,
        )


def decide(
    *,
    text: str,
    ranked: tuple[Candidate, ...],
    out_of_scope: str | None,
    out_of_scope_score: float,
    terms: int,
    settings: MatchSettings,
) -> MatchResult:
    """Floor plus margin: answer, clarify or none from ranked candidates (used by eval sweeps).

    ``terms`` is how many distinct content words the message had: one generic word ("mail",
    "outlook") is never enough to answer, unless it is an error code or a listed keyword.
    The best out-of-scope group rejects only when it leads the best topic by ``oos_margin``
    (or pulls it under the clarify floor); an answer needs the topic ``oos_answer_margin``
    ahead of it; in between, the topic is asked about.
    """
    top = ranked[0].score if ranked else 0.0
    second = ranked[1].score if len(ranked) > 1 else 0.0

    def result(decision: Decision, reason: str, candidates: tuple[Candidate, ...] = ranked):
        return MatchResult(
            text=text,
            decision=decision,
            candidates=candidates,
            out_of_scope=out_of_scope,
            out_of_scope_score=out_of_scope_score,
            terms=terms,
            reason=reason,
            settings=settings,
        )

    if ranked and ranked[0].exact:
        # An exact code is strong evidence, unless the words around it read like a topic we
        # don't cover ("the 552 came back because THEIR mailbox is full"): then ask.
        if out_of_scope_score <= ranked[0].text_score + EXACT_OOS_MARGIN:
            return result(Decision.ANSWER, f"exact {ranked[0].evidence}")
        return result(
            Decision.CLARIFY,
            f"exact {ranked[0].evidence}, but the wording is closer to out-of-scope "
            f"'{out_of_scope}'",
        )
    effective = top - settings.oos_weight * out_of_scope_score
    oos_lead = out_of_scope_score - top if out_of_scope is not None else -1.0
    if oos_lead >= settings.oos_margin:
        return result(
            Decision.NONE,
            f"out-of-scope '{out_of_scope}' ({out_of_scope_score:.2f}) leads every topic "
            f"({top:.2f}) by {oos_lead:.2f} >= {settings.oos_margin}",
        )
    enough_words = terms > 1 or (bool(ranked) and ranked[0].keyword)
    clear_of_oos = -oos_lead >= settings.oos_answer_margin
    if (
        effective >= settings.answer_floor
        and top - second >= settings.margin
        and enough_words
        and clear_of_oos
    ):
        return result(
            Decision.ANSWER,
            f"top {top:.2f} less out-of-scope pull = {effective:.2f} >= answer floor "
            f"{settings.answer_floor}, margin {top - second:.2f} >= {settings.margin}, "
            f"ahead of out-of-scope by {-oos_lead:.2f}",
        )
    if effective >= settings.clarify_floor:
        close = _close(ranked, settings)
        rest = tuple(c for c in ranked if c not in close)
        why = (
            f"out-of-scope '{out_of_scope}' ({out_of_scope_score:.2f}) is close to the top "
            f"topic ({top:.2f}): ask rather than reject"
            if not clear_of_oos
            else f"top {top:.2f} less out-of-scope pull = {effective:.2f}: between clarify "
            f"floor {settings.clarify_floor} and answer floor {settings.answer_floor}, or "
            f"margin {top - second:.2f} < {settings.margin}"
        )
        return result(Decision.CLARIFY, why, close + rest)
    return result(
        Decision.NONE,
        f"top {top:.2f} less out-of-scope pull = {effective:.2f} < clarify floor "
        f"{settings.clarify_floor}",
    )


def _one_way(counts: Counter[Flow]) -> Flow | None:
    """The mail flow an entry's examples hold to, if they clearly hold to one."""
    for flow, other in ((Flow.INCOMING, Flow.OUTGOING), (Flow.OUTGOING, Flow.INCOMING)):
        if counts[flow] >= FLOW_MIN_EXAMPLES and counts[flow] >= FLOW_DOMINANCE * counts[other]:
            return flow
    return None


def _gather(
    postings: dict[str, tuple[np.ndarray, np.ndarray]],
    query: dict[str, float],
    *,
    skip: set[str] | frozenset[str] = frozenset(),
) -> tuple[np.ndarray, np.ndarray] | None:
    """The rows the query's features point to, with weight x query weight; None if none."""
    idx_parts, val_parts = [], []
    for feature, weight in query.items():
        posting = postings.get(feature)
        if posting is None or feature in skip:
            continue
        idx_parts.append(posting[0])
        val_parts.append(posting[1] * weight)
    if not idx_parts:
        return None
    return np.concatenate(idx_parts), np.concatenate(val_parts)


def _close(ranked: tuple[Candidate, ...], settings: MatchSettings) -> tuple[Candidate, ...]:
    """The candidates near enough to the top to offer as choices."""
    if not ranked:
        return ()
    floor = max(settings.clarify_floor * CLARIFY_SHARE, ranked[0].score - settings.band)
    return tuple(c for c in ranked if c.score >= floor)[: settings.max_choices]

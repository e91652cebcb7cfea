"""A deterministic synthetic knowledge base for scale benchmarks of the matcher.

``generate(n_problems)`` builds ``n_problems`` problems with ``examples`` user phrasings each
(30 by default), a few FAQ entries and out-of-scope groups, directly as the frozen dataclasses
of ``bot.core.knowledge``; ``write_yaml`` saves the same base as a knowledge folder that
``alimail-bot kb validate`` accepts.

How realistic text is made
--------------------------
A problem is a unique combination of four slots drawn from word pools: a *product*
("webmail", "admin console"), an *action* ("exporting"), an *object* ("invoice") and a
*symptom* ("times out"). Each pool item has a few paraphrases ("invoice", "bill"). Pool items
and paraphrases are drawn with Zipf-like weights (rank ``r`` has weight ``1 / r``), so a few
words ("webmail", "attachment") appear in thousands of problems and most appear in few: the
problems are distinguishable, but share common words the way real support topics do. About a
quarter of the problems carry an error code, a third a pasted error line.

Every example is one of ~20 sentence templates filled with paraphrases, sometimes dropping a
slot, with a Zipf-weighted greeting or context ("since the update", "on my iphone"), random
case and punctuation, and a typo in about one example in eight. Each problem gets
``examples + 1`` phrasings: the last one is kept out of the knowledge and returned as a
held-out query, so accuracy@1 on unseen paraphrases can be printed as a sanity check.

Run ``python bench/synthetic.py 1000 --out /tmp/kb1000`` to write a knowledge folder.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.core.knowledge import Faq, KnowledgeBase, OutOfScope, Problem, Step  # noqa: E402

Item = tuple[str, ...]

# One pool item per ";"-separated field, paraphrases separated by "|", first one canonical.
PRODUCTS = """webmail|web mail|the web version|the browser version; mobile app|phone app|the app
|mail app on my phone; desktop client|desktop app|mail program|pc client; admin console|admin
panel|management console|admin page; calendar|calendar view|schedule; contacts|address
book|contact list; cloud drive|drive|file storage|netdisk; chat|instant messenger|im chat;
spam filter|junk filter|antispam; mail server|server|mail host; mailing list|distribution
list|group list; shared mailbox|team mailbox|shared inbox; archive|mail archive|archive
folder; signature editor|signature settings; autoresponder|auto reply|out of office reply;
migration tool|import tool|mail mover; single sign on|sso|sso login; two factor|2fa|two step
verification; search|search bar|mail search; notifications|push notifications|alerts; tablet
app|ipad app; outlook plugin|outlook add in|office plugin; smtp relay|relay|outgoing relay;
imap sync|imap|imap connection; pop download|pop|pop3; dns records|dns|domain records; billing
page|billing|invoice center; user directory|directory|org chart; audit log|logs|activity
log; retention policy|retention|mail retention; quarantine|quarantine folder|held mail;
encryption|secure mail|encrypted mail; mail merge|bulk mail|mass mailing; meeting
rooms|room booking|resource booking; tasks|task list|to do list; notes|notepad|memo;
translation|translator|auto translate; print preview|printing|print view; theme
settings|themes|dark mode; keyboard shortcuts|shortcuts|hotkeys; browser extension|chrome
extension|extension; api|rest api|open api; webhooks|callbacks|event hooks; mail
forwarding|forwarder|redirect; alias manager|aliases|alias settings; storage
report|usage report|quota report; device manager|devices|linked devices; password
policy|password rules|login policy; ip whitelist|allow list|ip allowlist"""

# base:gerund:past, paraphrases separated by "|".
ACTIONS = """send:sending:sent|mail out:mailing out:mailed out;
receive:receiving:received|get:getting:got;
forward:forwarding:forwarded; upload:uploading:uploaded|attach:attaching:attached;
download:downloading:downloaded|save:saving:saved; export:exporting:exported;
import:importing:imported; print:printing:printed; share:sharing:shared;
search:searching:searched|find:finding:found; sync:syncing:synced|refresh:refreshing:refreshed;
open:opening:opened|view:viewing:viewed; delete:deleting:deleted|remove:removing:removed;
move:moving:moved|drag:dragging:dragged; rename:renaming:renamed; archive:archiving:archived;
schedule:scheduling:scheduled; reply to:replying to:replied to; preview:previewing:previewed;
edit:editing:edited|change:changing:changed; create:creating:created|add:adding:added;
restore:restoring:restored|recover:recovering:recovered; encrypt:encrypting:encrypted;
filter:filtering:filtered|sort:sorting:sorted; tag:tagging:tagged|label:labelling:labelled;
flag:flagging:flagged|star:starring:starred; approve:approving:approved;
publish:publishing:published; invite:inviting:invited; merge:merging:merged;
translate:translating:translated; compress:compressing:compressed|zip:zipping:zipped;
scan:scanning:scanned; verify:verifying:verified|check:checking:checked;
assign:assigning:assigned; copy:copying:copied|duplicate:duplicating:duplicated;
embed:embedding:embedded|insert:inserting:inserted; pin:pinning:pinned"""

OBJECTS = """attachment|attached file|file; invoice|bill|invoice email;
folder|mail folder|subfolder;
meeting invite|calendar invite|invitation; pdf|pdf file|pdf document; contact group|contact
list|group of contacts; signature|email signature; alias|email alias|address alias;
certificate|ssl certificate|cert; backup|mail backup|backup file; draft|message draft|unsent
draft; newsletter|bulk email|marketing email; large file|big file|huge attachment;
spreadsheet|excel file|xlsx; photo|picture|image; voice memo|audio file|recording; shared
folder|team folder; label|tag|category; rule|mail rule|inbox rule; template|email
template|reply template; report|monthly report; log file|log|logs; receipt|payment
receipt|order receipt; zip archive|zip file|compressed file; video|video clip|mp4; contract|pdf
contract|signed contract; calendar event|event|appointment; reminder|alarm|notification
reminder; vcard|contact card|business card; csv|csv file|csv export; html email|rich text
email|formatted email; plain text email|text email; read receipt|delivery receipt;
thread|conversation|email thread; inline image|embedded image|inline picture; emoji|emojis;
hyperlink|link|url; qr code|barcode; distribution group|group address; room booking|room
reservation; task|to do item; note|memo; domain|custom domain|mail domain; dkim key|dkim
signature; spf record|spf; mx record|mx; api key|access key|token; webhook|callback url;
user account|account|mailbox account; employee mailbox|staff mailbox; department
mailbox|group mailbox; forwarding address|forward address; quota|storage quota|mailbox
quota; password|login password; phone number|mobile number; security question|security
answer; session|login session; device|linked device|phone; printer|network printer;
encryption key|private key; audit entry|audit record; retention label|retention tag;
message header|email header|headers; subject line|subject|email subject; recipient
list|recipients|to field; bcc field|bcc|blind copy; cc field|cc|carbon copy; sender
name|display name|from name; reply address|reply to address; time zone|timezone;
language setting|language|ui language; font|font size|text font"""

# Phrases that follow a subject ("the invoice ..."); the first is used in titles.
SYMPTOMS = """does not load|won't load|fails to load|keeps loading forever; times out|timed
out|gets a timeout; shows a blank page|is blank|goes blank; crashes|keeps crashing|closes by
itself; is very slow|takes forever|is super slow; shows duplicates|is duplicated|appears
twice; is missing|disappeared|is gone; does not sync|won't sync|is out of sync; is
rejected|gets rejected|bounces back; shows garbled text|has broken characters|looks
garbled; has the wrong date|shows the wrong time|has a wrong timestamp; is stuck|gets
stuck|hangs; shows an error|gives an error|throws an error; freezes|is frozen|locks up; is
greyed out|is disabled|can't be clicked; is cut off|gets truncated|is incomplete; is
empty|shows nothing|has no content; is corrupted|is damaged|is broken; shows the old
version|is outdated|is not updated; is in the wrong folder|ends up in the wrong
place|goes to the wrong folder; is too big|exceeds the limit|is over the size limit; asks
for login again|logs me out|keeps asking for the password; shows a security
warning|gets flagged as unsafe|triggers a warning; is sent twice|goes out twice|is
duplicated on send; loses formatting|looks different|has messed up layout; cannot be
found|is not found|can't be located; opens in the wrong app|opens with the wrong
program; shows a permission error|says access denied|says no permission; is not
delivered|never arrives|does not arrive; reverts my changes|undoes changes|doesn't
save changes"""

GREETINGS = """; hi,; hello,; hello team,; urgent:; help!; user says:; quick question:;
please help,; fyi:; our manager says; good morning,; hey,; question:; support,"""
CONTEXTS = """; since yesterday; since the last update; on windows 11; on my iphone; for all
users; for some users; every time; again; what should i do; any idea?; please advise; after
the upgrade; in chrome; in safari; on android; from the office; when working from home; is
this a bug?; how to fix; on my macbook; for one user only; since this morning; it worked
last week; for the whole team; in firefox; on the ipad; after changing my password; with
large mailboxes; for external recipients"""
REASONS = """timeout; permission denied; quota exceeded; invalid format; network unreachable;
internal server error; request rejected; unsupported encoding; session expired; checksum
mismatch"""

TEMPLATES = (
    "{p} {s} when {ag} {o}",
    "can't {ab} {o} in {p}",
    "{o} {s} in {p}",
    "{ag} {o} {s}",
    "{p}: {o} {s}",
    "problem {ag} {o} from {p}",
    "{o} {s} after {ag} it in {p}",
    "how to fix {p} {o} that {s}",
    "when i {ab} a {o} in {p} it {s}",
    "{p} {o} {s}",
    "{p} {o} {ab} not working",
    "is it normal that the {o} {s} in {p}?",
    "every time i {ab} the {o}, {p} {s}",
    "{o} {ap} in {p} but it {s}",
    "my {o} {s} since i {ap} it with {p}",
    "unable to {ab} {o}, it {s}",
    "{p} keeps failing to {ab} {o}",
    "why does the {o} {s} when {ag} in {p}",
    "{o} {s}",
    "{p} {ag} {o} broken",
)
CODE_TEMPLATES = (
    "{c} when {ag} {o}",
    "getting {c} in {p}",
    "error {c} {ag} {o}",
    "{p} says {c}",
)
MESSAGE_TEMPLATES = ("i get '{m}'", "{m}", "{p} shows: {m}")
QUESTION_TEMPLATES = (
    "how do i stop the {o} from failing in {p}",
    "how to {ab} {o} in {p} properly",
    "what should i do when the {o} {s}",
    "how can i fix {ag} {o} in {p}",
    "is there a setting for {ag} {o} in {p}",
    "how to make {p} {ab} the {o}",
)

OUT_OF_SCOPE = {
    "oos-pricing": (
        "how much does the business plan cost",
        "price per user per month",
        "can i get a discount for a yearly plan",
        "what is included in the premium tier",
        "compare plans and prices",
        "is there a free trial",
    ),
    "oos-jobs": (
        "are you hiring",
        "i want to apply for a job at your company",
        "internship openings",
        "where do i send my cv",
        "career page link",
        "do you have remote positions",
    ),
    "oos-smalltalk": (
        "hello how are you",
        "thanks a lot you are great",
        "tell me a joke",
        "what is your name",
        "are you a robot",
        "good night",
    ),
    "oos-weather": (
        "what is the weather today",
        "will it rain tomorrow",
        "temperature in hangzhou",
        "is it sunny this weekend",
        "weather forecast for beijing",
        "how hot is it outside",
    ),
    "oos-sales": (
        "i want to talk to sales",
        "book a demo",
        "who is my account manager",
        "can someone call me about an enterprise deal",
        "request a quote for 500 seats",
        "partner program details",
    ),
    "oos-legal": (
        "where is your privacy policy",
        "gdpr data processing agreement",
        "terms of service link",
        "do you store data in europe",
        "request deletion of my personal data",
        "compliance certificates iso 27001",
    ),
    "oos-hardware": (
        "my laptop screen is cracked",
        "keyboard not working on my pc",
        "printer out of toner",
        "mouse is not detected",
        "monitor flickers",
        "battery drains fast on my phone",
    ),
    "oos-other-product": (
        "how do i use the spreadsheet app",
        "video conference audio echo",
        "how to create a website with your builder",
        "cloud server instance will not start",
        "database backup schedule",
        "cdn cache purge",
    ),
}


@dataclass(frozen=True, slots=True)
class Query:
    """A held-out paraphrase and the problem it was written for."""

    text: str
    problem_id: str


@dataclass(frozen=True, slots=True)
class SyntheticSet:
    """A generated knowledge base and one held-out query per problem."""

    kb: KnowledgeBase
    queries: tuple[Query, ...]


def _pool(spec: str) -> tuple[Item, ...]:
    """Parse "a|b; c|d" (line breaks are spaces) into (("a", "b"), ("c", "d"))."""
    flat = " ".join(spec.split())
    return tuple(
        tuple(v.strip() for v in field.split("|")) for field in flat.split(";") if field.strip()
    )


def _phrases(spec: str) -> tuple[str, ...]:
    """Parse "; a; b" into ("", "a", "b"): an empty first field means "nothing"."""
    return tuple(field.strip() for field in " ".join(spec.split()).split(";"))


def _zipf_weights(n: int, exponent: float = 1.0) -> list[float]:
    return [1.0 / (rank + 1) ** exponent for rank in range(n)]


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.casefold()).strip("-")


def _normalized(text: str) -> str:
    return " ".join(text.casefold().split())


class _Writer:
    """Turns slot choices into varied user phrasings; owns the random state."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.greetings = _phrases(GREETINGS)
        self.contexts = _phrases(CONTEXTS)
        self.greeting_weights = _zipf_weights(len(self.greetings), 1.3)
        self.context_weights = _zipf_weights(len(self.contexts), 1.1)

    def variant(self, item: Item) -> str:
        """A paraphrase of a pool item, the canonical one most often."""
        return self.rng.choices(item, weights=_zipf_weights(len(item)))[0]

    def typo(self, text: str) -> str:
        """One keyboard slip (swap, drop, double or replace a letter) in a longer word."""
        tokens = text.split(" ")
        candidates = [i for i, t in enumerate(tokens) if len(t) >= 4 and t.isalpha()]
        if not candidates:
            return text
        i = self.rng.choice(candidates)
        word = tokens[i]
        j = self.rng.randrange(1, len(word) - 1)
        op = self.rng.randrange(4)
        if op == 0:
            word = word[:j] + word[j + 1] + word[j] + word[j + 2 :]
        elif op == 1:
            word = word[:j] + word[j + 1 :]
        elif op == 2:
            word = word[:j] + word[j] + word[j:]
        else:
            word = word[:j] + self.rng.choice("aeiourstnl") + word[j + 1 :]
        tokens[i] = word
        return " ".join(tokens)

    def dress(self, core: str) -> str:
        """Add greeting/context, vary case and punctuation, sometimes add a typo."""
        rng = self.rng
        greeting = rng.choices(self.greetings, weights=self.greeting_weights)[0]
        context = rng.choices(self.contexts, weights=self.context_weights)[0]
        text = " ".join(part for part in (greeting, core, context) if part)
        if rng.random() < 0.12:
            text = self.typo(text)
        roll = rng.random()
        if roll < 0.3:
            text = text[:1].upper() + text[1:]
        elif roll < 0.35:
            text = text.upper()
        ending = rng.choices(("", "?", "!!", ".", "??"), weights=(8, 3, 1, 2, 1))[0]
        return text + ending


@dataclass(frozen=True, slots=True)
class _Slots:
    product: Item
    action: Item
    obj: Item
    symptom: Item
    code: str | None
    message: str | None


def _fill(writer: _Writer, slots: _Slots, template: str) -> str:
    """One template with paraphrases; a slot missing from the template is simply dropped."""
    base, gerund, past = writer.variant(slots.action).split(":")
    return template.format(
        p=writer.variant(slots.product),
        ab=base,
        ag=gerund,
        ap=past,
        o=writer.variant(slots.obj),
        s=writer.variant(slots.symptom),
        c=slots.code or "",
        m=slots.message or "",
    )


def _phrasing(writer: _Writer, slots: _Slots) -> str:
    rng = writer.rng
    roll = rng.random()
    if slots.code and roll < 0.12:
        template = rng.choice(CODE_TEMPLATES)
    elif slots.message and roll > 0.95:
        template = rng.choice(MESSAGE_TEMPLATES)
    else:
        template = rng.choice(TEMPLATES)
    return writer.dress(_fill(writer, slots, template))


def _unique(make: Callable[[], str], seen: set[str], tries: int = 200) -> str:
    """Call ``make`` until its text is new to ``seen`` (the loader rejects shared examples)."""
    for _ in range(tries):
        text = make()
        key = _normalized(text)
        if key not in seen:
            seen.add(key)
            return text
    raise RuntimeError("could not make a new unique phrasing; widen the pools")


def _code(rng: random.Random, obj: Item, used: set[str]) -> str:
    while True:
        kind = rng.randrange(3)
        if kind == 0:
            code = f"E{rng.randrange(1000, 100000)}"
        elif kind == 1:
            code = f"ERR_{_slug(obj[0]).replace('-', '_').upper()}_{rng.randrange(10, 1000)}"
        else:
            code = f"0x{rng.randrange(0x1000, 0x10000):04X}"
        if code not in used:
            used.add(code)
            return code


def generate(
    n_problems: int,
    *,
    examples: int = 30,
    seed: int = 0,
    faq_share: float = 0.05,
    faq_examples: int = 10,
) -> SyntheticSet:
    """Build a knowledge base of ``n_problems`` problems with ``examples`` examples each.

    The result is the same for the same arguments. One more phrasing than ``examples`` is
    written per problem; it is returned in ``queries`` and is not in the knowledge.
    """
    rng = random.Random(seed)
    writer = _Writer(rng)
    products, actions = _pool(PRODUCTS), _pool(ACTIONS)
    objects, symptoms = _pool(OBJECTS), _pool(SYMPTOMS)
    reasons = _phrases(REASONS)
    weights = [_zipf_weights(len(pool)) for pool in (products, actions, objects, symptoms)]
    combos = len(products) * len(actions) * len(objects) * len(symptoms)
    if n_problems > combos // 4:
        raise ValueError(f"at most {combos // 4} problems; the pools are too small for more")

    seen: set[str] = set()
    taken: set[tuple[int, int, int, int]] = set()
    codes: set[str] = set()
    problems: list[Problem] = []
    faqs: list[Faq] = []
    queries: list[Query] = []
    for index in range(n_problems):
        while True:
            key = tuple(
                rng.choices(range(len(pool)), weights=w)[0]
                for pool, w in zip((products, actions, objects, symptoms), weights, strict=True)
            )
            if key not in taken:
                taken.add(key)
                break
        product, action = products[key[0]], actions[key[1]]
        obj, symptom = objects[key[2]], symptoms[key[3]]
        base, gerund, _ = action[0].split(":")
        code = _code(rng, obj, codes) if rng.random() < 0.25 else None
        message = None
        if rng.random() < 0.33:
            reason = rng.choice(reasons)
            message = f"{product[0]}: could not {base} {obj[0]} ({reason})"
            if code:
                message = f"error {code}: {message}"
        slots = _Slots(product, action, obj, symptom, code, message)
        problem_id = f"p{index:05d}-{_slug(product[0])}"
        texts = [_unique(lambda s=slots: _phrasing(writer, s), seen) for _ in range(examples + 1)]
        queries.append(Query(text=texts[-1], problem_id=problem_id))
        title = f"{product[0].capitalize()}: {obj[0]} {symptom[0]} when {gerund}"
        problems.append(
            Problem(
                id=problem_id,
                title=title,
                severity=rng.choice(("high", "medium", "low")),
                summary=f"Check the {product[0]} settings for {gerund} {obj[0]}",
                symptoms=(
                    f"The {obj[0]} {symptom[0]} in {product[0]}",
                    f"{gerund.capitalize()} {obj[0]} {symptom[1 % len(symptom)]}",
                ),
                error_messages=(message,) if message else (),
                error_codes=(code,) if code else (),
                root_cause=f"A {product[0]} setting blocks {gerund} {obj[0]}.",
                steps=(
                    Step(text=f"Open **Settings** in {product[0]}"),
                    Step(
                        text=f"Allow {gerund} {obj[0]} and save",
                        navigation=f"Settings > {product[0].title()}",
                    ),
                ),
                verification=(f"{base.capitalize()} a test {obj[0]} again",),
                examples=tuple(texts[:-1]),
                keywords=(f"{base} {obj[0]}", f"{obj[0]} {symptom[0]}"),
            )
        )
        if rng.random() < faq_share:

            def question(s: _Slots = slots) -> str:
                return writer.dress(_fill(writer, s, rng.choice(QUESTION_TEMPLATES)))

            faqs.append(
                Faq(
                    id=f"faq-{problem_id}",
                    question=f"How do I fix {gerund} {obj[0]} in {product[0]}?",
                    answer=f"Allow {gerund} {obj[0]} in the {product[0]} settings.",
                    examples=tuple(_unique(question, seen) for _ in range(faq_examples)),
                    problem=problem_id,
                )
            )

    out_of_scope = []
    for group_id, phrases in OUT_OF_SCOPE.items():
        texts = [phrase for phrase in phrases if _normalized(phrase) not in seen]
        seen.update(_normalized(t) for t in texts)
        texts += [_unique(lambda p=phrases: writer.dress(rng.choice(p)), seen) for _ in range(9)]
        out_of_scope.append(OutOfScope(id=group_id, reply=None, examples=tuple(texts)))
    kb = KnowledgeBase(
        problems=tuple(problems), faqs=tuple(faqs), out_of_scope=tuple(out_of_scope)
    )
    return SyntheticSet(kb=kb, queries=tuple(queries))


def _problem_dict(problem: Problem) -> dict[str, object]:
    steps = []
    for step in problem.steps:
        item: dict[str, object] = {"text": step.text}
        if step.navigation:
            item["navigation"] = step.navigation
        steps.append(item)
    return {
        "id": problem.id,
        "title": problem.title,
        "severity": problem.severity,
        "summary": problem.summary,
        "symptoms": list(problem.symptoms),
        "error_messages": list(problem.error_messages),
        "error_codes": list(problem.error_codes),
        "root_cause": problem.root_cause,
        "steps": steps,
        "verification": list(problem.verification),
        "keywords": list(problem.keywords),
        "examples": list(problem.examples),
    }


def write_yaml(kb: KnowledgeBase, directory: Path, *, name: str = "synthetic") -> Path:
    """Write ``kb`` as one knowledge file in ``directory``; returns its path."""
    document = {
        "guide": name,
        "title": f"Synthetic knowledge base ({len(kb.problems)} problems)",
        "problems": [_problem_dict(p) for p in kb.problems],
        "faqs": [
            {
                "id": f.id,
                "question": f.question,
                "answer": f.answer,
                "problem": f.problem,
                "examples": list(f.examples),
            }
            for f in kb.faqs
        ],
        "out_of_scope": [{"id": o.id, "examples": list(o.examples)} for o in kb.out_of_scope],
    }
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.yaml"
    # safe_dump quotes every string YAML 1.1 would read as something else ("0x1A2B", "no").
    text = yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=120)
    path.write_text(text, encoding="utf-8")
    return path


def main(argv: Sequence[str] | None = None) -> int:
    """Generate a base, print its size and a few examples, optionally write it as YAML."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("problems", type=int, help="number of problems, e.g. 1000")
    parser.add_argument("--examples", type=int, default=30, help="examples per problem")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="write a knowledge folder here")
    args = parser.parse_args(argv)
    synthetic = generate(args.problems, examples=args.examples, seed=args.seed)
    kb = synthetic.kb
    n_examples = sum(len(p.examples) for p in kb.problems) + sum(len(f.examples) for f in kb.faqs)
    print(
        f"{len(kb.problems)} problems, {len(kb.faqs)} FAQ entries, "
        f"{len(kb.out_of_scope)} out-of-scope groups, {n_examples} examples, "
        f"{len(synthetic.queries)} held-out queries"
    )
    for problem in kb.problems[:3]:
        print(f"\n{problem.id}: {problem.title}")
        for example in problem.examples[:5]:
            print(f"  - {example}")
    for query in synthetic.queries[:3]:
        print(f"held out for {query.problem_id}: {query.text}")
    if args.out:
        print(f"\nwrote {write_yaml(kb, args.out)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

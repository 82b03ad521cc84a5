"""The inbox of real customer messages, read from Rasa's SQL tracker store (table `events`).

What a row is: every distinct message a customer wrote (de-duplicated on Hamdel's one normalised
form, `hamdel.persian.normalize`), with how often it came, when it came last, what the model in
production made of it (intent, confidence, runner-up, model id from the event's `metadata`) and
why a person should look at it. Hidden: button payloads («/affirm»), texts already in the training
data, the golden set or the held-out evaluation files, and texts already labelled (a rejected
label brings its text back).

Why an in-memory index instead of one SQL query per page: de-duplication needs the normalised
text, and normalising costs about 0.2 ms per message in hazm — 20 s for 100k messages if done per
request. The index reads only the events it has not seen (`events.id > watermark`, filtered to
user messages and the few bot actions that carry a correction signal, in batches), normalises each
message once — or not at all once a model's first `TRUST_AFTER` messages showed that Rasa's own
`parse_data.text` is exactly this normalisation (the model's first pipeline component is this very
normaliser) — and keeps one `Group` per distinct text. A page is then a filter and a sort over the
groups (thousands, not events), without parsing any JSON again.

How "needs a human" is scored (`need_score`, documented there): fallback, low confidence, a small
margin between the top two intents, and a correction seen later in the conversation — the customer
said «نه» to the bot's reflection of the story, answered «بله» when triage asked whether a message
the model had put outside the complaints was a complaint, or an agent filed the ticket under a
category other than the one the message's intent implies.

Masking (`mask`): Iranian mobile and landline numbers, card numbers (16 digits, with or without
spaces/dashes, in any digit script), IBAN/sheba numbers (IR + 24 digits), e-mail addresses and
names — the customer's display name (from the event's metadata and the `customers` table) and the
word(s) after «اسمم / اسم من / نام من …» or between «من … هستم» (unless one of them is an ordinary
word of that slot, `NOT_NAMES`: «اسمم رو اشتباه نوشتید», «من خیلی ناراضی هستم»). Names written anywhere else are not
detected: there is no Persian name recogniser in the project, and a list of first names would
also hide ordinary words («امید», «صبا»). Every pattern here is linear-time (each repetition
consumes a character no other part of the pattern can take) and is run on hostile 4,096-character
texts by `tests/console/test_inbox.py`.
"""
from __future__ import annotations

import hashlib
import json
import math
import re
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import Connection, Engine, and_, bindparam, create_engine, func, inspect, or_, select
from sqlalchemy.orm import Session

from actions.conversation import CATEGORY_BY_INTENT, COMPLAINT_INTENTS
from actions.reflection import PHONE
from console import texts
from console.tables import LabelStatus, NluLabel
from hamdel.persian import normalize, to_ascii_digits
from hamdel.settings import PROJECT_ROOT, get_settings
from hamdel.storage.models import Customer, Ticket
from hamdel.storage.tickets import split_conversation_id

# ---- thresholds of the need score (one home) ------------------------------------------------
FALLBACK_INTENT = "nlu_fallback"
LOW_CONFIDENCE = 0.60  # below this an out_of_scope verdict counts as a fallback too
SMALL_MARGIN = 0.30  # top-1 minus top-2 below this adds to the need, linearly
WEIGHT_FALLBACK = 3.0
WEIGHT_LOW_CONFIDENCE = 2.0  # × (1 - confidence)
WEIGHT_MARGIN = 1.5  # × (1 - margin / SMALL_MARGIN) when the margin is small
WEIGHT_COUNT = 0.5  # × log2(count): among equals, what many customers write comes first
SIGNAL_WEIGHTS = {
    "triage_said_complaint": 3.0,  # «بله، مشکل دارم» after the model put it outside complaints
    "agent_recategorised": 3.0,  # the ticket's category is not the one the intent implies
    "reflection_denied": 2.0,  # «نه» (or a correction) to the bot's reflection of the story
}
HELD_OUT_DIR = PROJECT_ROOT / "tests" / "nlu"  # the regression gate's held-out files: never train on them
BATCH = 5000  # events read per SQL round trip while the index catches up
TRUST_AFTER = 50  # messages of a model whose parse_data.text equalled our normalisation before it is trusted

# Bot actions of the complaint flow (nlu_data/rules/*.yml) whose next customer message tells whether
# the model understood: the reflection, the triage question, and the ends of a complaint.
REFLECTION_ACTION = "utter_reflection"
TRIAGE_QUESTION_ACTION = "utter_ask_is_complaint"
# action_evaluate_remedy opens the ticket itself for a wish it can promise; when it declines one, the
# story was confirmed already and what follows is the choice of an alternative, not the story.
STORY_END_ACTIONS = frozenset({"action_open_ticket", "action_evaluate_remedy", "action_drop_pending",
                               "action_cancel_complaint", "action_link_prior_ticket", "action_restart",
                               "action_session_start"})
SIGNAL_ACTIONS = frozenset({REFLECTION_ACTION, TRIAGE_QUESTION_ACTION, *STORY_END_ACTIONS})
NOT_STORY_INTENTS = frozenset({"affirm", "deny", "greet", "goodbye", "thank", "cancel"})


# ---- masking ---------------------------------------------------------------------------------
_IBAN = re.compile(r"(?<![A-Za-z0-9])[Ii][Rr] ?\d{2}(?:[ \-]?\d){22}(?!\d)")
_DIGIT_RUN = re.compile(r"(?<![\d+])\+?\d(?:[ \-]?\d)*")  # digits with single spaces/dashes between
# ASCII only, and a space allowed after a dot: the normaliser spaces punctuation («ali. r@x. com»).
_EMAIL = re.compile(r"(?<![A-Za-z0-9_.+\-])[A-Za-z0-9_+\-]+(?:\. ?[A-Za-z0-9_+\-]+)*@[A-Za-z0-9\-]+(?:\. ?[A-Za-z0-9\-]+)+")
_WORD = r"[^\W\d_][\w\u200c]*"
# «اسمم علیه», «اسم من سارا رضاییه», «نام من مریم است»: the one or two words after it (the second
# only when it is not a verb that ends the clause); «من سارا هستم»: one or two words in between.
_NAME_AFTER = re.compile(
    rf"(?<![\w\u200c])(?:اسمم|اسم من|نامم|نام من|اسم بنده)(?: هم)? ({_WORD})(?: (?!(?:هست|است|هستم|ه|و|بود|میباشد|می‌باشد)(?![\w\u200c]))({_WORD}))?"
)
_NAME_BEFORE_HASTAM = re.compile(rf"(?<![\w\u200c])من ({_WORD})(?: ({_WORD}))? هستم(?![\w\u200c])")
# Words that fill those slots without being a name («اسمم رو اشتباه نوشتید», «من مشتری شما هستم»,
# «من خیلی ناراضی هستم»): a match holding one of them is not taken for a name.
NOT_NAMES = frozenset({
    "رو", "را", "هم", "که", "تو", "توی", "در", "از", "به", "با", "برای", "اشتباه", "غلط", "عوض", "درست", "و",
    "مشتری", "مشتریتون", "مشتری‌تون", "مشتری‌های", "شما", "خیلی", "واقعا", "واقعاً", "اصلا", "اصلاً", "دیگه",
    "هنوز", "الان", "اینجا", "منتظر", "ناراضی", "راضی", "عصبانی", "ناراحت", "شاکی", "خسته", "ناامید", "نگران",
    "مطمئن", "پیگیر", "صاحب", "همون", "همان", "یه", "یک", "کاربر", "بیمار", "مریض", "دانشجو", "کارمند",
})
_SEPARATORS = re.compile(r"[ \-+]")


@dataclass(frozen=True)
class Span:
    """A piece of a text to hide: [start, end) and what it is (a key of `texts.INBOX_MASKS`)."""

    start: int
    end: int
    kind: str


def _classify_digits(run: str) -> str | None:
    """What a run of digits is: phone, card or nothing worth hiding (order numbers stay visible)."""
    compact = _SEPARATORS.sub("", run)
    if run.startswith("+"):
        compact = "+" + compact
    candidates = [compact]
    if compact.startswith("98") and len(compact) == 12:
        candidates.append("+" + compact)
    if compact.startswith("9") and len(compact) == 10:
        candidates.append("0" + compact)
    if any(PHONE.fullmatch(c) for c in candidates):
        return "phone"
    if len(compact) == 16 and compact.isdigit():
        return "card"
    if compact.startswith("0") and len(compact) in (10, 11) and compact.isdigit():
        return "phone"  # a landline with its area code (021 12345678)
    return None


@lru_cache(maxsize=1024)
def _name_words(display_names: tuple[str | None, ...]) -> frozenset[str]:
    words: set[str] = set()
    for name in display_names:
        for word in normalize(to_ascii_digits(name or "")).replace("\u200c", " ").split():
            if len(word) >= 2 and not word.isdigit():
                words.add(word)
    return frozenset(words)


def mask_spans(message: str, display_names: Iterable[str | None] = ()) -> list[Span]:
    """Where the personal data in `message` is, as non-overlapping spans in text order.

    Offsets are into `message` itself: digits are mapped to ASCII first, which keeps the length.
    """
    ascii_text = to_ascii_digits(message)
    found: list[Span] = [Span(m.start(), m.end(), "iban") for m in _IBAN.finditer(ascii_text)]
    found += [Span(m.start(), m.end(), "email") for m in _EMAIL.finditer(ascii_text)]
    for match in _DIGIT_RUN.finditer(ascii_text):
        kind = _classify_digits(match.group(0))
        if kind is not None:
            found.append(Span(match.start(), match.end(), kind))
            continue
        for inner in PHONE.finditer(match.group(0)):  # a phone glued to an order number by a space
            found.append(Span(match.start() + inner.start(), match.start() + inner.end(), "phone"))
    for pattern in (_NAME_AFTER, _NAME_BEFORE_HASTAM):
        for match in pattern.finditer(ascii_text):
            groups = [g for g in (1, 2) if match.group(g)]
            if any(match.group(g) in NOT_NAMES for g in groups):
                continue
            found += [Span(match.start(g), match.end(g), "name") for g in groups]
    words = _name_words(tuple(display_names))
    if words:
        for match in re.finditer(r"[\w\u200c]+", ascii_text):
            token = match.group(0)
            base = token.split("\u200c")[0]
            if token in words or base in words:
                found.append(Span(match.start(), match.end(), "name"))
    found.sort(key=lambda s: (s.start, -(s.end - s.start)))
    spans: list[Span] = []
    for span in found:
        if spans and span.start < spans[-1].end:
            continue  # inside an earlier, longer span (an IBAN's digits, a name already hidden)
        spans.append(span)
    return spans


def apply_spans(message: str, spans: Sequence[Span]) -> str:
    """`message` with each span replaced by its Persian placeholder («[تلفن]», «[نام]» …)."""
    out, last = [], 0
    for span in spans:
        out += [message[last:span.start], texts.INBOX_MASKS[span.kind]]
        last = span.end
    out.append(message[last:])
    return "".join(out)


def mask(message: str, display_names: Iterable[str | None] = ()) -> str:
    """The message with phones, cards, IBANs, e-mails and names replaced by placeholders."""
    return apply_spans(message, mask_spans(message, display_names))


# ---- one message, from one tracker event -----------------------------------------------------
def text_key(normalized: str) -> str:
    """The de-duplication key of a message: sha256 of its normalised text (NluLabel.text_key)."""
    return hashlib.sha256(normalized.encode("utf-8")).hexdigest()


def is_payload(message: str) -> bool:
    """A button press («/affirm», «/choose{"x": 1}») is not words a customer wrote."""
    return message.lstrip().startswith("/")


@dataclass(frozen=True)
class UserMessage:
    """What one `user` event tells: the words, Rasa's verdict and where it happened."""

    event_id: int
    sender_id: str
    timestamp: float
    text: str  # as the customer wrote it
    normalized: str
    key: str
    predicted: str | None  # Rasa's verdict, `nlu_fallback` included
    predicted_confidence: float
    suggestion: str | None  # the best real intent (the classifier's choice under a fallback)
    confidence: float  # the suggestion's confidence
    runner_up: str | None
    runner_up_confidence: float
    model_id: str | None
    display_name: str | None
    entities: tuple[dict[str, Any], ...]  # Rasa's entities, offsets into `normalized`

    @property
    def margin(self) -> float:
        return self.confidence - self.runner_up_confidence

    @property
    def fallback(self) -> bool:
        return self.predicted == FALLBACK_INTENT or (
            self.predicted == "out_of_scope" and self.predicted_confidence < LOW_CONFIDENCE)


def _float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def parse_user_event(event_id: int, sender_id: str, data: dict[str, Any],
                     trust_parse_text: bool = False) -> UserMessage | None:
    """One `user` event's content, or None for a button payload or an empty message.

    `trust_parse_text`: take Rasa's own `parse_data.text` as the normalised text instead of
    normalising again — Rasa's first component is this very normaliser, so for a model that has
    it the two are equal (`InboxIndex` checks that on each model's first messages before trusting).
    """
    raw = str(data.get("text") or "")
    if not raw.strip() or is_payload(raw):
        return None
    parse = data.get("parse_data") or {}
    intent = parse.get("intent") or {}
    ranking = [r for r in (parse.get("intent_ranking") or []) if r.get("name")]
    real = [r for r in ranking if r["name"] != FALLBACK_INTENT]
    suggestion = real[0] if real else (intent if intent.get("name") not in (None, FALLBACK_INTENT) else {})
    runner = real[1] if len(real) > 1 else {}
    parsed_text = parse.get("text")
    normalized = parsed_text if trust_parse_text and isinstance(parsed_text, str) and parsed_text else normalize(raw)
    metadata = data.get("metadata") or {}
    entities: tuple[dict[str, Any], ...] = ()
    if parse.get("text") == normalized:  # Rasa's offsets hold only for the same text
        entities = tuple(
            {"start": int(e["start"]), "end": int(e["end"]), "entity": str(e["entity"]), "value": str(e.get("value", ""))}
            for e in parse.get("entities") or [] if {"start", "end", "entity"} <= set(e))
    return UserMessage(
        event_id=event_id, sender_id=sender_id, timestamp=_float(data.get("timestamp")), text=raw,
        normalized=normalized, key=text_key(normalized), predicted=intent.get("name"),
        predicted_confidence=_float(intent.get("confidence")), suggestion=suggestion.get("name"),
        confidence=_float(suggestion.get("confidence")), runner_up=runner.get("name"),
        runner_up_confidence=_float(runner.get("confidence")), model_id=metadata.get("model_id"),
        display_name=metadata.get("display_name") or (parse.get("metadata") or {}).get("display_name"),
        entities=entities,
    )


# ---- corrections seen later in a conversation --------------------------------------------------
@dataclass
class ConversationState:
    """Where one conversation is, as far as the correction signals need to know."""

    story: list[str] = field(default_factory=list)  # keys of the story's messages since it began
    last_key: str | None = None  # the latest worded message
    awaiting: tuple[str, tuple[str, ...]] | None = None  # ("reflection" | "triage", keys asked about)


def follow(state: ConversationState, kind: str, name: str | None, message: UserMessage | None,
           intent: str | None) -> dict[str, str]:
    """Advance one conversation by one event; returns {message key: signal} the event revealed.

    - after `utter_reflection`, the next customer message «نه» (intent deny) or anything but «بله»
      (a correction) marks every message of the story as `reflection_denied`;
    - after `utter_ask_is_complaint` (triage, asked about a message put outside complaints), «بله»
      or a complaint marks that message `triage_said_complaint`;
    - a ticket opened, a complaint dropped or cancelled, or a new session ends the story.
    """
    revealed: dict[str, str] = {}
    if kind in ("session_started", "restart"):
        state.story.clear()
        state.awaiting = None
    elif kind == "action":
        if name == REFLECTION_ACTION:
            state.awaiting = ("reflection", tuple(state.story))
        elif name == TRIAGE_QUESTION_ACTION and state.last_key:
            state.awaiting = ("triage", (state.last_key,))
        elif name in STORY_END_ACTIONS:
            state.story.clear()
    elif kind == "user":
        if state.awaiting is not None:
            asked, keys = state.awaiting
            if asked == "reflection" and intent != "affirm":
                revealed.update({k: "reflection_denied" for k in keys})
            elif asked == "reflection":
                state.story.clear()  # confirmed: the next story is another one
            elif asked == "triage" and (intent == "affirm" or intent in COMPLAINT_INTENTS):
                revealed.update({k: "triage_said_complaint" for k in keys})
            state.awaiting = None
        if message is not None:
            state.last_key = message.key
            if (message.suggestion or intent) not in NOT_STORY_INTENTS:
                state.story.append(message.key)
    return revealed


# ---- the index -----------------------------------------------------------------------------------
@dataclass
class Group:
    """One distinct message (by normalised text) with everything the inbox shows about it."""

    key: str
    latest: UserMessage  # the most recent occurrence: its verdict is the current model's
    count: int = 1
    first_seen: float = 0.0
    last_seen: float = 0.0
    signals: set[str] = field(default_factory=set)
    first_line_key: str = ""  # key of its first line: a ticket's story starts with it

    def add(self, message: UserMessage) -> None:
        self.count += 1
        self.first_seen = min(self.first_seen, message.timestamp)
        if message.timestamp >= self.last_seen:
            self.last_seen, self.latest = message.timestamp, message


@dataclass(frozen=True)
class TicketSignal:
    conversation_id: str
    first_line_key: str
    category: str


@dataclass
class InboxIndex:
    """Everything read so far from one tracker store; `refresh` reads only what is new."""

    watermark: int = 0
    groups: dict[str, Group] = field(default_factory=dict)
    conversations: dict[str, ConversationState] = field(default_factory=dict)
    tickets: dict[int, TicketSignal] = field(default_factory=dict)
    tickets_seen_at: datetime | None = None
    verified: dict[str | None, int] = field(default_factory=dict)  # model id → messages checked (-1: differs)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def ingest(self, rows: Iterable[Sequence[Any]]) -> int:
        """Fold tracker rows (id, sender_id, type_name, action_name, data) in, in id order."""
        seen = 0
        for event_id, sender_id, kind, action_name, data_text in rows:
            seen += 1
            self.watermark = max(self.watermark, int(event_id))
            state = self.conversations.setdefault(sender_id, ConversationState())
            message, intent = None, None
            if kind == "user":
                try:
                    data = json.loads(data_text or "{}")
                except ValueError:
                    continue
                intent = ((data.get("parse_data") or {}).get("intent") or {}).get("name")
                message = self._message(int(event_id), sender_id, data)
                if message is not None:
                    group = self.groups.get(message.key)
                    if group is None:
                        first_line = message.text.strip().split("\n")[0]
                        self.groups[message.key] = Group(
                            key=message.key, latest=message, first_seen=message.timestamp,
                            last_seen=message.timestamp,
                            first_line_key=message.key if first_line == message.text.strip()
                            else text_key(normalize(first_line)))
                    else:
                        group.add(message)
            for key, signal in follow(state, kind, action_name, message, intent).items():
                if key in self.groups:
                    self.groups[key].signals.add(signal)
        return seen

    def _message(self, event_id: int, sender_id: str, data: dict[str, Any]) -> UserMessage | None:
        """Parse one user event, normalising it ourselves until its model has proved, on its first
        TRUST_AFTER messages, that Rasa's `parse_data.text` is exactly our normalisation."""
        model = (data.get("metadata") or {}).get("model_id")
        checked = self.verified.get(model, 0)
        message = parse_user_event(event_id, sender_id, data, trust_parse_text=checked >= TRUST_AFTER)
        if message is not None and 0 <= checked < TRUST_AFTER:
            same = (data.get("parse_data") or {}).get("text") == message.normalized
            self.verified[model] = checked + 1 if same else -1  # one difference: never trusted
        return message

    def refresh(self, connection: Connection) -> None:
        """Read the events added since the last refresh (all of them the first time), in batches."""
        if not inspect(connection).has_table("events"):
            return
        events = _events_table()
        query = (
            select(events.c.id, events.c.sender_id, events.c.type_name, events.c.action_name, events.c.data)
            .where(events.c.id > bindparam("after"))
            .where(or_(events.c.type_name.in_(("user", "session_started", "restart")),
                       and_(events.c.type_name == "action", events.c.action_name.in_(sorted(SIGNAL_ACTIONS)))))
            .order_by(events.c.id).limit(BATCH)
        )
        newest = connection.execute(select(func.max(events.c.id))).scalar() or 0
        with self.lock:
            if newest < self.watermark:  # the store was emptied or replaced: start again
                self.watermark = 0
                self.groups.clear()
                self.conversations.clear()
                self.verified.clear()
            while self.ingest(connection.execute(query, {"after": self.watermark}).all()) == BATCH:
                pass

    def refresh_tickets(self, session: Session) -> None:
        """Tickets written or changed since the last look, for the `agent_recategorised` signal."""
        query = select(Ticket.id, Ticket.conversation_id, Ticket.category, Ticket.story, Ticket.updated_at)
        if self.tickets_seen_at is not None:
            query = query.where(Ticket.updated_at >= self.tickets_seen_at)
        with self.lock:
            for ticket_id, conversation_id, category, story, updated_at in session.execute(query):
                first_line = (story or "").strip().split("\n")[0]
                self.tickets[ticket_id] = TicketSignal(
                    conversation_id, text_key(normalize(first_line)), getattr(category, "value", str(category)))
                if self.tickets_seen_at is None or updated_at > self.tickets_seen_at:
                    self.tickets_seen_at = updated_at

    def recategorised(self) -> set[str]:
        """Keys of groups whose message opened a ticket now filed under another category.

        A ticket's category is taken from the intent of the message that began its story
        (actions/complaint_intake.py), so a difference means someone changed it afterwards.
        """
        by_first_line: dict[str, list[Group]] = {}
        with self.lock:
            groups, tickets = list(self.groups.values()), list(self.tickets.values())
        for group in groups:
            by_first_line.setdefault(group.first_line_key, []).append(group)
        keys: set[str] = set()
        for ticket in tickets:
            for group in by_first_line.get(ticket.first_line_key, []):
                implied = CATEGORY_BY_INTENT.get(group.latest.suggestion or "")
                if implied is not None and implied != ticket.category:
                    keys.add(group.key)
        return keys


@lru_cache(maxsize=1)
def _events_table() -> Any:
    from sqlalchemy import Column, Float, Integer, MetaData, String, Table, Text

    return Table("events", MetaData(), Column("id", Integer, primary_key=True), Column("sender_id", String(255)),
                 Column("type_name", String(255)), Column("timestamp", Float), Column("intent_name", String(255)),
                 Column("action_name", String(255)), Column("data", Text))


_INDEXES: dict[str, InboxIndex] = {}
_INDEXES_LOCK = threading.Lock()


def index_for(url: str) -> InboxIndex:
    """The process-wide index of one tracker store (the console serves one)."""
    with _INDEXES_LOCK:
        return _INDEXES.setdefault(url, InboxIndex())


def reset_indexes() -> None:
    """Forget every index (tests, or after the tracker store was replaced)."""
    with _INDEXES_LOCK:
        _INDEXES.clear()


def warm_index() -> int:
    """Read the configured tracker store into its index now (e.g. from the app's start-up, in a
    thread), so the first person to open the inbox does not wait; returns the groups indexed."""
    url = get_settings().tracker_db_url
    index = index_for(url)
    with tracker_engine(url).connect() as connection:
        index.refresh(connection)
    return len(index.groups)


@lru_cache(maxsize=4)
def tracker_engine(url: str) -> Engine:
    """A read-only use of Rasa's tracker store; parameters hidden from errors (customers' words)."""
    if url.startswith("sqlite"):
        return create_engine(url, connect_args={"timeout": 30}, hide_parameters=True)
    return create_engine(url, pool_pre_ping=True, hide_parameters=True)



# ---- what is already known: training data, golden set, held-out files, labels ------------------
_ENTITY_MARKUP = re.compile(r"\[([^\]\n]*)\](?:\([^)\n]*\)|\{[^}\n]*\})")


def plain_example(example: str) -> str:
    """A Rasa YAML example without its entity markup: «سفارش [123](order_id)» → «سفارش 123»."""
    return _ENTITY_MARKUP.sub(lambda m: m.group(1), example)


def read_examples(path: Path) -> Iterator[tuple[str, str]]:
    """(intent, example text without markup) of every intent example in one Rasa NLU YAML file."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return
    for block in document.get("nlu") or [] if isinstance(document, dict) else []:
        if not isinstance(block, dict) or "intent" not in block:
            continue
        for line in str(block.get("examples") or "").splitlines():
            line = line.strip()
            if line.startswith("- "):
                yield str(block["intent"]), plain_example(line[2:].strip())


def _known_files() -> list[Path]:
    settings = get_settings()
    files = sorted(Path(settings.nlu_data_dir).rglob("*.yml")) if Path(settings.nlu_data_dir).is_dir() else []
    files += sorted(HELD_OUT_DIR.glob("*.yml")) if HELD_OUT_DIR.is_dir() else []
    if Path(settings.golden_set_path).is_file():
        files.append(Path(settings.golden_set_path))
    return files


@lru_cache(maxsize=2)
def _keys_of(signature: tuple[tuple[str, int, int], ...]) -> frozenset[str]:
    return frozenset(text_key(normalize(example)) for path, _, _ in signature for _, example in read_examples(Path(path)))


def known_keys() -> frozenset[str]:
    """Keys of every text in the training data, the golden set and the held-out evaluation files.

    Cached on the files' names, sizes and modification times, so an export or a `git pull` is
    seen at the next page.
    """
    signature = []
    for path in _known_files():
        try:
            stat = path.stat()
        except OSError:
            continue
        signature.append((str(path), stat.st_mtime_ns, stat.st_size))
    return _keys_of(tuple(signature))


def labelled_keys(session: Session) -> set[str]:
    """Texts a person has already dealt with (labelled, approved or discarded); a rejected label's
    text comes back to the inbox to be labelled again."""
    query = select(NluLabel.text_key).where(or_(NluLabel.status != LabelStatus.REJECTED, NluLabel.discard.is_(True)))
    return set(session.scalars(query))


# ---- ranking -------------------------------------------------------------------------------------
def need_score(*, fallback: bool, confidence: float, margin: float, signals: Iterable[str],
               count: int) -> tuple[float, list[str]]:
    """How much a message needs a person, and the reasons (keys of `texts.INBOX_REASONS`).

        score = 3.0 if fallback (nlu_fallback, or out_of_scope below 0.60)
              + 2.0 × (1 − confidence of the best real intent)
              + 1.5 × (1 − margin / 0.30)   when top-1 − top-2 < 0.30
              + 3.0 triage: the customer said it was a complaint
              + 3.0 an agent filed its ticket under another category
              + 2.0 the customer said «نه» to the reflection of the story
              + 0.5 × log2(count)

    A wrong verdict the conversation itself exposed weighs as much as a fallback: both are certain
    misunderstandings, while a low confidence or a small margin is only a doubt.
    """
    score, reasons = 0.0, []
    if fallback:
        score += WEIGHT_FALLBACK
        reasons.append("fallback")
    confidence = min(max(confidence, 0.0), 1.0)
    score += WEIGHT_LOW_CONFIDENCE * (1.0 - confidence)
    if confidence < LOW_CONFIDENCE and not fallback:
        reasons.append("low_confidence")
    if margin < SMALL_MARGIN:
        score += WEIGHT_MARGIN * (1.0 - max(margin, 0.0) / SMALL_MARGIN)
        reasons.append("small_margin")
    for signal in sorted(set(signals)):
        score += SIGNAL_WEIGHTS.get(signal, 0.0)
        reasons.append(signal)
    score += WEIGHT_COUNT * math.log2(max(count, 1))
    return round(score, 4), reasons


# ---- the page ------------------------------------------------------------------------------------
ORDERS = ("need", "latest", "count")


@dataclass(frozen=True)
class InboxQuery:
    intent: str | None = None  # the suggested (best real) intent, or "nlu_fallback" for fallbacks
    min_confidence: float | None = None
    max_confidence: float | None = None
    search: str | None = None  # a piece of the text (normalised before comparing)
    order: str = "need"  # need | latest | count
    page: int = 1
    per_page: int = 50


@dataclass(frozen=True)
class InboxItem:
    key: str
    text: str  # the newest occurrence as written (unmasked: for labelling, never shown in the list)
    normalized: str
    masked: str  # what the list shows
    predicted: str | None
    suggestion: str | None
    confidence: float
    runner_up: str | None
    runner_up_confidence: float
    model_id: str | None
    count: int
    first_seen: datetime
    last_seen: datetime
    sender_id: str  # of the newest occurrence: its conversation is linked
    score: float
    reasons: tuple[str, ...]
    entities: tuple[dict[str, Any], ...]

    @property
    def fallback(self) -> bool:
        return "fallback" in self.reasons


@dataclass(frozen=True)
class InboxPage:
    items: list[InboxItem]
    total: int
    page: int
    pages: int
    intents: list[str]  # the intents seen, for the filter


def _when(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, tz=timezone.utc)


def _matches(group: Group, query: InboxQuery, needle: str | None) -> bool:
    latest = group.latest
    if query.intent:
        if query.intent == FALLBACK_INTENT:
            if latest.predicted != FALLBACK_INTENT:
                return False
        elif latest.suggestion != query.intent:
            return False
    if query.min_confidence is not None and latest.confidence < query.min_confidence:
        return False
    if query.max_confidence is not None and latest.confidence > query.max_confidence:
        return False
    return needle is None or needle in group.latest.normalized


def display_names(session: Session, sender_ids: Iterable[str]) -> dict[str, str]:
    """The customers' display names by conversation id (for masking names)."""
    wanted = {split_conversation_id(s): s for s in set(sender_ids)}
    if not wanted:
        return {}
    channels = {channel for channel, _ in wanted}
    externals = {external for _, external in wanted}
    rows = session.execute(select(Customer.channel, Customer.external_id, Customer.display_name)
                           .where(Customer.channel.in_(channels), Customer.external_id.in_(externals)))
    return {wanted[(c, e)]: name for c, e, name in rows if name and (c, e) in wanted}


def list_inbox(connection: Connection, session: Session, query: InboxQuery,
               index: InboxIndex | None = None) -> InboxPage:
    """One page of the inbox: new events read, hidden texts removed, filtered, ranked, masked.

    `connection` is to Rasa's tracker store, `session` to Hamdel's database (labels, tickets,
    customers).
    """
    index = index or index_for(str(connection.engine.url))
    index.refresh(connection)
    index.refresh_tickets(session)
    hidden = known_keys() | labelled_keys(session)
    recategorised = index.recategorised()
    needle = normalize(query.search).strip() if query.search and query.search.strip() else None
    with index.lock:
        groups = [g for g in index.groups.values() if g.key not in hidden]
    intents = sorted({g.latest.suggestion for g in groups if g.latest.suggestion}
                     | ({FALLBACK_INTENT} if any(g.latest.predicted == FALLBACK_INTENT for g in groups) else set()))
    groups = [g for g in groups if _matches(g, query, needle)]
    scored = []
    for group in groups:
        latest = group.latest
        signals = group.signals | ({"agent_recategorised"} if group.key in recategorised else set())
        score, reasons = need_score(fallback=latest.fallback, confidence=latest.confidence, margin=latest.margin,
                                    signals=signals, count=group.count)
        scored.append((group, score, reasons))
    if query.order == "latest":
        scored.sort(key=lambda t: (-t[0].last_seen, t[0].key))
    elif query.order == "count":
        scored.sort(key=lambda t: (-t[0].count, -t[1], t[0].key))
    else:
        scored.sort(key=lambda t: (-t[1], -t[0].last_seen, t[0].key))
    per_page = max(1, min(query.per_page, 500))
    pages = max(1, math.ceil(len(scored) / per_page))
    page = min(max(1, query.page), pages)
    window = scored[(page - 1) * per_page: page * per_page]
    names = display_names(session, [g.latest.sender_id for g, _, _ in window])
    items = [
        InboxItem(
            key=g.key, text=g.latest.text, normalized=g.latest.normalized,
            masked=mask(g.latest.text, (g.latest.display_name, names.get(g.latest.sender_id))),
            predicted=g.latest.predicted, suggestion=g.latest.suggestion, confidence=g.latest.confidence,
            runner_up=g.latest.runner_up, runner_up_confidence=g.latest.runner_up_confidence,
            model_id=g.latest.model_id, count=g.count, first_seen=_when(g.first_seen),
            last_seen=_when(g.last_seen), sender_id=g.latest.sender_id, score=score, reasons=tuple(reasons),
            entities=g.latest.entities,
        )
        for g, score, reasons in window
    ]
    return InboxPage(items=items, total=len(scored), page=page, pages=pages, intents=intents)


def find_items(connection: Connection, session: Session, keys: Iterable[str],
               index: InboxIndex | None = None) -> dict[str, InboxItem]:
    """The inbox items with these keys (hidden ones included: labelling needs their text)."""
    wanted = set(keys)
    index = index or index_for(str(connection.engine.url))
    index.refresh(connection)
    with index.lock:
        groups = [index.groups[k] for k in wanted if k in index.groups]
    names = display_names(session, [g.latest.sender_id for g in groups])
    found = {}
    for g in groups:
        score, reasons = need_score(fallback=g.latest.fallback, confidence=g.latest.confidence,
                                    margin=g.latest.margin, signals=g.signals, count=g.count)
        found[g.key] = InboxItem(
            key=g.key, text=g.latest.text, normalized=g.latest.normalized,
            masked=mask(g.latest.text, (g.latest.display_name, names.get(g.latest.sender_id))),
            predicted=g.latest.predicted, suggestion=g.latest.suggestion, confidence=g.latest.confidence,
            runner_up=g.latest.runner_up, runner_up_confidence=g.latest.runner_up_confidence,
            model_id=g.latest.model_id, count=g.count, first_seen=_when(g.first_seen), last_seen=_when(g.last_seen),
            sender_id=g.latest.sender_id, score=score, reasons=tuple(reasons), entities=g.latest.entities)
    return found


def visible_groups(connection: Connection, session: Session, index: InboxIndex | None = None) -> list[Group]:
    """Every group the inbox would show (for bulk labelling by filter and near-duplicates)."""
    index = index or index_for(str(connection.engine.url))
    index.refresh(connection)
    hidden = known_keys() | labelled_keys(session)
    with index.lock:
        return [g for g in index.groups.values() if g.key not in hidden]


# ---- one conversation ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Turn:
    speaker: str  # "customer" | "bot"
    text: str  # masked
    at: datetime
    intent: str | None = None
    confidence: float | None = None
    key: str | None = None  # the customer's message key, to highlight the one the inbox linked


def conversation(connection: Connection, session: Session, sender_id: str, limit: int = 1000) -> list[Turn]:
    """The customer's and the bot's turns of one conversation, oldest first, masked."""
    if not inspect(connection).has_table("events"):
        return []
    events = _events_table()
    rows = connection.execute(
        select(events.c.id, events.c.type_name, events.c.data)
        .where(events.c.sender_id == sender_id, events.c.type_name.in_(("user", "bot")))
        .order_by(events.c.id).limit(limit)).all()
    names: list[str | None] = list(display_names(session, [sender_id]).values())
    turns: list[Turn] = []
    for event_id, kind, data_text in rows:
        try:
            data = json.loads(data_text or "{}")
        except ValueError:
            continue
        at = _when(_float(data.get("timestamp")))
        if kind == "bot":
            if data.get("text"):
                turns.append(Turn("bot", str(data["text"]), at))
            continue
        message = parse_user_event(int(event_id), sender_id, data)
        if message is None:
            continue
        names.append(message.display_name)
        turns.append(Turn("customer", message.text, at, message.predicted, message.predicted_confidence, message.key))
    # The bot's reflection repeats the customer's words, so its turns are masked too.
    return [Turn(t.speaker, mask(t.text, names), t.at, t.intent, t.confidence, t.key) for t in turns]


__all__ = [
    "InboxIndex", "InboxItem", "InboxPage", "InboxQuery", "Span", "Turn", "UserMessage", "conversation",
    "find_items", "index_for", "known_keys", "list_inbox", "mask", "mask_spans", "need_score", "parse_user_event",
    "read_examples", "text_key", "tracker_engine", "visible_groups",
]

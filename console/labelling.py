"""Labels people give real messages, their review, and where approved labels are written.

Life of a label (`NluLabel`, one per normalised text):
    inbox ──label/accept/discard (annotator+)──▶ PROPOSED ──approve (reviewer+)──▶ APPROVED ──▶ export
                                                   │                              (golden or training)
                                                   └──reject (reviewer+)──▶ REJECTED: back in the inbox
Who may approve: only reviewers and above (the route requires `Role.REVIEWER`), and a reviewer may
approve a label they made themselves — a one-person team must be able to teach the bot, and the
audit log shows `labelled_by == reviewed_by` for anyone who wants four eyes. Annotators never approve.

Golden share: when a label is approved, a fixed share of approved labels (`golden_share()`, 0.2 by
default) is set aside for the frozen golden test set, decided by the first 8 hex digits of the
text's key (`is_golden`): deterministic, so the same text lands on the same side on any machine,
and independent of who labels in which order. A golden label never changes afterwards (relabelling
it is refused) and is never written to the training data.

Export (`export`), run on every approval: all approved, non-discarded labels are written —
golden ones to `settings.golden_set_path`, the others to `<nlu_data_dir>/nlu/console_labels.yml` —
as Rasa NLU YAML (`version: "3.1"`), intents sorted by name and examples by text, entities in
Rasa's `[value](entity)` markup, behind a header saying the console writes the file. Each file is
rebuilt from the database and replaced atomically (temporary file + rename) only when its content
changed, so exporting twice changes nothing and git shows one line per new label. A file is not
created while it would be empty; once it exists it is kept (as `nlu: []` if every label left it).

Personal data in training data: the text a label stores is already its training form
(`training_form`). Every phone, card, IBAN, e-mail and name the inbox would mask is replaced by a
fake of the same shape — phone digits after the leading «09» and card/IBAN digits are replaced by
other digits (separators kept), an e-mail by «name@example.com», a name by a common first name — so
the model still learns «my number is 09…» as a `phone` entity but no customer's number, card or
name is ever in `nlu_data/`, the golden set or the console's database. The fakes are derived from a
hash of the original, so a text always gets the same fake (idempotent export).

Near-duplicates (for labelling many at once): two texts are near-duplicates when their skeletons
(normalised text without digits, punctuation and half-spaces) are equal, or when the Jaccard
similarity of the skeletons' character 3-grams is at least 0.8 («سفارش 123 نرسید» and «سفارش 456
نرسید!» share a skeleton; «هنوز سفارشم به دستم نرسیده» and «هنوزم سفارشم به دستم نرسیده» are
close enough; «پولم برنگشت» and «پیک نیومد» are neither).
"""
from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from console import texts
from console.inbox import Span, mask_spans
from console.tables import LabelStatus, NluLabel
from hamdel.persian import normalize, realign_span
from hamdel.settings import PROJECT_ROOT, get_settings
from hamdel.storage.models import utcnow

NEAR_DUPLICATE_JACCARD = 0.8
TRAINING_FILE = Path("nlu") / "console_labels.yml"
FAKE_NAMES = ("سارا", "مریم", "علی", "رضا", "زهرا", "حسین", "نرگس", "امیر", "لیلا", "مهدی")
FAKE_EMAIL = "name@example.com"
_PHONE_PREFIX = re.compile(r"(?:98|0098|0)9|0\d{2}")
HEADER = (
    "# Written by the Hamdel console (console/labelling.py) from labels people approved; do not edit:\n"
    "# every approval rewrites this file from the console's database. Phone, card and IBAN digits,\n"
    "# e-mails and names here are fakes of the same shape, never a customer's own.\n"
)
GOLDEN_HEADER = (
    "# Hamdel's golden test set, written by the console (console/labelling.py): a fixed share of the\n"
    "# labels people approved, chosen by a hash of the text. Never trained on; the regression gate\n"
    "# evaluates every candidate model on it. Do not edit: every approval rewrites this file.\n"
)


class LabelError(ValueError):
    """A label that cannot be saved as asked; `str(error)` is Persian, for the person who asked."""


# ---- what the domain allows -----------------------------------------------------------------------
@dataclass(frozen=True)
class Vocabulary:
    intents: tuple[str, ...]
    entities: tuple[str, ...]


def domain_path() -> Path:
    """The domain next to the training data when there is one, else the project's."""
    beside = Path(get_settings().nlu_data_dir).parent / "domain.yml"
    return beside if beside.is_file() else PROJECT_ROOT / "domain.yml"


@lru_cache(maxsize=4)
def _vocabulary(path: str, mtime_ns: int) -> Vocabulary:
    document = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}

    def names(entries: Any) -> tuple[str, ...]:
        found = []
        for entry in entries or []:
            found += list(entry) if isinstance(entry, dict) else [str(entry)]
        return tuple(found)

    return Vocabulary(intents=names(document.get("intents")), entities=names(document.get("entities")))


def vocabulary() -> Vocabulary:
    """Intents and entity names of `domain.yml` (re-read when the file changes)."""
    path = domain_path()
    return _vocabulary(str(path), path.stat().st_mtime_ns)


# ---- entities -------------------------------------------------------------------------------------
def check_entities(message: str, entities: Iterable[dict[str, Any]], allowed: Sequence[str]) -> list[dict[str, Any]]:
    """Entities as {start, end, entity, value} within `message`, sorted, not overlapping."""
    spans: list[tuple[int, int, str]] = []
    for entity in entities:
        name = str(entity.get("entity") or "")
        if name not in allowed:
            raise LabelError(texts.LABEL_UNKNOWN_ENTITY)
        try:
            start, end = int(entity["start"]), int(entity["end"])
        except (KeyError, TypeError, ValueError) as error:
            raise LabelError(texts.LABEL_BAD_SPAN) from error
        if not 0 <= start < end <= len(message) or not message[start:end].strip():
            raise LabelError(texts.LABEL_BAD_SPAN)
        spans.append((start, end, name))
    spans.sort()
    for before, after in zip(spans, spans[1:], strict=False):
        if after[0] < before[1]:
            raise LabelError(texts.LABEL_OVERLAPPING)
    return [{"start": start, "end": end, "entity": name, "value": message[start:end]} for start, end, name in spans]


def locate(message: str, value: str, entity: str, occurrence: int = 1,
           display_names: Iterable[str | None] = ()) -> dict[str, Any]:
    """The entity an annotator marked by its words: the `occurrence`-th place `value` appears in
    `message` (the normalised text). A placeholder the inbox showed («[تلفن]») means the hidden
    piece of that kind, so a phone number can be marked without anyone seeing it."""
    value = value.strip()
    placeholder = {v: k for k, v in texts.INBOX_MASKS.items()}.get(value)
    if placeholder is not None:
        places = [(s.start, s.end) for s in mask_spans(message, display_names) if s.kind == placeholder]
    else:
        needle = normalize(value) if value else ""
        places, start = [], message.find(needle) if needle else -1
        while start >= 0:
            places.append((start, start + len(needle)))
            start = message.find(needle, start + 1)
    if occurrence < 1 or len(places) < occurrence:
        raise LabelError(texts.LABEL_SPAN_NOT_FOUND)
    start, end = places[occurrence - 1]
    return {"start": start, "end": end, "entity": entity, "value": message[start:end]}


# ---- the training form: personal data replaced by fakes of the same shape --------------------
def _digits_like(original: str, seed: str, keep: int) -> str:
    """`original` with every digit after the first `keep` ones replaced, separators kept."""
    stream = hashlib.sha256(seed.encode("utf-8")).hexdigest()
    out, seen, position = [], 0, 0
    for char in original:
        if char.isdigit():
            seen += 1
            if seen > keep:
                digit = int(stream[position % len(stream)], 16) % 10
                position += 1
                if digit == int(char):
                    digit = (digit + 1) % 10  # never the customer's own digit at that place
                char = str(digit)
        out.append(char)
    return "".join(out)


def fake_for(span: Span, original: str) -> str:
    """A stand-in of the same shape for one piece of personal data (deterministic)."""
    seed = f"{span.kind}:{original}"
    if span.kind == "phone":
        # Keep what makes it a phone number: the country or trunk prefix and a mobile's «9», or a
        # landline's area code; only the subscriber's digits are replaced.
        digits = "".join(c for c in original if c.isdigit())
        prefix = _PHONE_PREFIX.match(digits)
        return _digits_like(original, seed, len(prefix.group(0)) if prefix else 3)
    if span.kind in ("card", "iban"):
        return _digits_like(original, seed, 0)
    if span.kind == "email":
        return FAKE_EMAIL
    return FAKE_NAMES[int(hashlib.sha256(seed.encode("utf-8")).hexdigest()[:8], 16) % len(FAKE_NAMES)]


def _replace(message: str, replacements: Sequence[tuple[int, int, str]],
             entities: Sequence[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Apply non-overlapping replacements (in order) and move entity offsets with them.

    An entity inside a replaced piece becomes the whole replacement (a phone entity keeps covering
    the fake number); an entity around one grows or shrinks with it.
    """
    pieces, last, shifts = [], 0, []  # shifts: (old start, old end, new start, new end)
    new_position = 0
    for start, end, new in replacements:
        pieces.append(message[last:start])
        new_position += start - last
        shifts.append((start, end, new_position, new_position + len(new)))
        pieces.append(new)
        new_position += len(new)
        last = end
    pieces.append(message[last:])

    def moved(offset: int, is_end: bool) -> int:
        delta = 0
        for old_start, old_end, new_start, new_end in shifts:
            if is_end:
                if offset <= old_start:
                    break
                if offset <= old_end:
                    return new_end  # ends inside (or with) a replaced piece
            else:
                if offset < old_start:
                    break
                if offset < old_end:
                    return new_start  # starts inside (or with) a replaced piece
            delta = new_end - old_end
        return offset + delta

    return "".join(pieces), [{**e, "start": moved(e["start"], False), "end": moved(e["end"], True)} for e in entities]


def training_form(message: str, entities: Sequence[dict[str, Any]], display_names: Iterable[str | None] = ()
                  ) -> tuple[str, list[dict[str, Any]]]:
    """The text and entities as they may be stored and trained on: personal data faked, then the
    one normalisation applied (so the example is a fixed point, as every training example must be)."""
    replacements = [(s.start, s.end, fake_for(s, message[s.start:s.end])) for s in mask_spans(message, display_names)]
    faked, moved = _replace(message, replacements, entities)
    final = normalize(faked)
    out = []
    for entity in moved:
        start, end = realign_span(faked, final, entity["start"], entity["end"])
        out.append({"start": start, "end": end, "entity": entity["entity"], "value": final[start:end]})
    return final, out


# ---- near-duplicates ----------------------------------------------------------------------------
_NOT_LETTERS = re.compile(r"[\W\d_]+")


def skeleton(normalized: str) -> str:
    """The words of a text without digits, punctuation or half-spaces («سفارش 123 نرسید!» → «سفارش نرسید»)."""
    return " ".join(_NOT_LETTERS.sub(" ", normalized.replace("\u200c", "")).split())


def trigrams(text: str) -> frozenset[str]:
    padded = f" {text} "
    return frozenset(padded[i:i + 3] for i in range(len(padded) - 2))


def near_duplicate(a: str, b: str) -> bool:
    """Whether two normalised texts are the same message for labelling purposes (module docstring)."""
    sa, sb = skeleton(a), skeleton(b)
    if sa == sb:
        return True
    ta, tb = trigrams(sa), trigrams(sb)
    return bool(ta | tb) and len(ta & tb) / len(ta | tb) >= NEAR_DUPLICATE_JACCARD


# ---- saving, reviewing ----------------------------------------------------------------------------
def golden_share() -> float:
    """The share of approved labels kept for the golden set (setting ADMIN_GOLDEN_SHARE, 0.2)."""
    return get_settings().admin_golden_share


def is_golden(key: str, share: float | None = None) -> bool:
    """Deterministic: the key's first 8 hex digits, as a fraction of 16^8, below the share."""
    share = golden_share() if share is None else share
    return int(key[:8], 16) / 0x1_0000_0000 < share


@dataclass(frozen=True)
class Proposal:
    """What an annotator decided about one message (the route fills it from the inbox item)."""

    key: str
    normalized: str  # the message after `normalize`: entity offsets refer to it
    intent: str | None  # None with discard=True
    entities: tuple[dict[str, Any], ...] = ()
    discard: bool = False
    predicted_intent: str | None = None
    predicted_confidence: float | None = None
    display_names: tuple[str | None, ...] = ()


def save_label(session: Session, proposal: Proposal, *, user: str, now: datetime | None = None) -> NluLabel:
    """Create or update the label of one message; it waits for a reviewer (PROPOSED)."""
    words = vocabulary()
    if proposal.discard:
        intent, entities = None, []
    else:
        if proposal.intent not in words.intents:
            raise LabelError(texts.LABEL_UNKNOWN_INTENT)
        intent = proposal.intent
        entities = check_entities(proposal.normalized, proposal.entities, words.entities)
    safe_text, safe_entities = training_form(proposal.normalized, entities, proposal.display_names)
    label = session.scalar(select(NluLabel).where(NluLabel.text_key == proposal.key))
    if label is not None and label.golden and label.status == LabelStatus.APPROVED:
        raise LabelError(texts.LABEL_FROZEN)
    if label is None:
        label = NluLabel(text_key=proposal.key, labelled_by=user)
        session.add(label)
    label.text = safe_text
    label.intent = intent
    label.entities = safe_entities
    label.discard = proposal.discard
    label.golden = False
    label.status = LabelStatus.PROPOSED
    label.predicted_intent = proposal.predicted_intent
    label.predicted_confidence = proposal.predicted_confidence
    label.labelled_by = user
    label.labelled_at = now or utcnow()
    label.reviewed_by = None
    label.reviewed_at = None
    label.exported_at = None
    session.flush()
    return label


def review(session: Session, label_ids: Iterable[int], *, approve: bool, reviewer: str,
           now: datetime | None = None) -> list[NluLabel]:
    """Approve or reject PROPOSED labels (others are left alone); returns those changed.

    Approval decides, once and for good, whether the label is golden (`is_golden`); a rejected
    label's text goes back to the inbox.
    """
    ids = sorted(set(label_ids))
    if not ids:
        return []
    labels = list(session.scalars(select(NluLabel).where(NluLabel.id.in_(ids), NluLabel.status == LabelStatus.PROPOSED)))
    when = now or utcnow()
    for label in labels:
        label.status = LabelStatus.APPROVED if approve else LabelStatus.REJECTED
        label.golden = approve and not label.discard and is_golden(label.text_key)
        label.reviewed_by = reviewer
        label.reviewed_at = when
    session.flush()
    return labels


# ---- export ---------------------------------------------------------------------------------------
def markup(example: str, entities: Sequence[dict[str, Any]]) -> str:
    """Rasa's `[value](entity)` markup of one example."""
    out, last = [], 0
    for entity in sorted(entities, key=lambda e: e["start"]):
        out += [example[last:entity["start"]], f"[{example[entity['start']:entity['end']]}]({entity['entity']})"]
        last = entity["end"]
    out.append(example[last:])
    return "".join(out)


def _yaml_line(example: str) -> str:
    """One example as a line of a YAML block scalar: one line, no trailing spaces."""
    return " ".join(example.split())


def nlu_yaml(labels: Iterable[NluLabel], header: str) -> str:
    """Rasa NLU YAML of these labels: intents by name, examples by text, no duplicates."""
    by_intent: dict[str, set[str]] = {}
    for label in labels:
        if label.intent:
            by_intent.setdefault(label.intent, set()).add(_yaml_line(markup(label.text, label.entities or [])))
    lines = [header.rstrip("\n"), 'version: "3.1"']
    if not by_intent:
        lines.append("nlu: []")
    else:
        lines.append("nlu:")
        for intent in sorted(by_intent):
            lines += [f"- intent: {intent}", "  examples: |"]
            lines += [f"    - {example}" for example in sorted(by_intent[intent])]
    return "\n".join(lines) + "\n"


def write_atomically(path: Path, content: str) -> bool:
    """Replace `path` with `content` (temporary file + rename); False when it already had it."""
    try:
        if path.read_text(encoding="utf-8") == content:
            return False
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return True


@dataclass(frozen=True)
class ExportResult:
    training_path: Path
    golden_path: Path
    training_examples: int
    golden_examples: int
    changed: tuple[Path, ...]  # files whose content changed


def training_path() -> Path:
    return Path(get_settings().nlu_data_dir) / TRAINING_FILE


def export(session: Session, *, now: datetime | None = None) -> ExportResult:
    """Write every approved label to the training file or the golden set (module docstring).

    Safe to call any time (the training job calls it before `rasa train`): the files are rebuilt
    from the database, and a file whose content would not change is not touched.
    """
    labels = list(session.scalars(select(NluLabel).where(
        NluLabel.status == LabelStatus.APPROVED, NluLabel.discard.is_(False), NluLabel.intent.is_not(None))))
    golden = [label for label in labels if label.golden]
    training = [label for label in labels if not label.golden]
    settings = get_settings()
    train_file, golden_file = training_path(), Path(settings.golden_set_path)
    changed = []
    for path, chosen, header in ((train_file, training, HEADER), (golden_file, golden, GOLDEN_HEADER)):
        if not chosen and not path.exists():
            continue  # nothing to say and nothing said before: no empty file in the repository
        if write_atomically(path, nlu_yaml(chosen, header)):
            changed.append(path)
    when = now or utcnow()
    for label in labels:
        if label.exported_at is None:
            label.exported_at = when
    session.flush()
    return ExportResult(train_file, golden_file, len(training), len(golden), tuple(changed))


def export_approved(session: Session, *, username: str | None = None) -> ExportResult:
    """`export`, as the training job calls it before `rasa train` (console/training.py).

    `username` is who started the training; the files do not depend on it (the labels record who
    labelled and who approved), so it is accepted only to keep the call site explicit.
    """
    del username
    return export(session)

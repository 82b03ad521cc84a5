"""Routes of the inbox (annotators label real messages) and of the labels page (reviewers approve).

    GET  /inbox                          the ranked list, with filters           annotator
    POST /inbox/label                    one row: save / accept / discard /      annotator
                                         label it and its near-duplicates
    POST /inbox/bulk                     the ticked rows, or every row the       annotator
                                         filter shows (at most BULK_LIMIT)
    GET  /inbox/conversation/{sender}    one conversation, masked                annotator
    GET  /labels                         labels by status (proposed first)       reviewer
    POST /labels/{id}/approve|reject     one label                               reviewer
    POST /labels/approve                 every proposed label shown, or the      reviewer
                                         ticked ones
    POST /labels/export                  write the files again (after a manual   reviewer
                                         edit of the database or a lost file)

Approving writes the training file and the golden set at once (`labelling.export`), so what a
reviewer approved is what the next training sees. Every POST is CSRF-checked (router dependency)
and audited with ids and counts only. Row actions answer htmx with the new row (the page keeps
its place); without JavaScript the forms post normally and are redirected back.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import Connection, func, select
from sqlalchemy.orm import Session

from console import audit, inbox, labelling, texts
from console.auth import CurrentUser, csrf_protect, require
from console.deps import db_session
from console.inbox import InboxItem, InboxQuery
from console.labelling import LabelError, Proposal
from console.tables import LabelStatus, NluLabel, Role
from console.web import render
from hamdel.persian import to_ascii_digits
from hamdel.settings import get_settings

router = APIRouter(dependencies=[Depends(csrf_protect)])
BULK_LIMIT = 500
LABELS_PAGE = 100
MAX_ENTITIES = 3

Annotator = Annotated[CurrentUser, Depends(require(Role.ANNOTATOR))]
Reviewer = Annotated[CurrentUser, Depends(require(Role.REVIEWER))]
DB = Annotated[Session, Depends(db_session)]


def tracker_connection() -> Iterator[Connection]:
    """A connection to Rasa's tracker store (read only), for one request."""
    with inbox.tracker_engine(get_settings().tracker_db_url).connect() as connection:
        yield connection


Tracker = Annotated[Connection, Depends(tracker_connection)]


def _is_htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"


def _percent(value: str | None) -> float | None:
    """«60» or «۶۰» (percent) → 0.6; empty or nonsense → None."""
    try:
        return min(max(float(to_ascii_digits(value or "").strip()) / 100, 0.0), 1.0) if (value or "").strip() else None
    except ValueError:
        return None


def _query(intent: str | None, low: str | None, high: str | None, q: str | None, order: str | None,
           page: int = 1) -> InboxQuery:
    return InboxQuery(intent=intent or None, min_confidence=_percent(low), max_confidence=_percent(high),
                      search=q or None, order=order if order in inbox.ORDERS else "need", page=page)


def _back(next_url: str | None) -> str:
    return next_url if next_url and next_url.startswith("/inbox") and "//" not in next_url else "/inbox"


# ---- the inbox ----------------------------------------------------------------------------------
@router.get("/inbox")
def inbox_page(request: Request, user: Annotator, session: DB, tracker: Tracker,
               intent: str | None = None, low: str | None = None, high: str | None = None,
               q: str | None = None, order: str | None = None, page: Annotated[int, Query(ge=1)] = 1) -> Response:
    query = _query(intent, low, high, q, order, page)
    result = inbox.list_inbox(tracker, session, query)
    params = {k: v for k, v in {"intent": intent, "low": low, "high": high, "q": q, "order": order}.items() if v}
    words = labelling.vocabulary()
    return render(request, "inbox.html", {
        "result": result, "params": params, "query_string": urlencode(params),
        "here": str(request.url.path) + (f"?{request.url.query}" if request.url.query else ""),
        "intents": words.intents, "entities": words.entities, "reasons": texts.INBOX_REASONS,
        "max_entities": MAX_ENTITIES, "bulk_limit": BULK_LIMIT,
    })


def _item(tracker: Connection, session: Session, key: str) -> InboxItem:
    found = inbox.find_items(tracker, session, [key]).get(key)
    if found is None:
        raise HTTPException(status_code=404, detail=texts.LABEL_NOT_FOUND)
    return found


def _proposal(tracker: Connection, session: Session, item: InboxItem, intent: str | None, discard: bool,
              keep_predicted: bool, values: list[str], names: list[str], occurrences: list[str]) -> Proposal:
    """What the form asked, located in the message: Rasa's entities (when kept) and those marked."""
    display = tuple(inbox.display_names(session, [item.sender_id]).values())
    entities: list[dict[str, Any]] = list(item.entities) if keep_predicted and not discard else []
    for n, (value, name) in enumerate(zip(values[:MAX_ENTITIES], names[:MAX_ENTITIES], strict=False)):
        if not value.strip() or not name:
            continue
        occurrence = occurrences[n] if n < len(occurrences) else ""
        located = labelling.locate(item.normalized, value, name, int(occurrence) if occurrence.isdigit() else 1,
                                   display)
        entities = [e for e in entities if e["end"] <= located["start"] or e["start"] >= located["end"]]
        entities.append(located)
    return Proposal(key=item.key, normalized=item.normalized, intent=None if discard else intent,
                    entities=tuple(entities), discard=discard, predicted_intent=item.predicted,
                    # under a fallback, the confidence shown is the classifier's own guess's, not the verdict's
                    predicted_confidence=item.confidence if item.predicted == item.suggestion else None,
                    display_names=display)


def _label_one(session: Session, tracker: Connection, user: CurrentUser, item: InboxItem, intent: str | None,
               discard: bool, keep_predicted: bool = True, values: list[str] | None = None,
               names: list[str] | None = None, occurrences: list[str] | None = None) -> NluLabel:
    proposal = _proposal(tracker, session, item, intent, discard, keep_predicted, values or [], names or [],
                         occurrences or [])
    return labelling.save_label(session, proposal, user=user.username)


@router.post("/inbox/label")
def label_row(request: Request, user: Annotator, session: DB, tracker: Tracker,
              key: Annotated[str, Form()] = "", intent: Annotated[str, Form()] = "",
              action: Annotated[str, Form()] = "save", keep_predicted: Annotated[str, Form()] = "",
              entity_value: Annotated[list[str], Form()] = [],  # noqa: B006 (FastAPI copies defaults)
              entity_name: Annotated[list[str], Form()] = [],  # noqa: B006
              entity_occurrence: Annotated[list[str], Form()] = [],  # noqa: B006
              next_url: Annotated[str, Form(alias="next")] = "") -> Response:
    item = _item(tracker, session, key)
    discard = action == "discard"
    error, labels = None, []
    try:
        if action == "similar" and not discard:
            similar = [g.latest.key for g in inbox.visible_groups(tracker, session)
                       if g.key != item.key and labelling.near_duplicate(item.normalized, g.latest.normalized)]
            labels.append(_label_one(session, tracker, user, item, intent, False, bool(keep_predicted),
                                     entity_value, entity_name, entity_occurrence))
            for other in inbox.find_items(tracker, session, similar[:BULK_LIMIT]).values():
                labels.append(_label_one(session, tracker, user, other, intent, False))
        else:
            labels.append(_label_one(session, tracker, user, item, intent, discard, bool(keep_predicted),
                                     entity_value, entity_name, entity_occurrence))
    except LabelError as problem:
        error = str(problem)
    if error is None:
        audit.record(session, user=user.username, action="label_discard" if discard else (
            "label_bulk" if len(labels) > 1 else "label_save"), target=f"label:{labels[0].id}",
            detail={"label_ids": [label.id for label in labels], "intent": None if discard else intent,
                    "predicted": item.predicted, "entities": len(labels[0].entities or [])})
    if not _is_htmx(request):
        if error is not None:
            raise HTTPException(status_code=422, detail=error)
        return RedirectResponse(_back(next_url), status_code=303)
    if error is None and len(labels) > 1:
        return Response(status_code=204, headers={"HX-Refresh": "true"})  # other rows changed too
    words = labelling.vocabulary()
    return render(request, "inbox_rows.html", {
        "items": [item], "done": {item.key: labels[0]} if labels else {}, "errors": {item.key: error} if error else {},
        "intents": words.intents, "entities": words.entities, "reasons": texts.INBOX_REASONS,
        "max_entities": MAX_ENTITIES, "here": _back(next_url),
    })  # 200 even with an error: htmx swaps only successful answers, and the row shows the error


@router.post("/inbox/bulk")
def label_bulk(request: Request, user: Annotator, session: DB, tracker: Tracker,
               keys: Annotated[list[str], Form()] = [],  # noqa: B006
               intent: Annotated[str, Form()] = "", action: Annotated[str, Form()] = "save",
               scope: Annotated[str, Form()] = "selected",
               filter_intent: Annotated[str, Form()] = "", low: Annotated[str, Form()] = "",
               high: Annotated[str, Form()] = "", q: Annotated[str, Form()] = "",
               next_url: Annotated[str, Form(alias="next")] = "") -> Response:
    """Label the ticked rows, or every row the current filter shows, with one intent (or discard them).

    Each keeps its own predicted entities when the intent is the one the model suggested for it.
    """
    if scope == "filter":
        query = _query(filter_intent, low, high, q, "need", 1)
        query = InboxQuery(**{**query.__dict__, "per_page": BULK_LIMIT})
        wanted = [i.key for i in inbox.list_inbox(tracker, session, query).items]
    else:
        wanted = list(dict.fromkeys(keys))[:BULK_LIMIT]
    if not wanted:
        raise HTTPException(status_code=422, detail=texts.LABEL_NOTHING_SELECTED)
    discard = action == "discard"
    labels = []
    try:
        for item in inbox.find_items(tracker, session, wanted).values():
            labels.append(_label_one(session, tracker, user, item, intent, discard,
                                     keep_predicted=item.suggestion == intent))
    except LabelError as problem:
        raise HTTPException(status_code=422, detail=str(problem)) from problem
    audit.record(session, user=user.username, action="label_discard" if discard else "label_bulk",
                 target=f"labels:{len(labels)}",
                 detail={"label_ids": [label.id for label in labels], "intent": None if discard else intent,
                         "scope": scope})
    if _is_htmx(request):
        return Response(status_code=204, headers={"HX-Refresh": "true"})
    return RedirectResponse(_back(next_url), status_code=303)


@router.get("/inbox/conversation/{sender_id:path}")
def conversation_page(request: Request, sender_id: str, user: Annotator, session: DB, tracker: Tracker,
                      key: str | None = None) -> Response:
    turns = inbox.conversation(tracker, session, sender_id)
    if not turns:
        raise HTTPException(status_code=404, detail=texts.NOT_FOUND)
    return render(request, "inbox_conversation.html", {"turns": turns, "key": key})


# ---- the labels page -----------------------------------------------------------------------------
def _segments(label: NluLabel) -> list[tuple[str, str | None]]:
    """The label's text cut into (piece, entity name or None), for highlighting entities."""
    pieces, last = [], 0
    for entity in sorted(label.entities or [], key=lambda e: e["start"]):
        pieces += [(label.text[last:entity["start"]], None), (label.text[entity["start"]:entity["end"]], entity["entity"])]
        last = entity["end"]
    pieces.append((label.text[last:], None))
    return [(text, entity) for text, entity in pieces if text]


def _label_context(labels: list[NluLabel]) -> dict[str, Any]:
    return {"labels": labels, "segments": {label.id: _segments(label) for label in labels}}


STATUSES = ("proposed", "approved", "rejected", "discarded")


@router.get("/labels")
def labels_page(request: Request, user: Reviewer, session: DB, status: str = "proposed",
                page: Annotated[int, Query(ge=1)] = 1) -> Response:
    status = status if status in STATUSES else "proposed"
    query = select(NluLabel)
    if status == "discarded":
        query = query.where(NluLabel.discard.is_(True))
    else:
        query = query.where(NluLabel.status == LabelStatus(status), NluLabel.discard.is_(False))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    labels = list(session.scalars(query.order_by(NluLabel.labelled_at.desc(), NluLabel.id.desc())
                                  .offset((page - 1) * LABELS_PAGE).limit(LABELS_PAGE)))
    counts = dict(session.execute(select(NluLabel.status, func.count()).group_by(NluLabel.status)).all())
    return render(request, "labels.html", {
        **_label_context(labels), "status": status, "total": total, "page": page,
        "pages": max(1, -(-total // LABELS_PAGE)), "counts": {getattr(k, "value", k): v for k, v in counts.items()},
        "golden_share": labelling.golden_share(),
    })


def _approve(session: Session, user: CurrentUser, ids: list[int]) -> list[NluLabel]:
    changed = labelling.review(session, ids, approve=True, reviewer=user.username)
    result = labelling.export(session)
    audit.record(session, user=user.username, action="label_approve", target=f"labels:{len(changed)}",
                 detail={"label_ids": [label.id for label in changed],
                         "golden": sum(1 for label in changed if label.golden),
                         "training_examples": result.training_examples, "golden_examples": result.golden_examples,
                         "files_changed": [path.name for path in result.changed]})
    return changed


@router.post("/labels/approve")
def approve_many(request: Request, user: Reviewer, session: DB,
                 ids: Annotated[list[int], Form()] = [],  # noqa: B006
                 scope: Annotated[str, Form()] = "selected") -> Response:
    if scope == "all":
        ids = list(session.scalars(select(NluLabel.id).where(NluLabel.status == LabelStatus.PROPOSED)))
    _approve(session, user, ids)
    if _is_htmx(request):
        return Response(status_code=204, headers={"HX-Refresh": "true"})
    return RedirectResponse("/labels", status_code=303)


@router.post("/labels/{label_id}/{verdict}")
def review_one(request: Request, label_id: int, verdict: str, user: Reviewer, session: DB) -> Response:
    if verdict not in ("approve", "reject"):
        raise HTTPException(status_code=404, detail=texts.NOT_FOUND)
    label = session.get(NluLabel, label_id)
    if label is None:
        raise HTTPException(status_code=404, detail=texts.NOT_FOUND)
    if label.status != LabelStatus.PROPOSED:
        raise HTTPException(status_code=409, detail=texts.LABEL_NOT_PROPOSED)
    if verdict == "approve":
        _approve(session, user, [label.id])
    else:
        labelling.review(session, [label.id], approve=False, reviewer=user.username)
        audit.record(session, user=user.username, action="label_reject", target=f"label:{label.id}",
                     detail={"label_ids": [label.id]})
    if not _is_htmx(request):
        return RedirectResponse("/labels", status_code=303)
    return render(request, "label_row.html", _label_context([label]))


@router.post("/labels/export")
def export_again(request: Request, user: Reviewer, session: DB) -> Response:
    result = labelling.export(session)
    audit.record(session, user=user.username, action="label_export", target=None,
                 detail={"training_examples": result.training_examples, "golden_examples": result.golden_examples,
                         "files_changed": [path.name for path in result.changed]})
    if _is_htmx(request):
        return Response(status_code=204, headers={"HX-Refresh": "true"})
    return RedirectResponse("/labels", status_code=303)

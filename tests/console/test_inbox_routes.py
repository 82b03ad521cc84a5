"""The inbox and labels pages as people use them: an annotator finds a misunderstood message,
relabels it with one click (or one key), marks an entity, labels near-duplicates at once; a reviewer
approves and the files appear; nothing is shown without log-in, and the audit log holds ids only.
"""
from __future__ import annotations

from collections.abc import Callable

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import select

from console import inbox
from console.inbox import text_key
from console.tables import AuditEntry, LabelStatus, NluLabel, Role
from hamdel.persian import normalize
from hamdel.settings import Settings
from hamdel.storage.db import session_scope
from tests.console.test_inbox import Tracker

HTMX = {"HX-Request": "true"}
WRONG = "راستش بسته که رسید درش باز بود و نصف خوراکی‌ها ریخته بود"
PHONE = "سفارش ۴۵۸۷۱۲۳ نرسیده، شماره‌م ۰۹۱۲۳۴۵۶۷۸۹"


@pytest.fixture
def tracker(console_settings: Settings) -> Tracker:
    inbox.reset_indexes()
    store = Tracker(console_settings.tracker_db_url)
    store.user("telegram:1", WRONG, "complain_delivery", 0.48, "complain_product", 0.44)
    store.user("telegram:2", PHONE, "ask_status", 0.90, "complain_delivery", 0.05)
    store.user("telegram:3", "سفارشم خیلی دیر رسید", "complain_delivery", 0.99)
    return store


def key_of(text: str) -> str:
    return text_key(normalize(text))


def labels() -> list[NluLabel]:
    with session_scope() as session:
        return list(session.scalars(select(NluLabel).order_by(NluLabel.id)))


def audit_entries() -> list[AuditEntry]:
    with session_scope() as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.action.like("label%")).order_by(AuditEntry.id)))


def test_nothing_without_log_in(client: TestClient, tracker: Tracker) -> None:
    for url in ("/inbox", "/labels", "/inbox/conversation/telegram:1"):
        page = client.get(url, headers={"Accept": "text/html"})
        assert page.status_code == 303 and page.headers["location"].startswith("/login")
        assert "نصف" not in page.text
    answer = client.post("/inbox/label", data={"key": key_of(WRONG), "intent": "complain_product"})
    assert answer.status_code == 401 and labels() == []


def test_a_viewer_may_not_see_the_inbox_and_an_annotator_may_not_approve(
        login_as: Callable[..., TestClient], tracker: Tracker) -> None:
    assert login_as(Role.VIEWER).get("/inbox").status_code == 403
    annotator = login_as(Role.ANNOTATOR)
    assert annotator.get("/labels").status_code == 403
    assert annotator.post("/labels/approve", data={"scope": "all"}).status_code == 403


def test_the_inbox_shows_the_misunderstood_message_first_masked(login_as: Callable[..., TestClient],
                                                               tracker: Tracker) -> None:
    page = login_as(Role.ANNOTATOR).get("/inbox")
    assert page.status_code == 200
    html = page.text
    assert html.index(f'data-text-key="{key_of(WRONG)}"') < html.index(f'data-text-key="{key_of(PHONE)}"')
    assert "۰۹۱۲۳۴۵۶۷۸۹" not in html and "09123456789" not in html and "[تلفن]" in html
    assert 'class="predicted-intent"' in html and "complain_product" in html  # the runner-up
    assert 'select name="intent" class="label-intent"' in html and "label-save" in html
    assert "/inbox/conversation/telegram%3A1" in html or "/inbox/conversation/telegram:1" in html


def test_filters_narrow_the_list(login_as: Callable[..., TestClient], tracker: Tracker) -> None:
    annotator = login_as(Role.ANNOTATOR)
    only_status = annotator.get("/inbox", params={"intent": "ask_status"}).text
    assert key_of(PHONE) in only_status and key_of(WRONG) not in only_status
    unsure = annotator.get("/inbox", params={"high": "۶۰"}).text
    assert key_of(WRONG) in unsure and key_of(PHONE) not in unsure
    searched = annotator.get("/inbox", params={"q": "خوراکی"}).text
    assert key_of(WRONG) in searched and key_of(PHONE) not in searched


def test_relabelling_a_row_swaps_it_and_audits_ids_only(login_as: Callable[..., TestClient], tracker: Tracker) -> None:
    annotator = login_as(Role.ANNOTATOR)
    answer = annotator.post("/inbox/label", headers=HTMX, data={"key": key_of(WRONG), "intent": "complain_product"})
    assert answer.status_code == 200
    assert 'data-labelled="true"' in answer.text and "complain_product" in answer.text
    (label,) = labels()
    assert (label.intent, label.status, label.labelled_by) == ("complain_product", LabelStatus.PROPOSED,
                                                               annotator.user.username)
    assert (label.predicted_intent, label.text_key) == ("complain_delivery", key_of(WRONG))
    (entry,) = audit_entries()
    assert entry.action == "label_save" and entry.detail["label_ids"] == [label.id]
    assert "خوراکی" not in str(entry.detail) and "خوراکی" not in str(entry.target)
    assert key_of(WRONG) not in annotator.get("/inbox").text  # labelled: out of the inbox


def test_without_htmx_the_form_posts_and_comes_back(login_as: Callable[..., TestClient], tracker: Tracker) -> None:
    annotator = login_as(Role.ANNOTATOR)
    answer = annotator.post("/inbox/label", data={"key": key_of(WRONG), "intent": "complain_product",
                                                  "next": "/inbox?order=latest"})
    assert answer.status_code == 303 and answer.headers["location"] == "/inbox?order=latest"
    evil = annotator.post("/inbox/label", data={"key": key_of(PHONE), "action": "discard", "next": "https://evil.example/"})
    assert evil.headers["location"] == "/inbox"


def test_marking_a_masked_phone_and_an_order_number(login_as: Callable[..., TestClient], tracker: Tracker) -> None:
    annotator = login_as(Role.ANNOTATOR)
    answer = annotator.post("/inbox/label", headers=HTMX, data={
        "key": key_of(PHONE), "intent": "ask_status",
        "entity_value": ["۴۵۸۷۱۲۳", "[تلفن]"], "entity_name": ["order_id", "phone"]})
    assert answer.status_code == 200 and 'data-labelled="true"' in answer.text
    (label,) = labels()
    assert [e["entity"] for e in label.entities] == ["order_id", "phone"]
    assert label.entities[0]["value"] == "4587123"
    assert label.entities[1]["value"].startswith("09") and label.entities[1]["value"] != "09123456789"
    assert "09123456789" not in label.text


def test_a_wrong_entity_keeps_the_row_with_an_error(login_as: Callable[..., TestClient], tracker: Tracker) -> None:
    answer = login_as(Role.ANNOTATOR).post("/inbox/label", headers=HTMX, data={
        "key": key_of(PHONE), "intent": "ask_status", "entity_value": ["۹۹۹"], "entity_name": ["order_id"]})
    assert answer.status_code == 200 and 'role="alert"' in answer.text and 'data-labelled="false"' in answer.text
    assert labels() == []


def test_an_unknown_message_or_intent_is_refused(login_as: Callable[..., TestClient], tracker: Tracker) -> None:
    annotator = login_as(Role.ANNOTATOR)
    assert annotator.post("/inbox/label", data={"key": "0" * 64, "intent": "greet"}).status_code == 404
    assert annotator.post("/inbox/label", data={"key": key_of(WRONG), "intent": "complain_weather"}).status_code == 422
    assert labels() == []


def test_near_duplicates_are_labelled_together(login_as: Callable[..., TestClient], tracker: Tracker) -> None:
    tracker.user("telegram:4", "سفارشم خیلی دیر رسید!!", "complain_delivery", 0.97)
    tracker.user("telegram:5", "سفارشم خیلی دیر رسید 😡", "complain_delivery", 0.97)
    answer = login_as(Role.ANNOTATOR).post("/inbox/label", headers=HTMX, data={
        "key": key_of("سفارشم خیلی دیر رسید"), "intent": "complain_delivery", "action": "similar"})
    assert answer.status_code == 204 and answer.headers["HX-Refresh"] == "true"
    assert sorted(label.text for label in labels()) == sorted(
        normalize(t) for t in ("سفارشم خیلی دیر رسید", "سفارشم خیلی دیر رسید!!", "سفارشم خیلی دیر رسید 😡"))
    assert audit_entries()[0].action == "label_bulk"


def test_bulk_by_ticks_and_by_filter(login_as: Callable[..., TestClient], tracker: Tracker) -> None:
    annotator = login_as(Role.ANNOTATOR)
    ticked = annotator.post("/inbox/bulk", data={"keys": [key_of(WRONG), key_of(PHONE)], "intent": "complain_product"})
    assert ticked.status_code == 303
    assert {label.text_key for label in labels()} == {key_of(WRONG), key_of(PHONE)}
    filtered = annotator.post("/inbox/bulk", headers=HTMX, data={
        "scope": "filter", "filter_intent": "complain_delivery", "action": "discard"})
    assert filtered.status_code == 204
    discarded = [label for label in labels() if label.discard]
    assert [label.text_key for label in discarded] == [key_of("سفارشم خیلی دیر رسید")]
    assert annotator.post("/inbox/bulk", data={"keys": []}).status_code == 422


def test_the_conversation_page_is_masked(login_as: Callable[..., TestClient], tracker: Tracker) -> None:
    tracker.bot("telegram:2", "گرفتم. شماره‌تون 09123456789 ـه درسته؟")
    annotator = login_as(Role.ANNOTATOR)
    page = annotator.get("/inbox/conversation/telegram:2", params={"key": key_of(PHONE)})
    assert page.status_code == 200 and "turn-linked" in page.text
    assert "09123456789" not in page.text and "۰۹۱۲۳۴۵۶۷۸۹" not in page.text and page.text.count("[تلفن]") == 2
    assert annotator.get("/inbox/conversation/telegram:404").status_code == 404


def test_a_reviewer_approves_and_the_files_are_written(login_as: Callable[..., TestClient], tracker: Tracker,
                                                      console_settings: Settings) -> None:
    annotator, reviewer = login_as(Role.ANNOTATOR), login_as(Role.REVIEWER)
    annotator.post("/inbox/label", data={"key": key_of(WRONG), "intent": "complain_product"})
    annotator.post("/inbox/label", data={"key": key_of(PHONE), "intent": "ask_status"})
    page = reviewer.get("/labels")
    assert page.status_code == 200 and page.text.count('class="label-row"') == 2
    assert "label-approve" in page.text and 'id="labels-approve-all"' in page.text
    first, second = labels()
    row = reviewer.post(f"/labels/{first.id}/approve", headers=HTMX)
    assert row.status_code == 200 and 'data-status="approved"' in row.text
    assert reviewer.post(f"/labels/{first.id}/approve", headers=HTMX).status_code == 409
    rejected = reviewer.post(f"/labels/{second.id}/reject", headers=HTMX)
    assert 'data-status="rejected"' in rejected.text
    assert key_of(PHONE) in annotator.get("/inbox").text  # back in the inbox
    approved = labels()[0]
    target = console_settings.golden_set_path if approved.golden else console_settings.nlu_data_dir / "nlu" / "console_labels.yml"
    examples = yaml.safe_load(target.read_text(encoding="utf-8"))["nlu"]
    assert examples == [{"intent": "complain_product", "examples": f"- {normalize(WRONG)}\n"}]
    actions = [entry.action for entry in audit_entries()]
    assert actions == ["label_save", "label_save", "label_approve", "label_reject"]
    assert all(normalize(WRONG) not in str(entry.detail) for entry in audit_entries())


def test_approve_all_and_export_again(login_as: Callable[..., TestClient], tracker: Tracker,
                                      console_settings: Settings) -> None:
    reviewer = login_as(Role.REVIEWER)
    reviewer.post("/inbox/bulk", data={"keys": [key_of(WRONG), key_of(PHONE)], "intent": "complain_product"})
    answer = reviewer.post("/labels/approve", data={"scope": "all"})
    assert answer.status_code == 303
    assert {label.status for label in labels()} == {LabelStatus.APPROVED}
    training = console_settings.nlu_data_dir / "nlu" / "console_labels.yml"
    training.unlink()
    assert reviewer.post("/labels/export").status_code == 303 and training.exists()
    assert reviewer.get("/labels", params={"status": "approved"}).text.count('data-status="approved"') == 2


def test_the_labels_page_highlights_entities_without_breaking_the_text(login_as: Callable[..., TestClient],
                                                                       tracker: Tracker) -> None:
    """The entity's name is drawn by CSS (data-entity), so the row's text reads as the message does."""
    import re

    reviewer = login_as(Role.REVIEWER)
    reviewer.post("/inbox/label", data={"key": key_of(PHONE), "intent": "ask_status",
                                        "entity_value": ["۴۵۸۷۱۲۳"], "entity_name": ["order_id"]})
    (label,) = labels()
    html = reviewer.get("/labels").text
    assert 'data-entity="order_id"' in html
    cell = re.search(r'<p class="inbox-text" dir="auto">(.*?)</p>', html, re.S)
    assert cell is not None and re.sub(r"<[^>]+>", "", cell.group(1)) == label.text

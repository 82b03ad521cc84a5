"""The inbox of real messages: what Rasa's tracker store holds becomes ranked, de-duplicated, masked
rows, and what is already known (training data, labels) stays out of the way.

Events are written exactly as Rasa 3.6's SQLTrackerStore writes them (table `events`, the event's
JSON in `data`, `model_id` in its metadata); `Tracker` below is the one helper the console's inbox
tests share.
"""
from __future__ import annotations

import json
import re
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session

from console import inbox
from console.inbox import InboxIndex, InboxQuery, list_inbox, mask, need_score, parse_user_event
from console.tables import LabelStatus, NluLabel
from hamdel.persian import normalize
from hamdel.settings import get_settings
from hamdel.storage.models import Category, Customer, Severity, Ticket

MODEL = "674bb031365340149b678cee0c3fbefb"
INTENTS = ("complain_delivery", "complain_product", "complain_billing", "complain_staff", "complain_service",
           "out_of_scope", "praise", "affirm", "deny", "greet")


class Tracker:
    """Writes a tracker store the way Rasa's SQLTrackerStore does."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = create_engine(url)
        inbox._events_table().metadata.create_all(self.engine)
        self.clock = 1_795_456_668.0

    def _add(self, sender: str, kind: str, data: dict[str, Any], intent: str | None = None,
             action: str | None = None) -> None:
        self.clock += 1.5
        data = {"event": kind, "timestamp": self.clock, **data}
        with self.engine.begin() as connection:
            connection.execute(inbox._events_table().insert().values(
                sender_id=sender, type_name=kind, timestamp=self.clock, intent_name=intent, action_name=action,
                data=json.dumps(data, ensure_ascii=False)))

    def user(self, sender: str, text: str, intent: str, confidence: float = 0.99, runner_up: str | None = None,
             runner_confidence: float | None = None, fallback: bool = False, model_id: str = MODEL,
             display_name: str | None = None) -> None:
        others = [i for i in INTENTS if i not in (intent, runner_up)]
        rest = 1.0 - confidence
        ranking = [{"name": intent, "confidence": confidence}]
        if runner_up:
            ranking.append({"name": runner_up, "confidence": rest if runner_confidence is None else runner_confidence})
        ranking += [{"name": other, "confidence": rest / 100} for other in others[:3]]
        top: dict[str, Any] = {"name": intent, "confidence": confidence}
        if fallback:
            top = {"name": "nlu_fallback", "confidence": 0.45}
            ranking.insert(0, top)
        metadata: dict[str, Any] = {"model_id": model_id, "assistant_id": "hamdel"}
        if display_name:
            metadata["display_name"] = display_name
        self._add(sender, "user", {
            "text": text, "metadata": metadata, "input_channel": "rest",
            "parse_data": {"intent": top, "entities": [], "text": normalize(text), "intent_ranking": ranking},
        }, intent=str(top["name"]))

    def button(self, sender: str, intent: str) -> None:
        self._add(sender, "user", {"text": f"/{intent}", "metadata": {"model_id": MODEL}, "parse_data": {
            "intent": {"name": intent, "confidence": 1.0}, "entities": [], "text": f"/{intent}",
            "intent_ranking": [{"name": intent, "confidence": 1.0}]}}, intent=intent)

    def action(self, sender: str, name: str) -> None:
        self._add(sender, "action", {"name": name, "policy": "RulePolicy", "confidence": 1.0}, action=name)

    def bot(self, sender: str, text: str) -> None:
        self._add(sender, "bot", {"text": text, "data": {}, "metadata": {}})


@pytest.fixture
def tracker(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Tracker:
    monkeypatch.setenv("TRACKER_DB_URL", f"sqlite:///{tmp_path / 'tracker.db'}")
    monkeypatch.setenv("NLU_DATA_DIR", str(tmp_path / "nlu_data"))
    monkeypatch.setenv("GOLDEN_SET_PATH", str(tmp_path / "evaluation" / "golden.yml"))
    get_settings.cache_clear()
    inbox.reset_indexes()
    return Tracker(get_settings().tracker_db_url)


def page(tracker: Tracker, session: Session, **query: Any) -> inbox.InboxPage:
    with inbox.tracker_engine(tracker.url).connect() as connection:
        return list_inbox(connection, session, InboxQuery(**query))


# ---- masking -------------------------------------------------------------------------------------
@pytest.mark.parametrize(("written", "shown"), [
    ("شماره‌م ۰۹۱۲۳۴۵۶۷۸۹ هست", "شماره‌م [تلفن] هست"),
    ("زنگ بزنید به ٠٩١٢٣٤٥٦٧٨٩", "زنگ بزنید به [تلفن]"),
    ("شمارم 0912 345 6789 ـه", "شمارم [تلفن] ـه"),
    ("با +98 912 345 6789 تماس بگیرید", "با [تلفن] تماس بگیرید"),
    ("تلفن خونه 021-88776655", "تلفن خونه [تلفن]"),
    ("کارتم ۶۰۳۷-۹۹۷۵-۱۲۳۴-۵۶۷۸ بود", "کارتم [شماره کارت] بود"),
    ("از کارت 6037 9975 1234 5678 کم شد", "از کارت [شماره کارت] کم شد"),
    ("شبا IR120120000000001234567890 رو بفرستم؟", "شبا [شماره شبا] رو بفرستم؟"),
    ("شبا: IR12 0120 0000 0000 1234 5678 90", "شبا: [شماره شبا]"),
    ("ایمیلم ali.rezaei@gmail.com هست", "ایمیلم [ایمیل] هست"),
    ("سلام، اسمم سارا محمدی هست و سفارشم نرسیده", "سلام، اسمم [نام] [نام] هست و سفارشم نرسیده"),
    ("من مریم هستم، پیگیری می‌کنید؟", "من [نام] هستم، پیگیری می‌کنید؟"),
])
def test_personal_data_is_masked_in_the_list(written: str, shown: str) -> None:
    assert mask(written) == shown


def test_order_numbers_ticket_codes_amounts_and_dates_stay_visible() -> None:
    """They are what the message is about, and the annotator needs them to mark entities."""
    for written in ("سفارش ۴۵۸۷۱۲۳ نرسید", "پرونده‌ی HM-482917 چی شد؟", "۴۵۰ هزار تومن کم شد",
                    "از 1403/08/20 منتظرم", "مبلغ 1,250,000 ریال"):
        assert mask(written) == written


@pytest.mark.parametrize("written", [
    "اسمم رو اشتباه نوشتید", "من خیلی ناراضی هستم", "من مشتری شما هستم", "بنده سفارش دادم ولی نرسید",
])
def test_words_in_a_names_place_that_are_not_names_stay(written: str) -> None:
    assert mask(written) == written


def test_the_customers_display_name_is_masked_wherever_it_appears() -> None:
    assert mask("رضا هستم، سفارشم رو رضا گرفته بود؟", ["رضا کریمی"]) == "[نام] هستم، سفارشم رو [نام] گرفته بود؟"
    assert mask("سفارش کریمی‌ها رسید", ["رضا کریمی"]) == "سفارش [نام] رسید"


def test_masking_regexes_stay_linear_on_hostile_text() -> None:
    """Every compiled regex of the inbox and labelling modules, on the fault suite's hostile texts
    (S5: 4,096 characters of spaces, digits, phone-like runs …), within its 50 ms budget."""
    from console import labelling
    from tests.faults.test_s5_hostile_text import BUDGET_SECONDS, HOSTILE, _patterns_in, _worst

    patterns = {f"{module.__name__}.{name}[{i}]": p for module in (inbox, labelling)
                for name, value in vars(module).items() for i, p in enumerate(_patterns_in(value))}
    assert len(patterns) >= 6
    normalize("گرم")  # hazm's Normalizer is built on first use (about a second): not part of the figure
    extra = {"email-like": ("a.b" * 1366)[:4096], "digits and dashes": ("1-" * 2048), "at signs": "a@" * 2048,
             "name pattern": ("اسمم " * 820)[:4096]}
    for label, hostile in {**HOSTILE, **extra}.items():
        for name, pattern in patterns.items():
            elapsed = min(_worst(pattern, hostile), _worst(pattern, hostile))
            assert elapsed < BUDGET_SECONDS, (label, name, f"{elapsed * 1000:.0f} ms")
        started = time.perf_counter()
        mask(hostile, ["رضا کریمی"])
        assert time.perf_counter() - started < 1.0, label


# ---- one event -----------------------------------------------------------------------------------
def test_a_fallback_event_suggests_the_classifiers_own_choice() -> None:
    data = {"text": "یه چیزی شد", "timestamp": 1.0, "metadata": {"model_id": MODEL},
            "parse_data": {"text": "یه چیزی شد", "intent": {"name": "nlu_fallback", "confidence": 0.45},
                           "intent_ranking": [{"name": "nlu_fallback", "confidence": 0.45},
                                              {"name": "complain_service", "confidence": 0.31},
                                              {"name": "out_of_scope", "confidence": 0.29}]}}
    message = parse_user_event(7, "telegram:1", data)
    assert message is not None
    assert (message.predicted, message.suggestion, message.runner_up) == ("nlu_fallback", "complain_service", "out_of_scope")
    assert message.fallback and message.model_id == MODEL
    assert message.margin == pytest.approx(0.02)


def test_button_presses_are_not_messages() -> None:
    assert parse_user_event(1, "telegram:1", {"text": "/affirm", "parse_data": {}}) is None
    assert parse_user_event(1, "telegram:1", {"text": '/choose{"remedy": "refund"}'}) is None
    assert parse_user_event(1, "telegram:1", {"text": "   "}) is None


# ---- ranking -------------------------------------------------------------------------------------
def test_need_score_puts_certain_misunderstandings_above_doubts() -> None:
    confident = need_score(fallback=False, confidence=0.99, margin=0.98, signals=(), count=1)
    doubtful = need_score(fallback=False, confidence=0.55, margin=0.2, signals=(), count=1)
    fallback = need_score(fallback=True, confidence=0.40, margin=0.1, signals=(), count=1)
    corrected = need_score(fallback=False, confidence=0.99, margin=0.98, signals={"triage_said_complaint"}, count=1)
    assert confident[0] < doubtful[0] < fallback[0]
    assert corrected[0] > doubtful[0]
    assert doubtful[1] == ["low_confidence", "small_margin"]
    assert fallback[1][0] == "fallback" and "low_confidence" not in fallback[1]
    many = need_score(fallback=False, confidence=0.99, margin=0.98, signals=(), count=8)
    assert many[0] == pytest.approx(confident[0] + 1.5)


def test_the_inbox_ranks_deduplicates_and_links_the_newest_conversation(tracker: Tracker, session: Session) -> None:
    tracker.user("telegram:1", "سفارشم هنوز نرسیده", "complain_delivery", 0.99)
    tracker.user("telegram:2", "یه سوال داشتم درباره‌ی ساعت کاری", "out_of_scope", 0.41, "complain_service", 0.30,
                 fallback=True)
    tracker.user("telegram:3", "پول اضافه برداشتید فکر کنم", "complain_billing", 0.52, "complain_service", 0.40)
    tracker.user("telegram:4", "سفارشم  هنوز نرسیده", "complain_delivery", 0.97)  # the same after normalising
    result = page(tracker, session)
    assert [i.normalized for i in result.items] == [
        "یه سوال داشتم درباره‌ی ساعت کاری", "پول اضافه برداشتید فکر کنم", "سفارشم هنوز نرسیده"]
    fallback, doubtful, known = result.items
    assert fallback.predicted == "nlu_fallback" and fallback.suggestion == "out_of_scope"
    assert fallback.runner_up == "complain_service" and fallback.model_id == MODEL
    assert doubtful.reasons == ("low_confidence", "small_margin")
    assert (known.count, known.sender_id, known.confidence) == (2, "telegram:4", 0.97)
    assert known.first_seen < known.last_seen
    assert result.total == 3 and result.intents == ["complain_billing", "complain_delivery", "nlu_fallback", "out_of_scope"]


def test_filters_by_intent_confidence_and_search(tracker: Tracker, session: Session) -> None:
    tracker.user("telegram:1", "سفارشم هنوز نرسیده", "complain_delivery", 0.99)
    tracker.user("telegram:2", "پیک خیلی بد حرف زد", "complain_staff", 0.62, "complain_delivery", 0.3)
    tracker.user("telegram:3", "غذا سرد بود", "complain_product", 0.45, "complain_delivery", 0.4, fallback=True)
    assert [i.suggestion for i in page(tracker, session, intent="complain_staff").items] == ["complain_staff"]
    assert [i.suggestion for i in page(tracker, session, intent="nlu_fallback").items] == ["complain_product"]
    assert {i.suggestion for i in page(tracker, session, max_confidence=0.7).items} == {"complain_staff", "complain_product"}
    assert [i.suggestion for i in page(tracker, session, min_confidence=0.9).items] == ["complain_delivery"]
    assert [i.suggestion for i in page(tracker, session, search="پیک").items] == ["complain_staff"]
    assert [i.suggestion for i in page(tracker, session, order="latest").items][0] == "complain_product"


def test_the_list_shows_masked_text_with_the_customers_name(tracker: Tracker, session: Session) -> None:
    session.add(Customer(channel="telegram", external_id="55", display_name="نگار"))
    session.flush()
    tracker.user("telegram:55", "نگار هستم، شماره‌م ۰۹۱۲۳۴۵۶۷۸۹", "complain_service", 0.5, "out_of_scope", 0.4)
    tracker.user("telegram:56", "به آرش بگید کارتم ۶۰۳۷۹۹۷۵۱۲۳۴۵۶۷۸ هست", "complain_billing", 0.5,
                 "out_of_scope", 0.4, display_name="آرش")
    masked = {i.sender_id: i.masked for i in page(tracker, session).items}
    assert masked == {"telegram:55": "[نام] هستم، شماره‌م [تلفن]", "telegram:56": "به [نام] بگید کارتم [شماره کارت] هست"}


# ---- hidden ----------------------------------------------------------------------------------------
def test_text_already_in_training_data_or_the_golden_set_is_hidden(tracker: Tracker, session: Session) -> None:
    settings = get_settings()
    (settings.nlu_data_dir / "nlu").mkdir(parents=True)
    (settings.nlu_data_dir / "nlu" / "delivery.yml").write_text(
        'version: "3.1"\nnlu:\n- intent: complain_delivery\n  examples: |\n    - سفارش [4587123](order_id) نرسید\n',
        encoding="utf-8")
    settings.golden_set_path.parent.mkdir(parents=True)
    settings.golden_set_path.write_text(
        'version: "3.1"\nnlu:\n- intent: praise\n  examples: |\n    - غذا عالی بود\n', encoding="utf-8")
    tracker.user("telegram:1", "سفارش ۴۵۸۷۱۲۳ نرسید", "complain_delivery", 0.99)
    tracker.user("telegram:1", "غذا عالی بود", "praise", 0.99)
    tracker.user("telegram:1", "غذا عالی بود ولی دیر رسید", "praise", 0.6, "complain_delivery", 0.38)
    assert [i.normalized for i in page(tracker, session).items] == ["غذا عالی بود ولی دیر رسید"]


def test_labelled_and_discarded_texts_are_hidden_and_a_rejected_one_returns(tracker: Tracker, session: Session) -> None:
    for n, text in enumerate(("اولی رو برچسب زدیم", "دومی رو کنار گذاشتیم", "سومی رد شد")):
        tracker.user(f"telegram:{n}", text, "out_of_scope", 0.5, "complain_service", 0.4)
    keys = {i.normalized: i.key for i in page(tracker, session).items}
    session.add_all([
        NluLabel(text_key=keys["اولی رو برچسب زدیم"], text="x", intent="complain_service", labelled_by="a"),
        NluLabel(text_key=keys["دومی رو کنار گذاشتیم"], text="x", discard=True, labelled_by="a",
                 status=LabelStatus.APPROVED),
        NluLabel(text_key=keys["سومی رد شد"], text="x", intent="greet", labelled_by="a", status=LabelStatus.REJECTED),
    ])
    session.flush()
    assert [i.normalized for i in page(tracker, session).items] == ["سومی رد شد"]


# ---- corrections seen later in the conversation ---------------------------------------------------
def test_the_customer_denying_the_reflection_marks_the_story(tracker: Tracker, session: Session) -> None:
    who = "telegram:9"
    tracker.user(who, "گوشی که خریدم صفحه‌ش شکسته بود", "complain_delivery", 0.93)
    tracker.action(who, "action_hear_story")
    tracker.action(who, "utter_ask_more")
    tracker.user(who, "دو روز هم دیر رسید", "complain_delivery", 0.95)
    tracker.button(who, "deny")  # «no, that is all»
    tracker.action(who, "action_reflect")
    tracker.action(who, "utter_reflection")
    tracker.bot(who, "بذارید ببینم درست متوجه شدم: …")
    tracker.button(who, "deny")  # «no, you did not get it»
    tracker.action(who, "action_start_correction")
    tracker.user(who, "مشکل اصلی خرابی گوشیه نه ارسال", "complain_product", 0.97)
    tracker.action(who, "action_take_correction")
    tracker.action(who, "utter_reflection")
    tracker.button(who, "affirm")
    tracker.action(who, "action_open_ticket")
    reasons = {i.normalized: i.reasons for i in page(tracker, session).items}
    assert "reflection_denied" in reasons["گوشی که خریدم صفحه‌ش شکسته بود"]
    assert "reflection_denied" in reasons["دو روز هم دیر رسید"]
    assert "reflection_denied" not in reasons["مشکل اصلی خرابی گوشیه نه ارسال"]


def test_the_wish_whose_ticket_was_opened_is_not_part_of_the_next_story(tracker: Tracker, session: Session) -> None:
    who = "telegram:13"
    tracker.user(who, "سفارشم دیر رسید", "complain_delivery", 0.99)
    tracker.button(who, "deny")
    tracker.action(who, "action_reflect")
    tracker.action(who, "utter_reflection")
    tracker.button(who, "affirm")
    tracker.user(who, "لطفا زودتر بفرستید", "request_resolution", 0.95)
    tracker.action(who, "action_evaluate_remedy")  # a wish it can promise: it opens the ticket itself
    tracker.action(who, "utter_ticket_summary")
    tracker.user(who, "کد تخفیفم هم کار نکرد", "complain_billing", 0.9)
    tracker.button(who, "deny")
    tracker.action(who, "action_reflect")
    tracker.action(who, "utter_reflection")
    tracker.button(who, "deny")
    reasons = {i.normalized: i.reasons for i in page(tracker, session).items}
    assert "reflection_denied" in reasons["کد تخفیفم هم کار نکرد"]
    assert "reflection_denied" not in reasons["لطفا زودتر بفرستید"]


def test_a_confirmed_reflection_marks_nothing(tracker: Tracker, session: Session) -> None:
    who = "telegram:10"
    tracker.user(who, "سفارشم دیر رسید", "complain_delivery", 0.99)
    tracker.button(who, "deny")
    tracker.action(who, "utter_reflection")
    tracker.button(who, "affirm")
    assert page(tracker, session).items[0].reasons == ()


def test_saying_yes_to_the_triage_question_marks_the_message(tracker: Tracker, session: Session) -> None:
    tracker.user("telegram:11", "بسته رو باز کردم یه چیز دیگه توش بود", "praise", 0.7, "complain_product", 0.25)
    tracker.action("telegram:11", "action_triage_message")
    tracker.action("telegram:11", "utter_ask_is_complaint")
    tracker.button("telegram:11", "affirm")
    tracker.user("telegram:12", "ممنون از پیک خوش‌اخلاقتون", "praise", 0.7, "complain_staff", 0.25)
    tracker.action("telegram:12", "utter_ask_is_complaint")
    tracker.button("telegram:12", "deny")
    first, second = page(tracker, session).items
    assert first.normalized == "بسته رو باز کردم یه چیز دیگه توش بود"
    assert "triage_said_complaint" in first.reasons
    assert "triage_said_complaint" not in second.reasons


def test_a_ticket_an_agent_filed_under_another_category_marks_its_first_message(
        tracker: Tracker, session: Session) -> None:
    customer = Customer(channel="telegram", external_id="20")
    session.add(customer)
    session.flush()
    story = "کارمند پشتیبانی سر من داد زد\nبعدش هم قطع کرد"
    session.add(Ticket(number="HM-100001", customer_id=customer.id, conversation_id="telegram:20", channel="telegram",
                       category=Category.STAFF, story=story, reflection="…", severity=Severity.MEDIUM))
    session.flush()
    tracker.user("telegram:20", "کارمند پشتیبانی سر من داد زد", "complain_service", 0.9)
    tracker.user("telegram:21", "سفارشم نیومد", "complain_delivery", 0.9)
    reasons = {i.normalized: i.reasons for i in page(tracker, session).items}
    assert reasons["کارمند پشتیبانی سر من داد زد"] == ("agent_recategorised",)
    assert reasons["سفارشم نیومد"] == ()


# ---- scale -----------------------------------------------------------------------------------------
def test_the_index_reads_only_new_events(tracker: Tracker, session: Session) -> None:
    index = InboxIndex()
    tracker.user("telegram:1", "اولین پیام", "out_of_scope", 0.5, "greet", 0.4)
    with inbox.tracker_engine(tracker.url).connect() as connection:
        assert list_inbox(connection, session, InboxQuery(), index=index).total == 1
        seen = index.watermark
        tracker.user("telegram:1", "دومین پیام", "out_of_scope", 0.5, "greet", 0.4)
        assert index.ingest([]) == 0
        assert list_inbox(connection, session, InboxQuery(), index=index).total == 2
        assert index.watermark > seen


def test_warming_reads_the_configured_store(tracker: Tracker, session: Session) -> None:
    tracker.user("telegram:1", "اولین پیام", "out_of_scope", 0.5, "greet", 0.4)
    assert inbox.warm_index() == 1
    assert inbox.index_for(tracker.url).watermark > 0


def test_a_replaced_tracker_store_is_read_again(tracker: Tracker, session: Session) -> None:
    index = InboxIndex()
    tracker.user("telegram:1", "پیام قبل از پاک شدن", "out_of_scope", 0.5, "greet", 0.4)
    tracker.user("telegram:1", "پیام دوم", "out_of_scope", 0.5, "greet", 0.4)
    with inbox.tracker_engine(tracker.url).connect() as connection:
        assert list_inbox(connection, session, InboxQuery(), index=index).total == 2
    with tracker.engine.begin() as connection:
        connection.execute(inbox._events_table().delete())
    tracker.user("telegram:2", "پیام بعد از پاک شدن", "out_of_scope", 0.5, "greet", 0.4)
    with inbox.tracker_engine(tracker.url).connect() as connection:
        assert [i.normalized for i in list_inbox(connection, session, InboxQuery(), index=index).items] == [
            "پیام بعد از پاک شدن"]


def test_rasas_normalised_text_is_trusted_only_for_a_model_that_proved_it(tracker: Tracker, session: Session) -> None:
    """A model without the normaliser stores the raw text as `parse_data.text`: its messages are
    normalised by the inbox, so «ميخوام» (Arabic ي) and «میخوام» stay one row."""
    index = InboxIndex()
    rows = []
    for n in range(inbox.TRUST_AFTER + 10):
        raw = f"ميخوام پولم برگرده {n % 3}"  # Arabic yeh: the normaliser turns it into ی
        rows.append((n + 1, f"telegram:{n}", "user", None, json.dumps({
            "text": raw, "timestamp": 1.0 + n, "metadata": {"model_id": "no-normaliser"},
            "parse_data": {"text": raw, "intent": {"name": "request_resolution", "confidence": 0.9},
                           "intent_ranking": [{"name": "request_resolution", "confidence": 0.9}]}})))
    index.ingest(rows)
    assert index.verified["no-normaliser"] == -1
    assert sorted(g.latest.normalized for g in index.groups.values()) == [f"میخوام پولم برگرده {n}" for n in range(3)]


def test_twenty_thousand_events_page_correctly(tracker: Tracker, session: Session) -> None:
    """20k events (5k conversations of four), written in one transaction, read in batches; every
    distinct text is one row with its count, and pages cover all of them exactly once."""
    rows = []
    clock = 1_795_000_000.0
    for n in range(5000):
        sender, text = f"telegram:{n}", f"سفارش شماره {n % 1250} هنوز نرسیده"
        parse = {"intent": {"name": "complain_delivery", "confidence": 0.5 + (n % 50) / 100},
                 "intent_ranking": [{"name": "complain_delivery", "confidence": 0.5 + (n % 50) / 100},
                                    {"name": "complain_service", "confidence": 0.1}], "text": text, "entities": []}
        for kind, data in (("action", {"name": "action_listen"}),
                           ("user", {"text": text, "parse_data": parse, "metadata": {"model_id": MODEL}}),
                           ("action", {"name": "action_hear_story"}), ("bot", {"text": "گرفتم."})):
            clock += 0.01
            rows.append({"sender_id": sender, "type_name": kind, "timestamp": clock, "intent_name": None,
                         "action_name": data.get("name"), "data": json.dumps({"event": kind, "timestamp": clock, **data})})
    with tracker.engine.begin() as connection:
        connection.execute(inbox._events_table().insert(), rows)
    started = time.perf_counter()
    first = page(tracker, session, per_page=100)
    elapsed = time.perf_counter() - started
    print(f"\ninbox: 20,000 events indexed and the first page built in {elapsed:.1f} s")
    assert first.total == 1250 and first.pages == 13
    assert all(item.count == 4 for item in first.items)
    seen = set()
    for number in range(1, 14):
        seen |= {i.key for i in page(tracker, session, per_page=100, page=number).items}
    assert len(seen) == 1250
    started = time.perf_counter()
    page(tracker, session, per_page=100, page=2)
    assert time.perf_counter() - started < 10, "a page after the first must not re-read the store"
    assert elapsed < 120


# ---- one conversation ------------------------------------------------------------------------------
def test_the_conversation_page_shows_both_sides_in_order_masked(tracker: Tracker, session: Session) -> None:
    who = "telegram:30"
    tracker.user(who, "سفارشم نرسیده، شماره‌م 09121234567", "complain_delivery", 0.9)
    tracker.action(who, "utter_ask_more")
    tracker.bot(who, "گرفتم. چیز دیگه‌ای هم هست؟")
    tracker.button(who, "deny")
    tracker.bot(who, "بذارید ببینم درست متوجه شدم: سفارشتون نرسیده و شماره‌تون 09121234567 ـه.")
    tracker.user("telegram:31", "یه گفت‌وگوی دیگه", "greet", 0.9)
    with inbox.tracker_engine(tracker.url).connect() as connection:
        turns = inbox.conversation(connection, session, who)
    assert [t.speaker for t in turns] == ["customer", "bot", "bot"]
    assert turns[0].text == "سفارشم نرسیده، شماره‌م [تلفن]" and turns[0].intent == "complain_delivery"
    assert "[تلفن]" in turns[2].text and not re.search(r"\d{11}", turns[2].text)
    assert turns[0].at < turns[1].at and turns[0].at > datetime.now(timezone.utc) - timedelta(days=36500)


def test_no_tracker_store_yet_means_an_empty_inbox(tracker: Tracker, session: Session, tmp_path: Path) -> None:
    with inbox.tracker_engine(f"sqlite:///{tmp_path / 'never.db'}").connect() as connection:
        assert list_inbox(connection, session, InboxQuery(), index=InboxIndex()).total == 0
        assert inbox.conversation(connection, session, "telegram:1") == []

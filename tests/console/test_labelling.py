"""Labels: what an annotator may save, what a reviewer approves, which share goes to the golden set,
and the Rasa YAML the console writes (deterministic, atomic, free of customers' numbers and names).
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from sqlalchemy.orm import Session

from console import labelling
from console.inbox import read_examples, text_key
from console.labelling import LabelError, Proposal, export, is_golden, locate, near_duplicate, review, save_label
from console.tables import LabelStatus, NluLabel
from hamdel.persian import normalize
from hamdel.settings import PROJECT_ROOT, Settings, get_settings

RASA = PROJECT_ROOT / ".venv-rasa" / "bin" / "rasa"


@pytest.fixture
def paths(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("NLU_DATA_DIR", str(tmp_path / "nlu_data"))
    monkeypatch.setenv("GOLDEN_SET_PATH", str(tmp_path / "evaluation" / "golden.yml"))
    get_settings.cache_clear()
    return get_settings()


def proposal(text: str, intent: str | None = "complain_delivery", **fields: object) -> Proposal:
    normalized = normalize(text)
    return Proposal(key=text_key(normalized), normalized=normalized, intent=intent, **fields)  # type: ignore[arg-type]


def keys_on_each_side(count: int) -> tuple[list[str], list[str]]:
    """Texts whose keys fall in the golden share and texts whose keys do not."""
    golden: list[str] = []
    training: list[str] = []
    n = 0
    while len(golden) < count or len(training) < count:
        text = f"سفارش شماره {n} هنوز نرسیده"
        (golden if is_golden(text_key(normalize(text))) else training).append(text)
        n += 1
    return golden[:count], training[:count]


# ---- what may be saved ------------------------------------------------------------------------------
def test_intents_and_entities_must_be_in_the_domain(paths: Settings, session: Session) -> None:
    with pytest.raises(LabelError, match="domain.yml"):
        save_label(session, proposal("سفارشم نرسید", intent="complain_weather"), user="ann")
    with pytest.raises(LabelError, match="موجودیت"):
        save_label(session, proposal("سفارش 123456 نرسید", entities=(
            {"start": 6, "end": 12, "entity": "zip_code"},)), user="ann")
    with pytest.raises(LabelError):
        save_label(session, proposal("سفارش 123456 نرسید", entities=(
            {"start": 6, "end": 40, "entity": "order_id"},)), user="ann")
    label = save_label(session, proposal("سفارش 123456 نرسید", entities=(
        {"start": 6, "end": 12, "entity": "order_id"},)), user="ann")
    assert (label.intent, label.status, label.labelled_by) == ("complain_delivery", LabelStatus.PROPOSED, "ann")
    assert label.entities == [{"start": 6, "end": 12, "entity": "order_id", "value": "123456"}]


def test_an_entity_is_marked_by_its_words_or_by_the_placeholder_the_list_showed() -> None:
    message = normalize("سفارش ۴۵۸۷۱۲۳ و سفارش ۴۵۸۷۱۲۴، شماره‌م ۰۹۱۲۳۴۵۶۷۸۹")
    assert locate(message, "۴۵۸۷۱۲۴", "order_id")["value"] == "4587124"
    assert locate(message, "سفارش", "order_id", occurrence=2)["start"] == message.index("سفارش 4587124")
    phone = locate(message, "[تلفن]", "phone")
    assert phone["value"] == "09123456789"
    with pytest.raises(LabelError):
        locate(message, "۹۹۹۹", "order_id")


def test_a_saved_label_holds_no_customers_number_or_name(paths: Settings, session: Session) -> None:
    """The phone entity stays annotated, on fake digits of the same shape; the name becomes a common one."""
    message = normalize("سلام، اسمم نگار توکلی هست، شماره‌م ۰۹۱۲۳۴۵۶۷۸۹ و کارتم 6037-9975-1234-5678")
    phone = locate(message, "[تلفن]", "phone")
    label = save_label(session, proposal(message, intent="complain_billing", entities=(phone,),
                                         display_names=("نگار",)), user="ann")
    assert "09123456789" not in label.text and "1234-5678" not in label.text
    assert "نگار" not in label.text and "توکلی" not in label.text
    (entity,) = label.entities
    fake = label.text[entity["start"]:entity["end"]]
    assert entity["entity"] == "phone" and fake == entity["value"]
    assert fake.startswith("09") and len(fake) == 11 and fake != "09123456789"
    assert normalize(label.text) == label.text  # a fixed point, as every training example must be
    again = save_label(session, proposal(message, intent="complain_billing", entities=(phone,),
                                         display_names=("نگار",)), user="ann")
    assert again.text == label.text  # the same fakes every time


def test_a_discard_keeps_no_intent(paths: Settings, session: Session) -> None:
    label = save_label(session, proposal("تست تست", intent=None, discard=True), user="ann")
    assert (label.intent, label.discard, label.entities) == (None, True, [])


# ---- review and the golden share --------------------------------------------------------------------
def test_the_golden_share_is_deterministic_and_about_a_fifth() -> None:
    keys = [text_key(f"پیام شماره {n}") for n in range(2000)]
    share = sum(is_golden(k) for k in keys) / len(keys)
    assert 0.17 < share < 0.23
    assert [is_golden(k) for k in keys] == [is_golden(k) for k in keys]
    assert not any(is_golden(k, 0.0) for k in keys) and all(is_golden(k, 1.0) for k in keys)


def test_approval_decides_golden_once_and_a_golden_label_is_frozen(paths: Settings, session: Session) -> None:
    (golden_text,), (training_text,) = keys_on_each_side(1)
    gold = save_label(session, proposal(golden_text), user="ann")
    plain = save_label(session, proposal(training_text), user="ann")
    changed = review(session, [gold.id, plain.id], approve=True, reviewer="rev")
    assert {label.id for label in changed} == {gold.id, plain.id}
    assert (gold.golden, plain.golden) == (True, False)
    assert (gold.reviewed_by, gold.status) == ("rev", LabelStatus.APPROVED)
    assert review(session, [gold.id], approve=False, reviewer="rev") == []  # only PROPOSED labels are reviewed
    with pytest.raises(LabelError, match="طلایی"):
        save_label(session, proposal(golden_text, intent="complain_product"), user="ann")
    relabelled = save_label(session, proposal(training_text, intent="complain_service"), user="ann2")
    assert (relabelled.status, relabelled.reviewed_by, relabelled.labelled_by) == (LabelStatus.PROPOSED, None, "ann2")


def test_a_rejected_label_is_not_exported(paths: Settings, session: Session) -> None:
    label = save_label(session, proposal("بسته‌م باز شده بود"), user="ann")
    review(session, [label.id], approve=False, reviewer="rev")
    result = export(session)
    assert label.status == LabelStatus.REJECTED
    assert result.training_examples == result.golden_examples == 0


# ---- export -------------------------------------------------------------------------------------------
def approved(session: Session, texts_and_intents: list[tuple[str, str | None]]) -> list[NluLabel]:
    labels = [save_label(session, proposal(text, intent=intent, discard=intent is None), user="ann")
              for text, intent in texts_and_intents]
    review(session, [label.id for label in labels], approve=True, reviewer="rev")
    return labels


def test_export_writes_rasa_yaml_sorted_with_entity_markup(paths: Settings, session: Session) -> None:
    golden, training = keys_on_each_side(2)
    message = normalize("سفارش ۴۵۸۷۱۲۳ از دیروز نرسیده")
    order = locate(message, "۴۵۸۷۱۲۳", "order_id")
    labels = approved(session, [(training[1], "complain_delivery"), (training[0], "complain_delivery"),
                                (golden[0], "complain_delivery"), (golden[1], "complain_delivery"),
                                ("این رو نادیده بگیرید", None)])
    marked = save_label(session, Proposal(key=text_key(message), normalized=message, intent="ask_status",
                                          entities=(order,)), user="ann")
    review(session, [marked.id], approve=True, reviewer="rev")
    marked_golden = marked.golden
    result = export(session)
    content = result.training_path.read_text(encoding="utf-8")
    assert result.training_path == paths.nlu_data_dir / "nlu" / "console_labels.yml"
    assert content.startswith("# Written by the Hamdel console")
    document = yaml.safe_load(content)
    assert document["version"] == "3.1"
    intents = [block["intent"] for block in document["nlu"]]
    assert intents == sorted(intents)
    examples = dict(read_examples(result.training_path))
    delivery = [e for i, e in read_examples(result.training_path) if i == "complain_delivery"]
    assert delivery == sorted(normalize(t) for t in training)
    golden_examples = [e for _, e in read_examples(result.golden_path)]
    assert sorted(golden_examples) == sorted([normalize(t) for t in golden] + ([message] if marked_golden else []))
    assert not set(golden_examples) & {e for _, e in read_examples(result.training_path)}
    if not marked_golden:
        assert examples["ask_status"] == message
        assert "- سفارش [4587123](order_id) از دیروز نرسیده" in content
    assert "نادیده" not in content + result.golden_path.read_text(encoding="utf-8")
    assert all(label.exported_at is not None for label in labels[:4])


def test_export_is_idempotent_and_atomic(paths: Settings, session: Session) -> None:
    golden, training = keys_on_each_side(1)
    approved(session, [(golden[0], "complain_product"), (training[0], "complain_product")])
    first = export(session)
    assert set(first.changed) == {first.training_path, first.golden_path}
    stamps = [path.stat().st_mtime_ns for path in first.changed]
    second = export(session)
    assert second.changed == () and [path.stat().st_mtime_ns for path in first.changed] == stamps
    assert [p.name for p in first.training_path.parent.iterdir()] == ["console_labels.yml"]  # no temporary left
    assert [p.name for p in first.golden_path.parent.iterdir()] == ["golden.yml"]


def test_an_empty_export_creates_nothing_but_empties_a_file_that_exists(paths: Settings, session: Session) -> None:
    first = export(session)
    assert first.changed == () and not first.training_path.exists() and not first.golden_path.exists()
    golden, training = keys_on_each_side(1)
    approved(session, [(golden[0], "complain_delivery"), (training[0], "complain_delivery")])
    export(session)
    save_label(session, proposal(training[0], intent="complain_product"), user="ann")  # back to review
    emptied = export(session)
    assert emptied.changed == (emptied.training_path,)
    assert yaml.safe_load(emptied.training_path.read_text(encoding="utf-8")) == {"version": "3.1", "nlu": []}


@pytest.mark.skipif(not RASA.exists(), reason="Rasa's environment (.venv-rasa) is not installed")
def test_rasa_validates_the_exported_files(paths: Settings, session: Session, tmp_path: Path) -> None:
    """`rasa data validate` on a copy of the project's data with the console's files added (about a minute)."""
    data = tmp_path / "nlu_data"
    shutil.copytree(PROJECT_ROOT / "nlu_data", data, ignore=shutil.ignore_patterns("console_labels.yml"))
    golden, training = keys_on_each_side(3)
    message = normalize("شماره‌م ۰۹۱۲۳۴۵۶۷۸۹ هست، سفارش ۴۵۸۷۱۲۳ چی شد؟")
    entities = (locate(message, "[تلفن]", "phone"), locate(message, "۴۵۸۷۱۲۳", "order_id"))
    approved(session, [(t, "complain_delivery") for t in golden + training])
    marked = save_label(session, Proposal(key=text_key(message), normalized=message, intent="ask_status",
                                          entities=entities), user="ann")
    review(session, [marked.id], approve=True, reviewer="rev")
    result = export(session)
    golden_dir = tmp_path / "golden_as_data"
    golden_dir.mkdir()
    shutil.copy(result.golden_path, golden_dir / "golden.yml")
    answer = subprocess.run(
        [str(RASA), "data", "validate", "--data", str(data), str(golden_dir), "--domain",
         str(PROJECT_ROOT / "domain.yml"), "--config", str(PROJECT_ROOT / "config.yml"), "--fail-on-warnings"],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)})
    assert answer.returncode == 0, answer.stdout[-3000:] + answer.stderr[-3000:]


# ---- near-duplicates ----------------------------------------------------------------------------------
@pytest.mark.parametrize(("a", "b", "same"), [
    ("سفارش 123 نرسید", "سفارش 456 نرسید!", True),
    ("هنوز سفارشم به دستم نرسیده", "هنوزم سفارشم به دستم نرسیده", True),
    ("پولم برنگشت", "پیک نیومد", False),
    ("غذا سرد بود", "غذا سرد نبود", False),
])
def test_near_duplicates(a: str, b: str, same: bool) -> None:
    assert near_duplicate(normalize(a), normalize(b)) is same


def test_the_vocabulary_comes_from_the_domain(paths: Settings) -> None:
    words = labelling.vocabulary()
    assert "complain_delivery" in words.intents and "nlu_fallback" not in words.intents
    assert set(words.entities) >= {"order_id", "ticket_id", "phone", "resolution"}


def test_the_training_job_exports_through_export_approved(paths: Settings, session: Session) -> None:
    approved(session, [("غذا سرد رسید", "complain_product")])
    result = labelling.export_approved(session, username="deployer1")
    assert result.training_examples + result.golden_examples == 1
    assert result.training_path.exists() != result.golden_path.exists()  # the one side it went to


@pytest.mark.parametrize("written", [
    "با +98 912 345 6789 تماس بگیرید", "شماره‌م ۰۹۱۲۳۴۵۶۷۸۹ هست", "شمارم 0912 345 6789 ـه", "زنگ بزنید 989121234567",
])
def test_a_faked_phone_is_still_a_phone_to_rasa(written: str) -> None:
    """The fake keeps the shape the `phone` regex of nlu_data/nlu/entities.yml finds, and the text and
    the entity value are fixed points of the normaliser (tests/test_persian.py asks that of every file)."""
    import re

    data = yaml.safe_load((PROJECT_ROOT / "nlu_data" / "nlu" / "entities.yml").read_text(encoding="utf-8"))
    patterns = [line.strip()[2:] for block in data["nlu"] if block.get("regex") == "phone"
                for line in block["examples"].splitlines() if line.strip().startswith("- ")]
    message = normalize(written)
    text, (entity,) = labelling.training_form(message, [locate(message, "[تلفن]", "phone")])
    assert normalize(text) == text and normalize(entity["value"]) == entity["value"]
    digits = re.sub(r"\D", "", entity["value"])
    assert digits != re.sub(r"\D", "", message[entity["start"]:entity["end"]])
    assert any(re.search(p, digits) for p in patterns), digits

"""Reflect back: the customer's own words, said from the company's side, facts kept exactly.

Every example of issue 9's "Why" section is a test here; the corpus in `tests/listening/` checks
the same rules over 200+ complaints.
"""
from __future__ import annotations

import time

import pytest

from actions.person_shift import parse_verb, to_second_person
from actions.reflection import apply_correction, find_order_numbers, reflect_story
from hamdel.persian import normalize


def reflect(story: str, **kwargs: object) -> str:
    return reflect_story(normalize(story), **kwargs).text  # type: ignore[arg-type]


# ----- the examples of issue 9 ---------------------------------------------------------------------
def test_an_insult_filter_never_cuts_a_word_it_only_drops_whole_insults() -> None:
    assert reflect("بسته رو دم در گذاشتن و دزدیدنش") == "بسته رو دم در گذاشتن و دزدیدنش."
    assert reflect("کلاهبردارا پولمو پس بدید") == "می‌خواید پولتون رو پس بدیم."


@pytest.mark.parametrize(("story", "said_back"), [
    ("احمقا سه روزه دارم زنگ میزنم", "سه روزه دارید زنگ می‌زنید."),
    ("ای احمقا سه روزه دارم زنگ میزنم", "سه روزه دارید زنگ می‌زنید."),
    ("بیشعورای کلاهبردار پولمو خوردن", "پولتون رو خوردن."),
    ("احمقای بی‌عرضه سه روزه منتظرم", "سه روزه منتظرید."),
    ("دزدای عوضی بستمو ندادن", "بسته‌تون رو ندادن."),
    ("بی‌شعورها سه روزه جواب نمیدن", "سه روزه جواب نمی‌دن."),
    ("کلاهبردارهای دزد پولمو بردن", "پولتون رو بردن."),
])
def test_an_insult_is_dropped_in_its_plural_and_vocative_forms(story: str, said_back: str) -> None:
    assert reflect(story) == said_back


def test_the_word_for_the_act_is_a_fact_not_an_insult() -> None:
    assert reflect("دم در دزدی شده") == "دم در دزدی شده."


def test_a_third_person_past_verb_is_not_read_as_you_are_so_nobody_accuses_the_company() -> None:
    # «دزد» is also an adjective: «دزدید» must stay «he stole», never become «دزدیم» (we stole).
    assert reflect_story(normalize("بستمو دزدید")).text == "بسته‌تون رو دزدید."
    assert reflect_story(normalize("یکی از همسایه‌ها سفارشمو دزدید")).text.endswith("سفارشتون رو دزدید.")


def test_the_customers_you_is_the_company_so_the_company_says_we() -> None:
    text = reflect("پولمو گرفتید و سفارشمو کنسل کردید")
    assert text == "پولتون رو گرفتیم و سفارشتون رو کنسل کردیم."
    assert "گرفتید" not in text and "کردید" not in text


def test_first_person_plural_becomes_you_without_a_doubled_suffix() -> None:
    assert reflect("ما دو ماهه قبض اضافه میدیم") == "شما دو ماهه قبض اضافه می‌دید."


def test_what_the_company_said_is_quoted_as_it_was_said() -> None:
    text = reflect("پشتیبانیتون گفت پیگیری میکنیم")
    assert text == "پشتیبانی‌مون گفت پیگیری می‌کنیم."
    assert "یید" not in text


def test_an_amount_keeps_every_digit_and_is_not_an_order_number() -> None:
    reflection = reflect_story(normalize("مبلغ 1250000 تومن اضافه برداشتید"))
    assert reflection.text == "مبلغ ۱۲۵۰۰۰۰ تومن اضافه برداشتیم."
    assert "1250000 تومن" in reflection.key_words
    assert find_order_numbers("مبلغ 1250000 تومن اضافه برداشتید") == []


def test_hung_up_on_me_becomes_hung_up_on_you() -> None:
    assert reflect("تلفن رو روم قطع کرد") == "تلفن رو روتون قطع کرد."


def test_a_six_sentence_angry_story_keeps_what_happened_since_when_and_what_was_promised() -> None:
    story = (
        "سلام وقتتون بخیر. من ۱۲ آبان یه گوشی سامسونگ سفارش دادم به شماره 4587123. قرار بود سه روزه برسه. "
        "الان دو هفته‌ست خبری نیست!!! هر بار زنگ زدم پشتیبانیتون گفت پیگیری میکنیم. "
        "دیگه واقعا اعصابم خورد شده. کلاهبردارا 😡😡"
    )
    text = reflect(story)
    assert "سفارش دادید به شماره ۴۵۸۷۱۲۳" in text  # what, and which order
    assert "دو هفته‌ست خبری نیست" in text  # since when
    assert "قرار بود سه روزه برسه" in text and "گفت پیگیری می‌کنیم" in text  # what was promised
    assert "سلام" not in text and "کلاهبردار" not in text and "!" not in text and "😡" not in text
    assert len(text) <= 330


def test_a_correction_replaces_what_was_wrong() -> None:
    story = "سه روزه منتظر سفارشم هستم"
    corrected = apply_correction(story, "نه، سه روز نه، پنج روزه")
    assert corrected == "پنج روزه منتظر سفارشم هستم"
    assert reflect(corrected) == "پنج روزه منتظر سفارشتون هستید."


def test_a_corrected_order_number_replaces_the_wrong_one() -> None:
    story = "سفارشم به شماره 45871 هنوز نرسیده"
    corrected = apply_correction(story, "شماره سفارش 45871 نیست، 45817 ـه")
    assert "45817" in corrected and "45871" not in corrected
    assert "۴۵۸۱۷" in reflect(corrected)


def test_a_remembered_order_number_never_brings_back_the_corrected_one() -> None:
    corrected = apply_correction("سفارشم به شماره 45871 هنوز نرسیده", "شماره سفارش 45871 نیست، 45817 ـه")
    text = reflect(corrected, order_id="45871")
    assert "۴۵۸۱۷" in text and "۴۵۸۷۱" not in text


def test_a_correction_naming_only_the_right_value_replaces_the_one_value_of_its_kind() -> None:
    assert apply_correction("از دوشنبه منتظرم", "نه از شنبه") == "از شنبه منتظرم"
    assert apply_correction("سفارش 123456 دیر رسید", "شمارش 123457 بود") == "سفارش 123457 دیر رسید"


def test_a_correction_replaces_the_sentence_it_corrects() -> None:
    corrected = apply_correction("پیک بسته رو نیاورد\nپشتیبانی هم جواب نداد", "نه، پیک اومد ولی بسته شکسته بود")
    assert corrected == "پیک اومد ولی بسته شکسته بود\nپشتیبانی هم جواب نداد"
    assert reflect(corrected) == "پیک اومد ولی بسته شکسته بود؛ پشتیبانی هم جواب نداد."


def test_a_correction_that_matches_nothing_is_added_and_being_newest_wins() -> None:
    corrected = apply_correction("سفارشم نرسیده", "نه، تازه پول هم دو بار کم شده")
    assert corrected == "سفارشم نرسیده\nتازه پول هم دو بار کم شده"
    assert reflect(apply_correction("پیک بسته رو نیاورد", "یه چیز دیگه هم بگم، پیک بی‌ادب بود")) == (
        "پیک بسته رو نیاورد؛ پیک بی‌ادب بود."
    )


def test_the_spoken_register_of_the_domain_not_the_formal_one() -> None:
    text = reflect("سفارشم را برایم نفرستادید")
    assert text == "سفارشتون رو براتون نفرستادیم."
    for formal in ("سفارشتان", "برایتان", " را "):
        assert formal not in text


def test_the_informal_you_is_quoted_not_guessed() -> None:
    """«گرفتی» could be said back only by guessing who is meant: the customer's words are quoted."""
    assert reflect("پولمو گرفتی و جواب نمیدی") == "«پولمو گرفتی و جواب نمیدی»."
    assert reflect("سلام. سفارشم نرسیده. چرا جواب نمیدی؟") == "سفارشتون نرسیده؛ «چرا جواب نمیدی»."
    assert reflect("پیکتون با لحن خیلی بدی با مادرم حرف زد") == "پیکمون با لحن خیلی بدی با مادرتون حرف زد."


# ----- questions stay questions (issue 9) ----------------------------------------------------------
def test_a_yes_no_question_is_asked_back_not_said_as_our_refusal() -> None:
    text = reflect("پولمو پس نمیدین؟")
    assert text == "می‌پرسید پولتون رو پس می‌دیم یا نه."
    assert "نمی‌دیم" not in text
    assert reflect("پولمو پس نمیدین دیگه؟") == "می‌پرسید پولتون رو پس می‌دیم یا نه."
    assert reflect("سفارشم رو فرستادید یا نه؟") == "می‌پرسید سفارشتون رو فرستادیم یا نه."
    assert reflect("شما مسئول نیستید؟") == "می‌پرسید ما مسئول هستیم یا نه."


def test_a_why_question_stays_a_why_question_wherever_its_why_stands() -> None:
    assert reflect("اصن جواب نمیدین چرا؟ ۱۰ بار زنگ زدم") == "می‌پرسید چرا جواب نمی‌دیم؛ ۱۰ بار زنگ زدید."
    assert reflect("چرا هیچکس جواب نمیده؟") == "می‌پرسید چرا هیچکس جواب نمی‌ده."
    assert reflect("۱۰ بار زنگ زدم، چرا جواب نمیدین؟") == "۱۰ بار زنگ زدید، می‌پرسید چرا جواب نمی‌دیم."
    assert reflect("چرا جواب نمیدین") == "می‌پرسید چرا جواب نمی‌دیم."  # no «؟», still asked


def test_other_question_words_are_asked_back_in_place() -> None:
    assert reflect("من کی باید جواب بگیرم؟") == "می‌پرسید شما کی باید جواب بگیرید."
    assert reflect("سفارشم کجاست؟ ۵ روزه منتظرم") == "می‌پرسید سفارشتون کجاست؛ ۵ روزه منتظرید."
    assert reflect("کی قراره درستش کنید؟؟") == "می‌پرسید کی قراره درستش کنیم."
    assert reflect("پس کی میرسه؟") == "می‌پرسید کی می‌رسه."


def test_can_you_is_a_request_and_an_indirect_question_is_already_said_back() -> None:
    assert reflect("میشه پولمو برگردونید؟") == "می‌خواید پولتون رو برگردونیم."
    assert reflect("میخوام بدونم سفارشم کی میرسه؟") == "می‌خواید بدونید سفارشتون کی می‌رسه."


def test_didnt_you_say_is_said_back_as_what_it_asserts() -> None:
    assert reflect("مگه نگفتید امروز میرسه؟ الان ساعت ۹ شبه") == "گفتیم امروز میرسه؛ الان ساعت ۹ شبه."  # what we said is quoted as written


def test_purely_rhetorical_questions_are_dropped_or_quoted_never_answered() -> None:
    assert reflect("این چه وضعشه؟ سفارشم ۱۰ روزه نرسیده") == "سفارشتون ۱۰ روزه نرسیده."
    assert reflect("چه خبره؟ سه روزه اینترنتم قطعه") == "سه روزه اینترنتتون قطعه."
    assert reflect("شما خجالت نمیکشید؟ سفارشم ۱۰ روزه نرسیده") == "سفارشتون ۱۰ روزه نرسیده."
    assert reflect("این چه وضعشه؟") == "«این چه وضعشه»."  # nothing else was said: the words, quoted
    assert reflect("سه بار تیکت زدم. کسی نیست جواب بده؟") == "سه بار تیکت زدید؛ «کسی نیست جواب بده»."


def test_a_question_about_the_customer_keeps_the_customer_as_its_subject() -> None:
    assert reflect("من مقصرم؟") == "می‌پرسید شما مقصرید یا نه."
    assert reflect("تقصیر منه؟") == "می‌پرسید تقصیر شماست یا نه."


# ----- person shift, word by word -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("said", "said_back"),
    [
        ("من گوشیم رو سه روز پیش خریدم و میخوام عوضش کنید", "شما گوشی‌تون رو سه روز پیش خریدید و می‌خواید عوضش کنیم"),
        ("دارم میام", "دارید میاید"),
        ("نمیتونم وارد حسابم بشم", "نمی‌تونید وارد حسابتون بشید"),
        ("بسته‌ام هنوز نرسیده", "بسته‌تون هنوز نرسیده"),
        ("خریده‌ام و نرسیده", "خریده‌اید و نرسیده"),
        ("خیلی خسته‌ام", "خیلی خسته‌اید"),
        ("ناراضیم", "ناراضی هستید"),
        ("دو هفته‌ست منتظرم", "دو هفته‌ست منتظرید"),
        ("پولمم رفت", "پولتون هم رفت"),
        ("ازم پول گرفتید", "ازتون پول گرفتیم"),
        ("بهتون زنگ زدم", "به ما زنگ زدید"),
        ("اپلیکیشن‌تون باز نمیشه", "اپلیکیشنمون باز نمی‌شه"),
        ("ما منتظر سفارشمونیم", "شما منتظر سفارشتون هستید"),
        ("دو بار بردمش تعمیر", "دو بار بردیدش تعمیر"),
        ("گفتید پولتونو برمیگردونیم", "گفتیم پولتونو برمیگردونیم"),
        ("گفتم پولمو میخوام", "گفتید پولتون رو می‌خواید"),
        ("میخام بزارید برم", "می‌خواید بزاریم برید"),
        ("۲ روزه منتظرم ک بیاد ب دستم", "۲ روزه منتظرید که بیاد به دستتون"),
        ("قرار بود پولمو برگردونید", "قرار بود پولتون رو برگردونیم"),
        ("بازم ازم پول کشیدید", "بازم ازتون پول کشیدیم"),
        ("ثبت نام کردم", "ثبت‌نام کردید"),
    ],
)
def test_first_person_becomes_second_and_the_customers_you_becomes_we(said: str, said_back: str) -> None:
    assert to_second_person(normalize(said)) == normalize(said_back)


def test_third_person_and_unknown_words_are_left_alone() -> None:
    for sentence in ("پیک خیلی بد برخورد کرد و صفحه‌اش خط داره", "پیک نیومد", "بسته رو فرستادن", "مردم رو مسخره کرد"):
        assert to_second_person(sentence) == sentence


def test_a_verb_is_split_into_prefix_stem_and_ending() -> None:
    verb = parse_verb("میدیم")
    assert verb is not None and (verb.prefix, verb.stem, verb.ending) == ("می", "د", "یم")
    stole_it = parse_verb("دزدیدنش")  # they stole it: third person, said back as it was written
    assert stole_it is not None and (stole_it.stem, stole_it.ending, stole_it.clitic) == ("دزدید", "ن", "ش")
    assert to_second_person("دزدیدنش") == "دزدیدنش"
    assert parse_verb("سفارش") is None


# ----- facts, shorthand, noise ---------------------------------------------------------------------
def test_order_number_what_happened_and_how_long_come_back() -> None:
    text = reflect("سلام. سفارشم به شماره 4587123 از دوشنبه هنوز نرسیده!!! خیلی خسته شدم 😡")
    assert text == "سفارشتون به شماره ۴۵۸۷۱۲۳ از دوشنبه هنوز نرسیده؛ خیلی خسته شدید."


def test_numbers_keep_every_digit_phone_numbers_dates_and_grouped_amounts_included() -> None:
    text = reflect("من 1,250,000 تومان پرداخت کردم، تاریخ 1403/08/20 و شمارم 09121234567 هست")
    assert "۱,۲۵۰,۰۰۰ تومان" in text and "۱۴۰۳/۰۸/۲۰" in text and "۰۹۱۲۱۲۳۴۵۶۷" in text
    assert find_order_numbers(normalize("شمارم 09121234567 هست، تاریخ 1403/08/20")) == []


def test_a_correction_at_the_end_is_what_the_reflection_names() -> None:
    text = reflect("سفارش 123456 دیر رسید\nسفارشم 123457 بود و دو هفته‌ست منتظرم")
    assert "۱۲۳۴۵۷" in text
    assert "منتظرید" in text


def test_known_order_number_is_added_when_the_story_omits_it() -> None:
    assert "(سفارش ۹۹۸۸۷۷)" in reflect("بسته‌ام هنوز نرسیده", order_id="998877")


def test_key_words_hold_the_facts() -> None:
    reflection = reflect_story(normalize("سفارشم 4587123 از دوشنبه نرسیده و پولم رو هم دادم"))
    assert reflection.key_words[:2] == ("4587123", "از دوشنبه")
    assert "پول" in reflection.key_words


def test_a_story_of_only_greetings_still_reflects_something() -> None:
    assert reflect("سلام وقت بخیر. مشکل دارم") != ""


def test_telegram_shorthand_arabic_letters_emoji_and_finglish_do_not_break_it() -> None:
    assert reflect("سفارشمو ك لغو كردين پولشم برنگردوندين 😡😡") == "سفارشتون رو که لغو کردیم پولشم برنگردوندیم."
    assert reflect("خیلیییی بدید واقعااااا سفارشم دو هفتس نرسیده") == "واقعا سفارشتون دو هفتس نرسیده."
    assert reflect("salam sefaresham hanooz naresideh") == "«sefaresham hanooz naresideh»."


def test_fillers_that_sound_like_doubt_are_not_said_back() -> None:
    assert reflect("راستش صادقانه بگم سفارشم نرسیده") == "سفارشتون نرسیده."


# ----- speed and hostile input ----------------------------------------------------------------------
def test_a_long_story_is_reflected_in_well_under_five_milliseconds() -> None:
    reflect_story("گرم کردن")  # the lexicon is loaded once, lazily
    story = normalize(("سفارشم به شماره 4587123 از دوشنبه هنوز نرسیده و پولمو گرفتید. " * 60)[:4096])
    # CPU time of this process: the test machines are shared, and wall time there measures the neighbours
    start = time.process_time()
    for _ in range(20):
        reflect_story(story)
    assert (time.process_time() - start) / 20 < 0.005


@pytest.mark.parametrize("hostile", [
    "\u2003" * 2000, "ی" * 4000, "1" * 4096, "،" * 4000, "می" * 2000, "م " * 2000,
    "؟" * 4096, "آخه " * 1000 + "؟", "پس " * 1360 + "؟", "مگه " * 1000 + "؟", "یعنی چی که " * 370 + "؟",
    "میشه " * 800 + "؟", "پولمو نمیدین" + " دیگه" * 800 + "؟",
])
def test_hostile_input_is_fast(hostile: str) -> None:
    reflect_story("گرم کردن")
    start = time.process_time()
    reflect_story(hostile)
    apply_correction(hostile, hostile)
    assert time.process_time() - start < 0.05

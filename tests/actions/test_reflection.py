"""Reflect back: the customer's own words, second person, facts kept."""
from __future__ import annotations

from actions.reflection import reflect_story, to_second_person
from hamdel.persian import normalize


def reflect(story: str, **kwargs: object) -> str:
    return reflect_story(normalize(story), **kwargs).text  # type: ignore[arg-type]


def test_order_number_what_happened_and_how_long_come_back_in_second_person() -> None:
    text = reflect("سلام. سفارشم به شماره 4587123 از دوشنبه هنوز نرسیده!!! خیلی خسته شدم 😡")
    assert "سفارشتان به شماره ۴۵۸۷۱۲۳ از دوشنبه هنوز نرسیده" in text
    assert "خسته شدید" in text
    assert "سلام" not in text and "!" not in text and "😡" not in text


def test_first_person_verbs_and_possessives_shift() -> None:
    assert to_second_person("من گوشیم رو سه روز پیش خریدم و میخوام عوضش کنید") == \
        "شما گوشی‌تان رو سه روز پیش خریدید و میخواید عوضش کنید"
    assert to_second_person("پولمو پس بدین، دو هفته‌ست منتظرم") == "پولتان را پس بدین، دو هفته‌ست منتظرید"


def test_third_person_and_unknown_words_are_left_alone() -> None:
    assert to_second_person("پیک خیلی بد برخورد کرد و صفحه‌اش خط داره") == "پیک خیلی بد برخورد کرد و صفحه‌اش خط داره"


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

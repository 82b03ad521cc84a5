"""Every sentence the follow-ups send, in one catalogue (house style rule 4).

The register matches `domain.yml`: warm, spoken-polite Persian («بهتون», «همون»), first person for
the bot and «همکارانم» for the people behind it. Each customer message has variations, picked by
follow-up id so a customer with several tickets does not read the same sentence twice in a row
(seed 002: canned sympathy is the opposite of empathy). Dates arrive already in Jalali with
Persian digits; placeholders are `str.format` fields.
"""
from __future__ import annotations

from collections.abc import Sequence

ACKNOWLEDGEMENT: tuple[str, ...] = (
    "پیامتون به دستمون رسید و با شماره‌ی پیگیری {number} ثبت شد. همکارانم دارن بررسیش می‌کنن و "
    "هر خبری بشه همین‌جا بهتون می‌گم.",
    "خیالتون راحت باشه؛ شکایتتون با شماره‌ی {number} ثبت شده و دست همکارانمه. "
    "هر وقت خواستید، با همین شماره می‌تونید وضعیتش رو از من بپرسید.",
    "ثبت شد: شماره‌ی پیگیری شما {number} است. این موضوع رو رها نمی‌کنیم و نتیجه رو همین‌جا بهتون خبر می‌دم.",
)

CHECK_IN: tuple[str, ...] = (
    "سلام، دوباره من هستم. فراموشتون نکردیم؛ خواستم بدونید پرونده‌تون کجای کاره:\n"
    "• شماره‌ی پیگیری: {number}\n• وضعیت: {status}\n• ثبت‌شده در: {received}\n"
    "همکارانم هنوز روش کار می‌کنن و به محض رسیدن به نتیجه خبرتون می‌کنم. ممنون از صبوری‌تون.",
    "سلام؛ فقط می‌خواستم بدونید حواسمون به پرونده‌ی {number} هست. "
    "این پرونده {received} ثبت شده و الان {status} است. "
    "می‌دونم انتظار سخته؛ به محض اینکه نتیجه‌ای داشته باشیم، اول از همه به شما می‌گم.",
    "سلام، وقتتون بخیر. یه خبر کوتاه از پرونده‌ی {number} (ثبت‌شده در {received}): "
    "وضعیتش الان {status} است. پیگیرش هستیم و تنهاتون نمی‌ذاریم.",
)

RESOLUTION_CHECK: tuple[str, ...] = (
    "سلام؛ همکارانم اعلام کردن که موضوع پرونده‌ی {number} رسیدگی شده. "
    "ولی برای ما مهمه از زبون خودتون بشنویم: مشکلتون واقعاً حل شد؟",
    "سلام، وقتتون بخیر. طبق گزارش همکارانم، کار پرونده‌ی {number} انجام شده. "
    "می‌خوام مطمئن بشم که از نظر شما هم مشکل برطرف شده؛ حل شد؟",
)
SOLVED_YES_BUTTON = "بله، حل شد"
SOLVED_NO_BUTTON = "نه، هنوز حل نشده"

SOLVED_THANKS: tuple[str, ...] = (
    "چقدر خوب! خیلی خوشحالم که مشکلتون برطرف شد. ممنون که خبرم کردید.",
    "عالیه، خیالم راحت شد. ممنون که وقت گذاشتید و جواب دادید.",
)
NOT_SOLVED_REOPENED: tuple[str, ...] = (
    "متأسفم که هنوز درگیر این مشکل هستید؛ حق دارید ناراحت باشید. پرونده‌ی {number} رو دوباره باز کردم "
    "و مستقیم به یکی از کارشناس‌ها سپردم تا این بار تا آخرش پیگیری کنه. به‌زودی از ما خبر می‌گیرید.",
    "ممنون که صادقانه گفتید. پرونده‌ی {number} دوباره باز شد و الان دست یه کارشناسه که خودش "
    "پیگیرش می‌شه. اگه نکته‌ی تازه‌ای هست، همین‌جا برام بنویسید تا به پرونده اضافه‌ش کنم.",
)

SATISFACTION: tuple[str, ...] = (
    "ممنون که تا آخر این مسیر همراهمون بودید. اگه بخواید به رسیدگی ما به پرونده‌ی {number} "
    "از ۱ تا ۵ نمره بدید، چند می‌دید؟ (۱ یعنی اصلاً راضی نبودم، ۵ یعنی خیلی راضی بودم)",
    "یه سؤال کوتاه، اگه اجازه بدید: از نحوه‌ی رسیدگی به پرونده‌ی {number} چقدر راضی بودید؟ "
    "از ۱ (اصلاً) تا ۵ (خیلی زیاد) یکی رو انتخاب کنید.",
)
RATING_BUTTONS: tuple[str, ...] = ("۱", "۲", "۳", "۴", "۵")

RATING_THANKS_HIGH: tuple[str, ...] = (
    "ممنونم، لطف دارید! اگه با این حال چیزی هست که می‌تونستیم بهتر انجامش بدیم، "
    "همین‌جا در یک پیام برام بنویسید؛ مستقیم به دست همکارانم می‌رسه.",
)
RATING_THANKS_LOW: tuple[str, ...] = (
    "ممنون که صادقانه نمره دادید؛ متأسفم که تجربه‌ی بهتری نداشتید. "
    "به نظرتون چه کاری رو می‌تونستیم بهتر انجام بدیم؟ اگه در یک پیام برام بنویسید، "
    "عیناً به دست همکارانم می‌رسه.",
)
SKIP_COMMENT_BUTTON = "ترجیح می‌دم چیزی ننویسم"
COMMENT_THANKS: tuple[str, ...] = (
    "ممنونم که وقت گذاشتید و نوشتید. حرفتون رو به همکارانم رسوندم تا دفعه‌ی بعد بهتر باشیم.",
)
COMMENT_SKIPPED = "باشه، ممنون از شما. روزتون خوش."
ALREADY_ANSWERED = "جوابتون قبلاً ثبت شده؛ ممنونم."
NO_LONGER_VALID = "این پرسش دیگه به‌روز نیست. اگه کمکی لازم دارید، همین‌جا برام بنویسید."
# The answer could not be saved just now (the database was away); nothing was recorded.
TRY_AGAIN_STOP = "ببخشید، همین الان نتونستم درخواستتون رو ثبت کنم. لطفاً چند دقیقه‌ی دیگه دوباره /stop رو بفرستید."
TRY_AGAIN = "ببخشید، همین الان نتونستم جوابتون رو ثبت کنم. لطفاً چند دقیقه‌ی دیگه دوباره همون دکمه رو بزنید."

STOPPED = (
    "باشه، از این به بعد پیام پیگیری براتون نمی‌فرستم. پرونده‌هاتون همچنان در دست بررسی می‌مونه "
    "و هر وقت خواستید، می‌تونید وضعیتشون رو از من بپرسید."
)
STOPPED_NOT_A_CUSTOMER = "باشه؛ پیام پیگیری‌ای برای شما در کار نیست. هر وقت کاری داشتید، همین‌جا هستم."

# For the agents' forum topic (colleagues, so plainer and shorter).
AGENT_REOPENED = (
    "⚠️ مشتری اعلام کرد مشکل پرونده‌ی {number} حل نشده. پرونده دوباره باز و به کارشناس ارجاع شد "
    "(دفعه‌ی {reopened} بازگشایی). لطفاً پیگیری کنید."
)
AGENT_FIRST_RESPONSE_DUE = (
    "⏰ یادآوری: پرونده‌ی {number} ({category}) هنوز اولین پاسخ کارشناس رو نگرفته. "
    "مهلت پاسخ اول: {deadline}."
)
AGENT_RESOLUTION_DUE = (
    "⏰ یادآوری: مهلت رسیدگی به پرونده‌ی {number} ({category}، وضعیت: {status}) نزدیکه: {deadline}."
)
AGENT_COMMENT = "💬 نظر مشتری درباره‌ی پرونده‌ی {number} (نمره‌ی {score}): {comment}"


def pick(variants: Sequence[str], key: int) -> str:
    """A variation chosen by a stable key (the follow-up id), not at random, so tests can read it."""
    return variants[key % len(variants)]

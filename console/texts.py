"""Persian messages the console's Python code produces (errors, notices, flash messages).

Pages keep their own wording in `console/templates/`; this is the one catalogue for the rest.
Polite written-spoken register, as an admin reads it.
"""
from __future__ import annotations

# --- accounts, sessions, dashboard (app.py, auth.py, dashboard.py) ---
LOGIN_REQUIRED = "برای دیدن این بخش، اول وارد حساب‌تان شوید."
FORBIDDEN = "حساب شما اجازهٔ این کار را ندارد. اگر لازم است، از مدیر سامانه بخواهید نقش‌تان را تغییر دهد."
CSRF_FAILED = "این درخواست از فرم معتبری نیامده بود یا فرم کهنه شده بود. لطفاً صفحه را تازه کنید و دوباره امتحان کنید."
NOT_FOUND = "صفحه‌ای که دنبالش بودید پیدا نشد."
SERVER_ERROR = "مشکلی پیش آمد و کار انجام نشد. لطفاً کمی بعد دوباره امتحان کنید."
INVALID_INPUT = "بعضی از خانه‌های فرم خالی مانده یا مقدارشان درست نیست. لطفاً دوباره نگاه کنید."
LOGIN_FAILED = "نام کاربری یا گذرواژه درست نیست."
LOGIN_THROTTLED = "چند بار پشت سر هم ورود ناموفق بود. لطفاً ۱۵ دقیقهٔ دیگر دوباره امتحان کنید."
LOGGED_OUT = "از حساب‌تان خارج شدید."
PASSWORD_TOO_SHORT = "گذرواژه باید دست‌کم ۱۲ نویسه باشد."
PASSWORD_EXAMPLE = "این گذرواژه نمونه است و همه آن را می‌دانند؛ لطفاً گذرواژهٔ دیگری بگذارید."
USERNAME_INVALID = "نام کاربری باید ۳ تا ۶۴ نویسه باشد و فقط حروف لاتین، رقم، نقطه، خط تیره یا زیرخط داشته باشد."
USERNAME_TAKEN = "این نام کاربری را کس دیگری دارد."
USER_CREATED = "حساب «{username}» ساخته شد."
ROLE_CHANGED = "نقش «{username}» تغییر کرد."
USER_DEACTIVATED = "حساب «{username}» غیرفعال شد و از همهٔ دستگاه‌ها بیرون رفت."
USER_ACTIVATED = "حساب «{username}» دوباره فعال شد."
PASSWORD_RESET = "گذرواژهٔ «{username}» عوض شد و از همهٔ دستگاه‌ها بیرون رفت."
NOT_YOURSELF = "نمی‌توانید نقش یا وضعیت حساب خودتان را عوض کنید؛ این کار را به مدیر دیگری بسپارید."
DATE_INVALID = "تاریخ را به شکل ۱۴۰۵/۰۸/۰۱ بنویسید."
DATE_ORDER = "تاریخ شروع باید پیش از تاریخ پایان باشد."
ROLE_NAMES = {
    "viewer": "بیننده",
    "annotator": "برچسب‌زن",
    "reviewer": "بازبین",
    "deployer": "استقراردهنده",
    "admin": "مدیر",
}
AUDIT_ACTIONS = {
    "login": "ورود",
    "login_failed": "ورود ناموفق",
    "login_throttled": "ورود مسدود به‌خاطر تلاش زیاد",
    "logout": "خروج",
    "bootstrap_admin": "ساخت نخستین مدیر",
    "user_create": "ساخت حساب",
    "user_role": "تغییر نقش",
    "user_deactivate": "غیرفعال کردن حساب",
    "user_activate": "فعال کردن حساب",
    "user_password_reset": "تعیین گذرواژهٔ تازه",
}

# --- inbox and labelling (inbox.py, labelling.py, inbox_routes.py) ---
# What replaces personal data in the inbox list and the conversation page (inbox.mask).
INBOX_MASKS = {
    "phone": "[تلفن]",
    "card": "[شماره کارت]",
    "iban": "[شماره شبا]",
    "email": "[ایمیل]",
    "name": "[نام]",
}
# Why a message is high in the inbox (inbox.need_score), shown as small tags on its row.
INBOX_REASONS = {
    "fallback": "مدل نفهمید",
    "low_confidence": "اطمینان کم",
    "small_margin": "دو برچسب نزدیک به هم",
    "triage_said_complaint": "مشتری گفت شکایت است",
    "reflection_denied": "مشتری گفت درست نفهمیدیم",
    "agent_recategorised": "کارشناس دسته را عوض کرد",
}
LABEL_UNKNOWN_INTENT = "این برچسب در domain.yml نیست."
LABEL_UNKNOWN_ENTITY = "این نوع موجودیت در domain.yml نیست."
LABEL_SPAN_NOT_FOUND = "این تکه در متن پیام پیدا نشد."
LABEL_BAD_SPAN = "محدودهٔ موجودیت درست نیست."
LABEL_OVERLAPPING = "دو موجودیت روی هم افتاده‌اند."
LABEL_NOT_FOUND = "این پیام دیگر در صندوق نیست."
LABEL_FROZEN = "این پیام در مجموعهٔ طلایی آزمون ثبت شده و دیگر تغییر نمی‌کند."
LABEL_NOT_PROPOSED = "این برچسب منتظر بررسی نیست."
LABEL_NOTHING_SELECTED = "هیچ پیامی انتخاب نشده."
AUDIT_ACTIONS.update({
    "label_save": "برچسب زدن",
    "label_bulk": "برچسب گروهی",
    "label_discard": "کنار گذاشتن پیام",
    "label_approve": "تأیید برچسب و نوشتن در داده‌ها",
    "label_reject": "رد برچسب",
    "label_export": "نوشتن دوبارهٔ برچسب‌ها در داده‌ها",
})

# --- training, gate, deploy (training.py, gate.py, deploy.py, model_routes.py) ---
TRAIN_BUSY = "یک آموزش دیگر در حال اجراست؛ لطفاً صبر کنید تا تمام شود یا لغوش کنید."
TRAIN_NOT_RUNNING = "الان آموزشی در حال اجرا نیست."
TRAIN_DATA_INVALID = "داده‌های آموزشی ایراد دارد: {where}{detail}"
TRAIN_DATA_WHERE = "پرونده‌ی {file}، سطر {line} — "
TRAIN_DATA_FILE = "پرونده‌ی {file} — "
TRAIN_OUT_OF_MEMORY = "حافظه‌ی سرور برای آموزش کافی نبود؛ کارهای سنگین دیگر را ببندید و دوباره امتحان کنید."
TRAIN_RASA_MISSING = "Rasa روی این سرور نصب نیست (محیط ‎.venv-rasa‎ پیدا نشد)؛ اول make setup را اجرا کنید."
TRAIN_FAILED = "آموزش با خطا تمام شد (کد خروج {code}). چند خط آخر خروجی در پرونده‌ی {log} مانده است."
TRAIN_NO_MODEL = "آموزش تمام شد ولی پرونده‌ی مدل ساخته نشد. چند خط آخر خروجی در پرونده‌ی {log} مانده است."
TRAIN_INTERRUPTED = "آموزش نیمه‌کاره ماند، چون کنسول وسط کار بسته شد؛ لطفاً دوباره شروعش کنید."
TRAIN_CANCELLED = "آموزش را {user} لغو کرد."
TRAIN_EXPORT_FAILED = "برچسب‌های تأییدشده در داده‌های آموزشی نوشته نشد، پس آموزش شروع نشد: {error}"
TRAIN_UNEXPECTED = "آموزش به خطای پیش‌بینی‌نشده‌ای خورد ({error})."
TIME_UNKNOWN = "نامشخص"
PHASES = {
    "export": "نوشتن برچسب‌ها در داده‌های آموزشی",
    "start": "آماده شدن Rasa",
    "nlu": "آموزش فهم پیام (DIET)",
    "core": "آموزش گفت‌وگو",
    "gate": "ارزیابی و مقایسه با مدل فعلی",
    "done": "تمام شد",
}

GATE_EVAL_FAILED = "ارزیابی مدل {model} انجام نشد (کد خروج {code}). جزئیات در پرونده‌ی {log} است."
GATE_EVAL_TIMEOUT = "ارزیابی مدل {model} بیش از حد طول کشید و متوقف شد."
GATE_NO_GOLDEN = "مجموعه‌ی طلایی هنوز خالی است؛ مقایسه فقط روی پرونده‌های کنار‌گذاشته انجام شد."
GATE_NO_PRODUCTION = "هنوز مدلی در حال سرویس نیست؛ مدل جدید با چیزی مقایسه نشد."
GATE_DROP = "«{figure}» از {old} به {new} رسیده است (بدتر شدن بیش از {limit})."
GATE_REFUSED = "ارتقا رد شد: مدل جدید در آزمون پسرفت قبول نشده است. مدیر سیستم می‌تواند با نوشتن دلیل، آن را تأیید کند."
GATE_OVERRIDE_NEEDS_ADMIN = "فقط مدیر سیستم می‌تواند نتیجه‌ی آزمون پسرفت را نادیده بگیرد."
GATE_OVERRIDE_NEEDS_REASON = "برای نادیده گرفتن آزمون پسرفت، لطفاً دلیلش را بنویسید (دست‌کم ۱۰ حرف)."
GATE_NOT_RUN = "این مدل هنوز ارزیابی نشده است."
FIGURE_NAMES = {
    "intent_macro_f1": "میانگین F1 نیت‌ها",
    "intent_accuracy": "دقت تشخیص نیت",
    "complaint_accuracy": "دقت شکایت/غیرشکایت",
    "false_complaint_rate": "نرخ شکایتِ اشتباه",
    "category_accuracy": "دقت دسته‌ی شکایت",
    "entity_recall": "بازیابی موجودیت‌ها",
    "entity_precision": "دقت موجودیت‌ها",
    "perturbation_gap": "افت روی متن نویزدار",
    "golden.intent_macro_f1": "میانگین F1 نیت‌ها (مجموعه‌ی طلایی)",
    "golden.intent_accuracy": "دقت تشخیص نیت (مجموعه‌ی طلایی)",
}

DEPLOY_RASA_UNREACHABLE = "به Rasa وصل نشدیم ({error})؛ مدل عوض نشد."
DEPLOY_RASA_REFUSED = "Rasa مدل را نپذیرفت (پاسخ {status}: {detail})؛ مدل قبلی همچنان در حال سرویس است."
DEPLOY_TIMEOUT = "Rasa تا {seconds} ثانیه مدل جدید را گزارش نکرد؛ وضعیت مدل‌ها تغییری نکرد."
DEPLOY_FILE_MISSING = "پرونده‌ی مدل {file} پیدا نشد."
DEPLOY_NOT_CANDIDATE = "این مدل قابل ارتقا نیست (وضعیتش «{state}» است)."
DEPLOY_NO_ROLLBACK_TARGET = "مدل قبلی‌ای برای بازگشت وجود ندارد."
DEPLOY_ALREADY_PRODUCTION = "این مدل همین حالا در حال سرویس است."
DEPLOY_DONE = "مدل {file} حالا در حال سرویس است."
DEPLOY_ROLLED_BACK = "به مدل {file} برگشتیم."

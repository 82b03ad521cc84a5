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
    "triage_said_complaint": "مشتری گفت شکایته",
    "reflection_denied": "مشتری گفت درست نفهمیدیم",
    "agent_recategorised": "کارشناس دسته رو عوض کرد",
}
LABEL_UNKNOWN_INTENT = "این برچسب توی domain.yml نیست."
LABEL_UNKNOWN_ENTITY = "این نوع موجودیت توی domain.yml نیست."
LABEL_SPAN_NOT_FOUND = "این تکه توی متن پیام پیدا نشد."
LABEL_BAD_SPAN = "محدوده‌ی موجودیت درست نیست."
LABEL_OVERLAPPING = "دو موجودیت روی هم افتاده‌اند."
LABEL_NOT_FOUND = "این پیام دیگه توی صندوق نیست."
LABEL_FROZEN = "این پیام توی مجموعه‌ی طلایی ثبت شده و دیگه عوض نمی‌شه."
LABEL_OWN_APPROVAL = "برچسبی رو که خودتون زدید نمی‌تونید تأیید کنید."
LABEL_NOT_PROPOSED = "این برچسب منتظر بررسی نیست."
LABEL_NOTHING_SELECTED = "هیچ پیامی انتخاب نشده."
LABEL_SAVED = "برچسب ثبت شد."
LABEL_DISCARDED = "پیام کنار گذاشته شد."
LABEL_BULK_SAVED = "{count} پیام برچسب خورد."
LABEL_APPROVED = "{count} برچسب تأیید شد و توی داده‌ها نوشته شد."
LABEL_REJECTED = "برچسب رد شد و پیام به صندوق برگشت."

# --- training, gate, deploy (training.py, gate.py, deploy.py, model_routes.py) ---

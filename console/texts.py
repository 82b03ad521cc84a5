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

# --- training, gate, deploy (training.py, gate.py, deploy.py, model_routes.py) ---

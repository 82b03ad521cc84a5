"""Every sentence the Telegram front end itself says (house style: one place for Persian texts).

The dialogue's own sentences live in `domain.yml` and the follow-ups' in `followups/texts.py`; these
are the few the bot needs around them: holding messages while Rasa is away, answers to media and
stickers, the agents' handoff card and command replies. Register: the same warm, spoken-polite
Persian as `domain.yml` for customers; short and factual for agents.
"""
from __future__ import annotations

# --- customer commands (Telegram command names must be Latin; descriptions are Persian) --------
CUSTOMER_COMMANDS: tuple[tuple[str, str], ...] = (
    ("start", "شروع گفت‌وگو با همدل"),
    ("new", "ثبت یک شکایت تازه"),
    ("status", "پیگیری وضعیت شکایت‌هام"),
    ("cancel", "لغو شکایتی که در حال ثبته"),
    ("help", "راهنما"),
    ("stop", "دیگه پیام پیگیری نفرست"),
)
AGENT_COMMANDS: tuple[tuple[str, str], ...] = (
    ("take", "این پرونده را برعهده می‌گیرم"),
    ("note", "یادداشت داخلی (برای مشتری فرستاده نمی‌شود)"),
    ("resolve", "ثبت حل‌شدن مشکل"),
    ("close", "بستن پرونده"),
    ("handback", "برگرداندن گفت‌وگو به همدل"),
)

HELP = (
    "من همدل هستم؛ اینجام که مشکلتون رو کامل بشنوم، ثبتش کنم و پیگیرش باشم.\n"
    "• هر اتفاقی افتاده، با جزئیات و به زبان خودتون بنویسید؛ می‌تونید چند پیام پشت سر هم بفرستید.\n"
    "• عکس، فایل یا پیام صوتی هم اگه دارید بفرستید، به پرونده‌تون پیوست می‌شه.\n"
    "• /status وضعیت شکایت‌هاتون\n• /new ثبت یک شکایت تازه\n• /cancel لغو شکایتی که در حال ثبته\n"
    "• /stop اگه دیگه پیام پیگیری نمی‌خواید\n"
    "اگه خواستید با یکی از همکارانم صحبت کنید، کافیه بنویسید «می‌خوام با یک نفر صحبت کنم»."
)

# --- Rasa away: said once per outage, the messages are kept and answered later, in order -------
HOLDING = (
    "پیامتون به دستم رسید و محفوظه. سیستم پاسخ‌گویی‌مون چند لحظه کُند شده؛ "
    "به محض اینکه برگرده، به ترتیب جواب همه‌ی پیام‌هاتون رو می‌دم. لازم نیست دوباره بنویسید."
)

# --- things that are not text ------------------------------------------------------------------# A message that failed every try (it is kept, marked failed, and the agents are told).
TURN_FAILED = (
    "ببخشید، این پیامتون رو چند بار امتحان کردم ولی نتونستم درست بررسیش کنم. پیامتون گم نشده؛ "
    "ثبت شده تا همکارانم خودشون نگاهش کنن. اگه بخواید، می‌تونید همون حرف رو با جمله‌های دیگه‌ای هم بنویسید."
)
# A chat that sent far more messages than the bot could queue.
TOO_MANY_WAITING = (
    "پیام‌هاتون خیلی پشت سر هم رسید و هنوز دارم قبلی‌ها رو جواب می‌دم. لطفاً کمی صبر کنید تا جوابتون رو بدم، "
    "بعد اگه چیزی جا مونده بود دوباره بنویسید."
)

EVIDENCE_ATTACHED = "ممنونم؛ {kind} رو به پرونده‌ی {number} پیوست کردم تا همکارانم هم ببینن."
EVIDENCE_KEPT = (
    "ممنونم، {kind} رو دریافت کردم و نگهش می‌دارم. وقتی ماجرا رو برام تعریف کنید و شکایتتون ثبت بشه، "
    "به همون پرونده پیوستش می‌کنم."
)
EVIDENCE_KINDS = {"photo": "عکس", "document": "فایل", "voice": "پیام صوتی", "video": "ویدیو", "audio": "فایل صوتی"}
STICKER = "🙂 ممنون. اگه مشکلی پیش اومده، لطفاً با چند کلمه برام بنویسید چه اتفاقی افتاده تا بتونم کمکتون کنم."
LOCATION = (
    "موقعیت مکانی رو دریافت کردم، ولی من فقط می‌تونم متن، عکس و فایل رو بررسی کنم. "
    "اگه به ارسال یا آدرس مربوطه، لطفاً آدرس رو به صورت متن بنویسید."
)
CONTACT_SAVED = "ممنونم؛ شماره‌ی {phone} رو برای پرونده‌هاتون ثبت کردم تا لازم نباشه دوباره بگید."
CONTACT_NOT_SAVED = "این شماره به نظرم شماره‌ی موبایل معتبری نیست؛ اگه می‌خواید ثبتش کنم، لطفاً به صورت متن بنویسیدش."
EDITED = (
    "دیدم پیامتون رو ویرایش کردید. من نسخه‌ی قبلی رو خونده بودم؛ "
    "اگه چیزی تغییر کرده، لطفاً در یک پیام تازه بنویسید تا از دستم نره."
)
UNSUPPORTED = "این نوع پیام رو نمی‌تونم بخونم؛ لطفاً به صورت متن برام بنویسید."
BUTTON_EXPIRED = "این دکمه دیگه فعال نیست؛ لطفاً جوابتون رو بنویسید."
BUTTON_CHOSEN = "انتخاب شما: {title}"

# --- a human owns the chat ---------------------------------------------------------------------
AGENT_TOOK = "یکی از همکارانم پرونده‌ی {number} رو برعهده گرفت و از همین‌جا جوابتون رو می‌ده."
HANDED_BACK = (
    "همکارم گفت‌وگو رو دوباره به من سپرد. پرونده‌ی {number} همچنان باز و در حال پیگیریه؛ "
    "اگه چیزی هست، همین‌جا برام بنویسید."
)
RESOLVED_BY_AGENT = "همکارم موضوع پرونده‌ی {number} رو حل‌شده ثبت کرد. کمی بعد ازتون می‌پرسم که واقعاً مشکلتون حل شده یا نه."
CLOSED_BY_AGENT = "پرونده‌ی {number} بسته شد. ممنونم که با ما در میون گذاشتید؛ اگه باز کاری بود، همین‌جا بنویسید."
STILL_WAITING = (
    "می‌خواستم صادقانه بگم که هنوز هیچ‌کدوم از همکارانم پرونده‌ی {number} رو برنداشتن. "
    "معمولاً تا {hours} ساعت کاری طول می‌کشه؛ پیام‌هاتون همه ثبت شده و لازم نیست دوباره بنویسید."
)

# --- the agents' group (short, factual; agents read many of these) -----------------------------
TOPIC_NAME = "{number} · {category}"
SEVERITY_LABELS = {"low": "کم", "medium": "متوسط", "high": "زیاد", "critical": "بحرانی"}
REASON_LABELS = {
    "customer_request": "درخواست خود مشتری",
    "misunderstood": "دو بار پشت سر هم منظور مشتری را نفهمیدم",
    "severity": "شدت بالا یا عصبانیت مشتری",
    "customer_not_solved": "مشتری گفت مشکل حل نشده (بازگشایی)",
    "agent": "برداشته‌شده توسط کارشناس",
}
CARD_TITLE = "🆕 پرونده‌ی {number} · {category}"
CARD_LINES = (
    ("وضعیت", "{status} · شدت: {severity}"),
    ("دلیل ارجاع", "{reason}"),
    ("مشتری", "{customer}"),
    ("تلفن", "{phone}"),
    ("شماره‌ی سفارش", "{order_id}"),
    ("دریافت", "{received}"),
    ("ماجرا به روایت مشتری", "\n{story}"),
    ("کلمات خود مشتری", "{key_words}"),
    ("برداشت تأییدشده", "{reflection}"),
    ("خواسته‌ی مشتری", "{remedy}"),
    ("آنچه به مشتری گفته شد", "{offered}"),
    ("پرونده‌های قبلی", "{prior}"),
    ("پیوست‌ها", "{evidence}"),
)
CARD_FOOTER = (
    "هرچه در این تاپیک بنویسید برای مشتری فرستاده می‌شود. دستورها: /take برعهده گرفتن · "
    "/note متن (یادداشت داخلی) · /resolve حل شد · /close بستن · /handback برگرداندن به همدل"
)
UNKNOWN = "—"
NO_PRIOR = "ندارد"
TRANSCRIPT_TITLE = "📜 گفت‌وگوی کامل ({part} از {parts})"
SPEAKERS = {"customer": "مشتری", "bot": "همدل", "agent": "کارشناس"}
CUSTOMER_SAYS = "💬 مشتری:"
CUSTOMER_SENT_MEDIA = "📎 مشتری {kind} فرستاد{caption}"

AGENT_TAKEN = "✅ پرونده را {agent} برعهده گرفت."
AGENT_NOTE_SAVED = "📝 یادداشت داخلی ثبت شد (برای مشتری فرستاده نمی‌شود)."
AGENT_NOTE_EMPTY = "متن یادداشت را بعد از دستور بنویسید: /note متن"
AGENT_RESOLVED = "✔️ پرونده حل‌شده ثبت شد؛ پرسش «مشکلتان حل شد؟» سر موعد از مشتری پرسیده می‌شود."
AGENT_CLOSED = "🔒 پرونده بسته شد."
AGENT_HANDED_BACK = "↩️ گفت‌وگو به همدل برگشت؛ پیام‌های بعدی مشتری را بات جواب می‌دهد."
AGENT_ALREADY = "این پرونده {status} است."
AGENT_REFUSED = "⛔️ فقط اعضای گروه کارشناسان (و نه مدیر ناشناس) می‌توانند روی پرونده‌ها کار کنند."
AGENT_DELIVERY_FAILED = "⚠️ پیام به مشتری نرسید ({reason}). دوباره امتحان کنید."
AGENT_CUSTOMER_BLOCKED = "مشتری بات را مسدود کرده است"
AGENT_NO_TAKER = "⏰ هنوز کسی این پرونده را برنداشته ({minutes} دقیقه). به مشتری گفته شد که ممکن است تا {hours} ساعت طول بکشد."
AGENT_ESCALATED_AGAIN = "🔁 پرونده‌ی {number} دوباره ارجاع شد ({reason}). از این پس پیام‌های مشتری اینجا می‌آید."
AGENT_TURN_FAILED = (
    "⚠️ پیام یک مشتری پس از چند بار تلاش پردازش نشد و «ناموفق» ثبت شد (شناسه‌ی به‌روزرسانی: {ids}). "
    "به مشتری گفته شد که همکاران بررسی می‌کنند."
)
AGENT_ACTION_FAILED = "⚠️ این پیام یا دستور پردازش نشد (خطای موقت). لطفاً دوباره بفرستید."
TRANSCRIPT_TRIMMED = "… {count} پیام قدیمی‌تر اینجا نیامده؛ همه در پرونده ثبت است."
AGENT_FORWARD_IGNORED = (
    "↪️ پیام فورواردشده نه برای مشتری فرستاده می‌شود و نه دستور حساب می‌شود؛ اگر منظورتان همین است، خودتان بنویسید."
)

"""Trenchcoat settings: every environment variable is read here, and only here.

Without DATABASE_URL the platform uses a SQLite file; without REDIS_URL it caches in
process memory and runs background work in-process (Celery eager mode). Production sets
both, plus SECRET_KEY, and refuses to start with a default secret or with DEBUG on.
"""

import os
import re
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from config.schedules import BEAT_SCHEDULE

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use 1/0, true/false)")


def env_list(name: str, default: str) -> list[str]:
    return [part.strip() for part in os.environ.get(name, default).split(",") if part.strip()]


LOCAL_HOSTS = {"localhost", "127.0.0.1", "[::1]", "::1", "testserver"}
# Keys that appear in docs, tutorials and generators: anyone may know them.
KNOWN_SECRETS = {"changeme", "change-me", "change_me", "secret", "secret-key", "secret_key", "your-secret-key",
                 "insecure", "django-insecure", "development", "dev", "test", "password", "xxx", "..."}


def secret_key_problem(key: str) -> str | None:
    """Why this SECRET_KEY must not sign production sessions, or None."""
    if not key:
        return "SECRET_KEY is not set. Set it in the environment (DEBUG=1 allows a development key)."
    lowered = key.strip().lower()
    if lowered.startswith(("dev-only", "django-insecure")):
        return "Refusing to run with a development SECRET_KEY while DEBUG is off."
    if lowered in KNOWN_SECRETS:
        return f"Refusing to run with the well-known placeholder SECRET_KEY {key!r}."
    if len(key) < 16 or len(set(key)) < 5:
        return ("SECRET_KEY is too weak (fewer than 16 characters or 5 distinct ones); generate one with "
                "python -c 'import secrets; print(secrets.token_urlsafe(50))'.")
    return None


def debug_problem(debug: bool, hosts: list[str]) -> str | None:
    """DEBUG is for a laptop: its error pages show settings and code to whoever triggers them."""
    public = sorted(h for h in hosts if h not in LOCAL_HOSTS)
    if debug and public:
        return f"Refusing to run with DEBUG on while serving {', '.join(public)}: set DEBUG=0 in production."
    return None


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY and DEBUG:
    SECRET_KEY = "dev-only-insecure-key"
if not DEBUG and (problem := secret_key_problem(SECRET_KEY)):
    raise ImproperlyConfigured(problem)

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
if problem := debug_problem(DEBUG, ALLOWED_HOSTS):
    raise ImproperlyConfigured(problem)
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # the Swagger UI files, served from our static files (no CDN)
    "annotation",
    "elicitation",
    "exports",
    "frontend",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "config.middleware.RequestSizeLimitMiddleware",
    "config.middleware.DatabaseUnavailableMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "frontend.middleware.CrowdFrameCookiesMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
IS_POSTGRES = DATABASES["default"]["ENGINE"].endswith("postgresql")
if IS_POSTGRES and os.environ.get("DB_SERVER_SIDE_BINDING", "1") == "1":
    # psycopg 3 with server-side parameters prepares a statement after its 5th run on a
    # connection (connections persist, CONN_MAX_AGE): PostgreSQL then skips planning the
    # annotator path's few, ever-repeated statements (planning cost ~1 ms each on the
    # shared machines here, more than executing them). Not for PgBouncer in transaction
    # mode: set DB_SERVER_SIDE_BINDING=0 behind one.
    DATABASES["default"].setdefault("OPTIONS", {})["server_side_binding"] = True
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # Concurrent page requests on a laptop: wait for the write lock instead of failing.
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "config.cache.FailOpenRedisCache",  # Redis down: serve from the database alone
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": os.environ.get("CACHE_PREFIX", "tc"),
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_BEAT_SCHEDULE = BEAT_SCHEDULE
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
WHITENOISE_USE_FINDERS = True  # serve app static files without collectstatic on a laptop
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", BASE_DIR / "var"))
EXPORT_ROOT = MEDIA_ROOT / "exports"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Upload limits: an item file larger than this is refused before it is read.
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
MAX_UPLOAD_BYTES = int(os.environ.get("MAX_UPLOAD_BYTES", str(200 * 1024 * 1024)))
MAX_IMPORT_ROWS = int(os.environ.get("MAX_IMPORT_ROWS", "2000000"))
# pyarrow (Parquet exports) reads its allocator when first imported: the C allocator gives the
# buffers of each flushed row group back, where its default (mimalloc) keeps them (about 25 MB
# more peak memory in a Parquet export of a million judgments).
os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
# An upload on the study page larger than this is imported in the background (an ImportJob
# with progress on the page); a smaller one is imported while the page waits.
BACKGROUND_IMPORT_BYTES = int(os.environ.get("BACKGROUND_IMPORT_BYTES", str(2 * 1024 * 1024)))

# How long an annotator holds a unit before it returns to the pool.
LEASE_SECONDS = int(os.environ.get("LEASE_SECONDS", "900"))

# Sign-in (page and API token) and join attempts per client address (and per username for
# sign-ins); NUM_PROXIES = trusted proxies in front, whose X-Forwarded-For names the client.
LOGIN_RATE = os.environ.get("LOGIN_RATE", "20/min")
JOIN_RATE = os.environ.get("JOIN_RATE", "30/min")
for _name, _rate in (("LOGIN_RATE", LOGIN_RATE), ("JOIN_RATE", JOIN_RATE)):
    if not re.fullmatch(r"[0-9]+/(s|sec|second|m|min|minute|h|hour|d|day)", _rate):
        raise ImproperlyConfigured(f"{_name}={_rate!r}: expected N/s, N/min, N/hour or N/day (e.g. 20/min)")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_RATES": {"login": LOGIN_RATE},
    "NUM_PROXIES": int(os.environ["NUM_PROXIES"]) if os.environ.get("NUM_PROXIES") else None,
    "EXCEPTION_HANDLER": "annotation.api_errors.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Trenchcoat API",
    "DESCRIPTION": "Preference-elicitation annotation platform: studies, items, units, judgments, exports.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # export and import jobs share one status set; studies have their own "status"
    "ENUM_NAME_OVERRIDES": {"JobStatusEnum": "exports.models.JobStatus.choices"},
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # the annotator app reads it to send X-CSRFToken
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# MTurk shows an ExternalQuestion in a frame of its worker site and takes the result back by a
# form POST to turkSubmitTo: these origins (and no other) may frame the crowd pages of MTurk
# studies and receive that form. Comma-separated; the sandbox is for trying a HIT out.
MTURK_ORIGINS = env_list("MTURK_ORIGINS", "https://www.mturk.com,https://worker.mturk.com,https://workersandbox.mturk.com")
for _origin in MTURK_ORIGINS:
    if not re.fullmatch(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?", _origin):
        raise ImproperlyConfigured(f"MTURK_ORIGINS: {_origin!r} is not an origin such as https://www.mturk.com")
if not DEBUG:
    SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", False)
    CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", False)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
}

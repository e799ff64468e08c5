"""Django settings, read from the environment (see ``.env.example``).

With nothing configured you get a working embedded setup: SQLite and media under
``./var``, Celery tasks run eagerly in-process, DEBUG on. Production sets
``DJANGO_DEBUG=0``, ``DJANGO_SECRET_KEY``, ``DATABASE_URL`` and ``REDIS_URL``.
"""

from __future__ import annotations

from pathlib import Path

from csp.constants import NONE, SELF

from studyapp.env import database_from_url, env_bool, env_int, env_int_or_off, env_list, env_str
from studyapp.log_format import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env_str("HEARXAI_DATA_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DJANGO_DEBUG", True)
_DEV_KEY = "dev-only-insecure-key-do-not-use-in-production"
SECRET_KEY = env_str("DJANGO_SECRET_KEY", _DEV_KEY if DEBUG else None)
if not DEBUG and (SECRET_KEY == _DEV_KEY or len(SECRET_KEY) < 50):
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(
        "DJANGO_SECRET_KEY must be set to a long random value when DEBUG is off"
    )
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "csp",  # (its system checks catch settings of django-csp < 4)
    "studyapp.apps.StudyAppConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "studyapp.middleware.StudyCSPMiddleware",
    "studyapp.middleware.permissions_policy",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "studyapp.urls"
WSGI_APPLICATION = "studyapp.wsgi.application"

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
    "default": database_from_url(
        env_str("DATABASE_URL", f"sqlite:///{DATA_DIR / 'db.sqlite3'}"),
        # PostgreSQL prepares the answer's and the trial page's statements after this many runs ("off": never).
        prepare_threshold=env_int_or_off("HEARXAI_DB_PREPARE_THRESHOLD", 2),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite cannot create the folder of its file: a fresh data folder would fail with
    # "unable to open database file" instead of being made.
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # WAL lets participants answer while the admin reads; the timeout absorbs short write locks.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# collectstatic writes here; the web image bakes it in at build time (docker/web.Dockerfile).
STATIC_ROOT = Path(env_str("HEARXAI_STATIC_ROOT", str(DATA_DIR / "static")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
MEDIA_ROOT = Path(env_str("HEARXAI_MEDIA_ROOT", str(DATA_DIR / "media")))
MEDIA_URL = "media/"
EXPORT_ROOT = Path(env_str("HEARXAI_EXPORT_ROOT", str(DATA_DIR / "exports")))
# Days an export zip stays downloadable before the web-jobs workers delete it ("off": kept
# for ever). The data stays in the database; an export can be made again at any time.
EXPORT_KEEP_DAYS = env_int_or_off("HEARXAI_EXPORT_KEEP_DAYS", 30)
UPLOAD_ROOT = Path(env_str("HEARXAI_UPLOAD_ROOT", str(DATA_DIR / "uploads")))
# Bundle uploads: refuse archives that would exhaust the disk before reading them.
BUNDLE_MAX_FILES = env_int("HEARXAI_BUNDLE_MAX_FILES", 20_000)
BUNDLE_MAX_FILE_BYTES = env_int("HEARXAI_BUNDLE_MAX_FILE_BYTES", 20 * 1024 * 1024)
BUNDLE_MAX_TOTAL_BYTES = env_int("HEARXAI_BUNDLE_MAX_TOTAL_BYTES", 2 * 1024 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440

# Celery: eager (in-process) unless a broker is configured.
REDIS_URL = env_str("REDIS_URL", "")
CELERY_BROKER_URL = REDIS_URL or "memory://localhost/"  # a host, or kombu warns on every eager task
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "web"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Workers log through LOGGING below (stdout, JSON in production) like the web does.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Job leases (services.job_leases): a running job's worker renews its heartbeat every
# JOB_HEARTBEAT_S; a job silent for JOB_LEASE_S belongs to a dead worker and is queued
# again, at most JOB_MAX_ATTEMPTS runs in all. Celery beat has a web-jobs worker sweep
# for such jobs, and for jobs whose message never reached the queue, every JOB_SWEEP_S
# (0: never).
JOB_HEARTBEAT_S = env_int("HEARXAI_JOB_HEARTBEAT_S", 10)
JOB_LEASE_S = env_int("HEARXAI_JOB_LEASE_S", 60)
JOB_MAX_ATTEMPTS = env_int("HEARXAI_JOB_MAX_ATTEMPTS", 3)
JOB_SWEEP_S = env_int("HEARXAI_JOB_SWEEP_S", 15)
# A queued job handed to the queue this long ago and still not started is sent again
# (a Redis without persistence may have lost it; a duplicate message is harmless).
JOB_REDISPATCH_S = env_int("HEARXAI_JOB_REDISPATCH_S", 900)
# A sweep not started within its interval (workers busy) is dropped: the next one comes.
CELERY_BEAT_SCHEDULE = (
    {
        "sweep-jobs": {
            "task": "studyapp.tasks.sweep_jobs",
            "schedule": JOB_SWEEP_S,
            "options": {"expires": JOB_SWEEP_S},
        }
    }
    if JOB_SWEEP_S > 0
    else {}
)

# Participant rate limits (views/limits.py): new sessions per minute per client address,
# answers per minute per session. Generous enough that a person never meets them, tight
# enough to stop a script hammering an entry link or a session.
RATE_LIMIT_ENTRY_PER_MIN = env_int("HEARXAI_RATE_LIMIT_ENTRY_PER_MIN", 60)
RATE_LIMIT_ANSWER_PER_MIN = env_int("HEARXAI_RATE_LIMIT_ANSWER_PER_MIN", 120)
# Admin sign-in attempts per minute per client address (password guessing).
RATE_LIMIT_LOGIN_PER_MIN = env_int("HEARXAI_RATE_LIMIT_LOGIN_PER_MIN", 10)
# Reverse proxies in front of the site that append to X-Forwarded-For (docs/deploying.md):
# the client's address is that many entries from the end. Production assumes one (TLS proxy).
PROXY_COUNT = env_int("HEARXAI_PROXY_COUNT", 0 if DEBUG else 1)
# Rate-limit counters live in Redis when there is one (views/limits.py talks to it with
# redis-py); without it, or while it is unreachable, they count in each process's memory.
# Nothing else uses a cache: Django's default (process memory) stays.
RATE_LIMIT_REDIS_URL = REDIS_URL

# Security (HTTPS settings switch on with DEBUG off; check --deploy must pass).
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # the trial page reads it to send JSON events
SECURE_REFERRER_POLICY = "same-origin"
# Participant pages load only the site's own scripts, styles, images and audio (the admin
# adds inline styles: studyapp/middleware.py). No nonce: no page has an inline script.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "media-src": [SELF],
        "connect-src": [SELF],
        "font-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
if not DEBUG:
    # Behind a TLS-terminating proxy (docs/deploying.md). Set 0 only for a local plain-HTTP
    # trial or when the proxy itself redirects; the health check stays reachable over HTTP
    # so container probes work without the proxy.
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Logs go to stdout: one JSON object per line in production, plain text in development;
# participant tokens in URLs are masked either way (studyapp/log_format.py).
LOGGING = logging_config(
    fmt=env_str("DJANGO_LOG_FORMAT", "text" if DEBUG else "json"),
    level=env_str("DJANGO_LOG_LEVEL", "WARNING"),
    # Django's default logging gives "django" and runserver's access log ("django.server")
    # handlers of their own that would print tokens unmasked: both go through ours instead.
    loggers={
        "django": {"handlers": [], "level": "NOTSET", "propagate": True},
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
)

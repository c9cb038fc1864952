"""ShopOps settings: one module, driven by the environment (see `.env.example`).

With no variables set, the embedded default serves: SQLite under ``var/``, eager Celery, a
local-memory cache and an in-memory channel layer. Production sets ``DATABASE_URL``,
``REDIS_URL``, ``DJANGO_SECRET_KEY``, ``DJANGO_DEBUG=0`` and ``ALLOWED_HOSTS``.
"""

import os
import secrets
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("SHOPOPS_VAR_DIR", BASE_DIR / "var"))


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = _env_bool("DJANGO_DEBUG", default=True)


def _secret_key() -> str:
    key = os.environ.get("DJANGO_SECRET_KEY", "")
    if key:
        return key
    if not DEBUG:
        # A production secret never has a default: refuse to start without one.
        raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off.")
    # Development: a random key kept under var/ so sessions survive restarts.
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    key_file = VAR_DIR / "dev-secret-key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = _env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = _env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "channels",
    "shopops.store",
    "shopops.registry",
    "shopops.dashboard",
    "mining",
    "recommendations",
    "chatbot",
    "vision",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

if not DEBUG:
    # Production serves collected static files itself; development uses runserver's handler.
    MIDDLEWARE.insert(1, "whitenoise.middleware.WhiteNoiseMiddleware")

ROOT_URLCONF = "shopops.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "shopops.dashboard.context_processors.dashboard_navigation",
                "shopops.store.context_processors.storefront_extensions",
            ],
        },
    },
]
WSGI_APPLICATION = "shopops.wsgi.application"
ASGI_APPLICATION = "shopops.asgi.application"

# --- database -------------------------------------------------------------------------------
VAR_DIR.mkdir(parents=True, exist_ok=True)
DATABASES = {
    "default": dj_database_url.config(
        env="DATABASE_URL",
        default=f"sqlite:///{VAR_DIR / 'shopops.sqlite3'}",
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
# The embedded default's database: one writer at a time, test databases in memory.
_ON_SQLITE = DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"
if _ON_SQLITE:
    # Importers and the web server write at the same time in the demo; wait rather than fail.
    # WAL lets the web server read while a chat turn or an import writes, and synchronous=NORMAL
    # (safe under WAL) cuts each commit's fsyncs: chat turns commit per message.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: broker, cache, channel layer ------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {
            # Django's Redis backend, reusing its redis-py client (see shopops/cache.py).
            "BACKEND": "shopops.cache.PooledRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": os.environ.get("CACHE_KEY_PREFIX", "shopops"),
            "TIMEOUT": 3600,
        }
    }
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # redis-py 8 reads with a 5 s socket timeout by default, the same 5 s that
            # channels_redis blocks for on BZPOPMIN: an idle websocket's consumer then dies with
            # "Timeout reading" (close 1011). Reads get a margin above the 5 s block.
            # redis-py 8 also caps a pool at 100 connections, and every websocket's send takes
            # one for its duration: 100 busy chat sockets raised MaxConnectionsError (close 1011).
            "CONFIG": {
                "hosts": [{"address": REDIS_URL, "socket_timeout": 30, "max_connections": 1000}]
            },
        }
    }
    CELERY_BROKER_URL = REDIS_URL
    CELERY_RESULT_BACKEND = REDIS_URL
    CELERY_TASK_ALWAYS_EAGER = _env_bool("CELERY_TASK_ALWAYS_EAGER", default=False)
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CELERY_BROKER_URL = "memory://"
    CELERY_RESULT_BACKEND = "cache+memory://"
    CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_QUEUES = (Queue("default"), Queue("ml"))
# Training goes to the `ml` queue (big or GPU machines); everything else to `default`.
CELERY_TASK_ROUTES = {
    "shopops.registry.tasks.model_training_run_task": {"queue": "ml"},
    "*_train_task": {"queue": "ml"},
}
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = "UTC"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Nightly retraining entries are added here by the apps that own them (see each app's docs).
CELERY_BEAT_SCHEDULE: dict = {
    "registry-mark-stale-trainings": {
        "task": "shopops.registry.tasks.stale_trainings_fail_task",
        "schedule": crontab(minute="*/15"),
    },
    # Nightly retraining; each entry queues one kind's training on the `ml` queue.
    "mining-segmentation-nightly": {
        "task": "shopops.registry.tasks.model_training_enqueue_task",
        "schedule": crontab(hour=2, minute=0),
        "args": ("segmentation",),
    },
    "mining-rules-nightly": {
        "task": "shopops.registry.tasks.model_training_enqueue_task",
        "schedule": crontab(hour=2, minute=20),
        "args": ("rules",),
    },
    "recommendations-nightly": {
        "task": "shopops.registry.tasks.model_training_enqueue_task",
        "schedule": crontab(hour=3, minute=0),
        "args": ("recommender",),
    },
    "mining-churn-nightly": {
        "task": "shopops.registry.tasks.model_training_enqueue_task",
        "schedule": crontab(hour=2, minute=40),
        "args": ("churn",),
    },
    "chatbot-intent-nightly": {
        "task": "shopops.registry.tasks.model_training_enqueue_task",
        "schedule": crontab(hour=3, minute=30),
        "args": ("intent",),
    },
    "vision-cnn-weekly": {
        "task": "shopops.registry.tasks.model_training_enqueue_task",
        "schedule": crontab(hour=4, minute=0, day_of_week="sun"),
        "args": ("cnn",),
    },
}

# --- chatbot --------------------------------------------------------------------------------
# Below this confidence the bot asks the customer to rephrase instead of guessing.
CHAT_CONFIDENCE_THRESHOLD = float(os.environ.get("CHAT_CONFIDENCE_THRESHOLD", "0.45"))
# Longest customer message accepted over the websocket (characters); longer frames get an error.
CHAT_MESSAGE_MAX_CHARS = int(os.environ.get("CHAT_MESSAGE_MAX_CHARS", "1000"))
# Per-connection rate limit: at most CHAT_RATE_LIMIT_MESSAGES in CHAT_RATE_LIMIT_SECONDS.
CHAT_RATE_LIMIT_MESSAGES = int(os.environ.get("CHAT_RATE_LIMIT_MESSAGES", "20"))
CHAT_RATE_LIMIT_SECONDS = float(os.environ.get("CHAT_RATE_LIMIT_SECONDS", "10"))
# Threads a web process runs the chat's database services in (opening a conversation, its
# history, the staff console; customer messages too when CHAT_TURN_PROCESSES is 0). Two on
# PostgreSQL, so one call's database round trips overlap another's Python work; more only
# fight over the GIL. One on SQLite, which takes one writer at a time.
CHAT_SERVICE_THREADS = int(os.environ.get("CHAT_SERVICE_THREADS", "1" if _ON_SQLITE else "2"))
# Worker processes each web process answers customer messages in (chatbot/turn_workers.py):
# the web process keeps the websocket frames, the workers run the turns on the other cores.
# bench/chat_load.py, 100 clients, 2 cores, PostgreSQL, daphne: p95 38 ms (memory layer) and
# 38 ms (Redis) with 2 processes, against 89 and 390 ms with the turns in threads. 0 answers in
# the CHAT_SERVICE_THREADS threads instead: the default on SQLite, whose test databases live in
# memory and which takes one writer at a time anyway.
CHAT_TURN_PROCESSES = int(os.environ.get("CHAT_TURN_PROCESSES", "0" if _ON_SQLITE else "2"))
# How often (seconds) a process re-reads product names for the bot's entity extraction.
CHAT_VOCABULARY_REFRESH_SECONDS = float(os.environ.get("CHAT_VOCABULARY_REFRESH_SECONDS", "300"))

# --- vision ---------------------------------------------------------------------------------
# (vision settings: owned by the vision app)
# Largest photo upload (bytes) and decoded size (pixels) accepted by search by photo.
VISION_UPLOAD_MAX_BYTES = int(os.environ.get("VISION_UPLOAD_MAX_BYTES", str(5 * 1024 * 1024)))
VISION_UPLOAD_MAX_PIXELS = int(os.environ.get("VISION_UPLOAD_MAX_PIXELS", "25000000"))
# Photo searches per client (DRF rate syntax), for the API and the storefront page alike.
VISION_SEARCH_RATE = os.environ.get("VISION_SEARCH_RATE", "20/minute")
# Category suggestions below this confidence are not shown to the merchant.
VISION_SUGGESTION_MIN_CONFIDENCE = float(os.environ.get("VISION_SUGGESTION_MIN_CONFIDENCE", "0.5"))
# A new CNN is promoted when its validation accuracy is at most this much below the active one.
VISION_PROMOTION_TOLERANCE = float(os.environ.get("VISION_PROMOTION_TOLERANCE", "0.01"))
# Categorising and re-indexing photos runs the CNN: keep it off the web-facing default queue.
CELERY_TASK_ROUTES["vision.tasks.*"] = {"queue": "ml"}

# --- files ----------------------------------------------------------------------------------
ARTIFACT_ROOT = Path(os.environ.get("ARTIFACT_ROOT", VAR_DIR / "artifacts"))
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
MEDIA_URL = "/media/"
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", VAR_DIR / "staticfiles"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
IMPORT_REPORT_DIR = Path(os.environ.get("IMPORT_REPORT_DIR", VAR_DIR / "import-reports"))
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

# --- auth, i18n ---------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/admin/login/"
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- REST API ---------------------------------------------------------------------------------
REST_FRAMEWORK = {
    # Token first: an anonymous client is told 401 with ``WWW-Authenticate: Token``, not 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticatedOrReadOnly"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_RATES": {"anon": "120/minute", "user": "600/minute"},
}
SPECTACULAR_SETTINGS = {
    "TITLE": "ShopOps API",
    "DESCRIPTION": "Products, customers, orders, behaviour events and the shop's trained models.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Several models have a "status" field with different choices: name each enum explicitly.
    "ENUM_NAME_OVERRIDES": {
        "OrderStatusEnum": "shopops.store.models.Order.Status",
        "ModelVersionStatusEnum": "shopops.registry.models.ModelVersion.Status",
        "EventTypeEnum": "shopops.store.models.Event.Type",
    },
}

# --- production hardening (DJANGO_DEBUG=0) ------------------------------------------------------
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = _env_bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", str(60 * 60 * 24 * 365)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = _env_bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = _env_bool("DJANGO_HSTS_PRELOAD", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
    SECURE_REFERRER_POLICY = "same-origin"
    X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"daphne": {"level": "WARNING"}},
}

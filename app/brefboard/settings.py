"""BrefBoard settings, all read from the environment.

One settings module for every host (web, CPU worker, GPU worker): what differs
between them is the environment, never the code. Every variable is listed in
app/README.md. Nothing secret has a usable default outside DEBUG.
"""
from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote, urlparse

BASE_DIR = Path(__file__).resolve().parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw not in (None, "") else default


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    return float(raw) if raw not in (None, "") else default


def env_secret(name: str, default: str = "") -> str:
    """A secret from the file ``NAME_FILE`` names (kept out of the environment and of ``ps``), else
    from ``NAME`` itself. A named file that cannot be read stops the start, saying which
    variable (never the value)."""
    path = os.environ.get(f"{name}_FILE", "").strip()
    if not path:
        return os.environ.get(name, default)
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read().strip()
    except OSError as exc:
        raise RuntimeError(f"{name}_FILE cannot be read ({exc.strerror or type(exc).__name__})") from None


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


def allowed_hosts(entries: list[str]) -> list[str]:
    """DJANGO_ALLOWED_HOSTS as Django matches them: host names without port or scheme.

    Django compares the Host header's name, port removed, with each entry, so
    "localhost:8080" or "http://10.0.0.5" would never match (400 for every
    request): the port and scheme are dropped. "*" and ".example.org" stay."""
    out = []
    for entry in entries:
        host = entry.strip().lower()
        if "://" in host:
            host = host.split("://", 1)[1]
        host = host.split("/", 1)[0]
        if host.startswith("["):  # [::1] or [::1]:8080
            host = host[: host.find("]") + 1] if "]" in host else host
        elif host.count(":") == 1:
            host = host.split(":", 1)[0]
        if host and host not in out:
            out.append(host)
    return out


_DEFAULT_PORTS = {"http": "80", "https": "443"}


def csrf_trusted_origins(entries: list[str]) -> list[str]:
    """DJANGO_CSRF_TRUSTED_ORIGINS as Django compares them with a browser's Origin:
    "scheme://host[:port]" exactly, so case, a trailing slash or path, and a
    default port (which browsers leave out of Origin) are normalised away. A
    port that is not the default stays: "http://localhost:8080" is its own
    origin. An entry without a scheme is refused (it could never match)."""
    out = []
    for entry in entries:
        raw = entry.strip()
        scheme, sep, rest = raw.partition("://")
        scheme = scheme.lower()
        if not sep or scheme not in _DEFAULT_PORTS or not rest.split("/", 1)[0]:
            raise RuntimeError(
                f"DJANGO_CSRF_TRUSTED_ORIGINS: {raw!r} is not an origin; write it as "
                "http://host[:port] or https://host[:port] (the URL users type, port included)"
            )
        netloc = rest.split("/", 1)[0].lower()
        host, _, port = netloc.rpartition(":") if not netloc.endswith("]") and ":" in netloc else (netloc, "", "")
        if port == _DEFAULT_PORTS[scheme]:
            netloc = host
        origin = f"{scheme}://{netloc}"
        if origin not in out:
            out.append(origin)
    return out


def database_from_url(url: str) -> dict:
    """Turn ``postgres://user:pass@host:port/name`` or ``sqlite:///path`` into a DATABASES entry."""
    parsed = urlparse(url)
    if parsed.scheme in {"postgres", "postgresql", "pgsql"}:
        return {
            "ENGINE": "django_prometheus.db.backends.postgresql",  # django_db_* metrics
            "NAME": unquote(parsed.path.lstrip("/")),
            "USER": unquote(parsed.username or ""),
            "PASSWORD": unquote(parsed.password or ""),
            "HOST": parsed.hostname or "",
            "PORT": str(parsed.port or ""),
            "CONN_MAX_AGE": env_int("BREFBOARD_DB_CONN_MAX_AGE", 60),
            "CONN_HEALTH_CHECKS": True,
        }
    if parsed.scheme == "sqlite":
        return sqlite_database(parsed.path or str(BASE_DIR.parent / "brefboard.sqlite3"))
    raise ValueError(f"DATABASE_URL: unsupported scheme {parsed.scheme!r} (postgres:// or sqlite://)")


def sqlite_database(path: str) -> dict:
    return {
        "ENGINE": "django_prometheus.db.backends.sqlite3",  # django_db_* metrics
        "NAME": path,
        # WAL lets the web process read while a worker writes; FULL sync makes a
        # committed chunk survive a power cut (it is acknowledged only after commit).
        "OPTIONS": {
            "timeout": env_float("BREFBOARD_SQLITE_TIMEOUT", 30.0),  # seconds to wait for a lock
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;",
        },
        "TEST": {"NAME": os.environ.get("BREFBOARD_TEST_DB") or None},
    }


DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = env_secret("DJANGO_SECRET_KEY") or ("insecure-dev-key-only-for-debug" if DEBUG else "")
if not SECRET_KEY:
    raise RuntimeError("DJANGO_SECRET_KEY must be set (or DJANGO_DEBUG=1 for development)")
# Host names (a port or scheme given is dropped). A browser's POST passes the CSRF
# origin check when its Origin is this site as the Host header names it
# (scheme://host:port), or one of CSRF_TRUSTED_ORIGINS: list there every URL users
# type, port included, when a proxy in front does not pass the port on in Host,
# e.g. "http://localhost:8080,http://10.0.0.5".
ALLOWED_HOSTS = allowed_hosts(env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]"))
CSRF_TRUSTED_ORIGINS = csrf_trusted_origins(env_list("DJANGO_CSRF_TRUSTED_ORIGINS"))
# A refused POST answers JSON (in French) to fetch() callers, a French page to forms.
CSRF_FAILURE_VIEW = "brefboard.accounts.views.csrf_failure"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_prometheus",
    "brefboard.monitoring",
    "brefboard.accounts",
    "brefboard.recordings",
    "brefboard.library",
    "brefboard.api",
] + env_list("BREFBOARD_EXTRA_APPS")

MIDDLEWARE = [
    # Ours come first so that every request is counted, redirects to login included.
    "brefboard.monitoring.middleware.RequestMiddleware",
    "brefboard.monitoring.middleware.ExceptionMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The page language: the set_language cookie, else the browser's Accept-Language, else LANGUAGE_CODE.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Every page needs a login; the few public ones are marked @login_not_required.
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    # django-prometheus' request families that the dashboards read, where its After
    # middleware stood (in place of its Before/After pair, at a fraction of the cost).
    "brefboard.monitoring.middleware.PrometheusMiddleware",
]

ROOT_URLCONF = "brefboard.urls"
WSGI_APPLICATION = "brefboard.wsgi.application"

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
                "django.template.context_processors.i18n",
            ]
        },
    }
]

DATABASES = {
    "default": database_from_url(env_str("DATABASE_URL"))
    if env_str("DATABASE_URL")
    else sqlite_database(env_str("BREFBOARD_SQLITE_PATH", str(BASE_DIR.parent / "brefboard.sqlite3")))
}
# django-prometheus' cache backend: django_cache_* metrics.
CACHES = {"default": {"BACKEND": "django_prometheus.cache.backends.locmem.LocMemCache"}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# The interface in French (the original, and the language of a browser that asks for none) and English.
# Message ids are the French text; locale/en holds the English (README "Languages").
LANGUAGE_CODE = "fr"
LANGUAGES = [("fr", "Français"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_str("BREFBOARD_TIME_ZONE", "Europe/Paris")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]  # the recorder's JS and the CSS; collectstatic copies them
STATIC_ROOT = env_str("BREFBOARD_STATIC_ROOT", str(BASE_DIR.parent / "staticfiles"))

SESSION_COOKIE_SECURE = env_bool("BREFBOARD_SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BREFBOARD_BEHIND_TLS_PROXY") else None

# --- Uploads and recordings -------------------------------------------------
# Largest accepted upload (bytes); bigger requests get 413 before being stored.
BREFBOARD_MAX_UPLOAD_BYTES = env_int("BREFBOARD_MAX_UPLOAD_BYTES", 500 * 1024 * 1024)
# Largest single browser chunk (bytes): a few seconds of opus is a few kB.
BREFBOARD_MAX_CHUNK_BYTES = env_int("BREFBOARD_MAX_CHUNK_BYTES", 8 * 1024 * 1024)
# Django must not refuse the upload itself before our own check can say why.
DATA_UPLOAD_MAX_MEMORY_SIZE = max(BREFBOARD_MAX_CHUNK_BYTES, 2_621_440)
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
FILE_UPLOAD_TEMP_DIR = env_str("BREFBOARD_UPLOAD_TMP") or None
# Size of each database row holding a piece of a finished audio file.
BREFBOARD_AUDIO_PART_BYTES = env_int("BREFBOARD_AUDIO_PART_BYTES", 4 * 1024 * 1024)

# --- Transcription ----------------------------------------------------------
BREFBOARD_ENGINE = env_str("BREFBOARD_ENGINE", "faster-whisper")  # or openai-whisper
BREFBOARD_MODEL = env_str("BREFBOARD_MODEL", "small")  # name or local directory/file
BREFBOARD_DEVICE = env_str("BREFBOARD_DEVICE", "auto")  # auto | cpu | cuda
BREFBOARD_COMPUTE_TYPE = env_str("BREFBOARD_COMPUTE_TYPE", "")  # "" = engine default
BREFBOARD_LANGUAGE = env_str("BREFBOARD_LANGUAGE", "fr")  # "auto" = detect
BREFBOARD_BEAM_SIZE = env_int("BREFBOARD_BEAM_SIZE", 5)
# CTranslate2's threads per transcription process (faster-whisper); 0 = its default.
BREFBOARD_CPU_THREADS = env_int("BREFBOARD_CPU_THREADS", 0)
# sequential: Whisper window after window; batched: VAD-cut pieces of up to 30 s,
# BREFBOARD_WHISPER_BATCH_SIZE of them decoded at once (faster-whisper; docs/benchmarks.md).
BREFBOARD_WHISPER_PIPELINE = env_str("BREFBOARD_WHISPER_PIPELINE", "sequential")
BREFBOARD_WHISPER_BATCH_SIZE = env_int("BREFBOARD_WHISPER_BATCH_SIZE", 8)
# A recording longer than SPLIT_ABOVE seconds (0 = never) is cut in silences into pieces of
# about SPLIT_PIECE seconds, transcribed in parallel by any free worker (recordings/split.py).
BREFBOARD_SPLIT_ABOVE_SECONDS = env_float("BREFBOARD_SPLIT_ABOVE_SECONDS", 900.0)
BREFBOARD_SPLIT_PIECE_SECONDS = env_float("BREFBOARD_SPLIT_PIECE_SECONDS", 300.0)
BREFBOARD_LIVE_ENABLED = env_bool("BREFBOARD_LIVE_ENABLED", True)
# Speaker diarization after each transcription (transcription/diarize.py); needs the resemblyzer
# wheel's weights on the worker (the role installs it --no-deps). Without them: no speakers, logged.
BREFBOARD_DIARIZATION = env_bool("BREFBOARD_DIARIZATION", True)
BREFBOARD_LIVE_MIN_SECONDS = env_float("BREFBOARD_LIVE_MIN_SECONDS", 4.0)
# Queue new jobs go to; workers choose theirs with `celery worker -Q`.
BREFBOARD_DEFAULT_QUEUE = env_str("BREFBOARD_DEFAULT_QUEUE", "transcribe.cpu")
BREFBOARD_LIVE_QUEUE = env_str("BREFBOARD_LIVE_QUEUE", "") or BREFBOARD_DEFAULT_QUEUE
# A running job refreshes its heartbeat this often; one silent for STUCK_AFTER is stuck.
BREFBOARD_HEARTBEAT_SECONDS = env_float("BREFBOARD_HEARTBEAT_SECONDS", 10.0)
BREFBOARD_STUCK_AFTER_SECONDS = env_float("BREFBOARD_STUCK_AFTER_SECONDS", 120.0)
# A job queued for this long with no worker taking it is reported stuck too.
BREFBOARD_QUEUED_STUCK_AFTER_SECONDS = env_float("BREFBOARD_QUEUED_STUCK_AFTER_SECONDS", 3600.0)

# --- Summaries and the library ---------------------------------------------------
# Queue of the summary jobs (a worker started with -Q summaries takes them).
BREFBOARD_SUMMARY_QUEUE = env_str("BREFBOARD_SUMMARY_QUEUE", "") or "summaries"
# PostgreSQL text search configuration (stemming) of the library's search; applied at migrate.
BREFBOARD_SEARCH_CONFIG = env_str("BREFBOARD_SEARCH_CONFIG", "") or "french"
# An OpenAI-compatible endpoint for the summaries; none: the extractive summary.
# Strings, checked by summaries.llm.LLMConfig.from_mapping. The key: LLM_API_KEY_FILE
# names a file holding it (how the role deploys it); LLM_API_KEY itself still works.
LLM_BASE_URL = env_str("LLM_BASE_URL")
LLM_MODEL = env_str("LLM_MODEL")
LLM_API_KEY = env_str("LLM_API_KEY")
LLM_API_KEY_FILE = env_str("LLM_API_KEY_FILE")
LLM_TIMEOUT = env_str("LLM_TIMEOUT")
LLM_MAX_RETRIES = env_str("LLM_MAX_RETRIES")
LLM_CONTEXT_TOKENS = env_str("LLM_CONTEXT_TOKENS")
LLM_MAX_OUTPUT_TOKENS = env_str("LLM_MAX_OUTPUT_TOKENS")
LLM_TEMPERATURE = env_str("LLM_TEMPERATURE")

# --- The OpenAI-compatible API (/v1/, brefboard/api) -----------------------------------
# Requests each API token may make per window (seconds); 0 = no limit. Counted in the broker's Redis.
BREFBOARD_API_RATE_LIMIT = env_int("BREFBOARD_API_RATE_LIMIT", 30)
BREFBOARD_API_RATE_WINDOW = env_int("BREFBOARD_API_RATE_WINDOW", 60)
# How long POST /v1/audio/transcriptions waits for its job; keep it below gunicorn's timeout
# (the role's brefboard_gunicorn_timeout, 120 s): after it the answer is 504, the job goes on.
BREFBOARD_API_WAIT_SECONDS = env_float("BREFBOARD_API_WAIT_SECONDS", 100.0)

# --- Celery -----------------------------------------------------------------
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0")
CELERY_RESULT_BACKEND = None  # job state lives in the database, not in Celery results
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = BREFBOARD_DEFAULT_QUEUE
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A broker restart must not kill a running transcription: its state is in the database
# (claim, heartbeat, result), not in the broker. Celery's True cancels it on reconnect.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
# Redis re-delivers an unacknowledged message after this many seconds. A duplicate
# delivery is harmless (the job is claimed in the database) but costs a wake-up,
# so keep it above the longest transcription.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env_int("BREFBOARD_VISIBILITY_TIMEOUT", 4 * 3600),
}
CELERY_BEAT_SCHEDULE = {
    "detect-stuck-jobs": {
        "task": "brefboard.recordings.tasks.detect_stuck_jobs",
        "schedule": env_float("BREFBOARD_STUCK_CHECK_SECONDS", 60.0),
        "options": {"queue": env_str("BREFBOARD_HOUSEKEEPING_QUEUE", "celery")},
    }
}

# --- Metrics (/metrics and the workers' endpoints; brefboard/monitoring) -----------------
# Nothing may read them by default. Clients from these networks may (REMOTE_ADDR, e.g.
# "10.0.0.5/32,::1/128"; leave out 127.0.0.1 when a local reverse proxy forwards /metrics)...
BREFBOARD_METRICS_ALLOWED_CIDRS = env_list("BREFBOARD_METRICS_ALLOWED_CIDRS")
# ...and, when a password is set, anyone with these HTTP basic auth credentials.
BREFBOARD_METRICS_USERNAME = env_str("BREFBOARD_METRICS_USERNAME", "metrics")
BREFBOARD_METRICS_PASSWORD = env_secret("BREFBOARD_METRICS_PASSWORD")
# Queues whose waiting jobs are counted (default: every queue BrefBoard sends to).
BREFBOARD_METRICS_QUEUES = env_list("BREFBOARD_METRICS_QUEUES")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("BREFBOARD_LOG_LEVEL", "INFO")},
}

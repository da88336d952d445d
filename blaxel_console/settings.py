"""Settings, read from the environment through one `env` object (django-environ).

Two modes:

* **embedded** (the default, `BLAXEL_ENV` unset): SQLite under `var/`, an in-process
  cache, Celery tasks run eagerly, a secret key and a Fernet key generated once and kept
  under `var/`. Nothing to configure.
* **production** (`BLAXEL_ENV=production`): every secret comes from the environment and a
  missing one raises `ImproperlyConfigured`; HTTPS-only cookies, HSTS, SSL redirect.

`DATABASE_URL` and `REDIS_URL` switch the database and the cache / Celery broker in either
mode, so tests run the same code against SQLite and against PostgreSQL + Redis.
"""

import secrets
from pathlib import Path

import environ
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

BLAXEL_ENV = env.str("BLAXEL_ENV", default="embedded")
if BLAXEL_ENV not in {"embedded", "production"}:
    raise ImproperlyConfigured("BLAXEL_ENV must be 'embedded' or 'production'.")
PRODUCTION = BLAXEL_ENV == "production"

DATA_DIR = Path(env.str("DATA_DIR", default=str(BASE_DIR / "var")))
DATA_DIR.mkdir(parents=True, exist_ok=True)


def _local_secret(filename: str, generate) -> str:
    """A value generated once and kept under DATA_DIR; embedded mode only."""
    if PRODUCTION:
        raise ImproperlyConfigured(
            f"{filename.upper()} must be set in the environment when BLAXEL_ENV=production."
        )
    path = DATA_DIR / filename
    if not path.exists():
        path.write_text(generate())
        path.chmod(0o600)
    return path.read_text().strip()


DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="") or _local_secret(
    "secret_key", lambda: secrets.token_urlsafe(50)
)
# Fernet keys for encrypted fields: the first encrypts, all decrypt (rotation).
FERNET_KEYS = env.list("FERNET_KEYS", default=[]) or [
    _local_secret("fernet_key", lambda: Fernet.generate_key().decode())
]

SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
# Public base of the inference endpoints; default `{SITE_URL}/run`.
RUN_URL = env.str("RUN_URL", default=f"{SITE_URL}/run").rstrip("/")

ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS", default=[] if PRODUCTION else ["127.0.0.1", "localhost", "[::1]"]
)
if PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must be set when BLAXEL_ENV=production.")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "allauth",
    "allauth.account",
    "rest_framework",
    "adrf",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "oauth2_provider",
    "workspaces",
    "integrations",
    "models_api",
    "models_api.usage",
    "models_api.policies",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # The database down: a 503 page (or JSON under /v0) instead of a 500.
    "blaxel_console.availability.DatabaseUnavailableMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "blaxel_console.urls"
WSGI_APPLICATION = "blaxel_console.wsgi.application"
ASGI_APPLICATION = "blaxel_console.asgi.application"

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
                "workspaces.context_processors.workspace_context",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------
DATABASES = {"default": env.db_url("DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not memory, so that test servers started as subprocesses share it.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test-db.sqlite3")}
    # IMMEDIATE: a transaction takes the write lock when it begins, so two connections
    # that read then write (a request thread and the usage writer thread, or a server and
    # a test) wait for each other instead of deadlocking into "database is locked".
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache, Celery ----------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="blaxel"),
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 2, "SOCKET_TIMEOUT": 2},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "memory://")
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_QUEUE", default="celery")
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE: dict = {
    # Keep every valid connection's model catalog warm (its cache lives an hour).
    "integrations-refresh-catalogs": {
        "task": "integrations.tasks.refresh_catalogs",
        "schedule": 15 * 60,
    },
    # Check again connections whose provider was unreachable, once their backoff elapsed.
    "integrations-recheck-connections": {
        "task": "integrations.tasks.recheck_due_connections",
        "schedule": 60,
    },
}

# --- Auth (django-allauth) ---------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = env.str("ACCOUNT_EMAIL_VERIFICATION", default="optional")
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_ADAPTER = "workspaces.adapters.AccountAdapter"
LOGIN_REDIRECT_URL = "/"
LOGIN_URL = "/accounts/login/"

EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Blaxel Console <noreply@localhost>")

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Product settings -------------------------------------------------------------------
INVITATION_EXPIRY_HOURS = env.int("INVITATION_EXPIRY_HOURS", default=7 * 24)
# Hosts, IP addresses or CIDR ranges a connection's baseUrl may reach although private.
UPSTREAM_ALLOWED_HOSTS = env.list("UPSTREAM_ALLOWED_HOSTS", default=[])
GATEWAY_MAX_BODY_BYTES = env.int("GATEWAY_MAX_BODY_BYTES", default=10 * 1024 * 1024)
GATEWAY_CONNECT_TIMEOUT = env.float("GATEWAY_CONNECT_TIMEOUT", default=10.0)
GATEWAY_READ_TIMEOUT = env.float("GATEWAY_READ_TIMEOUT", default=600.0)
# How long a caller has to send a whole request body (seconds) before a 408: a body
# trickled byte by byte (slow loris) must not hold a call open for ever.
GATEWAY_BODY_READ_TIMEOUT = env.float("GATEWAY_BODY_READ_TIMEOUT", default=30.0)
# How long a connection has to send a request's headers (seconds), from its opening or
# from the first byte of the next request; then it is closed (`blaxel_console.http`).
HTTP_HEADERS_TIMEOUT = env.float("HTTP_HEADERS_TIMEOUT", default=10.0)
# Headers still incomplete after this many bytes get a 400 (httptools sets no bound).
HTTP_MAX_HEADER_BYTES = env.int("HTTP_MAX_HEADER_BYTES", default=64 * 1024)
# In-process cache lifetime of the gateway's auth / routing lookups (seconds).
GATEWAY_LOCAL_CACHE_TTL = env.float("GATEWAY_LOCAL_CACHE_TTL", default=2.0)
# With Redis: how long the gateway gathers usage records and token counts before sending
# them in one pipeline (models_api.usage.recorder).
GATEWAY_USAGE_FLUSH_SECONDS = env.float("GATEWAY_USAGE_FLUSH_SECONDS", default=0.02)
# Middleware of the gateway path (/run/), which skips the console's MIDDLEWARE.
GATEWAY_MIDDLEWARE: list[str] = []
# While Redis (the policy counters) cannot be reached: "open" admits calls to model APIs
# with policies (the gateway stays up; limits resume with Redis), "closed" refuses them
# with 503 (no call ever passes a limit unchecked).
POLICY_FAILURE_MODE = env.str("POLICY_FAILURE_MODE", default="open")
if POLICY_FAILURE_MODE not in ("open", "closed"):
    raise ImproperlyConfigured("POLICY_FAILURE_MODE must be “open” or “closed”.")

# --- Usage pipeline, retention, metrics (models_api/usage/) -----
# Redis list holding usage records until a worker writes them (name under the cache prefix).
USAGE_QUEUE_KEY = env.str("USAGE_QUEUE_KEY", default="usage")
USAGE_DRAIN_BATCH_SIZE = env.int("USAGE_DRAIN_BATCH_SIZE", default=500)
USAGE_DRAIN_INTERVAL = env.float("USAGE_DRAIN_INTERVAL", default=2.0)  # seconds
# How long a drain holds its lock without renewing it (it renews after every batch): a
# worker killed mid-batch holds it that long, then the next drain writes that batch.
USAGE_DRAIN_LOCK_SECONDS = env.int("USAGE_DRAIN_LOCK_SECONDS", default=60)
USAGE_RETENTION_DAYS = env.int("USAGE_RETENTION_DAYS", default=30)
USAGE_ROLLUP_RETENTION_DAYS = env.int("USAGE_ROLLUP_RETENTION_DAYS", default=400)
# Bearer token for Prometheus' scrape of /metrics; the endpoint is off (404) when unset.
# OAuth client credentials for service accounts (django-oauth-toolkit, `workspaces.oauth`).
# Access tokens are short-lived; a refresh token is single-use (rotated) and dies 30 days
# after its access token expired. Tokens are stored only as SHA-256 checksums (RFC 9700),
# client secrets only as password hashes.
OAUTH_ACCESS_TOKEN_SECONDS = env.int("OAUTH_ACCESS_TOKEN_SECONDS", default=3600)
# Named so that migrations can depend on it (it is a swappable model).
OAUTH2_PROVIDER_APPLICATION_MODEL = "oauth2_provider.Application"
OAUTH2_PROVIDER = {
    "ACCESS_TOKEN_EXPIRE_SECONDS": OAUTH_ACCESS_TOKEN_SECONDS,
    "REFRESH_TOKEN_EXPIRE_SECONDS": 30 * 24 * 3600,
    "ROTATE_REFRESH_TOKEN": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    # RFC 9700 (OAuth 2.0 Security BCP) throughout: only client credentials and refresh
    # are served, but every other gate is closed too (and `check --deploy` stays clean).
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    "COMPLIANT_BCP_RFC9700_REFRESH_TOKEN": True,
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_SCHEME": True,
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_MATCHING": True,
    "COMPLIANT_BCP_RFC9700_PKCE_REQUIRED": True,
    "ALLOWED_REDIRECT_URI_SCHEMES": ["https"],
    "SCOPES": {"default": "The service account's own access"},
    "DEFAULT_SCOPES": ["default"],
}

METRICS_TOKEN = env.str("METRICS_TOKEN", default="")


CELERY_BEAT_SCHEDULE.update(
    {
        "models-api-drain-usage": {
            "task": "models_api.drain_usage_queue",
            "schedule": USAGE_DRAIN_INTERVAL,
            "options": {"expires": 10 * USAGE_DRAIN_INTERVAL},
        },
        "models-api-purge-usage": {"task": "models_api.purge_old_usage", "schedule": 3600},
    }
)

# --- REST API -------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "workspaces.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "workspaces.api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Blaxel Console API",
    "DESCRIPTION": "Control-plane API (/v0) of Blaxel Console, shaped like Blaxel's.",
    "VERSION": "0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI assets served by the project (no CDN).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- i18n, static -----------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
if not PRODUCTION:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
# Embedded mode serves static files straight from the source folders (no collectstatic).
WHITENOISE_USE_FINDERS = not PRODUCTION
WHITENOISE_AUTOREFRESH = DEBUG

# --- Security ---------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads it to send X-CSRFToken
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
    # Health checks and the load balancer reach the app over plain HTTP internally.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {"redact_url_secrets": {"()": "blaxel_console.log_filters.RedactUrlSecrets"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["redact_url_secrets"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
        # Their debug lines carry issued tokens and request bodies (client secrets).
        "oauthlib": {"level": "WARNING"},
        "oauth2_provider": {"level": "WARNING"},
    },
}

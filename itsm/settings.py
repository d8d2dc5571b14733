"""Settings for the ITSM portal: one module, configured from the environment (12-factor).

With no environment set, the portal runs on the embedded default (DESIGN.md principle 6):
SQLite at var/itsm.sqlite3, Celery on kombu's filesystem transport under var/broker/ and a
a cache on disk under var/cache/. DATABASE_URL and REDIS_URL switch to PostgreSQL and Redis; ITSM_PRODUCTION=1
turns on the production hardening that `manage.py check --deploy` expects.
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()

PRODUCTION = env.bool("ITSM_PRODUCTION", default=False)
DEBUG = env.bool("DEBUG", default=not PRODUCTION)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if PRODUCTION:
        raise ImproperlyConfigured("SECRET_KEY must be set when ITSM_PRODUCTION=1")
    SECRET_KEY = "dev-only-insecure-key-change-me-" + "x" * 32  # noqa: S105 (dev default only)

ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS", default=[] if PRODUCTION else ["localhost", "127.0.0.1", "[::1]", "testserver"]
)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
CSRF_FAILURE_VIEW = "itsm.views.csrf_failure"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.forms",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "itsm.core",
    "attachments",
    "oncall",
    "incidents",
    "comms",
    "intake",
    "backups",
    "changes",
    "releases",
    "itsm",
]

MIDDLEWARE = [
    # First: it times the whole stack (docs/monitoring.md).
    "itsm.core.monitoring.http.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "itsm.core.middleware.UserPreferencesMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "itsm.urls"
WSGI_APPLICATION = "itsm.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "itsm.core.context_processors.portal",
            ],
        },
    },
]

# One form rendering for the whole portal: Bootstrap classes on every widget
# (itsm/core/form_renderer.py) and templates/django/forms/ overrides.
FORM_RENDERER = "itsm.core.form_renderer.PortalFormRenderer"

DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'itsm.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # WAL lets the web process read while the worker writes (embedded default only).
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "core.User"
# Single sign-on backends (LDAP, OpenID Connect) are put in front by their blocks below; the
# model backend stays so local accounts (the administrator's) always work.
AUTHENTICATION_BACKENDS = ["itsm.core.backends.AccountBackend"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
# Failed logins allowed per (username, address) inside the window before the form refuses.
LOGIN_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
LOGIN_FAILURE_WINDOW = env.int("LOGIN_FAILURE_WINDOW", default=900)

# LDAP / Active Directory login (docs/sso.md): off unless LDAP_SERVER_URI is set. Then the
# directory's backend is tried first and local accounts (ModelBackend) still log in after it.
# python-ldap is imported only when it is on.
LDAP_SERVER_URI = env.str("LDAP_SERVER_URI", default="")
if LDAP_SERVER_URI:
    from itsm.core.ldap_config import auth_ldap_settings

    vars().update(
        auth_ldap_settings(
            server_uri=LDAP_SERVER_URI,
            bind_dn=env.str("LDAP_BIND_DN", default=""),
            bind_password=env.str("LDAP_BIND_PASSWORD", default=""),
            user_search_base=env.str("LDAP_USER_SEARCH_BASE", default=""),
            user_filter=env.str("LDAP_USER_FILTER", default="(uid=%(user)s)"),
            user_dn_template=env.str("LDAP_USER_DN_TEMPLATE", default=""),
            group_search_base=env.str("LDAP_GROUP_SEARCH_BASE", default=""),
            group_type=env.str("LDAP_GROUP_TYPE", default="groupOfNames"),
            group_filter=env.str("LDAP_GROUP_FILTER", default=""),
            start_tls=env.bool("LDAP_START_TLS", default=False),
            ca_cert_file=env.str("LDAP_CA_CERT_FILE", default=""),
            require_cert=env.str("LDAP_REQUIRE_CERT", default="demand"),
            timeout=env.int("LDAP_TIMEOUT", default=5),
            attr_map={
                "first_name": env.str("LDAP_ATTR_FIRST_NAME", default="givenName"),
                "last_name": env.str("LDAP_ATTR_LAST_NAME", default="sn"),
                "email": env.str("LDAP_ATTR_EMAIL", default="mail"),
                "display_name": env.str("LDAP_ATTR_DISPLAY_NAME", default="displayName"),
            },
            group_roles=env.str("LDAP_GROUP_ROLES", default="{}"),
            group_teams=env.str("LDAP_GROUP_TEAMS", default="{}"),
        )
    )

# Internationalisation: Japanese first, English second (DESIGN.md).
LANGUAGE_CODE = env.str("LANGUAGE_CODE", default="ja")
LANGUAGES = [("ja", _("Japanese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="Asia/Tokyo")
USE_I18N = True
USE_TZ = True
# Public holidays for the business calendar (python-holidays country code).
HOLIDAY_COUNTRY = env.str("HOLIDAY_COUNTRY", default="JP")

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

# Attachments on incidents, postmortems and changes (docs/attachments.md). Files live in their own
# storage alias, so moving them to S3-compatible storage leaves the default storage alone. Nothing
# serves MEDIA_ROOT: every download goes through a view that checks who may see the record.
MEDIA_ROOT = env.path("MEDIA_ROOT", default=str(VAR_DIR / "media"))
ATTACHMENT_STORAGE = env.str("ATTACHMENT_STORAGE", default="filesystem")
if ATTACHMENT_STORAGE == "s3":
    # django-storages (`pip install -e '.[s3]'`); boto3 reads AWS_ACCESS_KEY_ID and
    # AWS_SECRET_ACCESS_KEY from the environment itself.
    STORAGES["attachments"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env.str("ATTACHMENT_S3_BUCKET"),
            "endpoint_url": env.str("ATTACHMENT_S3_ENDPOINT_URL", default="") or None,
            "region_name": env.str("ATTACHMENT_S3_REGION", default="") or None,
            "location": env.str("ATTACHMENT_S3_PREFIX", default=""),
            "default_acl": "private",
            "querystring_auth": True,
            "file_overwrite": False,
        },
    }
elif ATTACHMENT_STORAGE == "filesystem":
    # No "location": the storage follows MEDIA_ROOT (and a test's override of it).
    STORAGES["attachments"] = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
else:
    raise ImproperlyConfigured("ATTACHMENT_STORAGE must be 'filesystem' or 's3'")
ATTACHMENT_MAX_BYTES = env.int("ATTACHMENT_MAX_BYTES", default=10 * 1024 * 1024)
# Type names of attachments.files.TYPES; the extension and the content must both match one.
ATTACHMENT_ALLOWED_TYPES = env.list(
    "ATTACHMENT_ALLOWED_TYPES",
    default=["png", "jpeg", "gif", "webp", "pdf", "txt", "log", "csv", "json", "zip", "gz"],
)
# Uploads above this size go to a temporary file instead of memory; form fields (not files)
# stay capped at Django's 2.5 MB. The first handler stops keeping a file's bytes past
# ATTACHMENT_MAX_BYTES (attachments/uploads.py).
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
FILE_UPLOAD_HANDLERS = [
    "attachments.uploads.SizeLimitUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]

REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "itsm.core.cache.RedisCache", "LOCATION": REDIS_URL}}
else:
    # The embedded default runs web, worker and beat as separate processes: they share a cache
    # on disk, so a version bumped by one (the business calendar, the incident configuration)
    # reaches the others (a per-process memory cache never would).
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

# Celery: Redis is only a doorbell; deadlines live in indexed columns (DESIGN.md §1–2).
BROKER_DIR = VAR_DIR / "broker"
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
else:
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Periodic sweeps are declared by each app as ``beat_schedule`` on its AppConfig.
# How often the deadline sweeps run, in seconds (DESIGN.md § budgets: escalation latency).
SWEEP_INTERVAL_SECONDS = env.int("SWEEP_INTERVAL_SECONDS", default=30)
# Messages about one incident to one person within this many seconds are merged into one
# (the first goes at once; the next ones wait for the window's end). 0 turns merging off.
NOTIFICATION_BURST_SECONDS = env.int("NOTIFICATION_BURST_SECONDS", default=60)
# How long the signed one-time "Acknowledge" link of a page stays valid, in seconds.
PAGE_ACK_LINK_MAX_AGE = env.int("PAGE_ACK_LINK_MAX_AGE", default=24 * 3600)
# The public status page (docs/comms.md): requests per client address per window (seconds).
STATUS_PAGE_RATE_LIMIT = tuple(env.list("STATUS_PAGE_RATE_LIMIT", cast=int, default=[120, 60]))
STATUS_SUBSCRIBE_RATE_LIMIT = tuple(
    env.list("STATUS_SUBSCRIBE_RATE_LIMIT", cast=int, default=[5, 600])
)
STATUS_CONFIRM_MAX_AGE = env.int("STATUS_CONFIRM_MAX_AGE", default=2 * 24 * 3600)

# Self-monitoring (docs/monitoring.md): GET /metrics answers a scraper sending
# "Authorization: Bearer <METRICS_TOKEN>" (empty: no token accepted) or connecting from one of
# METRICS_ALLOWED_NETWORKS (CIDR list; empty: none). PROMETHEUS_MULTIPROC_DIR (read by
# prometheus_client itself, not here) turns on its multiprocess mode under gunicorn.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
METRICS_ALLOWED_NETWORKS = env.list("METRICS_ALLOWED_NETWORKS", default=["127.0.0.1/32", "::1/128"])

EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="itsm@localhost")
# Absolute base URL of the links in notifications (sent by the worker, which has no request).
# Unset, it is the development server's address on PORT (`make run` exports SITE_URL for the
# worker and beat too: honcho gives every process its own PORT).
PORT = env.int("PORT", default=8000)
SITE_URL = env.str("SITE_URL", default=f"http://127.0.0.1:{PORT}")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "itsm.core.api.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "itsm.core.api.permissions.TokenScopePermission",
    ],
    "DEFAULT_PAGINATION_CLASS": "itsm.core.api.pagination.PortalPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "itsm.core.api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "itsm.core.api.exceptions.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("API_THROTTLE_ANON", default="60/min"),
        "user": env.str("API_THROTTLE_USER", default="6000/min"),
    },
    "DEFAULT_VERSIONING_CLASS": None,
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "ITSM portal API",
    "DESCRIPTION": (
        "Incidents, changes, releases and backup & recovery (seed §8–§11). "
        "Lifecycle changes go through `/<resource>/<number>/transitions/`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Every operation also documents the shared error bodies (400/401/403/404/409/…).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "itsm.core.api.schema.add_error_responses",
    ],
    # Choice sets that share a field name across apps get explicit component names.
    "ENUM_NAME_OVERRIDES": {
        "PostmortemKindEnum": "incidents.choices.PostmortemKind",
        "ApprovalKindEnum": "changes.choices.ApprovalKind",
        "BackupJobKindEnum": "backups.choices.JobKind",
        "DeploymentStatusEnum": "releases.choices.DeploymentStatus",
        "NotificationUrgencyEnum": "itsm.core.models.Urgency",
        "UrgencyEnum": "incidents.choices.Urgency",
        "ServiceStatusEnum": "comms.choices.ServiceStatus",
        "UpdateStatusEnum": "comms.choices.UpdateStatus",
        "AudienceEnum": "comms.choices.Audience",
        "LinkKindEnum": "incidents.models.link.LinkKind",
        # the same choices under several field names (configuration resources)
        "PriorityEnum": "incidents.choices.Priority",
        "RoleEnum": "itsm.core.roles.Role",
        "StageEnum": "releases.choices.Stage",
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {
        "no_expected_tracebacks": {"()": "itsm.log_filters.ExpectedErrorsWithoutTraceback"}
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # Django's own console handler (DEBUG) would print every record a second time: the
        # records go to the root handler only.
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        "django.request": {"filters": ["no_expected_tracebacks"]},
        "django.db.backends": {"level": "WARNING"},
    },
}

if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    # Load balancers probe over plain HTTP inside the network.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
    SECURE_CONTENT_TYPE_NOSNIFF = True
    X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True

# OpenID Connect login (docs/sso.md): off unless OIDC_ISSUER or the explicit endpoints are
# set. mozilla-django-oidc reads the OIDC_* names below; itsm.core.oidc looks the provider's
# endpoints up in its discovery document when only the issuer is given.
OIDC_ISSUER = env.str("OIDC_ISSUER", default="")
OIDC_OP_AUTHORIZATION_ENDPOINT = env.str("OIDC_OP_AUTHORIZATION_ENDPOINT", default="")
OIDC_OP_TOKEN_ENDPOINT = env.str("OIDC_OP_TOKEN_ENDPOINT", default="")
OIDC_OP_USER_ENDPOINT = env.str("OIDC_OP_USER_ENDPOINT", default="")
OIDC_OP_JWKS_ENDPOINT = env.str("OIDC_OP_JWKS_ENDPOINT", default="")
OIDC_OP_LOGOUT_ENDPOINT = env.str("OIDC_OP_LOGOUT_ENDPOINT", default="")
OIDC_RP_CLIENT_ID = env.str("OIDC_RP_CLIENT_ID", default="")
OIDC_RP_CLIENT_SECRET = env.str("OIDC_RP_CLIENT_SECRET", default="")
OIDC_RP_SIGN_ALGO = env.str("OIDC_RP_SIGN_ALGO", default="RS256")
OIDC_RP_SCOPES = env.str("OIDC_RP_SCOPES", default="openid email profile")
OIDC_PROVIDER_NAME = env.str("OIDC_PROVIDER_NAME", default="")
OIDC_USERNAME_CLAIM = env.str("OIDC_USERNAME_CLAIM", default="preferred_username")
OIDC_GROUPS_CLAIM = env.str("OIDC_GROUPS_CLAIM", default="groups")
OIDC_GROUP_ROLES = env.str("OIDC_GROUP_ROLES", default="{}")  # JSON, read by oidc.role_map()
OIDC_GROUP_TEAMS = env.str("OIDC_GROUP_TEAMS", default="{}")
OIDC_CREATE_USER = env.bool("OIDC_CREATE_USERS", default=True)
OIDC_TIMEOUT = env.int("OIDC_TIMEOUT", default=10)
OIDC_USE_PKCE = True
OIDC_PKCE_CODE_CHALLENGE_METHOD = "S256"
OIDC_STORE_ID_TOKEN = True  # the id_token_hint of the provider's logout
OIDC_OP_LOGOUT_URL_METHOD = "itsm.core.oidc.logout_url"
OIDC_AUTHENTICATE_CLASS = "itsm.core.oidc.AuthenticateView"
OIDC_CALLBACK_CLASS = "itsm.core.oidc.CallbackView"
LOGIN_REDIRECT_URL_FAILURE = LOGIN_URL
if OIDC_ISSUER or OIDC_OP_AUTHORIZATION_ENDPOINT:
    AUTHENTICATION_BACKENDS.insert(0, "itsm.core.oidc.OIDCBackend")

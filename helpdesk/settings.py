"""Settings for the helpdesk, read from environment variables (and an optional `.env` file).

Every variable is listed in the README's configuration table. Defaults are those of the embedded mode:
SQLite under `var/`, a filesystem Celery broker, mail printed to the console. Production sets
`DATABASE_URL`, `REDIS_URL`, `SECRET_KEY` and `ALLOWED_HOSTS` (see docker-compose.yml).
"""

import os
from pathlib import Path

import environ
from django.conf import global_settings
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# --- Core -------------------------------------------------------------------------------------------

DEBUG = env.bool("DEBUG", default=False)

# pytest sets PYTEST_VERSION while it runs; tests need no secret from the environment.
TESTING = "PYTEST_VERSION" in os.environ
# Production hardening (HTTPS redirect, secure cookies, hashed static files) unless debugging or testing.
PRODUCTION = not (DEBUG or TESTING)

# Runtime data (SQLite file, attachments, embedded broker) lives here, outside any web root.
VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var")))

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not (DEBUG or TESTING):
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set the SECRET_KEY environment variable "
            "(or DEBUG=true for local development)."
        )
    SECRET_KEY = "insecure-development-key-do-not-use-in-production"  # noqa: S105 - DEBUG/tests only

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    # Full-text and trigram search lookups (tickets.search); inert on SQLite.
    "django.contrib.postgres",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "crispy_forms",
    "crispy_bootstrap5",
    "django_celery_beat",
    "axes",
    "helpdesk",
    "tickets",
    "sla",
    "portal",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Before anything reads a body: an oversize request is answered 413 from its headers.
    "helpdesk.limits.RequestSizeLimitMiddleware",
    # Before anything uses a parameter: a NUL or a lone surrogate in one answers 400 naming it.
    "helpdesk.parameters.ParameterTextMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "portal.middleware.ContentSecurityPolicyMiddleware",
    # Agents read the console in their own time zone (tickets/admin/timezones.py).
    "tickets.admin.timezones.AgentTimezoneMiddleware",
    # Last, as django-axes asks: it turns a locked-out sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "helpdesk.urls"
WSGI_APPLICATION = "helpdesk.wsgi.application"
# HTTP and the live-update WebSockets under /ws/ (Django Channels): what uvicorn and gunicorn serve.
ASGI_APPLICATION = "helpdesk.asgi.application"

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
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------------------------------

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'helpdesk.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    if DATABASES["default"]["NAME"] not in ("", ":memory:"):
        # A fresh clone has no var/ folder yet: the embedded database needs one to be created in.
        Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # The web server, the Celery worker and beat share the file: wait for locks instead of failing,
    # take the write lock at BEGIN, and let readers run beside the writer (WAL).
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    # A reused connection is checked at the start of each request; a broken one is replaced, so the site
    # recovers by itself when the database comes back.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # An unreachable database fails a request within seconds (a 503, see helpdesk/errors.py) instead of
    # holding the worker: libpq gives up connecting after connect_timeout, and tcp_user_timeout (ms) drops
    # a connection whose host vanished mid-query (no reset ever comes) after 15 s instead of the kernel's
    # ~15 minutes; with a reconnect attempt that stays under gunicorn's 30 s worker timeout, so the client
    # still gets its 503. Values in DATABASE_URL's query string (?connect_timeout=…) win.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "connect_timeout", env.int("DATABASE_CONNECT_TIMEOUT", default=5)
    )
    DATABASES["default"]["OPTIONS"].setdefault("tcp_user_timeout", 15_000)
    # No JIT compilation: every query here reads a bounded, indexed slice, and PostgreSQL's cost estimate
    # of a full-text condition can be far above what it reads; JIT then spent 30–60 ms compiling a query
    # that runs in 5 (seen at a million tickets). DATABASE_URL's ?options=… wins.
    DATABASES["default"]["OPTIONS"].setdefault("options", "-c jit=off")
    # A pool of connections per process (psycopg_pool) instead of one kept per thread. Under ASGI, which
    # helpdesk/asgi.py turns this on for, every request runs in a thread of its own: a connection kept
    # per thread (CONN_MAX_AGE) would be opened anew for each request and left behind by it.
    if env.bool("DATABASE_POOL", default=False):
        DATABASES["default"]["CONN_MAX_AGE"] = 0  # the pool keeps them
        DATABASES["default"]["OPTIONS"]["pool"] = {
            "min_size": 1,
            "max_size": env.int("DATABASE_POOL_MAX_SIZE", default=10),
            # Waiting for a free connection gives up like connecting does (a 503, not a hung request).
            "timeout": DATABASES["default"]["OPTIONS"]["connect_timeout"],
        }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache and broker -------------------------------------------------------------------------------

REDIS_URL = env.str("REDIS_URL", default="")

if REDIS_URL:
    CACHES = {
        "default": {
            # Answers as a miss while Redis is unreachable (helpdesk/cache.py): a request never fails on it.
            "BACKEND": "helpdesk.cache.ResilientRedisCache",
            "LOCATION": REDIS_URL,
            # A cache answers within a millisecond: give up soon on a Redis that does not.
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Keys carry the database's name: one Redis may serve several databases (tests, benchmarks, staging).
CACHES["default"]["KEY_PREFIX"] = "helpdesk"
CACHES["default"]["KEY_FUNCTION"] = "helpdesk.cache.make_key"

CELERY_BROKER_DIR = VAR_DIR / "celery-broker"
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": 3600,
        # Without it a publish waits forever on a Redis that stopped answering without closing the socket.
        "socket_timeout": 1,
    }
else:
    # Embedded broker: messages are files under var/, so escalation works with no server installed.
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_BROKER_DIR / "queue"),
        "data_folder_out": str(CELERY_BROKER_DIR / "queue"),
        "control_folder": str(CELERY_BROKER_DIR / "control"),
        "processed_folder": str(CELERY_BROKER_DIR / "processed"),
        "store_processed": False,
        # The transport sleeps this long whenever a queue is empty; the default (1 s) paced the worker
        # to about one message a second.
        "polling_interval": 0.05,
    }
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_QUEUE", default="helpdesk")
# Escalations (S1 pages first) have a queue of their own, with a worker of their own (the "pager"), so a
# page never waits behind courtesy emails or webhook deliveries.
CELERY_ESCALATION_QUEUE = f"{CELERY_TASK_DEFAULT_QUEUE}.escalations"
CELERY_TASK_ROUTES = {"sla.tasks.deliver_escalation": {"queue": CELERY_ESCALATION_QUEUE}}
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# A request must not hang when the broker is down: publishing gives up quickly and the outbox process
# delivers what was not enqueued (helpdesk/outbox.py).
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.2,
}
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
# Task modules outside the apps' tasks.py files.
CELERY_IMPORTS = ("tickets.outgoing_webhooks", "tickets.notifications", "tickets.channels.tasks")

# The outbox process (`manage.py outbox`): seconds between two looks at the database when no NOTIFY woke
# it. On PostgreSQL a commit wakes it at once, so this is the backstop; on SQLite it is the only way.
OUTBOX_POLL_SECONDS = env.float("OUTBOX_POLL_SECONDS", default=1.0)
# Seconds a row's Celery task (the fast path) has to send it before the outbox process does: with a
# working broker the two do not both work on every page, email and webhook; without one, this is the
# delay the outbox process adds.
OUTBOX_GRACE_SECONDS = env.float("OUTBOX_GRACE_SECONDS", default=1.0)

# Outgoing webhooks (integrations' subscriptions).
WEBHOOK_TIMEOUT_SECONDS = env.int("WEBHOOK_TIMEOUT_SECONDS", default=5)
WEBHOOK_DISABLE_AFTER = env.int("WEBHOOK_DISABLE_AFTER", default=15)
# Webhooks (subscriptions and on-call contacts) never reach loopback, private (RFC 1918), CGNAT or IPv6
# unique-local addresses unless this is true: for receivers on the premises' own network. Link-local
# (cloud metadata), multicast and reserved addresses stay refused either way (helpdesk/egress.py).
WEBHOOK_ALLOW_PRIVATE_NETWORKS = env.bool("WEBHOOK_ALLOW_PRIVATE_NETWORKS", default=False)

# --- Live updates (WebSockets under /ws/, Django Channels) ------------------------------------------

# How pages hear of new events (tickets/live_updates.py). With Redis, whichever process commits an event
# (web, worker, beat) publishes it to the channel layer, under keys of its own (LIVE_CHANNEL_PREFIX).
# Embedded (no REDIS_URL): each web process reads the new Event rows every LIVE_TAIL_SECONDS itself, so
# the worker's and beat's events (SLA warnings, breaches, pages) reach the pages too (tickets/live/layers.py).
LIVE_TAIL_SECONDS = env.float("LIVE_TAIL_SECONDS", default=0.25)
if REDIS_URL:
    # Redis pub/sub: each web process subscribes once to each group its sockets follow and hands an event
    # to its own sockets in memory, so an event costs Redis one message per group and process, not one per
    # socket (channels-redis' list layer: 1,000 sockets meant 1,000 messages through Redis per event, and
    # more connections than its pool allows; docs/performance.md, "Live updates at scale"). Pub/sub keeps
    # nothing for a process that is not connected: pages catch up from the database by event id, and each
    # web process checks that Redis kept its subscriptions (tickets/live/watch.py).
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {
                "hosts": [
                    {
                        "address": REDIS_URL,
                        "socket_connect_timeout": 1,
                        "socket_timeout": 15,
                        "socket_keepalive": True,
                    }
                ],
                "prefix": env.str("LIVE_CHANNEL_PREFIX", default="helpdesk-live"),
            },
        }
    }
else:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "tickets.live.layers.DatabaseEventsChannelLayer",
            "CONFIG": {"interval": LIVE_TAIL_SECONDS, "capacity": 500},
        }
    }
# Each web process looks this often whether Redis still holds its sockets' subscriptions (a Redis
# restarted, failed over or flushed forgets them silently); if not, they join again and catch up from the
# database (tickets/live/watch.py). One Redis command per look and process.
LIVE_LAYER_CHECK_SECONDS = env.float("LIVE_LAYER_CHECK_SECONDS", default=1.0)
# A page whose socket cannot connect (a proxy that does not upgrade /ws/) polls for the same events, at
# most once per this many seconds (faster polls are answered 429 with Retry-After).
LIVE_POLL_MIN_SECONDS = env.int("LIVE_POLL_MIN_SECONDS", default=3)
# What a browser may send on a socket (heartbeats): the largest message, and how many a minute.
LIVE_CLIENT_MESSAGE_MAX_BYTES = env.int("LIVE_CLIENT_MESSAGE_MAX_BYTES", default=1024)
LIVE_CLIENT_MESSAGES_PER_MINUTE = env.int("LIVE_CLIENT_MESSAGES_PER_MINUTE", default=30)
# Events a reconnecting page is sent at most to catch up; past that it reloads instead.
LIVE_REPLAY_LIMIT = env.int("LIVE_REPLAY_LIMIT", default=200)
# On (re)connecting, a page is also sent the events of the last this many seconds just below the last id
# it shows (it shows each once): on PostgreSQL a transaction may commit after a later one (0: off).
LIVE_REPLAY_OVERLAP_SECONDS = env.int("LIVE_REPLAY_OVERLAP_SECONDS", default=10)

# --- Chat (the portal's chat panel; tickets/chats.py) -----------------------------------------------
# A chat with no message for this many minutes has gone quiet: the customer is mailed its transcript and
# a link to the ticket, once (the quiet sweep, every minute).
CHAT_QUIET_MINUTES = env.int("CHAT_QUIET_MINUTES", default=15)
# A chat line sent over the socket: the largest message (a 5,000-character line, JSON-escaped), and how
# many lines a minute (with a burst of 10); faster lines are refused with a field error, not saved.
CHAT_MESSAGE_MAX_BYTES = env.int("CHAT_MESSAGE_MAX_BYTES", default=32768)
CHAT_MESSAGES_PER_MINUTE = env.int("CHAT_MESSAGES_PER_MINUTE", default=20)
# An agent counts as online while a console page of theirs holds a socket; a socket that stops sending
# heartbeats (every 25 s: a crashed browser, a killed server) drops out after this many seconds.
AGENT_PRESENCE_SECONDS = env.int("AGENT_PRESENCE_SECONDS", default=75)

# --- Authentication ---------------------------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    # django-axes counts failed sign-ins (portal and console) and locks out brute force.
    "helpdesk.auth_backends.SignInThrottleBackend",
    # A user's permissions in one query (not ModelBackend's two), in the cache ModelBackend reads too.
    "helpdesk.auth_backends.PermissionsBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "portal:login"
LOGIN_REDIRECT_URL = "portal:tickets"
LOGOUT_REDIRECT_URL = "portal:login"
PASSWORD_RESET_TIMEOUT = 60 * 60 * 24
# Password-reset (and invitation) mails asked for, per client address and per email address (e.g.
# "10/hour"; empty: no limit). A request over a limit is answered exactly as any other; no mail goes.
PASSWORD_RESET_RATE_PER_ADDRESS = env.str("PASSWORD_RESET_RATE_PER_ADDRESS", default="10/hour")
PASSWORD_RESET_RATE_PER_EMAIL = env.str("PASSWORD_RESET_RATE_PER_EMAIL", default="3/hour")

# Proxies in front of the web server, each appending to X-Forwarded-For: how far that header is trusted
# when telling clients apart (0: never, the socket's address; behind the TLS proxy the README describes, 1).
# One setting for every per-address limit: sign-in lockouts, API throttles, password-reset counters
# (helpdesk/clients.py). API_NUM_PROXIES is its former name, still read when this one is unset.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=env.int("API_NUM_PROXIES", default=0))

AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_HOURS", default=0.25)
# Lock the pair (user name, address): one attacker cannot lock a customer out from everywhere.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# The address is the client's, not the proxy's: behind a proxy every client would share one lockout.
AXES_CLIENT_IP_CALLABLE = "helpdesk.clients.client_ip"
# A try while locked out is refused without being counted: the cool-off runs from the last failure
# before the lockout, so an attacker cannot keep pushing it back (axes' default renews it).
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# Adds the per-address lockout against password spraying (helpdesk/lockouts.py).
AXES_HANDLER = "helpdesk.lockouts.SignInLockoutHandler"
# Failed sign-ins from one address, across every user name, within the cool-off, before that address is
# locked out for the cool-off (0: no such limit). Generous: a whole office may share one address.
SIGNIN_FAILURE_LIMIT_PER_ADDRESS = env.int("SIGNIN_FAILURE_LIMIT_PER_ADDRESS", default=30)
AXES_LOCKOUT_TEMPLATE = "portal/locked_out.html"
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False

# --- Internationalisation ---------------------------------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files and attachments -------------------------------------------------------------------

STATIC_URL = "static/"
# Where `collectstatic` writes (the Docker image, the benchmarks). Only production reads it: elsewhere
# whitenoise would serve a stale copy left there by a benchmark ahead of the file being edited.
STATIC_ROOT = BASE_DIR / "staticfiles" if PRODUCTION else None
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
# Outside production whitenoise serves straight from the apps' static folders (no collectstatic needed).
WHITENOISE_USE_FINDERS = not PRODUCTION
WHITENOISE_AUTOREFRESH = not PRODUCTION

# Attachments are never served by the web server: only through the permission-checked download view.
ATTACHMENTS_ROOT = Path(env.str("ATTACHMENTS_ROOT", default=str(VAR_DIR / "attachments")))
ATTACHMENT_MAX_BYTES = env.int("ATTACHMENT_MAX_BYTES", default=10 * 1024 * 1024)
# Files one form may carry, and so the largest request body read at all (helpdesk.limits): that many
# attachments at the limit plus the form's text (Django's own limit for the fields beside the files).
ATTACHMENTS_PER_REQUEST = env.int("ATTACHMENTS_PER_REQUEST", default=10)
REQUEST_MAX_BYTES = env.int(
    "REQUEST_MAX_BYTES",
    default=ATTACHMENT_MAX_BYTES * ATTACHMENTS_PER_REQUEST + global_settings.DATA_UPLOAD_MAX_MEMORY_SIZE,
)

# --- Email ------------------------------------------------------------------------------------------

EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_USE_SSL = env.bool("EMAIL_USE_SSL", default=False)
# A stalled SMTP server must not hold a worker (and the S1 pages queued behind it) forever.
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="support@helpdesk.localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Where customers write to us; notification emails set it as Reply-To so answers come back in.
SUPPORT_EMAIL = env.str("SUPPORT_EMAIL", default=DEFAULT_FROM_EMAIL)
# The address customers reach the helpdesk at, for links in emails.
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")
# How long the "good / bad" links of a resolution email rate the ticket (tickets/satisfaction.py).
SATISFACTION_LINK_MAX_AGE_DAYS = env.int("SATISFACTION_LINK_MAX_AGE_DAYS", default=30)

# Email in: where `fetch_email` (and the beat task, when this is set) reads customer mail from, e.g.
# `imaps://user:password@imap.example.com/INBOX` or `maildir:///var/mail/support`. Empty: no email intake.
EMAIL_IN_URL = env.str("EMAIL_IN_URL", default="")
# A mail larger than this is quarantined (kept whole) without being parsed past its headers.
EMAIL_IN_MAX_BYTES = env.int("EMAIL_IN_MAX_BYTES", default=40 * 1024 * 1024)
# Mail from an address no customer or agent has: `reject` (answer with a pointer to the portal) or `open`
# (make the sender a requester of EMAIL_IN_DEFAULT_ORGANIZATION and open the ticket).
EMAIL_IN_UNKNOWN_SENDERS = env.str("EMAIL_IN_UNKNOWN_SENDERS", default="reject").strip().lower()
if EMAIL_IN_UNKNOWN_SENDERS not in ("reject", "open"):
    raise ImproperlyConfigured(
        f"EMAIL_IN_UNKNOWN_SENDERS is {EMAIL_IN_UNKNOWN_SENDERS!r}; use 'reject' or 'open'."
    )
EMAIL_IN_DEFAULT_ORGANIZATION = env.str("EMAIL_IN_DEFAULT_ORGANIZATION", default="")
if EMAIL_IN_UNKNOWN_SENDERS == "open" and not EMAIL_IN_DEFAULT_ORGANIZATION:
    raise ImproperlyConfigured(
        "EMAIL_IN_UNKNOWN_SENDERS=open needs EMAIL_IN_DEFAULT_ORGANIZATION: the organization (by name) "
        "that unknown senders join."
    )
# Sender authentication (tickets/channels/mail_auth.py). A From header proves nothing; only the receiving
# mail server checks it (SPF, DKIM, DMARC) and writes an Authentication-Results header. Its authserv-id(s),
# comma-separated (e.g. `mx.help.example.com`): headers naming any other id are the sender's own words.
# Empty: no mail carries a trusted verdict (customer mail is still taken; agent mail is refused).
EMAIL_IN_TRUSTED_AUTHSERV_IDS = [
    name.strip().lower() for name in env.list("EMAIL_IN_TRUSTED_AUTHSERV_IDS", default=[]) if name.strip()
]
# Mail from an agent's address is posted only when DMARC passes by a trusted verdict. `true` also takes it
# when no trusted server wrote a verdict at all: only for a relay that accepts nothing it has not checked.
EMAIL_IN_AGENT_REPLIES_WITHOUT_AUTH = env.bool("EMAIL_IN_AGENT_REPLIES_WITHOUT_AUTH", default=False)

# --- Security (production) --------------------------------------------------------------------------

SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
if PRODUCTION:
    # Trust X-Forwarded-Proto only behind a TLS-terminating proxy that sets it (and cannot be bypassed).
    if env.bool("BEHIND_TLS_PROXY", default=True):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
    CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 30)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
    # Joining the browsers' HSTS preload list is the operator's decision (SECURE_HSTS_PRELOAD=true).
    SILENCED_SYSTEM_CHECKS = ["security.W021"]
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# --- Logging ----------------------------------------------------------------------------------------

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}, "axes": {"level": "WARNING"}},
}

# --- Django REST framework --------------------------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "tickets.api.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_THROTTLE_CLASSES": [
        "tickets.api.throttling.TokenRateThrottle",
        "tickets.api.throttling.AnonRateThrottle",
    ],
    # Throttle counters live in the default cache: Redis in production, so every web replica shares them.
    "DEFAULT_THROTTLE_RATES": {
        "token": env.str("API_RATE_PER_TOKEN", default="1200/min"),
        "anon": env.str("API_RATE_ANONYMOUS", default="60/min"),
        "auth": env.str("API_RATE_TOKEN_REQUESTS", default="20/min"),
    },
    # Clients are told apart by address for the anonymous throttles (tickets/api/throttling.py asks
    # helpdesk.clients.client_ip); anything else of DRF's that reads this agrees with it.
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,
    "EXCEPTION_HANDLER": "tickets.api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # JSON with a size, a nesting and a number-range limit (tickets/api/parsers.py); forms as DRF's.
    # JSON bodies (nested intake, hours, targets); views that take files or flat forms say so themselves.
    "DEFAULT_PARSER_CLASSES": ["tickets.api.parsers.LimitedJSONParser"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
# Days an API token works after it was issued (0: until revoked). Applies to existing tokens too.
API_TOKEN_TTL_DAYS = env.int("API_TOKEN_TTL_DAYS", default=0)
# How deeply arrays and objects may nest in a JSON body (ours nest three levels); deeper answers 400.
API_JSON_MAX_DEPTH = env.int("API_JSON_MAX_DEPTH", default=32)
# How long a successful request's Idempotency-Key is remembered (replayed); the daily housekeeping
# forgets older ones, and a retry after that runs afresh.
IDEMPOTENCY_KEY_TTL_HOURS = env.int("IDEMPOTENCY_KEY_TTL_HOURS", default=24)

SPECTACULAR_SETTINGS = {
    "TITLE": "Helpdesk API",
    "DESCRIPTION": (
        "Tickets with severities S1–S5, structured intake and SLA clocks; the response-target chart; "
        "provisioning; signed webhooks. Authenticate with `Authorization: Token <key>` from "
        "`POST /api/v1/auth/token/`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "ENUM_NAME_OVERRIDES": {
        "SeverityEnum": "sla.vocabulary.Severity",
        "TicketStatusEnum": "sla.vocabulary.Status",
        "ChannelEnum": "tickets.models.choices.Channel",
        "ClockEnum": "sla.models.chart.Clock",
    },
}

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

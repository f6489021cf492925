"""Settings of the gunicorn the reliability tests run (tests/reliability/web_server.py): the production
settings, except that static files are served from the apps' folders as in development, so no
`collectstatic` (some 40 s with compression) has to run first."""

from helpdesk.settings import *  # noqa: F403
from helpdesk.settings import STORAGES

STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
WHITENOISE_USE_FINDERS = True

# The helpdesk's production image: one image for the web server (gunicorn with uvicorn workers, ASGI: HTTP and
# the WebSockets under /ws/), the Celery worker and beat.
# Build: `docker build -t helpdesk:latest .` (docker-compose.yml does it). Configuration comes from environment
# variables at run time (DATABASE_URL, REDIS_URL, SECRET_KEY, ALLOWED_HOSTS, email: see docker-compose.yml).
FROM python:3.11-slim

# WEB_CONCURRENCY is gunicorn's worker count when --workers is not given (about 2 per core; override it
# with `docker run -e WEB_CONCURRENCY=N`).
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VAR_DIR=/app/var \
    ATTACHMENTS_ROOT=/app/var/attachments \
    WEB_CONCURRENCY=3

WORKDIR /app

RUN groupadd --system --gid 1000 app \
    && useradd --system --uid 1000 --gid app --home-dir /app --no-create-home --shell /usr/sbin/nologin app

# Dependencies first, so a code change does not reinstall them. Every requirement ships a wheel.
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt

# The code stays owned by root (read-only for the app user); only var/ is writable.
COPY . .

# Settings refuse to load without SECRET_KEY: this throwaway key exists for this one build step only and
# is not in the image's environment. The attachments folder is created here, owned by the app user, so a
# named volume mounted on it starts with that ownership.
RUN env SECRET_KEY=build-only-collectstatic-key python manage.py collectstatic --noinput \
    && mkdir -p /app/var/attachments \
    && chown -R app:app /app/var

USER app

EXPOSE 8000

# No curl in slim: python's urllib. The Host header is the first ALLOWED_HOSTS entry, so the check passes
# Django's host validation; /healthz is exempt from the HTTPS redirect and answers 503 when the database or
# the broker is unreachable (urlopen raises, the check fails).
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os,urllib.request as r;h=(os.environ.get('ALLOWED_HOSTS') or 'localhost').split(',')[0].strip().lstrip('.');h=h if h not in ('','*') else 'localhost';r.urlopen(r.Request('http://127.0.0.1:8000/healthz',headers={'Host':h}),timeout=5)"]

CMD ["gunicorn", "helpdesk.asgi:application", "--worker-class", "helpdesk.web_worker.WebWorker", "--bind", "0.0.0.0:8000", "--access-logfile", "-", "--worker-tmp-dir", "/dev/shm", "--max-requests", "1000", "--max-requests-jitter", "100"]

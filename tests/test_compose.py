"""The production packaging (docker-compose.yml, Dockerfile) checked without Docker: the compose file against
the Compose Specification's JSON schema, and against what the code expects (services, volumes, health checks,
migrations, the WSGI entry point, the environment variables that helpdesk/settings.py reads).

tests/data/compose-spec.json is the Compose Specification JSON schema (draft 2019-09) as vendored in the
`docker-compose` 1.29.2 package on PyPI (docker_compose-1.29.2-py2.py3-none-any.whl, compose/config/
compose_spec.json, unchanged); it comes from github.com/compose-spec/compose-spec, Apache License 2.0.
sha256 0dc04bd346dcfee1b1419628fff79937bbf076925f298f272a2b490e2b112bac.
"""

import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
SETTINGS_FILE = ROOT / "helpdesk" / "settings.py"
SCHEMA_FILE = Path(__file__).resolve().parent / "data" / "compose-spec.json"

APP_SERVICES = ("web", "worker", "beat", "outbox")
BACKING_SERVICES = ("db", "redis")
#: The outbox process reads PostgreSQL only: it must start, and page, while Redis is down.
NEEDS_REDIS = ("web", "worker", "beat")

# `env("NAME"`, `env.str("NAME"`, `env.db("NAME"`, `env.list("NAME"`, ... in settings.py.
SETTINGS_ENV_READ = re.compile(r"""\benv(?:\.\w+)?\(\s*["']([A-Z][A-Z0-9_]*)["']""")
# Compose interpolation: `$$` is a literal dollar; else `${NAME}`, `${NAME:-default}`, `${NAME:?error}`...
INTERPOLATION = re.compile(r"\$\$|\$\{[A-Za-z_][A-Za-z0-9_]*(?::?[-?+][^}]*)?\}")


def load_compose(path: Path = COMPOSE_FILE) -> dict:
    # safe_load resolves anchors, aliases and `<<:` merge keys, as Compose does.
    return yaml.safe_load(path.read_text())


def settings_env_names() -> set[str]:
    return set(SETTINGS_ENV_READ.findall(SETTINGS_FILE.read_text()))


def environment_dict(service: dict) -> dict:
    env = service.get("environment") or {}
    if isinstance(env, list):  # the `- NAME=value` form
        env = dict(item.split("=", 1) if "=" in item else (item, None) for item in env)
    return env


def command_text(service: dict) -> str:
    command = service.get("command") or ""
    return " ".join(command) if isinstance(command, list) else command


def depends_on_targets(service: dict) -> dict:
    """depends_on as {target: options}; the short list form has no options."""
    depends = service.get("depends_on") or {}
    if isinstance(depends, list):
        return dict.fromkeys(depends)
    return depends


def named_volumes(service: dict) -> set[str]:
    names = set()
    for volume in service.get("volumes") or []:
        if isinstance(volume, dict):
            if volume.get("type", "volume") == "volume" and volume.get("source"):
                names.add(volume["source"])
            continue
        source = volume.split(":", 1)[0] if ":" in volume else None
        # A bind mount's source is a path (`./x`, `/x`, `~/x`); anything else names a volume.
        if source and not source.startswith((".", "/", "~", "$")):
            names.add(source)
    return names


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    instructions, current = [], ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        current += line
        keyword, _, args = current.partition(" ")
        instructions.append((keyword.upper(), args.strip()))
        current = ""
    return instructions


@pytest.fixture(scope="module")
def compose() -> dict:
    return load_compose()


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


# --- (a) the Compose Specification ----------------------------------------------------------------------


def test_schema_is_the_vendored_compose_spec():
    schema = json.loads(SCHEMA_FILE.read_text())
    assert schema["title"] == "Compose Specification"
    # Its `$schema` ends in `#`, which jsonschema's lookup does not match: name the draft explicitly.
    assert schema["$schema"].startswith("http://json-schema.org/draft/2019-09/schema")
    jsonschema.Draft201909Validator.check_schema(schema)


def test_compose_file_validates_against_the_compose_spec(compose):
    schema = json.loads(SCHEMA_FILE.read_text())
    errors = sorted(
        jsonschema.Draft201909Validator(schema).iter_errors(compose), key=lambda e: list(e.absolute_path)
    )
    assert not errors, "\n".join(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors)


def test_compose_file_is_compose_spec_without_version_key(compose):
    assert "version" not in compose
    assert set(APP_SERVICES + BACKING_SERVICES) <= set(compose["services"])


def test_interpolations_are_well_formed():
    text = COMPOSE_FILE.read_text()
    stray = [
        line.strip()
        for line in text.splitlines()
        if not line.lstrip().startswith("#") and "$" in INTERPOLATION.sub("", line)
    ]
    assert not stray, f"a `$` that is neither `$$` nor `${{NAME...}}`: {stray}"


def test_secret_key_is_required_not_defaulted(services):
    for name in APP_SERVICES:
        assert environment_dict(services[name])["SECRET_KEY"].startswith("${SECRET_KEY:?"), name


# --- (b), (c) references ---------------------------------------------------------------------------------


def test_depends_on_targets_are_defined_services(services):
    for name, service in services.items():
        for target in depends_on_targets(service):
            assert target in services, f"{name} depends on undefined service {target!r}"
            assert target != name, f"{name} depends on itself"


def test_named_volumes_are_declared(compose, services):
    declared = set(compose.get("volumes") or {})
    for name, service in services.items():
        missing = named_volumes(service) - declared
        assert not missing, f"{name} uses undeclared volumes {sorted(missing)}"


# --- (d) one image, one environment ---------------------------------------------------------------------


def test_app_services_share_image_build_and_environment(services):
    web = services["web"]
    assert web["image"] == "helpdesk:latest"
    assert web.get("build") in (".", {"context": "."})
    for name in APP_SERVICES:
        assert services[name]["image"] == web["image"], name
        assert services[name].get("build") == web.get("build"), name
        assert environment_dict(services[name]) == environment_dict(web), name
        assert services[name].get("restart") == "unless-stopped", name


def test_app_environment_points_at_the_compose_services(services):
    env = environment_dict(services["web"])
    assert env["DATABASE_URL"].startswith("postgres://") and "@db:5432/" in env["DATABASE_URL"]
    assert env["REDIS_URL"].startswith("redis://redis:6379/")
    assert env["SECURE_SSL_REDIRECT"] == "${SECURE_SSL_REDIRECT:-false}"


def test_attachments_volume_is_shared_by_web_and_worker(services):
    root = environment_dict(services["web"])["ATTACHMENTS_ROOT"]
    for name in ("web", "worker"):
        assert f"attachments:{root}" in services[name]["volumes"], name
    assert f"ATTACHMENTS_ROOT={root}" in DOCKERFILE.read_text()


# --- (e) start order and health --------------------------------------------------------------------------


def test_depends_on_waits_for_health(services):
    for name, service in services.items():
        for target, options in depends_on_targets(service).items():
            assert options and options.get("condition"), f"{name} -> {target} has no condition"
            if target in (*BACKING_SERVICES, "web"):
                assert options["condition"] == "service_healthy", f"{name} -> {target}"
    for name in APP_SERVICES:
        assert "db" in depends_on_targets(services[name]), name
    for name in NEEDS_REDIS:
        assert "redis" in depends_on_targets(services[name]), name
    for name in ("worker", "beat", "outbox"):
        # Migrations run in web's command: the others start once web is healthy.
        assert "web" in depends_on_targets(services[name]), name


def test_backing_services_have_healthchecks(services):
    assert "pg_isready" in " ".join(services["db"]["healthcheck"]["test"])
    assert services["redis"]["healthcheck"]["test"][-2:] == ["redis-cli", "ping"]
    assert any(v.endswith(":/var/lib/postgresql/data") for v in services["db"]["volumes"])


def test_web_healthcheck_probes_healthz(services):
    test = " ".join(services["web"]["healthcheck"]["test"])
    assert "urllib" in test and "http://127.0.0.1:8000/healthz" in test
    assert not services["web"]["healthcheck"].get("disable")


def test_worker_and_beat_do_not_inherit_the_web_probe(services):
    # The image's HEALTHCHECK probes the web port: a service that serves no HTTP overrides it.
    for name in ("worker", "beat", "outbox"):
        check = services[name].get("healthcheck")
        assert check, f"{name} would inherit the image's /healthz probe"
        assert check.get("disable") or "healthz" not in " ".join(check.get("test", [])), name


# --- (f), (g) commands and the entry point ---------------------------------------------------------------


def test_web_command_migrates_then_serves(services):
    command = command_text(services["web"])
    migrate = command.index("manage.py migrate --noinput")
    serve = command.index("gunicorn helpdesk.asgi:application --worker-class helpdesk.web_worker.WebWorker")
    assert migrate < serve and "0.0.0.0:8000" in command
    assert "8000:8000" in services["web"]["ports"]


def test_web_serves_http_and_websockets_from_the_asgi_application():
    """The web service's server runs the ASGI router: WebSockets under /ws/ go to the live-update
    consumers, everything else (HTTP) to Django; its worker class and the server it runs are pinned."""
    from channels.routing import ProtocolTypeRouter
    from uvicorn_worker import UvicornWorker

    from helpdesk.asgi import application
    from helpdesk.web_worker import WebWorker

    assert isinstance(application, ProtocolTypeRouter)
    assert set(application.application_mapping) == {"http", "websocket"}
    assert issubclass(WebWorker, UvicornWorker) and WebWorker.CONFIG_KWARGS["ws_max_size"] <= 64 * 1024
    requirements = (ROOT / "requirements.txt").read_text().split()
    pinned = {line.split("==")[0].lower() for line in requirements if "==" in line}
    assert {"gunicorn", "uvicorn", "uvicorn-worker", "websockets", "channels", "channels-redis"} <= pinned


def test_worker_and_beat_commands(services):
    assert command_text(services["worker"]).startswith("celery -A helpdesk worker")
    beat = command_text(services["beat"])
    assert beat.startswith("celery -A helpdesk beat")
    assert "django_celery_beat.schedulers:DatabaseScheduler" in beat


def test_the_outbox_process_runs_without_redis(services):
    outbox = services["outbox"]
    assert command_text(outbox) == "python manage.py outbox"
    assert "redis" not in depends_on_targets(outbox)
    assert outbox.get("stop_grace_period")  # SIGTERM: the attempt in hand is finished
    assert "OUTBOX_POLL_SECONDS" in environment_dict(outbox)


def test_dockerfile_builds_a_non_root_gunicorn_image():
    instructions = dockerfile_instructions()
    keywords = [keyword for keyword, _ in instructions]
    args = dict(instructions)  # the last of each instruction, as Docker applies them
    assert instructions[0] == ("FROM", "python:3.11-slim")
    assert any(k == "RUN" and "pip install --no-cache-dir -r requirements.txt" in a for k, a in instructions)
    # The build-only key is set for the collectstatic step alone, never baked into the image's ENV.
    collect = [a for k, a in instructions if k == "RUN" and "collectstatic --noinput" in a]
    assert collect and "env SECRET_KEY=" in collect[0]
    assert not any(k in ("ENV", "ARG") and "SECRET_KEY" in a for k, a in instructions)
    assert "VAR_DIR=/app/var" in args["ENV"] and "ATTACHMENTS_ROOT=/app/var/attachments" in args["ENV"]
    assert args["USER"] not in ("root", "0") and keywords.index("USER") < keywords.index("CMD")
    assert args["EXPOSE"] == "8000"
    assert "urllib" in args["HEALTHCHECK"] and "http://127.0.0.1:8000/healthz" in args["HEALTHCHECK"]
    cmd = json.loads(args["CMD"])
    assert cmd[:2] == ["gunicorn", "helpdesk.asgi:application"]
    assert cmd[2:4] == ["--worker-class", "helpdesk.web_worker.WebWorker"]
    assert "0.0.0.0:8000" in cmd


def test_wsgi_and_asgi_entry_points_exist():
    for entry_point in ("wsgi.py", "asgi.py"):
        assert (ROOT / "helpdesk" / entry_point).is_file()
        assert "application" in (ROOT / "helpdesk" / entry_point).read_text()


def test_dockerignore_keeps_local_state_out():
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".venv", "var", ".git", "staticfiles", ".env"} <= ignored


# --- (h) the environment matches settings.py -------------------------------------------------------------


def test_settings_env_reads_are_found():
    names = settings_env_names()
    # Guards the pattern itself: if settings.py changes style, this fails instead of passing vacuously.
    assert {"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "ALLOWED_HOSTS", "DEBUG"} <= names


def test_every_app_environment_variable_is_read_by_settings(services):
    known = settings_env_names()
    for name in APP_SERVICES:
        unknown = set(environment_dict(services[name])) - known
        assert not unknown, f"{name} passes variables settings.py never reads: {sorted(unknown)}"


def test_dockerfile_app_variables_are_read_by_settings():
    # Variables for Python, pip and gunicorn themselves are not the app's.
    tool_vars = {
        "PYTHONDONTWRITEBYTECODE",
        "PYTHONUNBUFFERED",
        "PIP_DISABLE_PIP_VERSION_CHECK",
        "WEB_CONCURRENCY",
    }
    env_args = " ".join(a for k, a in dockerfile_instructions() if k == "ENV")
    names = set(re.findall(r"([A-Z][A-Z0-9_]*)=", env_args)) - tool_vars
    assert names and names <= settings_env_names(), sorted(names - settings_env_names())

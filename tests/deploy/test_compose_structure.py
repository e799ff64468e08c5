"""The production compose file and Dockerfiles, checked without a container engine.

Docker cannot run here, so these tests read docker-compose.yml, docker/*.Dockerfile,
.env.example and the code the commands name, and check what a failed `docker compose
up` would otherwise reveal only on a server: every service is health-checked, data
lives on named volumes, the web-side images cannot contain torch, every variable is
documented and actually read, and every command names a module that exists.
"""

from __future__ import annotations

import ast
import json
import re
import shlex
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
ENV_EXAMPLE = REPO / ".env.example"
WEB_DOCKERFILE = "docker/web.Dockerfile"
EXPLAIN_DOCKERFILE = "docker/explain.Dockerfile"
WEB_SIDE = ("web", "worker-web", "migrate")
EXPLAINER_APP = "explainer.celery_app"
TORCH_PACKAGES = {"torch", "torchvision", "torchaudio", "zennit"}
# Variables consumed by third-party code rather than ours, and who reads them.
LIBRARY_VARIABLES = {
    "POSTGRES_USER": "the postgres image",
    "POSTGRES_DB": "the postgres image",
    "POSTGRES_PASSWORD": "the postgres image",
    "OMP_NUM_THREADS": "torch's OpenMP runtime",
}
# Keys of a compose service this project uses; anything else is most likely a typo
# (a misspelt `healthcheck` would silently leave a service unchecked).
KNOWN_SERVICE_KEYS = {
    "image",
    "build",
    "command",
    "entrypoint",
    "environment",
    "env_file",
    "ports",
    "volumes",
    "depends_on",
    "healthcheck",
    "restart",
    "logging",
    "stop_grace_period",
    "user",
    "deploy",
    "networks",
    "expose",
    "shm_size",
    "profiles",
}
_INTERPOLATION = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def one_shot_services(services: dict[str, dict[str, Any]]) -> set[str]:
    """Services others wait on to *finish* (migrations): their exit status is their health."""
    gates = set()
    for spec in services.values():
        for name, dep in (spec.get("depends_on") or {}).items():
            if dep.get("condition") == "service_completed_successfully":
                gates.add(name)
    return gates


def documented_variables() -> set[str]:
    """Names in .env.example, whether set (``NAME=``) or shown commented (``# NAME=``)."""
    pattern = re.compile(r"^#?\s*([A-Z][A-Z0-9_]*)=")
    return {
        m.group(1) for line in ENV_EXAMPLE.read_text().splitlines() if (m := pattern.match(line))
    }


def interpolated_variables(node: Any) -> set[str]:
    """Every ``${NAME...}`` in the compose file (``$$`` escapes a literal dollar)."""
    if isinstance(node, dict):
        return set().union(*(interpolated_variables(v) for v in node.values()), set())
    if isinstance(node, list):
        return set().union(*(interpolated_variables(v) for v in node), set())
    return set(_INTERPOLATION.findall(node)) if isinstance(node, str) else set()


def variables_read_by(paths: list[Path]) -> set[str]:
    """Names passed as the first argument to env_* helpers, os.environ.get, os.getenv or os.environ[]."""
    readers = {
        "env_str",
        "env_bool",
        "env_int",
        "env_int_or_off",
        "env_list",
        "get",
        "getenv",
        "setdefault",
    }
    found = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            name = None
            if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
                func = node.func
                called = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
                name = node.args[0].value if called in readers else None
            elif isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
                name = node.slice.value if ast.unparse(node.value) == "os.environ" else None
            if isinstance(name, str) and re.fullmatch(r"[A-Z][A-Z0-9_]*", name):
                found.add(name)
    return found


def dockerfile(service: dict[str, Any]) -> str:
    return (REPO / service["build"]["dockerfile"]).read_text(encoding="utf-8")


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs with continuation lines joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", text)
    pairs = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            pairs.append((word.upper(), rest.strip()))
    return pairs


def pip_installs(text: str) -> list[str]:
    """The argument lists of every ``pip install`` in a Dockerfile."""
    installs = []
    for instruction, args in dockerfile_instructions(text):
        if instruction == "RUN":
            installs.extend(m.group(1) for m in re.finditer(r"pip install ([^&;|]*)", args))
    return installs


def extras_installed(text: str) -> set[str]:
    return {extra for args in pip_installs(text) for extra in re.findall(r"\.\[([a-z,]+)\]", args)}


def resolved_extra(extra: str) -> set[str]:
    """Distribution names an extra pulls in, following ``hearxai[other]`` references."""
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    names: set[str] = set()
    for requirement in extras[extra]:
        name = re.match(r"[A-Za-z0-9_.-]+", requirement).group(0).lower()
        if name == "hearxai":
            for nested in re.search(r"\[([^\]]+)\]", requirement).group(1).split(","):
                names |= resolved_extra(nested.strip())
        else:
            names.add(name)
    return names


def test_every_long_running_service_has_a_health_check(services: dict[str, dict[str, Any]]) -> None:
    long_running = set(services) - one_shot_services(services)
    missing = sorted(
        name for name in long_running if not services[name].get("healthcheck", {}).get("test")
    )
    assert missing == []
    assert {"web", "worker-web", "worker-explain", "postgres", "redis"} <= long_running


def test_one_shot_migrations_run_once_before_web_and_worker_start(
    services: dict[str, dict[str, Any]],
) -> None:
    assert one_shot_services(services) == {"migrate"}
    assert services["migrate"]["command"][-2:] == ["migrate", "--noinput"]
    assert services["migrate"]["restart"] == "no"
    for name in ("web", "worker-web"):
        assert (
            services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        )
        for backing in ("postgres", "redis"):
            assert services[name]["depends_on"][backing]["condition"] == "service_healthy"


def test_services_use_only_known_compose_keys(services: dict[str, dict[str, Any]]) -> None:
    unknown = {name: sorted(set(spec) - KNOWN_SERVICE_KEYS) for name, spec in services.items()}
    assert {name: keys for name, keys in unknown.items() if keys} == {}


def test_environment_values_and_restart_policies_are_strings(
    services: dict[str, dict[str, Any]],
) -> None:
    # An unquoted `no`, `on` or `1` becomes a YAML boolean or number, which compose rejects
    # (restart) or passes on in a different spelling than settings expect.
    for name, spec in services.items():
        assert all(isinstance(v, str) for v in (spec.get("environment") or {}).values()), name
        assert spec.get("restart") in {"no", "unless-stopped", "always", "on-failure"}, name


def test_postgres_and_redis_keep_their_data_on_named_volumes(compose: dict[str, Any]) -> None:
    named = set(compose["volumes"])
    mounts = {name: compose["services"][name]["volumes"] for name in ("postgres", "redis")}
    assert "postgres-data:/var/lib/postgresql/data" in mounts["postgres"]
    assert "redis-data:/data" in mounts["redis"]
    assert {"postgres-data", "redis-data"} <= named
    assert "--appendonly" in compose["services"]["redis"]["command"]


def test_web_and_its_worker_share_the_media_volume_at_the_configured_roots(
    services: dict[str, dict[str, Any]], compose: dict[str, Any]
) -> None:
    def mount_of(service: str, volume: str) -> str:
        return next(
            v.split(":")[1] for v in services[service]["volumes"] if v.split(":")[0] == volume
        )

    assert "app-data" in compose["volumes"]
    assert mount_of("web", "app-data") == mount_of("worker-web", "app-data") == "/data"
    for variable in ("HEARXAI_MEDIA_ROOT", "HEARXAI_EXPORT_ROOT", "HEARXAI_UPLOAD_ROOT"):
        for service in ("web", "worker-web"):
            assert services[service]["environment"][variable].startswith("/data/")
    assert "bundles" not in {v.split(":")[0] for v in services["postgres"]["volumes"]}


def test_the_web_side_images_install_the_web_extra_and_nothing_with_torch(
    services: dict[str, dict[str, Any]],
) -> None:
    for name in WEB_SIDE:
        assert services[name]["build"]["dockerfile"] == WEB_DOCKERFILE
    text = dockerfile(services["web"])
    installs = pip_installs(text)
    assert installs, f"{WEB_DOCKERFILE} installs nothing"
    assert extras_installed(text) == {"web"}
    assert not any(re.search(r"torch|zennit|download\.pytorch", args) for args in installs)
    assert resolved_extra("web") & TORCH_PACKAGES == set()


def test_the_explain_image_installs_cpu_torch_and_the_explainer_extra(
    services: dict[str, dict[str, Any]],
) -> None:
    text = dockerfile(services["worker-explain"])
    assert services["worker-explain"]["build"]["dockerfile"] == EXPLAIN_DOCKERFILE
    assert extras_installed(text) == {"explainer"}
    torch_install = next(args for args in pip_installs(text) if "torch==" in args)
    assert "--index-url https://download.pytorch.org/whl/cpu" in torch_install
    assert {"torch", "zennit"} <= resolved_extra("explainer")
    assert "django" not in resolved_extra("explainer")


def third_party_imports(paths: list[Path]) -> set[str]:
    """Top-level names of the non-standard-library modules the files import."""
    names = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
    return (
        names
        - set(sys.stdlib_module_names)
        - {"__future__", "contracts", "studyapp", "explainer", "analysis"}
    )


def distributions_missing_from(extra: str, modules: set[str]) -> dict[str, list[str]]:
    """Imported modules whose distribution the extra does not install (image would fail at run time)."""
    provided = {name.replace("_", "-") for name in resolved_extra(extra)}
    by_module = packages_distributions()
    missing = {}
    for module in sorted(modules):
        dists = [d.lower().replace("_", "-") for d in by_module.get(module, [module])]
        if not provided & set(dists):
            missing[module] = dists
    return missing


def test_the_web_extra_installs_everything_the_web_side_imports() -> None:
    files = sorted((REPO / "studyapp").rglob("*.py")) + sorted((REPO / "contracts").glob("*.py"))
    assert distributions_missing_from("web", third_party_imports(files)) == {}
    # Named in settings strings and commands rather than imported.
    assert {"gunicorn", "whitenoise", "psycopg", "redis", "celery"} <= resolved_extra("web")


def test_the_explainer_extra_installs_everything_the_explainer_imports() -> None:
    files = sorted((REPO / "explainer").rglob("*.py")) + sorted((REPO / "contracts").glob("*.py"))
    assert distributions_missing_from("explainer", third_party_imports(files)) == {}


@pytest.mark.parametrize("path", [WEB_DOCKERFILE, EXPLAIN_DOCKERFILE])
def test_images_are_multi_stage_and_run_as_a_non_root_user(path: str) -> None:
    instructions = dockerfile_instructions((REPO / path).read_text())
    stages = [args for word, args in instructions if word == "FROM"]
    assert len(stages) >= 2
    final_stage = instructions[
        max(i for i, (word, _) in enumerate(instructions) if word == "FROM") :
    ]
    users = [args for word, args in final_stage if word == "USER"]
    assert users and users[-1].split(":")[0] not in {"root", "0"}
    assert any(word == "COPY" and args.startswith("--from=") for word, args in final_stage)


def test_every_variable_compose_uses_is_documented_in_env_example(compose: dict[str, Any]) -> None:
    used = interpolated_variables(compose)
    for spec in compose["services"].values():
        used |= set(spec.get("environment") or {})
    assert sorted(used - documented_variables()) == []


def test_every_documented_variable_is_used_somewhere() -> None:
    compose_text = COMPOSE_FILE.read_text()
    docker_text = "".join(p.read_text() for p in (REPO / "docker").glob("*.Dockerfile"))
    read = variables_read_by(sorted((REPO / "studyapp").glob("*.py")))
    unused = sorted(
        v for v in documented_variables() if v not in compose_text + docker_text and v not in read
    )
    assert unused == []


def variables_passed(spec: dict[str, Any]) -> set[str]:
    return set(spec.get("environment") or {}) - set(LIBRARY_VARIABLES)


def test_every_variable_passed_to_the_django_side_is_read_by_it(
    services: dict[str, dict[str, Any]],
) -> None:
    read = variables_read_by(
        [REPO / "studyapp" / "settings.py", REPO / "studyapp" / "gunicorn_conf.py"]
    )
    unread = {name: sorted(variables_passed(services[name]) - read) for name in WEB_SIDE}
    assert {name: names for name, names in unread.items() if names} == {}
    assert variables_passed(services["postgres"]) == set()
    assert variables_passed(services["redis"]) == set()


def test_every_variable_the_settings_read_is_documented() -> None:
    read = variables_read_by(
        [REPO / "studyapp" / "settings.py", REPO / "studyapp" / "gunicorn_conf.py"]
    )
    assert sorted(read - documented_variables()) == []


def test_only_web_and_media_publish_ports_and_only_on_loopback(
    services: dict[str, dict[str, Any]],
) -> None:
    published = {
        name: spec.get("ports", []) for name, spec in services.items() if spec.get("ports")
    }
    assert sorted(published) == ["media", "web"]  # (the TLS proxy on the host reaches both)
    assert all(str(port).startswith("127.0.0.1:") for ports in published.values() for port in ports)


def test_the_media_service_reads_the_media_volume_read_only_at_its_content_paths(
    services: dict[str, dict[str, Any]],
) -> None:
    media = services["media"]
    assert "app-data:/data:ro" in media["volumes"]
    config = (REPO / "docker" / "media-nginx.conf").read_text()
    # /m/<sha256>.<ext> is stored at <2 hex digits>/<sha256>.<ext> (studyapp/services/media.py).
    assert "root /data/media;" in config and "try_files /$prefix/$prefix$rest.$ext" in config
    assert "public, max-age=31536000, immutable" in config


# --- commands name real modules -------------------------------------------------------


def module_file(dotted: str) -> Path | None:
    """The source file of a module of this repository, or None."""
    base = REPO.joinpath(*dotted.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def defines_celery_app(path: Path) -> bool:
    """True if the module assigns a ``Celery(...)`` instance at top level (what ``celery -A`` finds)."""
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            func = node.value.func
            if (func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")) == "Celery":
                return True
    return False


def defines_name(path: Path, name: str) -> bool:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return any(
        isinstance(n, ast.Assign) and any(getattr(t, "id", None) == name for t in n.targets)
        for n in tree.body
    )


def celery_app_problem(dotted: str) -> str | None:
    path = module_file(dotted)
    if path is None:
        return f"celery -A {dotted}: no module {dotted} in the repository"
    if defines_celery_app(path):
        return None
    nested = module_file(f"{dotted}.celery") if path.name == "__init__.py" else None
    if nested and defines_celery_app(nested):
        return None
    return f"celery -A {dotted}: {path.relative_to(REPO)} defines no Celery app"


def command_problems(tokens: list[str]) -> list[str]:
    """What a command refers to that does not exist (modules, WSGI app, manage.py)."""
    problems = []
    for i, token in enumerate(tokens):
        following = tokens[i + 1] if i + 1 < len(tokens) else ""
        if token == "-A" and tokens[0] == "celery":
            problems.append(celery_app_problem(following))
        elif token == "-m" and tokens[0] in {"python", "python3"}:
            problems.append(
                None if module_file(following) else f"python -m {following}: no such module"
            )
        elif token.startswith("python:"):
            problems.append(None if module_file(token[7:]) else f"{token}: no such module")
        elif tokens[0] == "gunicorn" and re.fullmatch(r"[\w.]+:\w+", token):
            module, attr = token.split(":")
            path = module_file(module)
            problems.append(
                None if path and defines_name(path, attr) else f"gunicorn {token}: not found"
            )
        elif token == "manage.py":
            problems.append(None if (REPO / "manage.py").is_file() else "manage.py is missing")
    return [p for p in problems if p]


def healthcheck_commands(test: list[str]) -> list[list[str]]:
    if test[0] == "CMD":
        return [test[1:]]
    if test[0] == "CMD-SHELL":
        return [shlex.split(part) for part in re.split(r"\|\||&&|\||;", test[1].split(">")[0])]
    return []


def all_commands(services: dict[str, dict[str, Any]]) -> list[list[str]]:
    commands = [
        spec["command"] for spec in services.values() if isinstance(spec.get("command"), list)
    ]
    for spec in services.values():
        commands += healthcheck_commands(spec.get("healthcheck", {}).get("test", ["NONE"]))
    for path in (REPO / "docker").glob("*.Dockerfile"):
        commands += [
            json.loads(args)
            for word, args in dockerfile_instructions(path.read_text())
            if word == "CMD"
        ]
    return [c for c in commands if c]


def names_explainer_app(command: list[str]) -> bool:
    return EXPLAINER_APP in command


def test_every_command_names_modules_that_exist(services: dict[str, dict[str, Any]]) -> None:
    commands = [c for c in all_commands(services) if not names_explainer_app(c)]
    assert sum(c[0] == "celery" for c in commands) >= 2  # worker-web and its health check
    assert [p for c in commands for p in command_problems(c)] == []


def test_the_explain_worker_runs_the_explainers_own_celery_app(
    services: dict[str, dict[str, Any]],
) -> None:
    spec = services["worker-explain"]
    command = spec["command"]
    assert command[:3] == ["celery", "-A", EXPLAINER_APP]
    assert command[command.index("-Q") + 1] == "explain"
    commands = [c for c in all_commands(services) if names_explainer_app(c)]
    assert len(commands) == 3  # compose command, its health check, the image's CMD
    assert [p for c in commands for p in command_problems(c)] == []
    read = variables_read_by(sorted((REPO / "explainer").rglob("*.py")))
    assert sorted(variables_passed(spec) - read) == []


def test_the_web_worker_consumes_the_queue_web_jobs_are_sent_to(
    services: dict[str, dict[str, Any]],
) -> None:
    from django.conf import settings

    command = services["worker-web"]["command"]
    assert command[:3] == ["celery", "-A", "studyapp"]
    assert command[command.index("-Q") + 1] == settings.CELERY_TASK_DEFAULT_QUEUE


def test_the_module_checker_reports_a_command_that_names_nothing() -> None:
    assert command_problems(["celery", "-A", "studyapp.nonexistent", "worker"])
    assert command_problems(["gunicorn", "studyapp.wsgi:nothing_here"])
    assert command_problems(["python", "-m", "studyapp.no_such_module"])
    assert command_problems(["celery", "-A", "studyapp", "worker"]) == []


def test_the_extra_checker_reports_a_module_the_extra_does_not_install() -> None:
    assert set(distributions_missing_from("web", {"torch", "pandas", "django"})) == {
        "torch",
        "pandas",
    }


def test_the_build_context_holds_what_the_images_copy_and_nothing_else() -> None:
    rules = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert rules[0] in {
        "*",
        "**",
    }  # start from nothing: no .venv, .env, var/ or .git in the context
    included = {rule[1:].rstrip("/") for rule in rules if rule.startswith("!")}
    copied = set()
    for path in (REPO / "docker").glob("*.Dockerfile"):
        for word, args in dockerfile_instructions(path.read_text()):
            if word == "COPY" and not args.startswith("--from="):
                copied |= {source.rstrip("/") for source in args.split()[:-1]}
    assert copied and copied <= included
    assert all((REPO / source).exists() for source in copied)

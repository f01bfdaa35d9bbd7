"""Static checks of the deployment: ``docker-compose.yaml`` and ``docker/Dockerfile``.

No container engine runs where this suite runs, so nothing is started: the file is parsed,
validated against the Compose JSON Schema, and checked for the properties the stack relies on:
pinned images, unique host ports, dependencies that exist and wait for health, a health check on
every long-running service, and the OpenLineage transport and our state store configured on every
Airflow component, pointing at services that exist, with databases the init script creates.

``compose-spec.json`` beside this file is the Compose Specification schema shipped in
``docker-compose`` 1.29.2 (``compose/config/compose_spec.json``, Apache-2.0).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yaml"
SCHEMA = Path(__file__).with_name("compose-spec.json")
AIRFLOW_COMMANDS = {"api-server", "scheduler", "dag-processor", "triggerer"}
LOCAL_HOSTS = {"localhost", "127.0.0.1", "0.0.0.0"}

_VAR = re.compile(
    r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}|\$(?P<bare>[A-Za-z_]\w*)"
)
_URL = re.compile(
    r"\b(?P<scheme>[a-z][a-z0-9+.-]*)://(?:[^@/\s\"']*@)?(?P<host>[A-Za-z0-9_.-]+)(?::(?P<port>\d+))?"
)


# ------------------------------------------------------------------------------ helpers
def interpolate(value: str, variables: dict[str, str] | None = None) -> str:
    """Compose's variable substitution: ``variables`` set (every other one unset), defaults apply, ``$$`` is ``$``."""
    parts = value.split("$$")
    given = variables or {}

    def sub(m: re.Match[str]) -> str:
        if m["bare"] is not None:
            return given.get(m["bare"], "")
        if m["name"] in given and (given[m["name"]] or m["op"] not in (":-", ":?")):
            return given[m["name"]]
        if m["op"] in (":-", "-"):
            return m["arg"]
        if m["op"] in (":?", "?"):
            raise ValueError(f"{value!r}: ${{{m['name']}}} is required and has no default")
        return ""

    return "$".join(_VAR.sub(sub, p) for p in parts)


def is_pinned(ref: str) -> bool:
    """An image reference with a digest, or a tag that is not ``latest``."""
    if "@sha256:" in ref:
        return re.fullmatch(r".+@sha256:[0-9a-f]{64}", ref) is not None
    last = ref.rsplit("/", 1)[-1]  # a registry's ``host:port/`` is not a tag
    if ":" not in last:
        return False
    tag = last.rsplit(":", 1)[1]
    return bool(tag) and tag != "latest" and "$" not in tag


def host_ports(entry: Any) -> list[tuple[str, int, str]]:
    """``(host ip, host port, protocol)`` published by one ``ports`` entry (short or long syntax)."""
    if isinstance(entry, dict):
        published = entry.get("published")
        if published is None:
            return []
        ip, proto, spec = entry.get("host_ip", "0.0.0.0"), entry.get("protocol", "tcp"), str(published)
    else:
        text = interpolate(str(entry))
        text, _, proto = text.partition("/")
        proto = proto or "tcp"
        fields = text.rsplit(":", 2)
        if len(fields) == 1:
            return []  # container port only: Docker picks an ephemeral host port
        ip = fields[0] if len(fields) == 3 else "0.0.0.0"
        spec = fields[-2]
    spec = interpolate(spec)
    lo, _, hi = spec.partition("-")
    return [(ip, p, proto) for p in range(int(lo), int(hi or lo) + 1)]


def environment(service: dict[str, Any], variables: dict[str, str] | None = None) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {k: interpolate("" if v is None else str(v), variables) for k, v in env.items()}


def dockerfile_from_refs(text: str) -> list[str]:
    """Base images of every stage, with ``ARG`` defaults substituted; earlier stage names excluded."""
    args: dict[str, str] = {}
    stages: set[str] = set()
    refs = []
    for raw in re.sub(r"\\\n", " ", text).splitlines():
        line = raw.strip()
        if m := re.match(r"(?i)ARG\s+(\w+)(?:=(\S+))?", line):
            args[m[1]] = (m[2] or "").strip("\"'")
        elif m := re.match(r"(?i)FROM\s+(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?", line):
            ref = re.sub(r"\$\{?(\w+)\}?", lambda a: args.get(a[1], ""), m[1])
            if ref not in stages and ref != "scratch":
                refs.append(ref)
            if m[2]:
                stages.add(m[2])
    return refs


def referenced_hosts(value: str) -> set[str]:
    """Hosts named in ``value``: every URL's host, and ``"host"`` of a JSON object (an Airflow connection)."""
    hosts = {m["host"] for m in _URL.finditer(value)}
    try:
        parsed = json.loads(value)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and isinstance(parsed.get("host"), str):
        hosts.add(parsed["host"])
    return hosts


def init_sql_databases() -> dict[str, str]:
    """``{database: owner}`` created by docker/postgres-init.sql."""
    sql = (ROOT / "docker" / "postgres-init.sql").read_text(encoding="utf-8")
    return {m[1]: m[2] for m in re.finditer(r"(?i)CREATE DATABASE (\w+) OWNER (\w+)", sql)}


# ------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(data, dict) and data.get("services"), "docker-compose.yaml has no services"
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def airflow_services(services: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        name: s
        for name, s in services.items()
        if (s.get("command") if isinstance(s.get("command"), str) else None) in AIRFLOW_COMMANDS
    }


def celery_workers(services: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Services whose command ends by running ``airflow celery worker``."""
    return {
        name: s
        for name, s in services.items()
        if "exec airflow celery worker" in " ".join(map(str, s.get("command") or []))
    }


def active(services: dict[str, dict[str, Any]], *profiles: str) -> dict[str, dict[str, Any]]:
    """The services ``docker compose --profile P…`` starts: those without profiles, and those of ``profiles``."""
    return {n: s for n, s in services.items() if not s.get("profiles") or set(s["profiles"]) & set(profiles)}


def long_running(service: dict[str, Any]) -> bool:
    return str(service.get("restart", "no")) != "no"


# ------------------------------------------------------------------------------ the helpers themselves
@pytest.mark.parametrize(
    ("ref", "pinned"),
    [
        pytest.param("postgres:16.6", True, id="tag"),
        pytest.param("marquezproject/marquez:0.51.1", True, id="namespaced"),
        pytest.param("registry.local:5000/team/img:1.2", True, id="registry-port"),
        pytest.param("postgres@sha256:" + "a" * 64, True, id="digest"),
        pytest.param("postgres", False, id="no-tag"),
        pytest.param("postgres:latest", False, id="latest"),
        pytest.param("registry.local:5000/team/img", False, id="registry-port-no-tag"),
        pytest.param("postgres@sha256:abc", False, id="short-digest"),
    ],
)
def test_is_pinned(ref: str, pinned: bool) -> None:
    assert is_pinned(ref) is pinned


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        pytest.param("8080:8080", [("0.0.0.0", 8080, "tcp")], id="short"),
        pytest.param("127.0.0.1:${PG:-15432}:5432", [("127.0.0.1", 15432, "tcp")], id="ip-and-default"),
        pytest.param(
            "5000-5001:5000-5001/udp", [("0.0.0.0", 5000, "udp"), ("0.0.0.0", 5001, "udp")], id="range"
        ),
        pytest.param("5432", [], id="container-only"),
        pytest.param({"target": 80, "published": "8081"}, [("0.0.0.0", 8081, "tcp")], id="long"),
    ],
)
def test_host_ports(entry: Any, expected: list[tuple[str, int, str]]) -> None:
    assert host_ports(entry) == expected


def test_interpolate_and_dockerfile_parsing() -> None:
    assert interpolate("${A:-x}/$${HOSTNAME}/${B}") == "x/${HOSTNAME}/"
    assert interpolate("${A:-x}/${B}/$C", {"A": "a", "B": "b", "C": "c"}) == "a/b/c"
    assert interpolate("${A:-x}/${B-y}", {"A": "", "B": ""}) == "x/"
    with pytest.raises(ValueError, match="required"):
        interpolate("${A:?set A}")
    text = (
        "ARG BASE=python:3.11-slim\nFROM ${BASE} AS build\nFROM build\nFROM --platform=linux/amd64 busybox\n"
    )
    assert dockerfile_from_refs(text) == ["python:3.11-slim", "busybox"]
    assert referenced_hosts('{"conn_type": "postgres", "host": "db"}') == {"db"}
    assert referenced_hosts('{"type": "http", "url": "http://u:p@api:8080/x"}') == {"api"}


# ------------------------------------------------------------------------------ the compose file
def test_compose_file_is_valid_against_the_compose_schema(compose: dict[str, Any]) -> None:
    import jsonschema

    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = sorted(validator.iter_errors(compose), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors)


def test_the_stack_has_its_services(services: dict[str, dict[str, Any]]) -> None:
    assert {"postgres", "marquez", "marquez-web"} <= set(services)
    commands = sorted(s["command"] for s in airflow_services(services).values())
    assert commands == sorted(AIRFLOW_COMMANDS), commands


def test_images_are_pinned(services: dict[str, dict[str, Any]]) -> None:
    unpinned = []
    for name, s in services.items():
        if "image" not in s and "build" not in s:
            unpinned.append(f"{name}: neither image nor build")
        elif "image" in s and not is_pinned(interpolate(str(s["image"]))):
            unpinned.append(f"{name}: {s['image']}")
    assert not unpinned, "images without a version tag or digest: " + ", ".join(unpinned)


def test_built_images_come_from_a_pinned_base(services: dict[str, dict[str, Any]]) -> None:
    built = {name: s["build"] for name, s in services.items() if "build" in s}
    assert built, "the Airflow services build the image with the provider installed"
    for name, build in built.items():
        build = {"context": build} if isinstance(build, str) else build
        context = ROOT / build.get("context", ".")
        dockerfile = context / build.get("dockerfile", "Dockerfile")
        assert dockerfile.is_file(), f"{name}: {dockerfile} does not exist"
        refs = dockerfile_from_refs(dockerfile.read_text(encoding="utf-8"))
        assert refs, f"{dockerfile}: no FROM"
        assert all(is_pinned(r) for r in refs), f"{dockerfile}: unpinned base image in {refs}"
        assert any(r.startswith("apache/airflow:3.3.") for r in refs), refs


def test_the_dockerfile_installs_this_provider_from_the_build_context() -> None:
    text = (ROOT / "docker" / "Dockerfile").read_text(encoding="utf-8")
    copies = re.findall(r"(?m)^COPY\s+(?:--\S+\s+)*(.+)\s+(\S+)$", text)
    sources = {src for srcs, _ in copies for src in srcs.split()}
    assert {"pyproject.toml", "airflow_dataops"} <= sources, sources
    for src in sources:
        assert (ROOT / src).exists(), f"the Dockerfile copies {src}, which is not in the repository"
    install = re.search(r"pip install[^\n]*(?:\\\n[^\n]*)*", text)
    assert install and "/opt/dataops" in install.group(0), "the provider is not pip-installed"
    assert '"apache-airflow==${AIRFLOW_VERSION}"' in install.group(0), (
        "pin the image's Airflow in the install"
    )


def test_host_ports_are_unique(services: dict[str, dict[str, Any]]) -> None:
    seen: dict[tuple[int, str], str] = {}
    clashes = []
    for name, s in services.items():
        for entry in s.get("ports", []):
            for _ip, port, proto in host_ports(entry):
                if (port, proto) in seen:
                    clashes.append(f"{port}/{proto}: {seen[(port, proto)]} and {name}")
                seen[(port, proto)] = name
    assert not clashes, "host ports published twice: " + "; ".join(clashes)
    assert seen, "nothing is published: the UI would be unreachable"


def test_dependencies_exist_and_wait_for_readiness(services: dict[str, dict[str, Any]]) -> None:
    problems = []
    for name, s in services.items():
        deps = s.get("depends_on") or {}
        if isinstance(deps, list):
            problems.append(f"{name}: depends_on without conditions waits for nothing")
            continue
        for target, spec in deps.items():
            if target not in services:
                problems.append(f"{name} depends on {target!r}, which is not a service")
                continue
            condition = (spec or {}).get("condition")
            if long_running(services[target]):
                if condition != "service_healthy":
                    problems.append(f"{name} -> {target}: condition {condition!r}, want service_healthy")
            elif condition != "service_completed_successfully":
                problems.append(f"{name} -> {target} (one-shot): condition {condition!r}")
    assert not problems, "\n".join(problems)


def test_every_long_running_service_has_a_health_check(services: dict[str, dict[str, Any]]) -> None:
    missing = []
    for name, s in services.items():
        if not long_running(s):
            continue
        check = s.get("healthcheck") or {}
        test = check.get("test")
        if check.get("disable") or not test or test in (["NONE"], "NONE"):
            missing.append(name)
    assert not missing, "long-running services without a health check: " + ", ".join(missing)
    one_shot = [n for n, s in services.items() if not long_running(s)]
    assert one_shot == ["airflow-init"], one_shot


def test_every_airflow_component_sends_lineage_to_marquez_and_uses_our_store(
    services: dict[str, dict[str, Any]],
) -> None:
    from sqlalchemy.engine import make_url

    marquez_port = int(environment(services["marquez"]).get("MARQUEZ_PORT", "5000"))
    components = {
        **airflow_services(services),
        **celery_workers(services),
        "airflow-init": services["airflow-init"],
    }
    for name, s in components.items():
        env = environment(s)
        transport = json.loads(env["AIRFLOW__OPENLINEAGE__TRANSPORT"])
        assert transport["type"] == "http", f"{name}: {transport}"
        url = urlparse(transport["url"])
        assert (url.hostname, url.port) == ("marquez", marquez_port), f"{name}: {transport['url']}"
        assert env.get("AIRFLOW__OPENLINEAGE__NAMESPACE"), name
        store = make_url(env["AIRFLOW__DATAOPS__STORE_URL"])
        assert store.get_backend_name() == "postgresql", f"{name}: the store should be PostgreSQL here"
        meta = make_url(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
        assert store.database != meta.database, f"{name}: our store must not share Airflow's metadata DB"
        api = urlparse(env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"])
        assert (api.hostname, api.port) == ("airflow-apiserver", 8080), name


def test_urls_and_hosts_in_the_environment_name_existing_services(
    services: dict[str, dict[str, Any]],
) -> None:
    unknown = []
    for name, s in services.items():
        for key, value in environment(s).items():
            hosts = referenced_hosts(value)
            if key.endswith("_HOST") and value:
                hosts.add(value)
            for host in hosts - LOCAL_HOSTS:
                if host not in services:
                    unknown.append(f"{name}: {key} names {host!r}")
    assert not unknown, "\n".join(unknown)


def test_databases_in_urls_are_created_by_the_init_script(services: dict[str, dict[str, Any]]) -> None:
    from sqlalchemy.engine import make_url

    databases = init_sql_databases()
    assert set(databases) == {"airflow", "dataops", "warehouse", "marquez"}, databases
    env = environment(services["airflow-scheduler"])
    for key in ("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "AIRFLOW__DATAOPS__STORE_URL"):
        url = make_url(env[key])
        assert databases.get(url.database) == url.username, f"{key}: {url.database} owned by {url.username}?"
    warehouse = json.loads(env["AIRFLOW_CONN_DATAOPS_WAREHOUSE"])
    assert databases.get(warehouse["schema"]) == warehouse["login"], warehouse
    marquez = yaml.safe_load((ROOT / "docker" / "marquez.yml").read_text(encoding="utf-8"))
    jdbc = urlparse(marquez["db"]["url"].removeprefix("jdbc:"))
    assert jdbc.hostname in services and databases.get(jdbc.path.lstrip("/")) == marquez["db"]["user"]
    assert marquez["server"]["applicationConnectors"][0]["port"] == 5000


def test_bind_mounts_exist(services: dict[str, dict[str, Any]]) -> None:
    missing = []
    for name, s in services.items():
        for volume in s.get("volumes", []):
            source = volume.get("source", "") if isinstance(volume, dict) else str(volume).split(":")[0]
            if source.startswith((".", "/")) and not (ROOT / source).exists():
                missing.append(f"{name}: {source}")
    assert not missing, "bind-mounted paths missing from the repository: " + ", ".join(missing)


def test_the_example_dag_finds_its_warehouse_connection(services: dict[str, dict[str, Any]]) -> None:
    dag = (ROOT / "dags" / "nycflights_daily.py").read_text(encoding="utf-8")
    conn_id = re.search(r'WAREHOUSE\s*=\s*"([^"]+)"', dag)
    assert conn_id, "dags/nycflights_daily.py no longer names its warehouse connection in WAREHOUSE"
    for name, s in airflow_services(services).items():
        assert f"AIRFLOW_CONN_{conn_id[1].upper()}" in environment(s), name


# ------------------------------------------------------------------------------ the `celery` profile
def test_the_default_stack_is_local_and_the_celery_profile_adds_redis_and_workers(
    services: dict[str, dict[str, Any]],
) -> None:
    default, celery = active(services), active(services, "celery")
    assert set(celery) - set(default) == {"redis", *celery_workers(services)}, sorted(celery)
    assert celery_workers(services) and not celery_workers(default)
    assert all(s.get("profiles") == ["celery"] for n, s in services.items() if n not in default)
    for variables, executor in (
        ({}, "LocalExecutor"),
        ({"AIRFLOW_EXECUTOR": "CeleryExecutor"}, "CeleryExecutor"),
    ):
        for name, s in {**airflow_services(services), **celery_workers(services)}.items():
            assert environment(s, variables)["AIRFLOW__CORE__EXECUTOR"] == executor, (name, variables)


def test_celery_workers_scale_and_refuse_to_run_under_another_executor(
    services: dict[str, dict[str, Any]],
) -> None:
    for name, s in celery_workers(services).items():
        # scaled with --scale / replicas: nothing that names one container or host port
        assert "container_name" not in s and not s.get("ports") and "hostname" not in s, name
        assert int(s.get("deploy", {}).get("replicas", 1)) >= 2, f"{name}: N workers by default"
        script = s["command"][-1]
        assert s["command"][:2] == ["bash", "-c"] and '!= "CeleryExecutor"' in script, script
        assert script.index("exit 2") < script.index("exec airflow celery worker"), script
        assert s["depends_on"]["redis"]["condition"] == "service_healthy", name
        assert s["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully", name
        check = " ".join(map(str, s["healthcheck"]["test"]))
        assert "inspect ping" in check and "celery@$${HOSTNAME}" in check, check
        # task logs written in the worker are readable by the api-server: a shared volume
        logs = {v for v in s["volumes"] if str(v).endswith(":/opt/airflow/logs")}
        assert logs and logs <= set(services["airflow-apiserver"]["volumes"]), (name, s["volumes"])


def test_celery_broker_and_result_backend_point_at_services_of_the_stack(
    services: dict[str, dict[str, Any]],
) -> None:
    from sqlalchemy.engine import make_url

    databases = init_sql_databases()
    redis_port = 6379
    for name, s in {**airflow_services(services), **celery_workers(services)}.items():
        env = environment(s, {"AIRFLOW_EXECUTOR": "CeleryExecutor"})
        broker = urlparse(env["AIRFLOW__CELERY__BROKER_URL"])
        assert (broker.scheme, broker.hostname, broker.port) == ("redis", "redis", redis_port), name
        backend = make_url(env["AIRFLOW__CELERY__RESULT_BACKEND"].removeprefix("db+"))
        assert backend.get_backend_name() == "postgresql", name
        assert databases.get(backend.database) == backend.username, name
        assert int(env["AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT"]) >= 3600, name
    redis = services["redis"]
    assert "redis-server" in redis["command"] and redis["healthcheck"]["test"][-1] == "ping"
    assert not redis.get("ports"), "the broker is for the stack's containers only"

"""docker-compose.yml, read as YAML (docker is not run): the services, their wiring, the mounted ops kit, ports
bound to 127.0.0.1 only, and production-like defaults: production settings with rate limits on, and no default
password (each must be given, compose refuses to start without it)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
from ops_kit import COMPOSE, GRAFANA_DIR, PROMETHEUS_CONFIG, ROOT, load_yaml

from gateway.core.settings import Settings

SERVICES = {"gateway", "postgres", "redis", "prometheus", "grafana"}
# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error}, ${NAME?error}
_VARIABLE = re.compile(r"\$\{(\w+)(?:(:?[-?])([^}]*))?\}")
#: What an operator sets before ``docker compose up`` (the variables compose requires).
OPERATOR = {
    "POSTGRES_PASSWORD": "pg-0123456789abcdef",
    "REDIS_PASSWORD": "rd-0123456789abcdef",
    "GRAFANA_ADMIN_PASSWORD": "gf-0123",
}
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|PEPPER|_KEY$|_AUTH$", re.IGNORECASE)


class Unset(LookupError):
    """A variable compose requires (``${NAME:?error}``) is not set: compose refuses to start."""


def interpolate(value: str, env: dict[str, str] | None = None) -> str:
    """``value`` as compose makes it with the variables ``env`` (by default: what an operator must set, and nothing
    else): ``${NAME:-default}`` gives the default when unset, ``${NAME:?error}`` raises :class:`Unset`."""
    env = OPERATOR if env is None else env

    def replace(match: re.Match[str]) -> str:
        name, operator, argument = match.groups()
        if env.get(name):
            return env[name]
        if operator and operator.endswith("?"):
            raise Unset(f"{name}: {argument}")
        return argument or ""

    return _VARIABLE.sub(replace, value)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = load_yaml(COMPOSE)
    return data


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {key: interpolate(str(value)) for key, value in env.items()}


def bind_mounts(service: dict[str, Any]) -> dict[str, Path]:
    """Container path -> host path of the service's bind mounts (``./host:/container[:mode]``)."""
    mounts: dict[str, Path] = {}
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith((".", "/")):
            mounts[target] = (ROOT / source).resolve()
    return mounts


def test_the_services(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == SERVICES


def test_the_gateway_is_built_from_the_dockerfile_and_uses_postgres_and_redis(compose: dict[str, Any]) -> None:
    gateway = compose["services"]["gateway"]
    build = gateway["build"]
    context = ROOT / (build if isinstance(build, str) else build.get("context", "."))
    dockerfile = build.get("dockerfile", "Dockerfile") if isinstance(build, dict) else "Dockerfile"
    assert (context / dockerfile).is_file()
    env = environment(gateway)
    assert re.fullmatch(r"postgresql://gateway:[^@]+@postgres:5432/gateway", env["GATEWAY_DATABASE_URL"])
    assert env["GATEWAY_REDIS_URL"] == f"redis://:{OPERATOR['REDIS_PASSWORD']}@redis:6379/0"
    assert set(gateway["depends_on"]) == {"postgres", "redis"}
    postgres = environment(compose["services"]["postgres"])
    assert postgres["POSTGRES_USER"] == "gateway" and postgres["POSTGRES_DB"] == "gateway"
    assert f":{postgres['POSTGRES_PASSWORD']}@" in env["GATEWAY_DATABASE_URL"]


def test_the_gateway_serves_on_the_port_prometheus_scrapes(compose: dict[str, Any]) -> None:
    gateway = compose["services"]["gateway"]
    command = [interpolate(part) for part in gateway["command"]]
    assert command == ["gateway", "serve"]  # on GATEWAY_HOST:GATEWAY_PORT, which the image's health check asks
    env = environment(gateway)
    port = env["GATEWAY_PORT"]
    assert env["GATEWAY_HOST"] == "0.0.0.0"
    assert f"EXPOSE {port}" in (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert f"127.0.0.1:{port}:{port}" in gateway["ports"]
    (job,) = load_yaml(PROMETHEUS_CONFIG)["scrape_configs"]
    assert job["static_configs"][0]["targets"] == [f"gateway:{port}"]


def test_every_published_port_binds_to_loopback(compose: dict[str, Any]) -> None:
    published = 0
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            assert isinstance(port, str), f"{name}: use the 'host_ip:host:container' form"
            assert port.startswith("127.0.0.1:"), f"{name} publishes {port} on every interface"
            published += 1
    assert published >= 3  # gateway, prometheus, grafana


def test_mounted_paths_exist(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith((".", "/")):
                assert (ROOT / source).exists(), f"{name} mounts {source}, which does not exist"
            else:
                assert source in compose["volumes"], f"{name} uses an undeclared volume {source}"


def test_prometheus_gets_the_config_and_rules(compose: dict[str, Any]) -> None:
    prometheus = compose["services"]["prometheus"]
    mounts = bind_mounts(prometheus)
    assert mounts["/etc/prometheus"] == PROMETHEUS_CONFIG.parent
    config_flag = next(flag for flag in prometheus["command"] if flag.startswith("--config.file="))
    config_path = PurePosixPath(config_flag.split("=", 1)[1])
    assert config_path.parent == PurePosixPath("/etc/prometheus")
    assert (PROMETHEUS_CONFIG.parent / config_path.name) == PROMETHEUS_CONFIG


def test_grafana_is_provisioned_with_the_data_source_and_dashboard(compose: dict[str, Any]) -> None:
    grafana = compose["services"]["grafana"]
    mounts = bind_mounts(grafana)
    assert mounts["/etc/grafana/provisioning"] == GRAFANA_DIR / "provisioning"
    (provider,) = load_yaml(GRAFANA_DIR / "provisioning" / "dashboards" / "axis-gateway.yml")["providers"]
    dashboards = provider["options"]["path"]
    assert mounts[dashboards] == GRAFANA_DIR / "dashboards"
    home = environment(grafana)["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert (GRAFANA_DIR / "dashboards" / PurePosixPath(home).relative_to(dashboards)).is_file()
    (datasource,) = load_yaml(GRAFANA_DIR / "provisioning" / "datasources" / "prometheus.yml")["datasources"]
    assert datasource["url"] == "http://prometheus:9090"
    assert any(port.endswith(":9090") for port in compose["services"]["prometheus"]["ports"])


def test_no_default_password(compose: dict[str, Any]) -> None:
    """Every secret comes from the operator: compose refuses to start without it, and there is no fallback."""
    text = COMPOSE.read_text(encoding="utf-8")
    secrets = {name for name, _, _ in _VARIABLE.findall(text) if SECRET_NAME.search(name)}
    assert secrets == set(OPERATOR)
    for name, operator, _ in _VARIABLE.findall(text):
        if name in secrets:
            assert operator == ":?", f"${{{name}}} must be required (${{{name}:?message}}), never defaulted"
    for service_name, service in compose["services"].items():
        for key, value in service.get("environment", {}).items():
            if SECRET_NAME.search(key):
                assert re.fullmatch(r"\$\{\w+:\?[^}]+\}", str(value)), f"{service_name}: {key} has a value of its own"
    values = [
        str(value)
        for service in compose["services"].values()
        for value in (*service.get("environment", {}).values(), *service.get("command", []))
    ]
    for name in OPERATOR:
        without = {key: value for key, value in OPERATOR.items() if key != name}
        with pytest.raises(Unset, match=name):
            for value in values:
                interpolate(value, without)


def test_grafana_has_no_default_admin_password(compose: dict[str, Any]) -> None:
    grafana = environment(compose["services"]["grafana"])
    assert grafana["GF_SECURITY_ADMIN_PASSWORD"] == OPERATOR["GRAFANA_ADMIN_PASSWORD"]
    assert grafana["GF_SECURITY_ADMIN_PASSWORD"] != "admin"


def test_redis_requires_the_password_the_gateway_uses(compose: dict[str, Any]) -> None:
    redis = compose["services"]["redis"]
    command = [interpolate(part) for part in redis["command"]]
    assert command[command.index("--requirepass") + 1] == OPERATOR["REDIS_PASSWORD"]
    assert environment(redis)["REDISCLI_AUTH"] == OPERATOR["REDIS_PASSWORD"]  # its health check's redis-cli
    assert "ports" not in redis, "Redis is reached on compose's network only"


def test_the_gateway_runs_with_production_settings_and_rate_limits(compose: dict[str, Any]) -> None:
    env = environment(compose["services"]["gateway"])
    settings = Settings.model_validate(
        {key.removeprefix("GATEWAY_").lower(): value for key, value in env.items() if key.startswith("GATEWAY_")}
    )
    assert settings.environment == "production"
    assert settings.rate_limit_per_second and settings.rate_limit_per_second > 0
    assert settings.rate_limit_per_day and settings.rate_limit_per_day > 0
    assert not settings.rate_limit_fail_open
    assert settings.redis_url is not None, "rate limits are counted by every process together"


def test_the_ops_kits_env_file_command_sets_every_required_variable(tmp_path: Path) -> None:
    """deploy/README.md's command that writes .env, run as written: it sets every variable compose requires."""
    readme = (ROOT / "deploy" / "README.md").read_text(encoding="utf-8")
    match = re.search(r"^\(umask 077;.*?> \.env\)", readme, flags=re.MULTILINE | re.DOTALL)
    assert match, "deploy/README.md shows how to write .env"
    subprocess.run(["bash", "-c", f"set -euo pipefail\n{match.group(0)}"], cwd=tmp_path, check=True, timeout=60)
    env_file = tmp_path / ".env"
    assert env_file.stat().st_mode & 0o077 == 0
    written = dict(line.split("=", 1) for line in env_file.read_text(encoding="utf-8").splitlines())
    assert set(written) == set(OPERATOR)
    assert all(re.fullmatch(r"[0-9a-f]{48}", value) for value in written.values())
    compose = COMPOSE.read_text(encoding="utf-8")
    interpolate(compose, written)  # nothing compose requires is missing

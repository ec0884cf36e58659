"""docker-compose.yml, read as YAML (docker is not run): the services, their wiring, the mounted ops kit, and
ports bound to 127.0.0.1 only."""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
from ops_kit import COMPOSE, GRAFANA_DIR, PROMETHEUS_CONFIG, ROOT, load_yaml

SERVICES = {"gateway", "postgres", "redis", "prometheus", "grafana"}
_DEFAULT = re.compile(r"\$\{(\w+)(?::?-([^}]*))?\}")


def interpolate(value: str) -> str:
    """``value`` with compose's ``${NAME:-default}`` replaced by the default (an unset variable)."""
    return _DEFAULT.sub(lambda match: match.group(2) or "", value)


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
    assert env["GATEWAY_REDIS_URL"] == "redis://redis:6379/0"
    assert set(gateway["depends_on"]) == {"postgres", "redis"}
    postgres = environment(compose["services"]["postgres"])
    assert postgres["POSTGRES_USER"] == "gateway" and postgres["POSTGRES_DB"] == "gateway"
    assert f":{postgres['POSTGRES_PASSWORD']}@" in env["GATEWAY_DATABASE_URL"]


def test_the_gateway_serves_on_the_port_prometheus_scrapes(compose: dict[str, Any]) -> None:
    command = [interpolate(part) for part in compose["services"]["gateway"]["command"]]
    assert command[:2] == ["gateway", "serve"]
    port = command[command.index("--port") + 1]
    assert command[command.index("--host") + 1] == "0.0.0.0"
    assert "EXPOSE 8000" in (ROOT / "Dockerfile").read_text(encoding="utf-8")
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

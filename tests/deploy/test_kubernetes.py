"""deploy/kubernetes/: both overlays build with ``kubectl kustomize`` and validate offline against the schemas of
the pinned Kubernetes version (the Prometheus Operator's resources against their CRDs' part the kit uses); the
validator rejects what it must; the PrometheusRule is alerts.yml; and the manifests agree with the gateway (its
commands, health endpoints, settings file, secrets directory, port) and with the security and availability the kit
promises."""

from __future__ import annotations

import asyncio
import copy
import io
import json
import os
import re
import tomllib
from pathlib import Path, PurePosixPath
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from kube_kit import (
    KIT,
    OVERLAYS,
    accepted_by_the_cli,
    build,
    build_text,
    build_with_component,
    config_check,
    kinds,
    one,
    pod_environment,
    run_container,
    settings_file,
    tool,
)
from ops_kit import ALERTS as ALERTS_PATH
from ops_kit import load_yaml

from gateway import __version__
from gateway.core.settings import CONFIG_ENV, SECRETS_DIR_ENV, Settings
from gateway.http.routes.health import router as health_router
from gateway.identity.datakeys import new_key
from gateway.identity.key_material import new_signing_key
from simulators.population import seed_population

CORE_KINDS = {"Namespace", "ServiceAccount", "ConfigMap", "Service", "Deployment", "NetworkPolicy"}
PRODUCTION_KINDS = CORE_KINDS | {
    "Job",
    "CronJob",
    "HorizontalPodAutoscaler",
    "PodDisruptionBudget",
    "ServiceMonitor",
    "PrometheusRule",
}
#: Variables the ``gateway`` command reads besides the settings (``gateway serve --host/--port``, where the settings
#: file and the secrets directory are).
CLI_VARIABLES = {"GATEWAY_HOST", "GATEWAY_PORT", CONFIG_ENV, SECRETS_DIR_ENV}
#: The settings naming the gateway's key files, which Secrets project into the pods.
KEY_FILES = ("GATEWAY_SECRET_PEPPER_PATH", "GATEWAY_DATA_KEY_FILE")
#: What the production pods need in their secrets directory to pass ``gateway config check`` (stand-ins).
PRODUCTION_SECRETS = {
    "gateway_database_url": "postgresql://gateway:stand-in@192.0.2.10:5432/gateway",
    "gateway_redis_url": "redis://:stand-in@192.0.2.20:6379/0",
    "gateway_connectors__population__config__url": "postgresql://reader:stand-in@198.51.100.5:5432/population",
}


@pytest.fixture(scope="module", params=OVERLAYS)
def overlay(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture(scope="module")
def production() -> list[dict[str, Any]]:
    return build("production")


@pytest.fixture(scope="module")
def demo() -> list[dict[str, Any]]:
    return build("demo")


def pod_templates(resources: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """The pod templates of the Deployments, Jobs and CronJobs (their Jobs')."""
    return [
        (
            f"{r['kind']}/{r['metadata']['name']}",
            r["spec"]["jobTemplate"]["spec"]["template"] if r["kind"] == "CronJob" else r["spec"]["template"],
        )
        for r in resources
        if r["kind"] in {"Deployment", "Job", "CronJob"}
    ]


def gateway_container(resources: list[dict[str, Any]]) -> dict[str, Any]:
    (container,) = one(resources, "Deployment", "axis-gateway")["spec"]["template"]["spec"]["containers"]
    return container


def file_settings(resources: list[dict[str, Any]]) -> dict[str, Any]:
    """The settings file of the pods, parsed."""
    return tomllib.loads(settings_file(resources))


def mounts(template: dict[str, Any], container: dict[str, Any]) -> dict[PurePosixPath, dict[str, Any]]:
    """A container's mounts: mount path -> the volume mounted there (with ``readOnly`` of the mount)."""
    volumes = {volume["name"]: volume for volume in template["spec"]["volumes"]}
    return {
        PurePosixPath(m["mountPath"]): {**volumes[m["name"]], "readOnly": m.get("readOnly", False)}
        for m in container["volumeMounts"]
    }


# --- building and validating ----------------------------------------------------------------------------------------


def test_every_overlay_builds_and_validates_offline(overlay: str) -> None:
    validate = tool("validate")
    resources = build(overlay)
    results = validate.validate(resources)
    invalid = {name: errors for name, errors in results.items() if errors}
    assert not invalid, f"{overlay}: {invalid}"
    assert kinds(resources) >= (PRODUCTION_KINDS if overlay == "production" else CORE_KINDS)
    assert validate.KUBERNETES_VERSION == "1.32.0"


def test_the_validator_reads_the_built_stream(
    overlay: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The command CI pipes ``kubectl kustomize`` into: one line per resource, exit 0."""
    validate = tool("validate")
    monkeypatch.setattr("sys.stdin", io.StringIO(build_text(overlay)))
    assert validate.main([]) == 0
    out = capsys.readouterr().out
    assert " 0 invalid (Kubernetes 1.32.0)" in out
    assert "ok\tDeployment/axis-gateway" in out
    monkeypatch.setattr("sys.stdin", io.StringIO(build_text(overlay).replace("readinessProbe", "readynessProbe")))
    assert validate.main([]) == 1


def test_the_validator_rejects_what_kubernetes_would(production: list[dict[str, Any]]) -> None:
    validate = tool("validate")
    deployment = copy.deepcopy(one(production, "Deployment"))
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["paht"] = "/readyz"
    assert validate.problems(deployment), "an unknown field (strict mode)"
    deployment = copy.deepcopy(one(production, "Deployment"))
    deployment["spec"]["replicas"] = "three"
    assert validate.problems(deployment), "a wrong type"
    hpa = copy.deepcopy(one(production, "HorizontalPodAutoscaler"))
    hpa["apiVersion"] = "autoscaling/v2beta1"
    assert validate.problems(hpa), "an API version the pinned Kubernetes no longer serves"
    monitor = copy.deepcopy(one(production, "ServiceMonitor"))
    monitor["spec"]["endpoints"][0]["intervall"] = "15s"
    assert validate.problems(monitor), "an unknown field of a ServiceMonitor"
    rule = copy.deepcopy(one(production, "PrometheusRule"))
    rule["spec"]["groups"][0]["rules"][0]["for"] = "two minutes"
    assert validate.problems(rule), "a bad duration in a PrometheusRule"
    unknown = {"apiVersion": "example.org/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {}}
    assert validate.problems(unknown), "an unknown kind"
    assert validate.validate([monitor, monitor])[f"ServiceMonitor/{monitor['metadata']['name']}"]


# --- the PrometheusRule is alerts.yml ---------------------------------------------------------------------------------


def test_the_prometheus_rule_is_generated_from_alerts_yml() -> None:
    generator = tool("prometheus_rule")
    written = generator.PROMETHEUS_RULE.read_text(encoding="utf-8")
    assert written == generator.render(ALERTS_PATH.read_text(encoding="utf-8")), (
        "components/monitoring/prometheusrule.yaml differs from deploy/prometheus/alerts.yml: "
        "run python3 deploy/kubernetes/tools/prometheus_rule.py"
    )
    rule = load_yaml(generator.PROMETHEUS_RULE)
    assert rule["spec"]["groups"] == load_yaml(ALERTS_PATH)["groups"]
    assert generator.main(["--check"]) == 0


def test_the_generator_check_fails_on_drift(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    generator = tool("prometheus_rule")
    stale = tmp_path / "prometheusrule.yaml"
    stale.write_text(generator.PROMETHEUS_RULE.read_text(encoding="utf-8").replace("for: 2m", "for: 3m", 1))
    monkeypatch.setattr(generator, "PROMETHEUS_RULE", stale)
    monkeypatch.setattr(generator, "ROOT", tmp_path)
    monkeypatch.setattr(generator, "__file__", str(tmp_path / "prometheus_rule.py"))
    assert generator.main(["--check"]) == 1
    assert generator.main([]) == 0
    assert generator.main(["--check"]) == 0


def test_the_monitoring_scrapes_the_job_the_alerts_expect(production: list[dict[str, Any]]) -> None:
    service = one(production, "Service")
    monitor = one(production, "ServiceMonitor")
    assert "jobLabel" not in monitor["spec"]  # the job label is then the Service's name
    assert service["metadata"]["name"] == "axis-gateway"
    down = next(r for r in load_yaml(ALERTS_PATH)["groups"][0]["rules"] if r["alert"] == "AxisGatewayDown")
    assert 'job="axis-gateway"' in down["expr"]
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert selector.items() <= service["metadata"]["labels"].items()
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] in {port["name"] for port in service["spec"]["ports"]}
    assert endpoint["path"] == "/metrics" and "/metrics" in {route.path for route in health_router.routes}
    assert endpoint["interval"] == "15s"  # the alerts' 1-minute windows need two scrapes in them
    assert monitor["metadata"]["namespace"] == service["metadata"]["namespace"]


# --- the manifests agree with the gateway -----------------------------------------------------------------------------


def test_the_server_and_the_migration_run_commands_that_exist(production: list[dict[str, Any]]) -> None:
    container = gateway_container(production)
    assert container["command"] == ["gateway"]
    assert container["args"][:2] == ["serve", "--no-migrate"]
    accepted_by_the_cli(container["args"])
    job = one(production, "Job", "axis-gateway-migrate")
    (migrate,) = job["spec"]["template"]["spec"]["containers"]
    assert [*migrate["command"], *migrate["args"]] == ["gateway", "db", "upgrade"]
    accepted_by_the_cli(migrate["args"])
    assert migrate["image"] == container["image"]
    assert migrate["envFrom"] == container["envFrom"], "the Job migrates the database the server uses"
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    server = one(production, "Deployment")["spec"]["template"]
    environment = pod_environment(production)
    for path in (PurePosixPath(environment[CONFIG_ENV]).parent, PurePosixPath(environment[SECRETS_DIR_ENV])):
        served = mounts(server, container)[path]
        assert mounts(job["spec"]["template"], migrate)[path] == served, f"the Job reads {path} as the server"


def test_the_pods_check_their_settings_first(overlay: str) -> None:
    """The init container runs ``gateway config check`` with the server's image, environment and settings."""
    resources = build(overlay)
    template = one(resources, "Deployment")["spec"]["template"]
    container = gateway_container(resources)
    (check,) = template["spec"]["initContainers"]
    assert [*check["command"], *check["args"]] == ["gateway", "config", "check"]
    accepted_by_the_cli(check["args"])
    assert check["image"] == container["image"] and check["envFrom"] == container["envFrom"]
    environment = pod_environment(resources)
    settings_dirs = {PurePosixPath(environment[CONFIG_ENV]).parent}
    if SECRETS_DIR_ENV in environment:
        settings_dirs.add(PurePosixPath(environment[SECRETS_DIR_ENV]))
    # The key files the settings name, as the server has them (a wrong data-keys Secret stops the pod here).
    settings_dirs |= {PurePosixPath(environment[name]).parent for name in KEY_FILES if name in environment}
    if overlay == "production":
        assert set(KEY_FILES) <= set(environment)
    checked = mounts(template, check)
    for path in settings_dirs:
        assert checked[path] == mounts(template, container)[path], path
        assert checked[path]["readOnly"] is True or "emptyDir" in checked[path], path
    assert template["metadata"]["annotations"]["kubectl.kubernetes.io/default-container"] == container["name"]


def test_the_settings_file_passes_the_config_check(overlay: str, tmp_path: Path) -> None:
    """``gateway config check`` as the pods run it, with stand-in secrets, accepts the overlay's settings (and the
    connectors they configure), and refuses the file once it names a setting that does not exist."""
    resources = build(overlay)
    secrets = PRODUCTION_SECRETS if overlay == "production" else {}
    run = config_check(resources, tmp_path / "ok", secrets)
    assert run.returncode == 0, run.stderr
    shown = json.loads(run.stdout)
    assert shown["environment"] == ("production" if overlay == "production" else "development")
    assert set(shown["connectors"]) == set(file_settings(resources).get("connectors", {}))
    assert "stand-in" not in run.stdout, "the secrets are masked"
    if overlay == "production":
        assert shown["database_url"] == "postgresql://gateway:**********@192.0.2.10:5432/gateway"
        assert shown["connectors"]["population"]["config"]["url"].startswith("postgresql://reader:****")
    bad = config_check(resources, tmp_path / "bad", secrets, settings_file(resources) + "\nno_such_setting = 1\n")
    assert bad.returncode == 2 and "no_such_setting" in bad.stderr
    if overlay == "production":
        missing = config_check(resources, tmp_path / "missing", {})
        assert missing.returncode == 2 and "population" in missing.stderr, "the population URL is a secret file"


def test_the_quality_scans_run_weekly_with_the_servers_settings(production: list[dict[str, Any]]) -> None:
    """A CronJob runs ``gateway quality scan`` of every configured database once a week, within the staleness bound
    of the alerts on data quality, with the server's image, settings, secrets and keys."""
    cron = one(production, "CronJob", "axis-gateway-quality-scan")
    minute, hour, day, month, weekday = cron["spec"]["schedule"].split()
    assert minute.isdigit() and hour.isdigit() and weekday.isdigit() and (day, month) == ("*", "*"), "weekly"
    stale = next(rule for rule in load_yaml(ALERTS_PATH)["groups"][0]["rules"] if rule["alert"] == "QualityScanStale")
    bound = re.search(r">\s*(\d+)\s*\*\s*86400", stale["expr"])
    assert bound and int(bound.group(1)) > 7, "a weekly scan keeps within the alert's bound"
    ZoneInfo(cron["spec"]["timeZone"])
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    assert cron["spec"]["startingDeadlineSeconds"] < 86400
    job = cron["spec"]["jobTemplate"]
    template = job["spec"]["template"]
    assert template["spec"]["restartPolicy"] == "Never"
    (container,) = template["spec"]["containers"]
    script = container["command"][2]
    assert container["command"][:2] == ["/bin/sh", "-c"] and container.get("args", []) == [], "every database"
    assert 'gateway quality scan "$database"' in script and "exec gateway quality scan --all" in script
    accepted_by_the_cli(["quality", "scan", "population"])
    accepted_by_the_cli(["quality", "scan", "--all"])
    server = one(production, "Deployment")["spec"]["template"]
    server_container = gateway_container(production)
    assert container["image"] == server_container["image"] and container["envFrom"] == server_container["envFrom"]
    environment = pod_environment(production)
    paths = {PurePosixPath(environment[CONFIG_ENV]).parent, PurePosixPath(environment[SECRETS_DIR_ENV])}
    paths |= {PurePosixPath(environment[name]).parent for name in KEY_FILES}
    scan_mounts, server_mounts = mounts(template, container), mounts(server, server_container)
    for path in paths:
        assert scan_mounts[path] == server_mounts[path], f"the scans read {path} as the server"
    labels = template["metadata"]["labels"]
    policy = one(production, "NetworkPolicy")["spec"]["podSelector"]["matchLabels"]
    assert policy.items() <= labels.items(), "the scans may reach the database and the sector systems"
    for selector in (
        one(production, "Service")["spec"]["selector"],
        one(production, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"],
        one(production, "Deployment")["spec"]["selector"]["matchLabels"],
    ):
        assert not selector.items() <= labels.items(), "the scans' pods are not servers"


def test_the_quality_scans_run_with_what_they_mount(production: list[dict[str, Any]], tmp_path: Path) -> None:
    """The CronJob's script, run here as in its pod (its environment, only its volumes, SQLite for the gateway's
    database and the population database, migrated by the migration Job first): with no arguments it scans every
    configured database; naming databases, it scans those, goes on after one that cannot be scanned and fails
    naming it."""
    population = tmp_path / "population.db"
    asyncio.run(seed_population(f"sqlite+aiosqlite:///{population}", count=200))
    secrets = {
        "axis-gateway-secrets": PRODUCTION_SECRETS
        | {
            "gateway_database_url": f"sqlite:///{tmp_path / 'gateway.db'}",
            "gateway_connectors__population__config__url": f"sqlite+aiosqlite:///{population}",
        },
        "axis-gateway-pepper": {"secret-pepper": "stand-in pepper of the quality scans' test"},
        "axis-gateway-data-keys": {"data-keys": new_key() + "\n"},
    }
    migrate = run_container(production, "Job", "axis-gateway-migrate", tmp_path / "migrate", secrets)
    assert migrate.returncode == 0, migrate.stderr
    cron = "axis-gateway-quality-scan"
    every = run_container(production, "CronJob", cron, tmp_path / "every", secrets)
    assert every.returncode == 0, every.stdout + every.stderr
    assert re.findall(r"^== (\w+)$", every.stdout, re.MULTILINE) == ["population"]
    assert re.search(r"^population: \d+ records scanned .*scores stored$", every.stdout, re.MULTILINE), every.stdout
    named = run_container(production, "CronJob", cron, tmp_path / "named", secrets, args=["land", "population"])
    assert named.returncode == 1
    assert "no connector is configured for 'land'" in named.stderr and "error: not scanned: land" in named.stderr
    assert re.search(r"^population: \d+ records scanned .*scores stored$", named.stdout, re.MULTILINE)


def test_the_demo_runs_the_demo_command(demo: list[dict[str, Any]]) -> None:
    container = gateway_container(demo)
    assert container["args"][0] == "demo"
    accepted_by_the_cli(container["args"])
    assert file_settings(demo)["environment"] == "development"  # gateway demo refuses production
    assert SECRETS_DIR_ENV not in pod_environment(demo)
    assert not kinds(demo) & {"Job", "CronJob", "HorizontalPodAutoscaler", "PodDisruptionBudget", "Secret"}
    assert "secret" not in str(one(demo, "Deployment")["spec"]).lower(), "the demo needs no Secret"
    assert one(demo, "Deployment")["spec"]["replicas"] == 1


def test_the_probes_ask_the_gateways_health_endpoints(overlay: str) -> None:
    resources = build(overlay)
    container = gateway_container(resources)
    routes = {route.path for route in health_router.routes}
    probes = {kind: container[f"{kind}Probe"]["httpGet"] for kind in ("startup", "liveness", "readiness")}
    assert probes["startup"]["path"] == probes["liveness"]["path"] == "/healthz"
    assert probes["readiness"]["path"] == "/readyz"
    assert {probe["path"] for probe in probes.values()} <= routes
    (port,) = container["ports"]
    args = container["args"]
    assert port["containerPort"] == int(args[args.index("--port") + 1])
    assert args[args.index("--host") + 1] == "0.0.0.0"
    assert all(probe["port"] == port["name"] for probe in probes.values())
    service = one(resources, "Service")
    assert [p["targetPort"] for p in service["spec"]["ports"]] == [port["name"]]


def test_every_setting_is_a_setting_of_the_gateway(overlay: str) -> None:
    """The pods' environment names only settings (and where the settings file and secrets directory are); the
    settings file only settings; and the environment, which wins over the file, sets nothing the file sets."""
    resources = build(overlay)
    known = {f"GATEWAY_{name.upper()}" for name in Settings.model_fields} | CLI_VARIABLES
    unknown = sorted(set(pod_environment(resources)) - known)
    assert not unknown, f"not settings of the gateway: {unknown}"
    in_file = file_settings(resources)
    assert not sorted(set(in_file) - set(Settings.model_fields)), "not settings of the gateway"
    shadowed = {name.removeprefix("GATEWAY_").lower() for name in pod_environment(resources)} & set(in_file)
    assert not shadowed, f"set in the settings file and overridden by the environment: {shadowed}"


def test_the_production_settings(
    production: list[dict[str, Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The settings a production pod reads: settings file, secrets directory, environment, as the gateway reads
    them."""
    (tmp_path / "gateway.toml").write_text(settings_file(production), encoding="utf-8")
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    for name, value in PRODUCTION_SECRETS.items():
        (secrets / name).write_text(value, encoding="utf-8")
    for name in [name for name in os.environ if name.startswith("GATEWAY_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv(CONFIG_ENV, str(tmp_path / "gateway.toml"))
    monkeypatch.setenv(SECRETS_DIR_ENV, str(secrets))
    built = Settings()
    assert built.environment == "production"
    assert built.rate_limit_per_second and built.rate_limit_per_day, "rate limits are on in production"
    assert not built.rate_limit_fail_open
    assert built.database_url.startswith("postgresql://") and built.redis_url
    assert built.connectors["population"].connector == "population"
    assert (
        built.connectors["population"].config["url"]
        == PRODUCTION_SECRETS["gateway_connectors__population__config__url"]
    )
    container = gateway_container(production)
    assert all("configMapRef" in ref for ref in container["envFrom"]), "no secret in the environment"
    assert "GATEWAY_SIGNING_KEY_PATH" not in pod_environment(production)
    assert "signing-key" not in str(one(production, "Deployment")["spec"]), "the signing keys are in the database"


def test_the_secrets_are_files_of_the_mounted_secrets(production: list[dict[str, Any]]) -> None:
    """The secrets directory is a Secret, and each key setting names a file that a Secret projects, all read-only
    and readable by the gateway's group only."""
    environment = pod_environment(production)
    template = one(production, "Deployment")["spec"]["template"]
    mounted = mounts(template, gateway_container(production))
    secrets_dir = mounted[PurePosixPath(environment[SECRETS_DIR_ENV])]
    assert secrets_dir["secret"]["secretName"] == "axis-gateway-secrets"
    assert "items" not in secrets_dir["secret"], "every file of the Secret is a setting"
    assert secrets_dir["secret"]["defaultMode"] == 0o440 and secrets_dir["readOnly"] is True
    for setting in ("GATEWAY_SECRET_PEPPER_PATH", "GATEWAY_DATA_KEY_FILE"):
        path = PurePosixPath(environment[setting])
        volume = mounted[path.parent]
        assert volume["readOnly"] is True and volume["projected"]["defaultMode"] == 0o440
        projected = {item["path"] for source in volume["projected"]["sources"] for item in source["secret"]["items"]}
        assert path.name in projected, setting
    config = mounted[PurePosixPath(environment[CONFIG_ENV]).parent]
    assert config["readOnly"] is True and "configMap" in config
    assert template["spec"]["securityContext"]["fsGroup"] == template["spec"]["securityContext"]["runAsGroup"]


def test_the_signing_key_import_component(tmp_path: Path) -> None:
    """Once, for a deployment whose signing key was a file: a Job imports the key file of the earlier Secret with
    ``gateway keys import``, with the server's settings and data keys; the replicas get the file too, where
    ``GATEWAY_SIGNING_KEY_PATH`` says, so that the first of them imports the same key."""
    resources = build_with_component("signing-key-import")
    validate = tool("validate")
    assert not {name: errors for name, errors in validate.validate(resources).items() if errors}
    job = one(resources, "Job", "axis-gateway-import-signing-key")
    template = job["spec"]["template"]
    (container,) = template["spec"]["containers"]
    assert container["command"] == ["gateway"] and container["args"][:2] == ["keys", "import"]
    accepted_by_the_cli(container["args"])
    key_file = PurePosixPath(container["args"][container["args"].index("--path") + 1])
    legacy = mounts(template, container)[key_file.parent]
    assert legacy["secret"]["secretName"] == "axis-gateway-signing-key"
    assert key_file.name in {item["path"] for item in legacy["secret"]["items"]}
    server = one(resources, "Deployment")["spec"]["template"]
    server_container = server["spec"]["containers"][0]
    assert container["envFrom"] == server_container["envFrom"] and container["image"] == server_container["image"]
    environment = pod_environment(resources)
    job_mounts, server_mounts = mounts(template, container), mounts(server, server_container)
    for setting in (CONFIG_ENV, SECRETS_DIR_ENV):
        path = PurePosixPath(environment[setting])
        path = path.parent if setting == CONFIG_ENV else path
        assert job_mounts[path] == server_mounts[path], setting
    data_keys = PurePosixPath(environment["GATEWAY_DATA_KEY_FILE"])
    (source,) = job_mounts[data_keys.parent]["projected"]["sources"]  # the data keys, not the pepper
    assert source in server_mounts[data_keys.parent]["projected"]["sources"]
    assert data_keys.name in {item["path"] for item in source["secret"]["items"]}
    assert {"name": "GATEWAY_SIGNING_KEY_PATH", "value": str(key_file)} in server_container["env"]
    assert server_mounts[key_file.parent] == legacy
    policy = one(resources, "NetworkPolicy")["spec"]["podSelector"]["matchLabels"]
    assert policy.items() <= template["metadata"]["labels"].items(), "the Job may reach the database"
    assert template["spec"]["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True


def test_what_the_gateway_writes_is_on_an_empty_dir(overlay: str) -> None:
    """The root filesystem is read-only: the data directory (a directory the gateway makes 0700, so not the mount
    point itself, which belongs to root) and /tmp are in emptyDir volumes."""
    resources = build(overlay)
    data_dir = PurePosixPath(pod_environment(resources)["GATEWAY_DATA_DIR"])
    for name, template in pod_templates(resources):
        empty = {v["name"] for v in template["spec"]["volumes"] if "emptyDir" in v}
        for container in template["spec"]["containers"]:
            writable = [
                PurePosixPath(m["mountPath"])
                for m in container["volumeMounts"]
                if m["name"] in empty and not m.get("readOnly")
            ]
            assert PurePosixPath("/tmp") in writable, name
            assert any(data_dir.is_relative_to(mount) and data_dir != mount for mount in writable), name


def test_the_jobs_run_with_what_they_mount(tmp_path: Path) -> None:
    """The migration Job and the signing-key import Job, run here as in their pods (their environment, only their
    volumes, SQLite for the database): the schema is brought up, then the earlier deployment's key file becomes the
    active signing key, its kid kept."""
    resources = build_with_component("signing-key-import")
    key = new_signing_key("ES256")
    secrets = {
        "axis-gateway-secrets": PRODUCTION_SECRETS | {"gateway_database_url": f"sqlite:///{tmp_path / 'gateway.db'}"},
        "axis-gateway-data-keys": {"data-keys": new_key() + "\n"},
        "axis-gateway-signing-key": {"signing-key.pem": key.pem.decode()},
    }
    migrate = run_container(resources, "Job", "axis-gateway-migrate", tmp_path / "migrate", secrets)
    assert migrate.returncode == 0, migrate.stderr
    imported = run_container(resources, "Job", "axis-gateway-import-signing-key", tmp_path / "import", secrets)
    assert imported.returncode == 0, imported.stderr
    assert f"kid:        {key.kid}" in imported.stdout and "imported:   yes" in imported.stdout


# --- security ---------------------------------------------------------------------------------------------------------


def test_every_pod_is_restricted(overlay: str) -> None:
    """The "restricted" Pod Security Standard, and more: read-only root filesystem, no service-account token."""
    resources = build(overlay)
    namespace = one(resources, "Namespace")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    templates = pod_templates(resources)
    assert templates
    for name, template in templates:
        spec = template["spec"]
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["runAsUser"] == 10001, name  # the image's gateway user
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert spec["automountServiceAccountToken"] is False, name
        assert spec["enableServiceLinks"] is False, name  # a Service named gateway would set GATEWAY_PORT
        assert not spec.get("hostNetwork") and not spec.get("hostPID") and not spec.get("hostIPC"), name
        for container in spec["containers"] + spec.get("initContainers", []):
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["readOnlyRootFilesystem"] is True, name
            assert context["capabilities"] == {"drop": ["ALL"]}, name
            assert not context.get("privileged"), name
            assert container["resources"]["requests"] and container["resources"]["limits"]["memory"], name
        for volume in spec["volumes"]:
            assert set(volume) - {"name"} <= {"emptyDir", "projected", "secret", "configMap"}, name


def test_the_network_policy_lets_in_and_out_only_what_the_gateway_needs(overlay: str) -> None:
    resources = build(overlay)
    policy = one(resources, "NetworkPolicy")
    spec = policy["spec"]
    assert sorted(spec["policyTypes"]) == ["Egress", "Ingress"]
    pods = one(resources, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert spec["podSelector"]["matchLabels"].items() <= pods.items()
    if overlay == "production":
        job_pods = one(resources, "Job")["spec"]["template"]["metadata"]["labels"]
        assert spec["podSelector"]["matchLabels"].items() <= job_pods.items()
    for rule in spec["ingress"]:
        assert rule["from"] and rule["ports"], "every ingress rule names its peers and ports"
        assert [port["port"] for port in rule["ports"]] == ["http"]
    ports: set[tuple[int, str]] = set()
    for rule in spec["egress"]:
        assert rule["to"] and rule["ports"], "every egress rule names its peers and ports"
        for peer in rule["to"]:
            assert peer, "an empty peer lets everything out"
            if "ipBlock" in peer:
                assert peer["ipBlock"]["cidr"] not in {"0.0.0.0/0", "::/0"}
        ports |= {(port["port"], port.get("protocol", "TCP")) for port in rule["ports"]}
    assert {(53, "UDP"), (53, "TCP")} <= ports
    if overlay == "production":
        assert {(5432, "TCP"), (6379, "TCP"), (443, "TCP")} <= ports


# --- availability -----------------------------------------------------------------------------------------------------


def test_scaling_and_disruptions(production: list[dict[str, Any]]) -> None:
    deployment = one(production, "Deployment")
    pods = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pods.items()
    job_pods = one(production, "Job")["spec"]["template"]["metadata"]["labels"]
    for selector in (
        deployment["spec"]["selector"]["matchLabels"],
        one(production, "Service")["spec"]["selector"],
        one(production, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"],
    ):
        assert selector.items() <= pods.items()
        assert not selector.items() <= job_pods.items(), "the migration's pods are not servers"
    hpa = one(production, "HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
    assert 2 <= hpa["spec"]["minReplicas"] <= deployment["spec"]["replicas"] <= hpa["spec"]["maxReplicas"]
    pdb = one(production, "PodDisruptionBudget")
    assert pdb["spec"]["maxUnavailable"] == 1
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


def test_the_image_is_the_gateways_version(overlay: str) -> None:
    """Production runs the gateway's image; the demo the demo's, which adds the simulated sector systems
    (``docker build --build-arg DEMO=true``, as deploy/kubernetes/README.md builds it)."""
    image = "axis-gateway-demo" if overlay == "demo" else "axis-gateway"
    resources = build(overlay)
    for _, template in pod_templates(resources):
        for container in [*template["spec"].get("initContainers", []), *template["spec"]["containers"]]:
            assert container["image"].rpartition("/")[2] == f"{image}:{__version__}"
    if overlay == "demo":
        readme = (KIT / "README.md").read_text(encoding="utf-8")
        assert f"docker build --build-arg DEMO=true -t {image}:{__version__} ." in readme
        assert f"kind load docker-image {image}:{__version__}" in readme


def test_the_cli_checker_refuses_what_does_not_exist() -> None:
    with pytest.raises(AssertionError):
        accepted_by_the_cli(["serve", "--no-such-option"])
    with pytest.raises(AssertionError):
        accepted_by_the_cli(["db", "no-such-command"])

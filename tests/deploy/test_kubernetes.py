"""deploy/kubernetes/: both overlays build with ``kubectl kustomize`` and validate offline against the schemas of
the pinned Kubernetes version (the Prometheus Operator's resources against their CRDs' part the kit uses); the
validator rejects what it must; the PrometheusRule is alerts.yml; and the manifests agree with the gateway (its
commands, health endpoints, settings, port) and with the security and availability the kit promises."""

from __future__ import annotations

import copy
import io
from pathlib import PurePosixPath
from typing import Any

import pytest
from kube_kit import OVERLAYS, accepted_by_the_cli, build, build_text, kinds, one, tool
from ops_kit import ALERTS as ALERTS_PATH
from ops_kit import load_yaml

from gateway import __version__
from gateway.routers.health import router as health_router
from gateway.settings import Settings

CORE_KINDS = {"Namespace", "ServiceAccount", "ConfigMap", "Service", "Deployment", "NetworkPolicy"}
PRODUCTION_KINDS = CORE_KINDS | {
    "Job",
    "HorizontalPodAutoscaler",
    "PodDisruptionBudget",
    "ServiceMonitor",
    "PrometheusRule",
}
#: Variables the ``gateway`` command reads besides the settings (``gateway serve --host/--port``).
CLI_VARIABLES = {"GATEWAY_HOST", "GATEWAY_PORT"}


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
    return [
        (f"{r['kind']}/{r['metadata']['name']}", r["spec"]["template"])
        for r in resources
        if r["kind"] in {"Deployment", "Job"}
    ]


def config_map(resources: list[dict[str, Any]]) -> dict[str, str]:
    data: dict[str, str] = one(resources, "ConfigMap")["data"]
    return data


def gateway_container(resources: list[dict[str, Any]]) -> dict[str, Any]:
    (container,) = one(resources, "Deployment", "axis-gateway")["spec"]["template"]["spec"]["containers"]
    return container


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


def test_the_demo_runs_the_demo_command(demo: list[dict[str, Any]]) -> None:
    container = gateway_container(demo)
    assert container["args"][0] == "demo"
    accepted_by_the_cli(container["args"])
    assert config_map(demo)["GATEWAY_ENVIRONMENT"] == "development"  # gateway demo refuses production
    assert not kinds(demo) & {"Job", "HorizontalPodAutoscaler", "PodDisruptionBudget", "Secret"}
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


def test_every_setting_of_the_config_map_is_a_setting_of_the_gateway(overlay: str) -> None:
    known = {f"GATEWAY_{name.upper()}" for name in Settings.model_fields} | CLI_VARIABLES
    unknown = sorted(set(config_map(build(overlay))) - known)
    assert not unknown, f"not settings of the gateway: {unknown}"


def test_the_production_settings(production: list[dict[str, Any]]) -> None:
    settings = config_map(production)
    assert settings["GATEWAY_ENVIRONMENT"] == "production"
    built = Settings.model_validate({key.removeprefix("GATEWAY_").lower(): value for key, value in settings.items()})
    assert built.rate_limit_per_second and built.rate_limit_per_day, "rate limits are on in production"
    assert not built.rate_limit_fail_open
    container = gateway_container(production)
    assert {"configMapRef": {"name": one(production, "ConfigMap")["metadata"]["name"]}} in container["envFrom"]
    assert {"secretRef": {"name": "axis-gateway-env"}} in container["envFrom"]


def test_the_keys_are_files_of_the_mounted_secrets(production: list[dict[str, Any]]) -> None:
    """Each key setting names a file that a Secret projects into the read-only secrets volume."""
    settings = config_map(production)
    template = one(production, "Deployment")["spec"]["template"]
    mounts = {m["name"]: m for m in gateway_container(production)["volumeMounts"]}
    (volume,) = [v for v in template["spec"]["volumes"] if v["name"] == "secrets"]
    assert mounts["secrets"]["readOnly"] is True
    directory = PurePosixPath(mounts["secrets"]["mountPath"])
    projected = {
        directory / item["path"]: (source["secret"]["name"], item["key"])
        for source in volume["projected"]["sources"]
        for item in source["secret"]["items"]
    }
    for setting in ("GATEWAY_SECRET_PEPPER_PATH", "GATEWAY_DATA_KEY_FILE", "GATEWAY_SIGNING_KEY_PATH"):
        assert PurePosixPath(settings[setting]) in projected, setting
    assert volume["projected"]["defaultMode"] == 0o440  # readable through fsGroup, by nobody else
    assert template["spec"]["securityContext"]["fsGroup"] == template["spec"]["securityContext"]["runAsGroup"]


def test_what_the_gateway_writes_is_on_an_empty_dir(overlay: str) -> None:
    """The root filesystem is read-only: the data directory (a directory the gateway makes 0700, so not the mount
    point itself, which belongs to root) and /tmp are in emptyDir volumes."""
    resources = build(overlay)
    data_dir = PurePosixPath(config_map(resources)["GATEWAY_DATA_DIR"])
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
    resources = build(overlay)
    for _, template in pod_templates(resources):
        for container in template["spec"]["containers"]:
            assert container["image"].endswith(f"axis-gateway:{__version__}")


def test_the_cli_checker_refuses_what_does_not_exist() -> None:
    with pytest.raises(AssertionError):
        accepted_by_the_cli(["serve", "--no-such-option"])
    with pytest.raises(AssertionError):
        accepted_by_the_cli(["db", "no-such-command"])

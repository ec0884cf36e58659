"""Write the PrometheusRule of the Kubernetes kit from the alert rules of the ops kit.

``deploy/prometheus/alerts.yml`` is the one source of the alert rules: Prometheus loads it as it is (docker compose,
an existing Prometheus), and the Prometheus Operator gets the same groups in a PrometheusRule,
``deploy/kubernetes/components/monitoring/prometheusrule.yaml``, written by this script:

    python3 deploy/kubernetes/tools/prometheus_rule.py           # write it
    python3 deploy/kubernetes/tools/prometheus_rule.py --check   # exit 1 if it differs from what alerts.yml gives

Change alerts.yml, then run the script; a test fails while the two differ.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[3]
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
PROMETHEUS_RULE = ROOT / "deploy" / "kubernetes" / "components" / "monitoring" / "prometheusrule.yaml"

HEADER = """\
# GENERATED from deploy/prometheus/alerts.yml by deploy/kubernetes/tools/prometheus_rule.py: do not edit.
# The alert rules of the ops kit for the Prometheus Operator (deploy/README.md describes each alert). Change
# alerts.yml and run `python3 deploy/kubernetes/tools/prometheus_rule.py`.
"""


class _Dumper(yaml.SafeDumper):
    """Block style for multi-line strings (PromQL, descriptions), as in alerts.yml."""


def _string(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _string)


def prometheus_rule(alerts: dict[str, Any]) -> dict[str, Any]:
    """The PrometheusRule (monitoring.coreos.com/v1) holding the rule groups of ``alerts`` (alerts.yml, loaded)."""
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": "axis-gateway",
            "labels": {
                "app.kubernetes.io/name": "axis-gateway",
                "app.kubernetes.io/part-of": "axis-gateway",
            },
        },
        "spec": {"groups": alerts["groups"]},
    }


def render(alerts_text: str) -> str:
    """The text of the PrometheusRule file for the text of alerts.yml."""
    alerts = yaml.safe_load(alerts_text)
    body = yaml.dump(prometheus_rule(alerts), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=120, indent=2)
    return HEADER + body


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="Exit 1 if the file differs from what alerts.yml gives.")
    args = parser.parse_args(argv)
    text = render(ALERTS.read_text(encoding="utf-8"))
    if args.check:
        current = PROMETHEUS_RULE.read_text(encoding="utf-8") if PROMETHEUS_RULE.exists() else ""
        if current != text:
            print(f"{PROMETHEUS_RULE.relative_to(ROOT)} is out of date: run {Path(__file__).relative_to(ROOT)}")
            return 1
        return 0
    PROMETHEUS_RULE.write_text(text, encoding="utf-8")
    print(f"wrote {PROMETHEUS_RULE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

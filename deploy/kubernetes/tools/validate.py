"""Validate rendered Kubernetes manifests offline, for a pinned Kubernetes version.

    kubectl kustomize deploy/kubernetes/overlays/production | python3 deploy/kubernetes/tools/validate.py

Core resources (Deployment, Service, NetworkPolicy, ...) are checked against that version's OpenAPI schemas, in
strict mode (an unknown field fails), with the schemas that the ``kubernetes-validate`` package bundles: nothing
is downloaded. The Prometheus Operator's resources (ServiceMonitor, PrometheusRule) are not in those schemas:
they are checked against the part of their CRDs' schemas given below. Any other kind fails. Prints one line per
resource; exits 1 when one is invalid.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

#: The Kubernetes version the manifests are written for: the oldest release they must apply to.
KUBERNETES_VERSION = "1.32.0"

_DURATION = {
    "type": "string",
    "pattern": r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$",
}
_STRINGS = {"type": "object", "additionalProperties": {"type": "string"}}
_LABEL_SELECTOR = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "matchLabels": _STRINGS,
        "matchExpressions": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["key", "operator"],
                "properties": {
                    "key": {"type": "string"},
                    "operator": {"enum": ["In", "NotIn", "Exists", "DoesNotExist"]},
                    "values": {"type": "array", "items": {"type": "string"}},
                },
            },
        },
    },
}
_METADATA = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"},
        "namespace": {"type": "string"},
        "labels": _STRINGS,
        "annotations": _STRINGS,
    },
}


def _resource(kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "additionalProperties": False,
        "properties": {
            "apiVersion": {"const": "monitoring.coreos.com/v1"},
            "kind": {"const": kind},
            "metadata": _METADATA,
            "spec": spec,
        },
    }


#: The parts of the Prometheus Operator's CRD schemas (monitoring.coreos.com/v1) that the kit uses, strict.
CRD_SCHEMAS: dict[tuple[str, str], dict[str, Any]] = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"): _resource(
        "ServiceMonitor",
        {
            "type": "object",
            "required": ["selector", "endpoints"],
            "additionalProperties": False,
            "properties": {
                "selector": _LABEL_SELECTOR,
                "namespaceSelector": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "any": {"type": "boolean"},
                        "matchNames": {"type": "array", "items": {"type": "string"}},
                    },
                },
                "jobLabel": {"type": "string"},
                "targetLabels": {"type": "array", "items": {"type": "string"}},
                "podTargetLabels": {"type": "array", "items": {"type": "string"}},
                "sampleLimit": {"type": "integer", "minimum": 0},
                "endpoints": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {
                            "port": {"type": "string"},
                            "targetPort": {"type": ["string", "integer"]},
                            "path": {"type": "string", "pattern": "^/"},
                            "scheme": {"enum": ["http", "https"]},
                            "interval": _DURATION,
                            "scrapeTimeout": _DURATION,
                            "honorLabels": {"type": "boolean"},
                            "honorTimestamps": {"type": "boolean"},
                            "params": {
                                "type": "object",
                                "additionalProperties": {"type": "array", "items": {"type": "string"}},
                            },
                            "relabelings": {"type": "array", "items": {"type": "object"}},
                            "metricRelabelings": {"type": "array", "items": {"type": "object"}},
                            "tlsConfig": {"type": "object"},
                            "authorization": {"type": "object"},
                        },
                    },
                },
            },
        },
    ),
    ("monitoring.coreos.com/v1", "PrometheusRule"): _resource(
        "PrometheusRule",
        {
            "type": "object",
            "required": ["groups"],
            "additionalProperties": False,
            "properties": {
                "groups": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["name", "rules"],
                        "additionalProperties": False,
                        "properties": {
                            "name": {"type": "string", "minLength": 1},
                            "interval": _DURATION,
                            "limit": {"type": "integer"},
                            "query_offset": _DURATION,
                            "labels": _STRINGS,
                            "rules": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "required": ["expr"],
                                    "oneOf": [{"required": ["alert"]}, {"required": ["record"]}],
                                    "additionalProperties": False,
                                    "properties": {
                                        "alert": {"type": "string", "pattern": "^[a-zA-Z_][a-zA-Z0-9_]*$"},
                                        "record": {"type": "string", "pattern": "^[a-zA-Z_:][a-zA-Z0-9_:]*$"},
                                        "expr": {"type": ["string", "integer"], "minLength": 1},
                                        "for": _DURATION,
                                        "keep_firing_for": _DURATION,
                                        "labels": _STRINGS,
                                        "annotations": _STRINGS,
                                    },
                                },
                            },
                        },
                    },
                },
            },
        },
    ),
}


def problems(resource: dict[str, Any], version: str = KUBERNETES_VERSION) -> list[str]:
    """What is wrong with ``resource`` (empty: valid) for Kubernetes ``version``."""
    key = (resource.get("apiVersion", ""), resource.get("kind", ""))
    if key in CRD_SCHEMAS:
        validator = jsonschema.Draft202012Validator(CRD_SCHEMAS[key])
        return [
            f"{'.'.join(map(str, error.absolute_path)) or '(root)'}: {error.message}"
            for error in sorted(validator.iter_errors(resource), key=lambda error: list(error.absolute_path))
        ]
    try:
        kubernetes_validate.validate(resource, version, strict=True)
    except kubernetes_validate.ValidationError as error:
        return [f"{'.'.join(map(str, error.path)) or '(root)'}: {error.message}"]
    except kubernetes_validate.SchemaNotFoundError:
        return [f"no schema for {key[1]} {key[0]} in Kubernetes {version} (nor among the CRDs checked here)"]
    return []


def validate(resources: Iterable[dict[str, Any]], version: str = KUBERNETES_VERSION) -> dict[str, list[str]]:
    """``kind/name`` -> what is wrong with it, for every resource (an empty list: valid)."""
    found: dict[str, list[str]] = {}
    for resource in resources:
        name = f"{resource.get('kind')}/{resource.get('metadata', {}).get('name')}"
        if name in found:
            found[name] = [*found[name], "defined twice"]
            continue
        found[name] = problems(resource, version)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file", nargs="?", default="-", help="A YAML stream of manifests; - (default): stdin.")
    parser.add_argument("--kubernetes-version", default=KUBERNETES_VERSION, help="Default: %(default)s.")
    args = parser.parse_args(argv)
    text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text(encoding="utf-8")
    resources = [document for document in yaml.safe_load_all(text) if document]
    if not resources:
        print("error: no resources to validate")
        return 1
    results = validate(resources, args.kubernetes_version)
    for name, errors in results.items():
        print(f"{'ok' if not errors else 'INVALID'}\t{name}")
        for error in errors:
            print(f"\t{error}")
    invalid = sum(1 for errors in results.values() if errors)
    print(f"{len(results) - invalid} valid, {invalid} invalid (Kubernetes {args.kubernetes_version})")
    return 1 if invalid else 0


if __name__ == "__main__":
    sys.exit(main())

"""deploy/README.md's table of alerts, which an operator reads to route and silence them, names every alert rule of
deploy/prometheus/alerts.yml with its severity, and no alert that is not a rule."""

from __future__ import annotations

import re

from ops_kit import DEPLOY, alert_rules

ROW = re.compile(r"^\| `(?P<alert>[A-Za-z]+)` \| (?P<severity>critical|warning) \|", re.MULTILINE)


def test_the_readme_lists_every_alert_with_its_severity() -> None:
    listed = {match["alert"]: match["severity"] for match in ROW.finditer((DEPLOY / "README.md").read_text("utf-8"))}
    rules = {rule["alert"]: rule["labels"]["severity"] for rule in alert_rules()}
    assert listed == rules

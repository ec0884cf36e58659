"""``gateway quality scan`` and ``report``, run as real subprocesses on a SQLite population database seeded with
defects planted at known rates (and a clean civil status database that registered every death): the measured
ratios are the planted ones, exactly when the scan reads every record, within the sampling error when it reads a
sample. The reports are JSON of a stable shape and an HTML page without a personal id or a name. The gateway's own
database is this module's (PostgreSQL when ``GATEWAY_TEST_DATABASE_URL`` is set)."""

from __future__ import annotations

import asyncio
import json
import math
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import pytest
from support import postgres_database

from connectors.sql.urls import to_async_url
from contracts.dates import vietnam_today
from gateway.core import migrations
from simulators.civil_status import seed_civil_status
from simulators.defects import PlantedDefects, PopulationDefects, plant_population_defects
from simulators.population import seed_population, synthetic_citizens

CITIZENS = 2000
SEED = 68
DEFECTS = PopulationDefects(
    unnormalised_names=0.03,
    duplicate_identities=0.02,
    missing_marital_status=0.025,
    stale_updates=0.04,
    birth_year_mismatch=0.01,
    unpropagated_deaths=0.3,
)
SAMPLE = 600
# The rule each planted defect fails, and the dimension of that rule.
RULES = {
    "unnormalised_names": ("population.citizen.names_normalised", "clean"),
    "duplicate_identities": ("population.citizen.unique_identity", "clean"),
    "missing_marital_status": ("population.citizen.expected_fields", "complete"),
    "stale_updates": ("population.citizen.fresh", "live"),
    "birth_year_mismatch": ("population.citizen.personal_id_consistent", "correct"),
    "unpropagated_deaths": ("population.citizen.death_propagated", "live"),
}


@dataclass(frozen=True)
class Planted:
    rows: list[dict[str, Any]]
    defects: PlantedDefects
    env: dict[str, str]
    cwd: Path

    def count(self, defect: str) -> int:
        return len(getattr(self.defects, defect))

    def run(self, *args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "gateway", "quality", *args],
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=240,
            check=False,
        )
        assert "Traceback" not in result.stdout + result.stderr, result.stderr
        assert result.returncode == code, (result.stdout, result.stderr)
        return result


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Planted]:
    today = vietnam_today()
    directory = tmp_path_factory.mktemp("quality-planted")
    population, civil_status = directory / "population.db", directory / "civil_status.db"
    asyncio.run(seed_population(f"sqlite:///{population}", count=CITIZENS, seed=SEED, today=today, defects=DEFECTS))
    asyncio.run(seed_civil_status(f"sqlite:///{civil_status}", count=CITIZENS, seed=SEED, today=today))
    rows, defects = plant_population_defects(synthetic_citizens(CITIZENS, SEED, today), DEFECTS, seed=SEED, today=today)
    connectors = {
        "population": {"config": {"url": f"sqlite:///{population}"}},
        "population_sample": {"connector": "population", "config": {"url": f"sqlite:///{population}"}},
        "civil_status": {"config": {"url": f"sqlite:///{civil_status}"}},
        # A REST-served database whose configuration declares no listing: its connector cannot sample.
        "driving_licences": {
            "config": {
                "base_url": "http://127.0.0.1:9",
                "auth": {"type": "api_key", "header": "X-API-Key", "key": "k"},
                "sample": None,
            }
        },
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env.update(
        {
            "GATEWAY_DATA_DIR": str(directory),
            "GATEWAY_CONNECTORS": json.dumps(connectors),
            "GATEWAY_LOG_LEVEL": "WARNING",
            "PYTHONIOENCODING": "utf-8",
        }
    )
    server = os.environ.get("GATEWAY_TEST_DATABASE_URL")
    if server:
        with postgres_database(server, prefix="gwqplant") as url:
            migrations.upgrade(url)
            yield Planted(rows, defects, {**env, "GATEWAY_DATABASE_URL": url}, directory)
    else:
        url = str(to_async_url(f"sqlite:///{directory / 'gateway.db'}"))
        migrations.upgrade(url)
        yield Planted(rows, defects, {**env, "GATEWAY_DATABASE_URL": url}, directory)


@pytest.fixture(scope="module")
def full_report(planted: Planted) -> dict[str, Any]:
    """The report after a scan that read every record."""
    scanned = planted.run("scan", "population", "--sample", str(CITIZENS * 2))
    assert f"population: {CITIZENS} records scanned" in scanned.stdout
    report: dict[str, Any] = json.loads(planted.run("report", "population").stdout)
    return report


def failing(planted: Planted, defect: str) -> int:
    """The records a planted defect makes fail its rule: both registrations of a person registered twice."""
    return planted.count(defect) * (2 if defect == "duplicate_identities" else 1)


def by_rule(source: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {rule["id"]: rule for rule in source["rules"]}


def test_the_defects_are_planted_at_their_rates(planted: Planted) -> None:
    assert len(planted.rows) == CITIZENS
    dead = sum(1 for row in synthetic_citizens(CITIZENS, SEED, vietnam_today()) if row["ngay_mat"] is not None)
    for item in fields(DEFECTS):
        total = dead if item.name == "unpropagated_deaths" else CITIZENS
        assert planted.count(item.name) == round(getattr(DEFECTS, item.name) * total) > 0, item.name
    every = [getattr(planted.defects, item.name) for item in fields(DEFECTS)]
    assert sum(len(ids) for ids in every) == len(set().union(*every)), "a record carries two defects"


def test_a_full_scan_measures_exactly_the_planted_defects(planted: Planted, full_report: dict[str, Any]) -> None:
    scan = full_report["scan"]
    assert scan["records"] == CITIZENS
    rules = by_rule(scan)
    measured = {rule_id: rules[rule_id]["failed"] for rule_id in rules}
    for defect, (rule_id, _) in RULES.items():
        assert measured.pop(rule_id) == failing(planted, defect), defect
        assert rules[rule_id]["ratio"] == pytest.approx(1 - failing(planted, defect) / CITIZENS)
    # The wrong birth years are also what the contract's validation refuses; nothing else fails.
    assert measured.pop("population.citizen.contract_valid") == planted.count("birth_year_mismatch")
    assert measured == dict.fromkeys(measured, 0)
    dimensions = {d["dimension"]: d for d in scan["dimensions"]}
    for dimension in ("correct", "complete", "clean", "live"):
        failed = sum(failing(planted, defect) for defect, (_, dim) in RULES.items() if dim == dimension)
        assert dimensions[dimension]["checked"] == CITIZENS
        assert dimensions[dimension]["failed"] == failed, dimension
        assert dimensions[dimension]["ratio"] == pytest.approx(1 - failed / CITIZENS)


def tolerance(rate: float, n: int, population: int) -> float:
    """Five standard deviations of a share measured on ``n`` records drawn without replacement."""
    variance = rate * (1 - rate) / n * (population - n) / (population - 1)
    return 5 * math.sqrt(variance) + 1 / n


def test_a_sampled_scan_measures_the_planted_rates_within_the_sampling_error(planted: Planted) -> None:
    summary = planted.run("scan", "population_sample", "--sample", str(SAMPLE)).stdout
    assert f"population_sample: {SAMPLE} records scanned" in summary
    report = json.loads(planted.run("report", "population_sample").stdout)
    rules = by_rule(report["scan"])
    for defect, (rule_id, _) in RULES.items():
        rule = rules[rule_id]
        assert rule["checked"] == SAMPLE
        # Duplicates are searched for among all records, so a sampled registration is caught without its twin.
        rate = failing(planted, defect) / CITIZENS
        measured = rule["failed"] / SAMPLE
        assert abs(measured - rate) <= tolerance(rate, SAMPLE, CITIZENS), (defect, measured, rate)


def test_the_json_report_shape(full_report: dict[str, Any]) -> None:
    assert full_report["database"] == "population"
    assert full_report["name_vi"] == "Cơ sở dữ liệu quốc gia về dân cư"
    assert full_report["submitted"] is None
    scan = full_report["scan"]
    assert set(scan) == {
        "source", "contract", "records", "sample_size", "started_at", "updated_at", "dimensions", "rules"
    }  # fmt: skip
    assert scan["source"] == "scan" and scan["contract"] == "population.citizen@1"
    assert [d["dimension"] for d in scan["dimensions"]] == ["correct", "complete", "clean", "live"]
    assert [d["title_vi"] for d in scan["dimensions"]] == ["Đúng", "Đủ", "Sạch", "Sống"]
    for rule in scan["rules"]:
        assert set(rule) == {
            "id",
            "dimension",
            "title",
            "title_vi",
            "checked",
            "failed",
            "unverified",
            "ratio",
            "worst",
        }
        assert rule["unverified"] == 0  # every lookup answered
        assert len(rule["worst"]) == min(10, rule["failed"])
        weights = [w["weight"] for w in rule["worst"]]
        assert weights == sorted(weights, reverse=True)
        for worst in rule["worst"]:
            assert re.fullmatch(r"\d{3}\*{7}\d{2}", worst["record"]), worst
    fresh = by_rule(scan)["population.citizen.fresh"]
    assert fresh["worst"][0]["detail"].startswith("last updated ")
    assert fresh["worst"][0]["weight"] >= 5 * 365


def test_the_html_report_is_self_contained_and_anonymous(planted: Planted, full_report: dict[str, Any]) -> None:
    target = planted.cwd / "quality.html"
    written = planted.run("report", "population", "--format", "html", "--output", str(target))
    assert str(target) in written.stdout
    page = target.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    for label in ("Báo cáo chất lượng dữ liệu", "Data quality report", "Đúng", "Đủ", "Sạch", "Sống", "<svg"):
        assert label in page
    lowered = page.lower()
    for external in ("http:", "https:", "<script", "<link", " src=", "url("):
        assert external not in lowered, external
    assert not re.search(r"\d{12}", page), "a personal id in the report"
    names = {row["ho_ten"].strip() for row in planted.rows if " " in row["ho_ten"].strip()}
    shown = sorted(name for name in names if name in page or name.upper() in page)
    assert not shown, shown
    for rule in full_report["scan"]["rules"]:
        for worst in rule["worst"]:
            assert worst["record"] in page


def test_databases_that_cannot_be_scanned_or_reported(planted: Planted) -> None:
    rest = planted.run("scan", "driving_licences", code=1).stderr
    assert "driving_licences" in rest and "cannot be scanned" in rest
    unknown = planted.run("scan", "land", code=1).stderr
    assert "no connector is configured for 'land'" in unknown
    nothing = planted.run("report", "civil_status", code=1).stderr
    assert "gateway quality scan civil_status" in nothing


def test_scan_all_scans_every_database_that_can_be_scanned(planted: Planted) -> None:
    """``--all`` scans every configured database whose connector can sample (each after a ``== ID`` line) and skips
    the others, saying why; it runs last, as its scans replace the module's stored ones."""
    result = planted.run("scan", "--all", "--sample", str(CITIZENS * 2))
    sections = dict(re.findall(r"^== (\w+)\n(.*)$", result.stdout, re.MULTILINE))
    assert sorted(sections) == ["civil_status", "driving_licences", "population", "population_sample"]
    scanned = {}
    for database in ("civil_status", "population", "population_sample"):
        found = re.match(rf"{database}: (\d+) records scanned .*scores stored$", sections[database])
        assert found, sections
        scanned[database] = int(found.group(1))
    assert scanned["population"] == scanned["population_sample"] == CITIZENS and scanned["civil_status"] > 0
    assert sections["driving_licences"].startswith("skipped: the connector of 'driving_licences'")
    assert "cannot be scanned" in sections["driving_licences"] and "error" not in result.stderr
    for database in ("civil_status", "population_sample"):
        assert json.loads(planted.run("report", database).stdout)["scan"]["records"] == scanned[database]
    neither = planted.run("scan", code=2).stderr
    both = planted.run("scan", "population", "--all", code=2).stderr
    assert "name one database to scan, or --all" in neither and neither == both

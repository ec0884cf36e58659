"""Defects planted in the simulated sector systems' records (:func:`simulators.defects.plant_sector_defects`): at
their rates, each record with one defect at most, the canary (smallest key) never touched, the same records for the
same seed, and each defect what it says (another given name, an unnormalised name, a lost death, a stale office, a
status not updated, a registration after the owner's death)."""

from __future__ import annotations

import copy
from dataclasses import fields
from datetime import date

import pytest

from contracts.names import normalize_name
from simulators.defects import SectorDefects, plant_sector_defects
from simulators.enterprises import synthetic_world
from simulators.legal_documents import generate_documents
from simulators.population import synthetic_citizens
from simulators.tax_api.records import build_taxpayers
from simulators.vehicles import generate_vehicles
from simulators.vss_api.records import synthetic_vss_records

TODAY = date(2026, 11, 20)
COUNT = 1200
DEFECTS = SectorDefects(
    identity_mismatch=0.05,
    unnormalised_names=0.05,
    unpropagated_deaths=0.3,
    unpropagated_moves=0.05,
    stale_status=0.05,
    registered_after_death=0.02,
)


def test_rates_are_checked() -> None:
    with pytest.raises(ValueError, match="identity_mismatch"):
        SectorDefects(identity_mismatch=1.5)


def test_vehicles_defects() -> None:
    citizens = synthetic_citizens(COUNT, 68, TODAY)
    deaths = {row["so_dinh_danh"]: row["ngay_mat"] for row in citizens if row["ngay_mat"] is not None}
    clean = generate_vehicles(COUNT, seed=68, today=TODAY)
    rows = copy.deepcopy(clean)
    planted = plant_sector_defects("vehicles", rows, DEFECTS, seed=68, today=TODAY, deaths=deaths)
    again = plant_sector_defects("vehicles", copy.deepcopy(clean), DEFECTS, seed=68, today=TODAY, deaths=deaths)
    assert planted == again
    every = [getattr(planted, item.name) for item in fields(planted)]
    assert sum(len(keys) for keys in every) == len(set().union(*every)), "a record carries two defects"
    assert min(row["bien_so"] for row in clean) not in set().union(*every)
    assert len(planted.identity_mismatch) == round(0.05 * len(rows)) > 0
    # At most the share asked for: only the vehicles of owners who died can be registered after the death.
    assert 0 < len(planted.registered_after_death) <= round(0.02 * len(rows))
    before = {row["bien_so"]: row for row in clean}
    for row in rows:
        old = before[row["bien_so"]]
        if row["bien_so"] in planted.identity_mismatch:
            assert normalize_name(row["chu_xe_ho_ten"]) != normalize_name(old["chu_xe_ho_ten"])
            assert row["chu_xe_ho_ten"].split()[:-1] == old["chu_xe_ho_ten"].split()[:-1]
        elif row["bien_so"] in planted.unnormalised_names:
            assert row["chu_xe_ho_ten"] != old["chu_xe_ho_ten"]
            assert normalize_name(row["chu_xe_ho_ten"]) == normalize_name(old["chu_xe_ho_ten"])
        elif row["bien_so"] in planted.registered_after_death:
            died = deaths[row["chu_xe_so_dinh_danh"]]
            assert died < row["ngay_dang_ky"] <= TODAY
            assert row["ngay_thu_hoi"] is None or row["ngay_dang_ky"] <= row["ngay_thu_hoi"]
        else:
            assert row == old


def test_deaths_moves_and_statuses() -> None:
    citizens, enterprises = synthetic_world(COUNT, 68, TODAY)
    vss = synthetic_vss_records(COUNT, 68, TODAY)
    participants = list(copy.deepcopy(vss.participants).values())
    planted = plant_sector_defects("social_insurance", participants, DEFECTS, seed=68, today=TODAY)
    dead = sum(1 for record in vss.participants.values() if record["ngayChet"] is not None)
    assert len(planted.unpropagated_deaths) == round(0.3 * dead) > 0
    for record in participants:
        if record["maSoBhxh"] in planted.unpropagated_deaths:
            assert record["ngayChet"] is None and record["trangThai"] == "TAM_DUNG"
    taxpayers = list(copy.deepcopy(build_taxpayers(citizens, enterprises, vss, seed=68, today=TODAY)).values())
    planted = plant_sector_defects("tax", taxpayers, DEFECTS, seed=68, today=TODAY)
    individuals = [record for record in taxpayers if record["ca_nhan"] is not None]
    assert len(planted.unpropagated_moves) == round(0.05 * len(individuals)) > 0
    for record in individuals:
        if record["mst"] in planted.identity_mismatch:
            assert record["ten_nnt"] == record["ca_nhan"]["ho_ten"]  # the two names of an individual agree
    documents = generate_documents(seed=68, today=TODAY)
    planted = plant_sector_defects("legal_documents", documents, DEFECTS, seed=68, today=TODAY)
    assert len(planted.stale_status) == round(0.05 * len(documents)) > 0
    assert not planted.identity_mismatch and not planted.unnormalised_names  # no person in a legal document
    for record in documents:
        if record["id_van_ban"] in planted.stale_status:
            assert record["tinh_trang"] == "1" and record["ngay_hieu_luc"] <= TODAY

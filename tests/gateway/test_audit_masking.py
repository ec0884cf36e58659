"""Logs are structured JSON in which personal ids, identity card numbers and names are masked: in messages,
in values (nested too), in formatted exceptions, and in the standard library's records."""

from __future__ import annotations

import io
import logging
import sys
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
import structlog

from gateway.core.logs import configure_logging, get_logger
from gateway.core.masking import mask_value

PERSONAL_ID = "068099000123"
CARD = "250123456"


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        (PERSONAL_ID, "068*********"),
        (CARD, "250******"),
        (f"/v1/databases/population/records/{PERSONAL_ID}", "/v1/databases/population/records/068*********"),
        (f"ids {PERSONAL_ID},{CARD};", "ids 068*********,250******;"),
        ("0680990001234", "0680990001234"),  # 13 digits: not a personal id
        ("12345678", "12345678"),  # 8 digits
        ("6823001457", "682*******"),  # a 10-digit social insurance code
        ("DN4796823001457", "DN479**********"),  # an older 15-character health insurance card code
        (
            "/v1/databases/health_insurance/records/DN4796823001457",
            "/v1/databases/health_insurance/records/DN479**********",
        ),
        ("XDN4796823001457", "XDN4796823001457"),  # not a card code
        ("12345678901", "12345678901"),  # 11 digits
        ("9f2c068099000123aa", "9f2c068099000123aa"),  # inside a hexadecimal request id or hash
        ("2026-11-27T08:00:00.123456Z", "2026-11-27T08:00:00.123456Z"),
        (1.0, 1.0),
        (None, None),
    ],
)
def test_numbers_are_masked_keeping_the_first_three_digits(value: Any, masked: Any) -> None:
    assert mask_value(value) == masked


def test_names_are_masked_by_key_at_any_depth() -> None:
    value = {
        "full_name": "Nguyễn Văn An",
        "query": {"ho_ten": "Trần Thị Mẫu", "date_of_birth": "1985", "ids": [PERSONAL_ID]},
        "client_name": "Sở Y tế",
    }
    assert mask_value(value) == {
        "full_name": "***",
        "query": {"ho_ten": "***", "date_of_birth": "1985", "ids": ["068*********"]},
        "client_name": "Sở Y tế",  # an agency, not a person
    }


@pytest.fixture
def json_logs(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """JSON logs written to a buffer in place of stderr."""
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    configure_logging(level="INFO", fmt="json")

    def lines() -> list[dict[str, Any]]:
        return [orjson.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{")]

    yield lines
    monkeypatch.undo()
    configure_logging(level="WARNING", fmt="console")


def test_structured_log_lines_are_masked(json_logs: Any) -> None:
    structlog.contextvars.clear_contextvars()
    log = get_logger("gateway.test_audit_masking")
    log.warning(
        f"citizen {PERSONAL_ID} not found",
        full_name="Nguyễn Văn An",
        old_id_number=CARD,
        search={"ho_ten": "Trần Thị Mẫu", "ids": [PERSONAL_ID]},
        request_id="4f1c2e3d068099000123aa",
    )
    try:
        raise ValueError(f"no row for {PERSONAL_ID}")
    except ValueError:
        log.exception("lookup failed")
    logging.getLogger("some.library").warning("driver said: key %s", PERSONAL_ID)
    records = json_logs()
    assert len(records) == 3
    text = repr(records)
    assert PERSONAL_ID not in text.replace("4f1c2e3d068099000123aa", "")
    assert CARD not in text
    assert "Nguyễn Văn An" not in text
    assert "Trần Thị Mẫu" not in text
    first, failure, foreign = records
    assert first["event"] == "citizen 068********* not found"
    assert first["full_name"] == "***"
    assert first["old_id_number"] == "250******"
    assert first["search"] == {"ho_ten": "***", "ids": ["068*********"]}
    assert first["request_id"] == "4f1c2e3d068099000123aa"
    assert "ValueError: no row for 068*********" in failure["exception"]
    assert foreign["event"] == "driver said: key 068*********"

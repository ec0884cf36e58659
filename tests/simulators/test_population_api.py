"""The simulated population REST API on its own: its dialect, its authentication, its searches and pagination
styles, and each misbehaviour, seen by a plain HTTP client over real sockets."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support import free_port

from simulators.population import generate_citizens, seed_population
from simulators.population_api import ApiServer, Misbehaviour, PopulationApi, load_rows
from simulators.population_api.records import to_api, vietnamese_date

ROWS = list(generate_citizens(400, seed=11))
KEYS = {"AppName": "axis-gateway", "AccessKey": "sim-access-key", "SecretKey": "sim-secret-key"}


@pytest.fixture(scope="module")
def server() -> Iterator[ApiServer]:
    with ApiServer(PopulationApi(ROWS)) as live:
        yield live


@pytest.fixture
def http(server: ApiServer) -> Iterator[httpx.Client]:
    server.api.reset()
    with httpx.Client(base_url=server.url, headers=KEYS, timeout=5) as client:
        yield client
    server.api.reset()


def test_a_citizen_in_the_apis_own_dialect(http: httpx.Client) -> None:
    row = next(r for r in ROWS if r["gioi_tinh"] == 1 and r["que_quan_tinh"] and r["noi_o_xa"])
    body = http.get(f"/api/v1/cong-dan/{row['so_dinh_danh']}").json()
    assert body["ma_loi"] == "00"
    data = body["du_lieu"]
    assert data["ho_va_ten"] == row["ho_ten"] and data["gioi_tinh"] == "NAM"
    assert data["noi_dang_ky_khai_sinh"] == {"ma_tinh": row["dk_khai_sinh_tinh"], "ma_xa": row["dk_khai_sinh_xa"]}
    assert data["noi_o_hien_tai"]["ma_xa"] == row["noi_o_xa"]
    assert data["ho_gia_dinh"]["so_ho"] == row["ma_ho"]
    assert data["ngay_cap_nhat"].endswith("Z")
    assert data == to_api(row)


@pytest.mark.parametrize(
    ("stored", "published"), [("1985", "00/00/1985"), ("1985-03", "00/03/1985"), ("1985-03-12", "12/03/1985")]
)
def test_dates_of_birth_are_written_the_vietnamese_way(stored: str, published: str) -> None:
    assert vietnamese_date(stored) == published


def test_unknown_codes_are_published_as_stored() -> None:
    row = {**ROWS[0], "gioi_tinh": 7, "que_quan_tinh": None, "que_quan_xa": None}
    published = to_api(row)
    assert published["gioi_tinh"] == "7" and published["que_quan"] is None


def test_not_found(http: httpx.Client, server: ApiServer) -> None:
    response = http.get("/api/v1/cong-dan/068099000000")
    assert response.status_code == 404 and response.json()["ma_loi"] == "01"
    server.api.not_found = "body"
    try:
        response = http.get("/api/v1/cong-dan/068099000000")
        assert response.status_code == 200 and response.json()["ma_loi"] == "01"
    finally:
        server.api.not_found = "status"


# -- authentication --------------------------------------------------------------------------------------------


def test_credentials_are_required(server: ApiServer) -> None:
    pid = ROWS[0]["so_dinh_danh"]
    with httpx.Client(base_url=server.url) as client:
        assert client.get(f"/api/v1/cong-dan/{pid}").status_code == 401
        assert client.get(f"/api/v1/cong-dan/{pid}", headers={**KEYS, "SecretKey": "wrong"}).status_code == 401
        assert client.get(f"/api/v1/cong-dan/{pid}", headers={"X-API-Key": "sim-api-key"}).status_code == 200
        assert client.get(f"/api/v1/cong-dan/{pid}", headers={"X-API-Key": "wrong"}).status_code == 401
        bearer = {"Authorization": "Bearer sim-bearer-token"}
        assert client.get(f"/api/v1/cong-dan/{pid}", headers=bearer).status_code == 200
        assert client.get("/api/v1/trang-thai", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_the_token_endpoint(server: ApiServer) -> None:
    server.api.reset()
    with httpx.Client(base_url=server.url) as client:
        form = {"grant_type": "client_credentials"}
        issued = client.post("/oauth2/token", data=form, auth=("axis-gateway", "sim-client-secret")).json()
        assert issued["token_type"] == "Bearer" and issued["expires_in"] == 300
        posted = client.post(
            "/oauth2/token", data={**form, "client_id": "axis-gateway", "client_secret": "sim-client-secret"}
        )
        assert posted.status_code == 200
        assert client.post("/oauth2/token", data=form, auth=("axis-gateway", "wrong")).status_code == 401
        assert client.post("/oauth2/token", data={"grant_type": "password"}).status_code == 400
        token = {"Authorization": f"Bearer {issued['access_token']}"}
        assert client.get("/api/v1/trang-thai", headers=token).status_code == 200
        server.api.revoke_tokens()
        assert client.get("/api/v1/trang-thai", headers=token).status_code == 401
    assert server.api.count("tokens_issued") == 2


# -- searches --------------------------------------------------------------------------------------------------


def _walk(http: httpx.Client, style: str, params: dict[str, str], size: int) -> list[str]:
    found: list[str] = []
    if style == "pages":
        page = 1
        while True:
            data = http.get("/api/v1/cong-dan", params={**params, "trang": page, "so_ban_ghi": size}).json()["du_lieu"]
            found += [item["so_dinh_danh"] for item in data["danh_sach"]]
            if page * size >= data["tong_so"]:
                return found
            page += 1
    if style == "offsets":
        offset = 0
        while True:
            body = http.get("/api/v1/tra-cuu/vi-tri", params={**params, "vi_tri": offset, "gioi_han": size}).json()
            found += [item["so_dinh_danh"] for item in body["du_lieu"]]
            offset += size
            if offset >= body["tong_so"]:
                return found
    if style == "tokens":
        token = None
        while True:
            query = {**params, "so_ban_ghi": str(size), **({"con_tro": token} if token else {})}
            body = http.get("/api/v1/tra-cuu/con-tro", params=query).json()
            found += [item["so_dinh_danh"] for item in body["du_lieu"]]
            token = body["con_tro_tiep"]
            if token is None:
                return found
    url: str | None = "/api/v1/tra-cuu/lien-ket"
    query: dict[str, Any] | None = {**params, "so_ban_ghi": size}
    while url is not None:
        response = http.get(url, params=query)
        found += [item["so_dinh_danh"] for item in response.json()["du_lieu"]]
        url, query = response.links.get("next", {}).get("url"), None
    return found


@pytest.mark.parametrize("style", ["pages", "offsets", "tokens", "links"])
@pytest.mark.parametrize("size", [1, 3, 50])
def test_every_pagination_style_walks_the_same_results(http: httpx.Client, style: str, size: int) -> None:
    surname = ROWS[0]["ho_ten"]
    year = ROWS[0]["ngay_sinh"][:4]
    expected = sorted(r["so_dinh_danh"] for r in ROWS if r["ho_ten"] == surname and r["ngay_sinh"].startswith(year))
    assert expected
    assert _walk(http, style, {"ho_ten": surname.upper(), "ngay_sinh": year}, size) == expected


def test_search_by_old_id_and_by_a_name_in_any_case(http: httpx.Client) -> None:
    row = next(r for r in ROWS if r["so_cmnd"])
    body = http.get("/api/v1/cong-dan", params={"so_cmnd": row["so_cmnd"]}).json()["du_lieu"]
    assert [item["so_dinh_danh"] for item in body["danh_sach"]] == [row["so_dinh_danh"]]
    loud = http.get("/api/v1/cong-dan", params={"ho_ten": f"  {row['ho_ten'].upper()} ", "ngay_sinh": row["ngay_sinh"]})
    assert row["so_dinh_danh"] in [item["so_dinh_danh"] for item in loud.json()["du_lieu"]["danh_sach"]]


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"ho_ten": "An"},
        {"ngay_sinh": "1985"},
        {"so_cmnd": "12"},
        {"ho_ten": "An", "ngay_sinh": "85"},
        {"so_cmnd": "123456789", "so_ban_ghi": "51"},
        {"so_cmnd": "123456789", "trang": "0"},
    ],
)
def test_bad_searches_are_refused(http: httpx.Client, params: dict[str, str]) -> None:
    response = http.get("/api/v1/cong-dan", params=params)
    assert response.status_code == 400 and response.json()["ma_loi"] == "02"


def test_a_posted_search(http: httpx.Client) -> None:
    row = next(r for r in ROWS if r["so_cmnd"])
    body = http.post("/api/v1/tra-cuu", json={"so_cmnd": row["so_cmnd"], "trang": "1", "so_ban_ghi": "5"}).json()
    assert [item["so_dinh_danh"] for item in body["du_lieu"]["danh_sach"]] == [row["so_dinh_danh"]]
    assert http.post("/api/v1/tra-cuu", content=b"[1]").status_code == 400


# -- misbehaviour ----------------------------------------------------------------------------------------------


def _misbehave(http: httpx.Client, **options: Any) -> None:
    assert http.post("/_simulator/misbehave", json=options).status_code == 200


def test_errors_then_recovery(http: httpx.Client) -> None:
    _misbehave(http, mode="error", status=502, times=2)
    pid = ROWS[0]["so_dinh_danh"]
    first, second, third = (http.get(f"/api/v1/cong-dan/{pid}") for _ in range(3))
    assert first.status_code == second.status_code == 502
    assert pid in first.text  # the error page quotes the path: a connector must never pass it on
    assert third.status_code == 200
    assert http.post("/oauth2/token").status_code == 400  # the token endpoint is not affected
    stats = http.get("/_simulator/stats").json()
    assert stats["stats"]["requests"] == 3 and stats["misbehaviour"]["mode"] == "none"


@pytest.mark.parametrize("status", [401, 403])
def test_the_credentials_refused_then_recovery(http: httpx.Client, status: int) -> None:
    """An error may be a refusal too (401, 403: a rotated key, an account's access withdrawn), as the conformance
    kit's failures ask; other 4xx are not errors of the system (a 404 is an answer)."""
    _misbehave(http, mode="error", status=status, times=1)
    pid = ROWS[0]["so_dinh_danh"]
    assert http.get(f"/api/v1/cong-dan/{pid}").status_code == status
    assert http.get(f"/api/v1/cong-dan/{pid}").status_code == 200


def test_rate_limit_malformed_and_violation(http: httpx.Client) -> None:
    pid = ROWS[0]["so_dinh_danh"]
    _misbehave(http, mode="rate_limit", retry_after=7)
    limited = http.get(f"/api/v1/cong-dan/{pid}")
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "7"
    _misbehave(http, mode="malformed")
    with pytest.raises(ValueError):
        http.get(f"/api/v1/cong-dan/{pid}").json()
    _misbehave(http, mode="violation")
    assert http.get(f"/api/v1/cong-dan/{pid}").json()["du_lieu"]["dan_toc"] == {"ma": "99"}
    http.post("/_simulator/reset")
    assert http.get(f"/api/v1/cong-dan/{pid}").json()["du_lieu"]["dan_toc"] == {"ma": ROWS[0]["ma_dan_toc"]}


def test_slow(http: httpx.Client) -> None:
    _misbehave(http, mode="slow", delay_ms=300)
    started = time.perf_counter()
    assert http.get("/api/v1/trang-thai").status_code == 200
    assert time.perf_counter() - started >= 0.3


def test_reset_is_a_real_tcp_reset(http: httpx.Client) -> None:
    _misbehave(http, mode="reset", times=1)
    with pytest.raises(httpx.TransportError) as info:
        http.get("/api/v1/trang-thai")
    assert isinstance(info.value, httpx.ReadError | httpx.RemoteProtocolError)
    assert http.get("/api/v1/trang-thai").status_code == 200


def test_hang(http: httpx.Client) -> None:
    _misbehave(http, mode="hang")
    started = time.perf_counter()
    with pytest.raises(httpx.ReadTimeout):
        http.get("/api/v1/trang-thai", timeout=0.5)
    assert time.perf_counter() - started < 2


@pytest.mark.parametrize("options", [{"mode": "sideways"}, {"mode": "error", "status": 404}, {"times": 0}, [1]])
def test_bad_control_requests(http: httpx.Client, options: Any) -> None:
    assert http.post("/_simulator/misbehave", json=options).status_code == 400


def test_misbehaviour_can_be_set_from_python(server: ApiServer) -> None:
    server.api.reset()
    server.api.misbehave(Misbehaviour(mode="error", status=500, times=1))
    with httpx.Client(base_url=server.url, headers=KEYS) as client:
        assert client.get("/api/v1/trang-thai").status_code == 500
        assert client.get("/api/v1/trang-thai").status_code == 200
    server.api.reset()


# -- the command -----------------------------------------------------------------------------------------------


def test_served_from_a_sqlite_file_by_the_command(tmp_path: Path) -> None:
    path = tmp_path / "population.db"
    asyncio.run(seed_population(f"sqlite:///{path}", count=50, seed=3))
    rows = load_rows(path)
    assert len(rows) == 50 and rows == sorted(rows, key=lambda r: r["so_dinh_danh"])
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "simulators.population_api", "--sqlite", str(path), "--port", str(port)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True)
    try:
        assert process.stdout is not None
        assert f"127.0.0.1:{port} (50 citizens)" in process.stdout.readline()
        deadline = time.monotonic() + 20
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/api/v1/cong-dan/{rows[0]['so_dinh_danh']}", headers=KEYS)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the command did not serve"
                time.sleep(0.1)
        assert response.json()["du_lieu"]["so_dinh_danh"] == rows[0]["so_dinh_danh"]
    finally:
        process.terminate()
        process.wait(timeout=20)

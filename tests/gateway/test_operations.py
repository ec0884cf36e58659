"""Operating the gateway: liveness, readiness, Prometheus metrics, the OpenAPI document and its docs page."""

from __future__ import annotations

import json

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from support import PlantedSearch

from gateway import __version__
from gateway.core import metrics
from gateway.core.metrics import DATA_LATENCY_BUCKETS, LATENCY_BUCKETS

RECORD_ROUTE = "/v1/databases/population/records/{personal_id}"
SEARCH_ROUTE = "/v1/databases/population/search"
REQUESTS_TOTAL = "gateway_http_requests_total"
DURATION = "gateway_http_request_duration_seconds"
UPSTREAM_DURATION = "gateway_upstream_request_duration_seconds"
#: A database id no test serves, whose series are declared and removed by one test.
PROBE = "declared_probe"

Labels = tuple[tuple[str, str], ...]


def scrape(http: httpx.Client) -> dict[str, dict[Labels, float]]:
    """Every sample of ``/metrics``, parsed by prometheus_client: sample name -> sorted labels -> value."""
    response = http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples: dict[str, dict[Labels, float]] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return samples


#: The data routes of the test's population database, and their operations.
DATA_OPERATIONS = {RECORD_ROUTE: "read", SEARCH_ROUTE: "search"}


def http_labels(method: str, route: str, status: int) -> Labels:
    return (("method", method), ("route", route), ("status", str(status)))


def requests_total(samples: dict[str, dict[Labels, float]], method: str, route: str, status: int) -> float:
    return samples.get(REQUESTS_TOTAL, {}).get(http_labels(method, route, status), 0.0)


def duration(
    samples: dict[str, dict[Labels, float]], suffix: str, method: str, route: str, le: str | None = None
) -> float:
    """A sample of the latency histogram, whose series are per route (the status is on the counter only)."""
    labels = {"method": method, "route": route}
    if le is not None:
        labels["le"] = le
    return samples.get(f"{DURATION}_{suffix}", {}).get(tuple(sorted(labels.items())), 0.0)


# --- health -------------------------------------------------------------------------------------------------------


def test_healthz(http: httpx.Client) -> None:
    response = http.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_checks_the_database_and_the_population_connector(http: httpx.Client) -> None:
    response = http.get("/readyz")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ready"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["connectors"]["population"] == {"loaded": True, "reachable": True, "message": "ok"}


# --- metrics ------------------------------------------------------------------------------------------------------


def test_metrics_is_prometheus_text_with_the_http_metrics(http: httpx.Client, bearer: dict[str, str]) -> None:
    http.get("/healthz")
    http.get(f"{RECORD_ROUTE.format(personal_id='068099000000')}", headers=bearer)
    families = {f.name: f for f in text_string_to_metric_families(http.get("/metrics").text)}
    assert families["gateway_http_requests"].type == "counter"
    assert families[DURATION].type == "histogram"
    for sample in families["gateway_http_requests"].samples:
        if sample.name == REQUESTS_TOTAL:
            assert set(sample.labels) == {"method", "route", "status"}
            assert sample.labels["status"].isdigit()
    buckets = {
        s.labels["le"]
        for s in families[DURATION].samples
        if s.name.endswith("_bucket") and s.labels["route"] == "/healthz"
    }
    assert buckets == {repr(float(b)) for b in LATENCY_BUCKETS} | {"+Inf"}
    # The histogram is per route, without the status: the counter alone carries it.
    for sample in families[DURATION].samples:
        assert set(sample.labels) - {"le"} == {"method", "route"}, sample


def test_no_created_series_are_exported(http: httpx.Client) -> None:
    http.get("/healthz")
    names = {
        sample.name for family in text_string_to_metric_families(http.get("/metrics").text) for sample in family.samples
    }
    assert "gateway_http_requests_total" in names
    assert not [name for name in names if name.endswith("_created")]


def test_routes_are_labelled_by_template_never_by_value(
    http: httpx.Client, bearer: dict[str, str], planted: PlantedSearch
) -> None:
    ids = planted.personal_ids[:3]
    for personal_id in ids:
        assert http.get(f"/v1/databases/population/records/{personal_id}", headers=bearer).status_code == 200
    http.get("/v1/contracts/population.citizen")
    http.get("/problems/not-found")
    samples = scrape(http)
    routes = {dict(labels)["route"] for labels in samples[REQUESTS_TOTAL]}
    assert RECORD_ROUTE in routes
    assert "/v1/contracts/{name}" in routes
    assert "/problems/{slug}" in routes
    documentation = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc", "/static/docs/{asset}"}
    templates = set(http.get("/openapi.json").json()["paths"]) | documentation | {"unmatched"}
    for route in routes:
        assert not any(personal_id in route for personal_id in ids), route
        assert "population.citizen" not in route
        # Other tests' apps serve other databases; their routes are templates of the same shape.
        assert route in templates or route.startswith("/v1/databases/"), route
    assert requests_total(samples, "GET", RECORD_ROUTE, 200) >= len(ids)


@pytest.mark.parametrize(
    ("method", "path", "route", "status", "auth"),
    [
        ("GET", "/healthz", "/healthz", 200, False),
        ("GET", "/v1/databases/population/records/{id}", RECORD_ROUTE, 200, True),
        ("GET", "/v1/databases/population/records/068099000000", RECORD_ROUTE, 404, True),
        ("GET", "/v1/databases/population/records/123", RECORD_ROUTE, 422, True),
        ("GET", "/v1/databases/population/records/{id}", RECORD_ROUTE, 401, False),
        ("POST", SEARCH_ROUTE, SEARCH_ROUTE, 200, True),
        ("DELETE", "/v1/contracts", "/v1/contracts", 405, False),
        ("GET", "/no/such/thing", "unmatched", 404, False),
    ],
)
def test_each_request_is_counted_exactly_once(
    http: httpx.Client,
    bearer: dict[str, str],
    planted: PlantedSearch,
    method: str,
    path: str,
    route: str,
    status: int,
    auth: bool,
) -> None:
    path = path.format(id=planted.personal_ids[0])
    kwargs: dict[str, object] = {"headers": bearer if auth else {}}
    if method == "POST":
        kwargs["json"] = {"full_name": planted.full_name, "date_of_birth": str(planted.year)}
    before = scrape(http)
    for expected in (1, 2, 3):
        response = http.request(method, path, **kwargs)  # type: ignore[arg-type]
        assert response.status_code == status, response.text
        after = scrape(http)
        series = (method, route, status)
        assert requests_total(after, *series) == requests_total(before, *series) + expected
        if route in DATA_OPERATIONS:  # a data route is timed once: by database and operation
            assert duration(after, "count", method, route) == 0.0
            data = (("database", "population"), ("operation", DATA_OPERATIONS[route]))
            count = "gateway_request_duration_seconds_count"
            # Series appear with their first request (docs/metrics.md): none before is a count of 0.
            assert after[count][data] == before.get(count, {}).get(data, 0.0) + expected
            continue
        assert duration(after, "count", method, route) == duration(before, "count", method, route) + expected
        assert duration(after, "bucket", method, route, le="+Inf") == duration(after, "count", method, route)
        assert duration(after, "sum", method, route) > duration(before, "sum", method, route)


def test_a_scrape_counts_itself_once(http: httpx.Client) -> None:
    first = requests_total(scrape(http), "GET", "/metrics", 200)
    second = requests_total(scrape(http), "GET", "/metrics", 200)
    assert second == first + 1


def test_the_documentation_routes_are_labelled_by_their_path(http: httpx.Client) -> None:
    """FastAPI's own routes (no route template in the scope) are labelled by their fixed path, not "unmatched"."""
    before = scrape(http)
    http.get("/openapi.json")
    http.get("/docs")
    http.get("/no/such/page")
    after = scrape(http)
    for route in ("/openapi.json", "/docs"):
        assert requests_total(after, "GET", route, 200) == requests_total(before, "GET", route, 200) + 1
    assert requests_total(after, "GET", "unmatched", 404) == requests_total(before, "GET", "unmatched", 404) + 1
    assert requests_total(after, "GET", "unmatched", 200) == requests_total(before, "GET", "unmatched", 200)


def test_a_served_database_declares_only_its_upstream_latency_from_the_start(
    http: httpx.Client, bearer: dict[str, str], planted: PlantedSearch
) -> None:
    """At zero from the start: a served database's upstream latency (and, when checked, its health-check latency).
    Its request latency per operation and its failure reasons come with their first request or failure: no alert
    needs to see their first increment (docs/metrics.md)."""
    assert (("database", "population"),) in scrape(http)[f"{UPSTREAM_DURATION}_count"]
    metrics.declare_database(PROBE)
    metrics.declare_health(PROBE)
    try:
        declared = {name for name, series in scrape(http).items() for labels in series if ("database", PROBE) in labels}
    finally:
        metrics.UPSTREAM_REQUEST_DURATION.remove(PROBE)
        metrics.HEALTH_CHECK_DURATION.remove(PROBE)
    assert declared == {
        f"{family}_{suffix}"
        for family in (UPSTREAM_DURATION, "gateway_health_check_duration_seconds")
        for suffix in ("bucket", "count", "sum")
    }
    record = RECORD_ROUTE.format(personal_id=planted.personal_ids[0])
    assert http.get(record, headers=bearer).status_code == 200
    read = (("database", "population"), ("operation", "read"))
    assert scrape(http)["gateway_request_duration_seconds_count"][read] >= 1


def test_the_data_latency_histograms_have_their_own_buckets(
    http: httpx.Client, bearer: dict[str, str], planted: PlantedSearch
) -> None:
    assert http.get(RECORD_ROUTE.format(personal_id=planted.personal_ids[0]), headers=bearer).status_code == 200
    samples = scrape(http)
    for histogram in (UPSTREAM_DURATION, "gateway_request_duration_seconds"):
        buckets = {
            dict(labels)["le"] for labels in samples[f"{histogram}_bucket"] if ("database", "population") in labels
        }
        assert buckets == {repr(float(b)) for b in DATA_LATENCY_BUCKETS} | {"+Inf"}, histogram


# --- OpenAPI and docs ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def openapi(http: httpx.Client) -> dict[str, object]:
    response = http.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    document = json.loads(response.content)
    assert isinstance(document, dict)
    return document


def test_openapi_lists_every_route(openapi: dict[str, object]) -> None:
    assert str(openapi["openapi"]).startswith("3.")
    assert openapi["info"] == {**openapi["info"], "title": "axis-gateway", "version": __version__}  # type: ignore[dict-item]
    paths = openapi["paths"]
    assert isinstance(paths, dict)
    expected = {
        "/oauth/token": "post",
        "/.well-known/jwks.json": "get",
        RECORD_ROUTE: "get",
        SEARCH_ROUTE: "post",
        "/v1/contracts": "get",
        "/v1/contracts/{name}": "get",
        "/healthz": "get",
        "/readyz": "get",
        "/metrics": "get",
        "/problems": "get",
        "/problems/{slug}": "get",
    }
    for path, method in expected.items():
        assert path in paths, path
        assert method in paths[path], (path, method)


def _resolve(openapi: dict[str, object], ref: str) -> dict[str, object]:
    node: object = openapi
    for part in ref.removeprefix("#/").split("/"):
        assert isinstance(node, dict)
        node = node[part]
    assert isinstance(node, dict)
    return node


def test_the_record_route_documents_the_citizen_contract(openapi: dict[str, object]) -> None:
    operation = openapi["paths"][RECORD_ROUTE]["get"]  # type: ignore[index]
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/Citizen"}
    citizen = _resolve(openapi, schema["$ref"])
    assert {"personal_id", "full_name", "date_of_birth", "gender"} <= set(citizen["properties"])  # type: ignore[arg-type]
    assert operation["security"] == [{"client_credentials": ["population:read"]}]
    assert [p["name"] for p in operation["parameters"]] == ["personal_id", "X-Purpose", "X-Actor-Id"]


def test_the_search_route_documents_its_query_and_page(openapi: dict[str, object]) -> None:
    operation = openapi["paths"][SEARCH_ROUTE]["post"]  # type: ignore[index]
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    query = _resolve(openapi, body["$ref"])
    assert {"full_name", "date_of_birth", "old_id_number", "page_size", "cursor"} <= set(query["properties"])  # type: ignore[arg-type]
    page = _resolve(openapi, operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"])
    assert page["properties"]["items"]["items"] == {"$ref": "#/components/schemas/Citizen"}  # type: ignore[index]
    assert operation["security"] == [{"client_credentials": ["population:search"]}]
    # Descriptions are Markdown: docstring indentation must not turn them into code blocks.
    assert "\n    " not in operation["description"]


def test_every_reference_in_the_openapi_document_resolves(openapi: dict[str, object]) -> None:
    refs: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                refs.append(node["$ref"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(openapi)
    assert refs
    for ref in refs:
        _resolve(openapi, ref)


def test_docs_serve_html(http: httpx.Client) -> None:
    response = http.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "swagger-ui" in response.text
    assert "/openapi.json" in response.text


def test_openapi_documents_errors_as_problem_details(http: httpx.Client) -> None:
    document = http.get("/openapi.json").json()
    assert "ProblemDetails" in document["components"]["schemas"]
    errors = [
        (path, code, response)
        for path, operations in document["paths"].items()
        for operation in operations.values()
        for code, response in operation["responses"].items()
        if code[0] in "45"
    ]
    assert errors
    for path, code, response in errors:
        assert list(response["content"]) == ["application/problem+json"], (path, code)
    read = document["paths"]["/v1/databases/population/records/{personal_id}"]["get"]["responses"]
    assert {"401", "403", "404", "422", "503"} <= set(read)

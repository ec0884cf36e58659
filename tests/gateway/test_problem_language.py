"""Problem details in Vietnamese (``Accept-Language: vi``), English by default.

The catalogue is proved complete by walking the gateway's source: every detail written where a problem is raised
must have its Vietnamese, with its values put back in place. Real error paths are then checked end to end,
in-process (no socket is the point here).
"""

from __future__ import annotations

import ast
import datetime
import inspect
import re
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import httpx
import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from support import STATED, ClientCredentials, fetch_token

from gateway.core import _problem_messages_vi as vi
from gateway.core import i18n
from gateway.core.i18n import negotiate_language, translate_detail
from gateway.core.problems import (
    PROBLEM_TYPES,
    AccessDenied,
    Problem,
    SubmissionRejected,
    ValidationFailed,
    problem_response,
)
from gateway.core.settings import Settings
from gateway.exchange.operations import Rejection
from gateway.http.app import create_app

with warnings.catch_warnings():  # Starlette's notice that its test client will move to httpx2
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

ROOT = Path(__file__).resolve().parents[2]
GATEWAY = ROOT / "gateway"
RECORDS = "/v1/databases/population/records"
VI = {"Accept-Language": "vi"}
# Letters only Vietnamese uses among the Latin scripts: a title or detail without any is not Vietnamese.
VIETNAMESE = re.compile(r"[ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ]", re.IGNORECASE)


# -- negotiation ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "language"),
    [
        (None, "en"),
        ("", "en"),
        ("vi", "vi"),
        ("vi-VN", "vi"),
        ("VI-vn", "vi"),
        ("en;q=0.9, vi", "vi"),
        ("vi;q=0.8, en;q=0.9", "en"),
        ("fr", "en"),
        ("fr, vi;q=0.5", "vi"),
        ("vi;q=0", "en"),
        ("en, vi", "en"),
        ("vi, en", "vi"),
        ("*", "en"),
        ("en;q=0, *;q=0.5", "vi"),
        ("vi;q=nonsense, en;q=0.1", "en"),
        ("vi-VN,vi;q=0.9,fr-FR;q=0.8,en-US;q=0.7", "vi"),
    ],
)
def test_the_language_is_negotiated_by_weight(header: str | None, language: str) -> None:
    assert negotiate_language(header) == language


# -- the catalogue is complete --------------------------------------------------------------------------------------


def test_every_problem_type_has_vietnamese_title_description_and_detail() -> None:
    for catalogue in (vi.TITLES, vi.DESCRIPTIONS, vi.GENERIC_DETAILS):
        assert set(catalogue) == set(PROBLEM_TYPES)
        for slug, text in catalogue.items():
            assert VIETNAMESE.search(text), (slug, text)
    assert set(vi.DETAILS) <= set(PROBLEM_TYPES)


def _bare(cls: type[Problem], detail: str | None = None) -> Problem:
    """An instance of ``cls`` whatever its constructor's arguments."""
    problem = cls.__new__(cls)
    Problem.__init__(problem, detail)
    return problem


def _scope(accept_language: str | None) -> dict[str, Any]:
    headers = [] if accept_language is None else [(b"accept-language", accept_language.encode())]
    return {"type": "http", "headers": headers}


@pytest.mark.parametrize("slug", sorted(PROBLEM_TYPES))
def test_every_problem_type_answers_in_vietnamese_and_in_english(slug: str) -> None:
    cls = PROBLEM_TYPES[slug]
    english = problem_response(_bare(cls, "Something."), instance="/x", scope=_scope(None))
    vietnamese = problem_response(_bare(cls, "Something."), instance="/x", scope=_scope("vi-VN,vi;q=0.9"))
    en_body, vi_body = (
        httpx.Response(200, content=english.body).json(),
        httpx.Response(200, content=vietnamese.body).json(),
    )
    assert english.headers["content-language"] == "en" and vietnamese.headers["content-language"] == "vi"
    assert vietnamese.headers["vary"] == "Accept-Language"
    assert en_body["type"] == vi_body["type"] == f"/problems/{slug}"
    assert en_body["status"] == vi_body["status"] and en_body["instance"] == vi_body["instance"]
    assert en_body["title"] == cls.title
    assert vi_body["title"] == vi.TITLES[slug] != cls.title
    # A detail the catalogue does not know (a connector's own message) gets the type's general Vietnamese.
    assert en_body["detail"] == "Something."
    assert vi_body["detail"] == vi.GENERIC_DETAILS[slug]


@dataclass(frozen=True)
class Detail:
    """A detail written in the gateway's source: where, for which problem type, and sample texts of it."""

    where: str
    slug: str
    source: str
    samples: tuple[tuple[str, tuple[str, ...]], ...]  # (text, the values filled in)


# Calls whose argument is a problem's detail although they are not a Problem class: (problem class, argument).
HELPERS = {
    "invalid": ("ValidationFailed", 1),
    "_invalid": ("ValidationFailed", 1),
    "StrictJsonError": ("MalformedJson", 0),
}
# Exceptions whose message becomes a ``{reason}`` inside a detail.
REASON_SOURCES = {"InvalidMonth", "RefusedDestination"}
# Details that are not written where the problem is raised: what they are, and samples of every text they take.
DYNAMIC: dict[tuple[str, str], tuple[str, ...] | None] = {
    # A constructor's own ``detail`` parameter, passed on: its callers' details are walked.
    ("gateway/core/problems.py", "detail"): (),
    ("gateway/identity/grants.py", "message"): (),  # invalid(loc, message, kind): its callers are walked
    ("gateway/identity/client_keys.py", "message"): (),  # _invalid(loc, message, kind): likewise
    # Built in two parts (gateway/exchange/operations.py, _check_grant).
    ("gateway/exchange/operations.py", "message"): (
        "Your grant does not cover writing: full_name, gender.",
        "Your grant does not cover writing: permanent_address. An update replaces permanent_address whole, clearing "
        "the fields it leaves out: it needs a grant on the object or on each of its fields, and your grant covers "
        "only part of it.",
    ),
    # Starlette's own detail of an HTTP error, and a strict JSON error's message (walked as StrictJsonError).
    ("gateway/http/problem_handlers.py", "str(exc.detail)"): None,
    ("gateway/http/request_limits.py", "str(exc)"): (),
}


def _constants(tree: ast.Module) -> dict[str, str]:
    """The module's string constants (``PURPOSE_HEADER = "X-Purpose"``), imported ones included by name."""
    found: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    found[target.id] = node.value.value
    return found


ALL_CONSTANTS: dict[str, str] = {}
for _path in GATEWAY.rglob("*.py"):
    ALL_CONSTANTS |= _constants(ast.parse(_path.read_text(encoding="utf-8")))


def _samples(node: ast.expr) -> list[tuple[str, tuple[str, ...]]]:
    """Texts a detail expression can take: constants as written, each value filled in with a marker (both
    branches of a conditional of constants; a module constant as its value)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [(node.value, ())]
    assert isinstance(node, ast.JoinedStr), ast.unparse(node)
    texts: list[tuple[str, tuple[str, ...]]] = [("", ())]
    for index, part in enumerate(node.values):
        options: list[tuple[str, tuple[str, ...]]]
        if isinstance(part, ast.Constant):
            options = [(str(part.value), ())]
        else:
            assert isinstance(part, ast.FormattedValue)
            value = part.value
            if isinstance(value, ast.IfExp) and all(isinstance(v, ast.Constant) for v in (value.body, value.orelse)):
                options = [(str(v.value), ()) for v in (value.body, value.orelse)]  # type: ignore[attr-defined]
            elif isinstance(value, ast.Name) and value.id in ALL_CONSTANTS:
                options = [(ALL_CONSTANTS[value.id], ())]
            else:
                marker = f"⟨v{index}⟩"
                options = [(marker, (marker,))]
        texts = [(text + option, values + more) for text, values in texts for option, more in options]
    return texts


def _detail_argument(cls_name: str) -> int | None:
    """The position of the ``detail`` parameter of a problem class's constructor, or ``None``."""
    cls = next(c for c in PROBLEM_TYPES.values() if c.__name__ == cls_name)
    parameters = list(inspect.signature(cls.__init__).parameters)[1:]
    return parameters.index("detail") if "detail" in parameters else None


def _problem_classes() -> list[type[Problem]]:
    """Every problem class, the variants of a type (a subclass keeping its slug) included."""
    found, stack = [], [Problem]
    while stack:
        cls = stack.pop()
        found.append(cls)
        stack.extend(cls.__subclasses__())
    return found


SLUG_OF = {cls.__name__: cls.slug for cls in _problem_classes()}


def walk_details() -> tuple[list[Detail], list[Detail]]:
    """Every detail, and every reason, the gateway's source writes."""
    details: list[Detail] = []
    reasons: list[Detail] = []
    for path in sorted(GATEWAY.rglob("*.py")):
        where_file = path.relative_to(ROOT).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        classes: list[str] = []

        def visit(node: ast.AST, where_file: str = where_file, classes: list[str] = classes) -> None:
            if isinstance(node, ast.ClassDef):
                classes.append(node.name)
            if isinstance(node, ast.Call):
                handle(node, where_file, classes)
            for child in ast.iter_child_nodes(node):
                visit(child)
            if isinstance(node, ast.ClassDef):
                classes.pop()

        def handle(call: ast.Call, where_file: str, classes: list[str]) -> None:
            func = call.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            position: int | None
            if name in SLUG_OF:
                cls_name, position = name, _detail_argument(name)
            elif name in HELPERS:
                cls_name, position = HELPERS[name]
            elif name in REASON_SOURCES:
                (argument,) = call.args[:1]
                reasons.append(
                    Detail(f"{where_file}:{call.lineno}", "", ast.unparse(argument), tuple(_samples(argument)))
                )
                return
            elif (
                name == "__init__"
                and isinstance(func, ast.Attribute)
                and isinstance(func.value, ast.Call)
                and ast.unparse(func.value.func) == "super"
                and classes
                and classes[-1] in SLUG_OF
                and classes[-1] != "Problem"  # Exception.__init__
            ):
                cls_name, position = classes[-1], 0
            else:
                return
            argument: ast.expr | None = None
            if position is not None and len(call.args) > position:
                argument = call.args[position]
            elif position is not None:
                argument = next((k.value for k in call.keywords if k.arg == "detail"), None)
            if argument is None or (isinstance(argument, ast.Constant) and argument.value is None):
                return
            source = ast.unparse(argument)
            where = f"{where_file}:{call.lineno}"
            if isinstance(argument, ast.Constant | ast.JoinedStr):
                samples = tuple(_samples(argument))
            else:
                key = (where_file, source)
                assert key in DYNAMIC, f"{where}: a detail not written in place ({source}); add it to DYNAMIC"
                samples = tuple((text, ()) for text in DYNAMIC[key] or ())
            details.append(Detail(where, SLUG_OF[cls_name], source, samples))

        visit(tree)
    return details, reasons


DETAILS, REASONS = walk_details()


def test_the_walk_finds_the_gateways_details() -> None:
    slugs = {detail.slug for detail in DETAILS}
    assert {"bad-header", "access-denied", "validation-error", "oauth-error", "not-found", "invalid-token"} <= slugs
    assert len(DETAILS) > 80
    assert len(REASONS) >= 5


@pytest.mark.parametrize("detail", DETAILS, ids=lambda d: d.where)
def test_every_detail_the_gateway_writes_has_its_vietnamese(detail: Detail) -> None:
    for text, values in detail.samples:
        translated = translate_detail(detail.slug, text)
        assert translated is not None, f"{detail.where}: no Vietnamese for {text!r} ({detail.slug})"
        assert VIETNAMESE.search(translated), translated
        for value in values:  # every value filled in is put back in its place
            assert value in translated, (text, translated)


@pytest.mark.parametrize("reason", REASONS, ids=lambda d: d.where)
def test_every_reason_inside_a_detail_has_its_vietnamese(reason: Detail) -> None:
    for text, values in reason.samples:
        translated = i18n._REASONS.translate(text)
        assert translated is not None and VIETNAMESE.search(translated), f"{reason.where}: {text!r}"
        for value in values:
            assert value in translated


def test_the_catalogue_holds_no_message_the_gateway_no_longer_writes() -> None:
    written = [(d.slug, text) for d in DETAILS for text, _ in d.samples]

    def used(slug: str, english: str, translation: str) -> bool:
        alone = i18n._Messages.of({english: translation})
        return any(s == slug and alone.translate(text) is not None for s, text in written)

    for slug, messages in vi.DETAILS.items():
        for english, translation in messages.items():
            # A text of its own for one value of a template (X-Purpose) is used when that template is.
            general = [
                (e, t) for e, t in messages.items() if e != english and i18n._Messages.of({e: t}).translate(english)
            ]
            assert used(slug, english, translation) or any(used(slug, e, t) for e, t in general), (slug, english)
    reasons = [text for r in REASONS for text, _ in r.samples] + ["unreachable: database", "no connector loaded"]
    for english in vi.REASONS:
        alone = i18n._Messages.of({english: vi.REASONS[english]})
        assert any(alone.translate(text) is not None for text in reasons), english


@pytest.mark.parametrize(
    ("slug", "english", "vietnamese"),
    [
        ("bad-header", "The X-Purpose header is required.", "Thiếu mã thủ tục hành chính (X-Purpose)."),
        (
            "bad-header",
            "The X-Actor-Id header is malformed: 1-64 letters, digits and . _ : @ / -, starting with a "
            "letter or digit.",
            "Trường tiêu đề X-Actor-Id sai định dạng",
        ),
        (
            "access-denied",
            "No grant allows 'read' on 'land' for this purpose.",
            "thao tác 'read' trên cơ sở dữ liệu 'land'",
        ),
        ("content-too-large", "The request body exceeds 2048 bytes.", "Nội dung yêu cầu vượt quá 2048 byte."),
        ("rate-limited", "Too many requests; retry in 7 s.", "hãy thử lại sau 7 giây."),
        (
            "validation-error",
            "Invalid month: month '2026-13' does not exist.",
            "Tháng không hợp lệ: tháng '2026-13' không tồn tại.",
        ),
        (
            "not-ready",
            "The gateway is not ready (unreachable: database, redis).",
            "(không kết nối được: database, redis)",
        ),
        ("too-many-failures", "Too many failed token requests for this address; retry in 60 s.", "từ địa chỉ này"),
    ],
)
def test_values_are_interpolated_in_place(slug: str, english: str, vietnamese: str) -> None:
    translated = translate_detail(slug, english)
    assert translated is not None and vietnamese in translated, translated


# -- real error paths, end to end ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def app_settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(max_body_bytes=2048, rate_limit_per_second=0, rate_limit_per_day=0)


@pytest.fixture(scope="module")
def client(app_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(app_settings), base_url="http://testserver") as test_client:
        yield test_client


@pytest.fixture(scope="module")
def reader_token(client: TestClient, reader: ClientCredentials) -> str:
    return fetch_token(client, reader)


def _problem(response: httpx.Response, status: int, slug: str, language: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["content-language"] == language
    body: dict[str, Any] = response.json()
    assert body["type"] == f"/problems/{slug}"
    assert body["status"] == status
    return body


def test_no_token_is_401_in_vietnamese(client: TestClient) -> None:
    body = _problem(client.get(f"{RECORDS}/068099000000", headers=VI), 401, "invalid-token", "vi")
    assert body == {
        "type": "/problems/invalid-token",
        "title": "Mã truy cập không hợp lệ",
        "status": 401,
        "detail": "Thiếu mã truy cập (access token) hoặc mã truy cập không hợp lệ.",
        "instance": f"{RECORDS}/068099000000",
    }
    english = _problem(client.get(f"{RECORDS}/068099000000"), 401, "invalid-token", "en")
    assert (english["title"], english["detail"]) == ("Invalid token", "The access token is missing or invalid.")


def test_a_missing_purpose_is_400_naming_it_in_vietnamese(client: TestClient, reader_token: str) -> None:
    headers = {
        "Authorization": f"Bearer {reader_token}",
        "X-Actor-Id": STATED["X-Actor-Id"],
        "Accept-Language": "vi-VN",
    }
    body = _problem(client.get(f"{RECORDS}/068099000000", headers=headers), 400, "bad-header", "vi")
    assert body["title"] == "Thiếu hoặc sai trường tiêu đề (header)"
    assert body["detail"] == "Thiếu mã thủ tục hành chính (X-Purpose)."
    assert body["header"] == "X-Purpose"  # extensions never change


def test_a_missing_scope_is_403_in_vietnamese(client: TestClient, reader_token: str) -> None:
    headers = {"Authorization": f"Bearer {reader_token}", "Accept-Language": "en;q=0.9, vi"}
    body = _problem(client.get("/v1/axis", headers=headers), 403, "insufficient-scope", "vi")
    assert body["title"] == "Không đủ phạm vi quyền"
    assert body["detail"] == "Thao tác này cần phạm vi quyền (scope) 'axis'."
    assert body["required_scope"] == "axis"


def test_an_unknown_record_is_404_in_vietnamese(client: TestClient, reader_token: str) -> None:
    headers = {"Authorization": f"Bearer {reader_token}", **STATED, **VI}
    body = _problem(client.get(f"{RECORDS}/068099000000", headers=headers), 404, "record-not-found", "vi")
    assert body["title"] == "Không tìm thấy hồ sơ"
    assert body["detail"] == "Cơ sở dữ liệu không có hồ sơ nào với khóa này."


def test_invalid_values_are_422_in_vietnamese_with_the_same_errors(client: TestClient, reader_token: str) -> None:
    headers = {"Authorization": f"Bearer {reader_token}", **STATED}
    english = _problem(client.get(f"{RECORDS}/12345", headers=headers), 422, "validation-error", "en")
    body = _problem(client.get(f"{RECORDS}/12345", headers={**headers, **VI}), 422, "validation-error", "vi")
    assert body["title"] == "Dữ liệu không hợp lệ"
    assert body["detail"] == "Giá trị personal_id không hợp lệ."
    # The same errors, at the same locations, with the same codes; a contract's own message as it is written.
    assert body["errors"] == english["errors"]
    assert body["errors"][0]["type"] == "value_error"
    search = client.post(
        "/v1/databases/population/search",
        json={"page_size": 1000, "nickname": "An"},
        headers={**headers, "Accept-Language": "vi"},
    )
    body = _problem(search, 422, "validation-error", "vi")
    assert body["detail"] == "Một số giá trị trong yêu cầu không hợp lệ."
    messages = {e["type"]: e["msg"] for e in body["errors"]}
    assert messages == {
        "less_than_equal": "Giá trị phải nhỏ hơn hoặc bằng 100",
        "extra_forbidden": "Không được gửi trường ngoài hợp đồng dữ liệu",
    }, body["errors"]


def test_a_body_too_large_and_malformed_json_are_in_vietnamese(client: TestClient, reader_token: str) -> None:
    headers = {"Authorization": f"Bearer {reader_token}", **STATED, **VI, "Content-Type": "application/json"}
    large = client.post("/v1/databases/population/search", content=b" " * 4096 + b"{}", headers=headers)
    body = _problem(large, 413, "content-too-large", "vi")
    assert (body["title"], body["detail"], body["max_bytes"]) == (
        "Nội dung yêu cầu quá lớn",
        "Nội dung yêu cầu vượt quá 2048 byte.",
        2048,
    )
    twice = client.post("/v1/databases/population/search", content=b'{"a": 1, "a": 2}', headers=headers)
    body = _problem(twice, 400, "malformed-json", "vi")
    assert body["detail"] == "Khóa 'a' xuất hiện hai lần trong cùng một đối tượng."
    assert body["key"] == "a"


def test_an_oauth_error_is_in_vietnamese_and_keeps_its_code(client: TestClient) -> None:
    response = client.post("/oauth/token", data={"grant_type": "password"}, auth=("nobody", "x"), headers=VI)
    body = _problem(response, 400, "oauth-error", "vi")
    assert body["detail"] == "Chỉ hỗ trợ kiểu cấp quyền client_credentials."
    assert body["error"] == "unsupported_grant_type"


def test_an_unknown_address_and_method_are_in_vietnamese(client: TestClient) -> None:
    assert _problem(client.get("/nowhere", headers=VI), 404, "not-found", "vi")["title"] == "Không tìm thấy"
    body = _problem(client.delete("/healthz", headers=VI), 405, "method-not-allowed", "vi")
    assert body["title"] == "Phương thức không được phép"


def test_french_gets_english(client: TestClient) -> None:
    body = _problem(client.get(f"{RECORDS}/1", headers={"Accept-Language": "fr-FR, fr"}), 401, "invalid-token", "en")
    assert body["title"] == "Invalid token"


def test_the_problems_pages_speak_vietnamese(client: TestClient) -> None:
    english = client.get("/problems")
    vietnamese = client.get("/problems", headers=VI)
    assert english.headers["content-language"] == "en" and vietnamese.headers["content-language"] == "vi"
    assert [e["type"] for e in english.json()] == [e["type"] for e in vietnamese.json()]
    by_type = {entry["type"]: entry for entry in vietnamese.json()}
    assert by_type["/problems/rate-limited"]["title"] == "Vượt quá giới hạn tần suất"
    assert by_type["/problems/rate-limited"]["statuses"] == [429]
    one = client.get("/problems/record-not-found", headers={"Accept-Language": "vi-VN"}).json()
    assert one["title"] == "Không tìm thấy hồ sơ"
    assert one["description"] == vi.DESCRIPTIONS["record-not-found"]
    missing = client.get("/problems/no-such-problem", headers=VI)
    assert _problem(missing, 404, "not-found", "vi")["detail"] == "Không có loại lỗi 'no-such-problem'."


def test_rate_limited_is_429_in_vietnamese(
    make_settings: Callable[..., Settings], make_client: Callable[..., ClientCredentials]
) -> None:
    settings = make_settings(rate_limit_per_second=0, rate_limit_per_day=1)
    with TestClient(create_app(settings), base_url="http://testserver") as limited:
        headers = {"Authorization": f"Bearer {fetch_token(limited, make_client('population:read'))}", **STATED, **VI}
        limited.get(f"{RECORDS}/068099000000", headers=headers)
        response = limited.get(f"{RECORDS}/068099000000", headers=headers)
    body = _problem(response, 429, "rate-limited", "vi")
    assert body["title"] == "Vượt quá giới hạn tần suất"
    assert re.fullmatch(r"Vượt quá giới hạn tần suất: quá nhiều yêu cầu; hãy thử lại sau \d+ giây\.", body["detail"])
    assert response.headers["retry-after"]


# -- the messages of ``errors`` and of rejected operations -----------------------------------------------------------


class _Sample(BaseModel):
    model_config = ConfigDict(extra="forbid")
    count: int = Field(ge=1, le=100)
    small: int = Field(gt=0, lt=5)
    code: str = Field(min_length=2, max_length=3, pattern=r"^[a-z]+$")
    flag: bool
    op: Literal["read", "search", "submit"]
    day: datetime.date
    at: datetime.datetime
    ident: uuid.UUID
    ratio: float
    items: list[int] = Field(min_length=1, max_length=2)
    mapping: dict[str, int]
    name: str


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"count": "x", "small": 9, "code": 1, "flag": "maybe", "op": "write", "day": "2020-13-01", "at": "x"},
        {"count": 1.5, "small": 0, "code": "a", "ident": "zz", "ratio": "x", "items": 1, "mapping": 1, "name": 1},
        {"count": 0, "code": "abcd", "day": "2020-01-01T10:00:00", "items": [], "extra": 1},
        {"count": 101, "code": "ABC", "items": [1, 2, 3], "day": "x"},
    ],
)
def test_pydantics_usual_messages_have_their_vietnamese(data: dict[str, Any]) -> None:
    try:
        _Sample.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
    for error in errors:
        translated = i18n.translate_error_message(error["type"], error["msg"])
        assert translated is not None and VIETNAMESE.search(translated), (error["type"], error["msg"])
    assert i18n.translate_error_message("literal_error", "Input should be 'read', 'search' or 'submit'") == (
        "Giá trị phải là 'read', 'search' hoặc 'submit'"
    )


def test_the_gateways_own_error_messages_have_their_vietnamese() -> None:
    own = {
        "unsupported_operation": "The land database does not offer this operation (it offers: read, search).",
        "unknown_field": "Not a field of the population.citizen v1 contract.",
        "month_not_begun": "month 2099-01 has not begun",
        "value_error": "month '2026-13' does not exist",
        "kid": "A key id is 1-64 printable ASCII characters without spaces.",
        "int_type": "Input should be a JSON integer (not a boolean or a string)",
        "datetime_out_of_range": "Input should be a date-time whose time in UTC lies between the years 1 and 9999",
        "changed_at_out_of_range": "changed_at should lie between 1850-01-01 and one day after the gateway's clock",
        "timezone_aware": "Input should have timezone info",
    }
    for kind, message in own.items():
        translated = i18n.translate_error_message(kind, message)
        assert translated is not None and VIETNAMESE.search(translated), (kind, message)
    assert i18n.translate_error_message("value_error", "Value error, not a personal id") is None  # as written


def test_the_problems_of_rejected_operations_are_in_vietnamese() -> None:
    invalid = ValidationFailed(
        "The operation is invalid.", errors=[{"loc": ["fields", "x"], "msg": "Field required", "type": "missing"}]
    )
    denied = AccessDenied("Your grant does not cover writing: full_name.")
    rejected = [
        Rejection(0, "068099000001", invalid.body()).as_json(),
        Rejection(1, "068099000002", denied.body()).as_json(),
    ]
    problem = SubmissionRejected("No operation could be accepted; nothing was stored.", rejected=rejected)
    english = problem.body("/v1/databases/population/records")
    body = problem.body("/v1/databases/population/records", language="vi")
    assert english["rejected"] == rejected  # the English answer is as it always was
    assert body["detail"] == "Không thao tác nào được chấp nhận; không có dữ liệu nào được lưu."
    first, second = body["rejected"]
    assert (first["index"], first["record_id"]) == (0, "068099000001")
    assert first["problem"]["type"] == "/problems/validation-error"
    assert first["problem"]["title"] == "Dữ liệu không hợp lệ"
    assert first["problem"]["detail"] == "Thao tác không hợp lệ."
    assert first["problem"]["errors"] == [{"loc": ["fields", "x"], "msg": "Thiếu trường bắt buộc", "type": "missing"}]
    assert second["problem"]["title"] == "Không có quyền truy cập"
    assert second["problem"]["detail"] == "Quyền khai thác của bạn không bao gồm việc ghi: full_name."

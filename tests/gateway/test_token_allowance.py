"""A client obtains at most ``token_requests_per_minute`` tokens a minute: each token is signed and audited, and a
client reuses its token until it expires, so one asking for a token per request is refused (429, ``Retry-After``)
instead of making the gateway sign and audit without bound. Other clients are not affected."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from support import ClientCredentials, InProcessGateway

from gateway.core.settings import Settings
from gateway.http.app import create_app

FORM = {"grant_type": "client_credentials"}


@pytest.fixture(scope="module")
def gateway(make_settings: Callable[..., Settings]) -> Iterator[InProcessGateway]:
    with InProcessGateway(create_app(make_settings(token_requests_per_minute=3))) as running:
        yield running


def test_a_client_gets_its_tokens_a_minute_then_waits(
    gateway: InProcessGateway, make_client: Callable[..., ClientCredentials]
) -> None:
    first, other = make_client("population:read"), make_client("population:read")
    with gateway.client() as http:
        answers = [http.post("/oauth/token", data=FORM, auth=(first.client_id, first.client_secret)) for _ in range(5)]
        assert [answer.status_code for answer in answers] == [200, 200, 200, 429, 429]
        refused = answers[3]
        assert refused.headers["content-type"] == "application/problem+json"
        body = refused.json()
        assert body["type"] == "/problems/rate-limited"
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert body["detail"].startswith("This client has obtained 3 tokens in the last minute")
        vietnamese = http.post(
            "/oauth/token", data=FORM, auth=(first.client_id, first.client_secret), headers={"Accept-Language": "vi"}
        ).json()
        assert vietnamese["detail"].startswith("Ứng dụng khách này đã nhận 3 mã truy cập")
        # A token already issued still works, and another client gets its own.
        token = answers[0].json()["access_token"]
        assert http.get("/v1/services", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        assert http.post("/oauth/token", data=FORM, auth=(other.client_id, other.client_secret)).status_code == 200
        # Wrong secrets are the failure limits' business, not this allowance's.
        wrong = http.post("/oauth/token", data=FORM, auth=(other.client_id, "not-the-secret"))
        assert wrong.status_code == 401

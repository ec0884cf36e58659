"""The API documentation pages render in a real browser that cannot reach the internet (no CDN).

Debian's Chromium, headless, loads ``/docs`` and ``/redoc`` from a live gateway on 127.0.0.1 with every other host
unreachable: names resolve to nothing and every request that is not for 127.0.0.1 goes to a loopback "proxy" that
records it and refuses it. The rendered DOM must hold what only the JavaScript renders, a screenshot must show it,
and the proxy must have seen no request at all.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socketserver
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from support import LiveServer, need_service

from gateway.http.routes.docs import ASSET_CACHE_CONTROL, ASSETS, CONTENT_SECURITY_POLICY

#: Virtual time the page may take to fetch the document and render it (virtual: no real wait once idle).
BUDGET_MS = 15_000
#: A real bound on one browser run.
TIMEOUT_S = 60
#: Chromium itself calls Google's services whatever the page (component updates, network time, sign-in, autofill),
#: flags or not: not the page's requests, so not counted against it. Web fonts are the page's (ReDoc's default).
BROWSER_SERVICE_DOMAINS = (".google.com", ".googleapis.com", ".gvt1.com", ".gstatic.com")
PAGE_HOSTS_AMONG_THEM = frozenset({"fonts.googleapis.com", "fonts.gstatic.com"})


class _Recorder(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _RecordRequest)
        self.requests: list[str] = []

    def page_requests(self) -> list[str]:
        """The recorded request lines but those to the browser's own services."""
        return [line for line in self.requests if not _browser_service(_host(line))]


def _browser_service(host: str) -> bool:
    return host.endswith(BROWSER_SERVICE_DOMAINS) and host not in PAGE_HOSTS_AMONG_THEM


def _host(request_line: str) -> str:
    """The host of a proxy request line: ``CONNECT host:443 HTTP/1.1`` or ``GET http://host/path HTTP/1.1``."""
    parts = request_line.split()
    target = parts[1] if len(parts) > 1 else ""
    authority = target.split("://", 1)[1].split("/", 1)[0] if "://" in target else target
    return authority.rsplit(":", 1)[0] if ":" in authority else authority


class _RecordRequest(socketserver.StreamRequestHandler):
    """Records the request line a browser sends its proxy (``CONNECT host:443`` or ``GET http://...``), refuses."""

    server: _Recorder

    def handle(self) -> None:
        self.connection.settimeout(5)
        try:
            line = self.rfile.readline(8192).decode("latin-1").strip()
        except OSError:
            line = ""
        # A connection closed before its request line asked for nothing: Chromium opens spare connections to its
        # proxy ahead of need (preconnect) and closes those it does not use.
        if line:
            self.server.requests.append(line)
        with contextlib.suppress(OSError):
            self.wfile.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")


@pytest.fixture(scope="module")
def chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    need_service("Chromium is not installed (apt-get install chromium): the docs pages are not rendered")
    raise AssertionError  # unreachable: need_service skips or fails


@pytest.fixture(scope="module")
def proxy() -> Iterator[_Recorder]:
    recorder = _Recorder()
    thread = threading.Thread(target=recorder.serve_forever, daemon=True)
    thread.start()
    yield recorder
    recorder.shutdown()
    recorder.server_close()


def _browse(chromium: str, proxy: _Recorder, profile: Path, url: str, *action: str) -> subprocess.CompletedProcess[str]:
    """Run headless Chromium on ``url`` with no way off loopback: ``action`` is ``--dump-dom`` or ``--screenshot=``."""
    port = proxy.server_address[1]
    command = [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        # Only 127.0.0.1 resolves; every other request goes to the recording proxy, which refuses it.
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        f"--proxy-server=http://127.0.0.1:{port}",
        "--proxy-bypass-list=127.0.0.1",
        # The browser's own traffic (updates, sync, metrics ...) is not the page's: off, so the proxy sees the page's.
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--disable-extensions",
        "--metrics-recording-only",
        "--window-size=1280,1000",
        f"--virtual-time-budget={BUDGET_MS}",
        *action,
        url,
    ]
    env = {**os.environ, "HOME": str(profile)}
    result = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_S, env=env, check=False)
    assert result.returncode == 0, result.stderr[-4000:]
    return result


def _summary(server: LiveServer, path: str, method: str) -> str:
    document = httpx.get(f"{server.url}/openapi.json", timeout=30).json()
    return str(document["paths"][path][method]["summary"])


def _not_blank(png: Path) -> None:
    """A screenshot shows content: many colours, and more than a sliver of the page is not background."""
    from PIL import Image

    with Image.open(png) as image:
        rgb = image.convert("RGB")
        width, height = rgb.size
        colours = rgb.getcolors(maxcolors=width * height) or []
    background = max(colours)[0]
    assert len(colours) > 50, f"{png.name}: {len(colours)} colours, a blank page"
    assert background < 0.97 * width * height, f"{png.name}: almost only the background colour"


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_docs_render_without_the_internet(
    chromium: str, proxy: _Recorder, server: LiveServer, tmp_path: Path, page: str
) -> None:
    token = _summary(server, "/oauth/token", "post")
    jwks = _summary(server, "/.well-known/jwks.json", "get")
    url = f"{server.url}{page}"
    proxy.requests.clear()

    dom = _browse(chromium, proxy, tmp_path / "profile", url, "--dump-dom").stdout
    # Text the server's HTML does not hold: only the bundle's JavaScript, fed the OpenAPI document, renders it.
    page_html = httpx.get(url, timeout=30).text
    for rendered in (token, jwks, "The provincial data-sharing integration gateway"):
        assert rendered not in page_html
        assert rendered in dom, f"{page} did not render {rendered!r}"
    shot = tmp_path / "page.png"
    _browse(chromium, proxy, tmp_path / "profile", url, f"--screenshot={shot}")
    _not_blank(shot)
    assert proxy.page_requests() == [], f"{page} reached for the internet: {proxy.page_requests()}"


def test_the_pages_name_only_the_gateways_own_assets(http: httpx.Client) -> None:
    for page in ("/docs", "/redoc"):
        response = http.get(page)
        assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert "default-src 'self'" in response.headers["content-security-policy"]
        assert response.headers["cache-control"] == "no-cache"
        html = response.text
        assert "http://" not in html
        assert "https://" not in html
        assert "/static/docs/" in html


@pytest.mark.parametrize("asset", sorted(ASSETS))
def test_the_assets_are_served_for_caching(http: httpx.Client, asset: str) -> None:
    response = http.get(f"/static/docs/{asset}")
    assert response.status_code == 200
    assert response.headers["content-type"] == ASSETS[asset]
    assert response.headers["cache-control"] == ASSET_CACHE_CONTROL
    assert response.headers["etag"]
    assert len(response.content) > 1000


def test_an_unknown_asset_is_a_not_found_problem(http: httpx.Client) -> None:
    for name in ("nope.js", "..%2Fcore.py", "__init__.py"):
        response = http.get(f"/static/docs/{name}")
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"


def test_the_recording_proxy_sees_what_the_browser_sends_off_loopback(
    chromium: str, proxy: _Recorder, tmp_path: Path
) -> None:
    """The check above could not fail if the browser never used the proxy: a page naming an outside script does."""
    page = tmp_path / "outside.html"
    page.write_text('<script src="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js"></script>')
    proxy.requests.clear()
    _browse(chromium, proxy, tmp_path / "profile", page.as_uri(), "--dump-dom")
    assert [_host(line) for line in proxy.page_requests()] == ["cdn.jsdelivr.net"], proxy.requests

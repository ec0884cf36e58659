"""A real Prometheus server for tests: scrapes loopback targets every second, evaluates rule files, answers queries.

    with PrometheusServer(["127.0.0.1:8000"], rule_files=[ALERTS]) as prometheus:
        prometheus.wait_for_scrapes(2)
        prometheus.query('sum(rate(gateway_requests_total[1m]))')

It runs the ``prometheus`` binary (Debian's package: ``/usr/bin/prometheus``) on 127.0.0.1 and a free port, with
its storage in a temporary directory that is removed when it stops. Use :func:`require_prometheus` first: it
skips the test when the binary is missing (fails it under CI=true).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO

import httpx
import yaml
from support import free_port, need_service

PROMETHEUS_BINARY = "/usr/bin/prometheus"
PROMTOOL_BINARY = "/usr/bin/promtool"
JOB = "axis-gateway"
LOOPBACK = ("127.0.0.1", "[::1]", "localhost")


def binary(name: str, default: str) -> str | None:
    """The path of a Prometheus binary: ``default`` if it exists, else the one on PATH, else None."""
    if Path(default).is_file():
        return default
    return shutil.which(name)


def require_prometheus() -> str:
    """The ``prometheus`` binary; skips the test (fails it under CI=true) when it is not installed."""
    found = binary("prometheus", PROMETHEUS_BINARY)
    if found is None:
        need_service("prometheus is not installed (Debian package: prometheus)")
    assert found is not None
    return found


def require_promtool() -> str:
    """The ``promtool`` binary; skips the test (fails it under CI=true) when it is not installed."""
    found = binary("promtool", PROMTOOL_BINARY)
    if found is None:
        need_service("promtool is not installed (Debian package: prometheus)")
    assert found is not None
    return found


class PrometheusError(RuntimeError):
    """Prometheus refused a request (a query that does not parse, a bad argument) or did not start."""

    def __init__(self, message: str, *, error_type: str = "", error: str = "") -> None:
        super().__init__(message)
        self.error_type = error_type
        self.error = error


class PrometheusServer:
    """A Prometheus process on 127.0.0.1 scraping ``targets`` (``host:port`` on loopback; ``scrape_targets``) as job
    ``job``, every ``scrape_interval``.

    ``rule_files`` are loaded (alerting and recording rules, evaluated every ``evaluation_interval``).
    ``metrics_path`` is the path scraped on every target. Start with ``with`` or :meth:`start`, stop with
    :meth:`stop` (idempotent); :meth:`set_targets` changes the targets of a running server.
    """

    def __init__(
        self,
        targets: Iterable[str],
        *,
        rule_files: Iterable[Path] = (),
        job: str = JOB,
        metrics_path: str = "/metrics",
        scrape_interval: str = "1s",
        evaluation_interval: str = "1s",
        binary_path: str | None = None,
        startup_timeout: float = 60.0,
    ) -> None:
        self.scrape_targets = self._loopback(targets)
        self.rule_files = [Path(path).resolve() for path in rule_files]
        self.job = job
        self.metrics_path = metrics_path
        self.scrape_interval = scrape_interval
        self.evaluation_interval = evaluation_interval
        self.binary_path = binary_path
        self.startup_timeout = startup_timeout
        self.port = 0
        self.url = ""
        self._workdir: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._http: httpx.Client | None = None
        self._log: BinaryIO | None = None

    @staticmethod
    def _loopback(targets: Iterable[str]) -> list[str]:
        checked = list(targets)
        for target in checked:
            if target.rpartition(":")[0] not in LOOPBACK:
                raise ValueError(f"{target!r} is not a loopback target")
        return checked

    # -- lifecycle ---------------------------------------------------------------------------------------------

    def config(self) -> dict[str, Any]:
        """The configuration the server runs with."""
        return {
            "global": {
                "scrape_interval": self.scrape_interval,
                "scrape_timeout": self.scrape_interval,
                "evaluation_interval": self.evaluation_interval,
            },
            "rule_files": [str(path) for path in self.rule_files],
            "scrape_configs": [
                {
                    "job_name": self.job,
                    "metrics_path": self.metrics_path,
                    "static_configs": [{"targets": self.scrape_targets}],
                }
            ],
        }

    def start(self) -> PrometheusServer:
        """Write the configuration, start Prometheus and wait until it is ready."""
        if self._process is not None:
            raise RuntimeError("this Prometheus server is already running")
        executable = self.binary_path or require_prometheus()
        self._workdir = Path(tempfile.mkdtemp(prefix="prometheus-test-"))
        config_file = self._write_config()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = (self._workdir / "prometheus.log").open("wb")
        self._process = subprocess.Popen(
            [
                executable,
                f"--config.file={config_file}",
                f"--storage.tsdb.path={self._workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--web.enable-lifecycle",
                "--log.level=warn",
            ],
            cwd=self._workdir,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self._http = httpx.Client(base_url=self.url, timeout=10)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _write_config(self) -> Path:
        assert self._workdir is not None
        config_file = self._workdir / "prometheus.yml"
        config_file.write_text(yaml.safe_dump(self.config(), sort_keys=False), encoding="utf-8")
        return config_file

    def set_targets(self, targets: Iterable[str]) -> None:
        """Scrape ``targets`` from now on instead (the configuration is rewritten and reloaded)."""
        self.scrape_targets = self._loopback(targets)
        self._write_config()
        self.reload()

    def _wait_ready(self) -> None:
        assert self._process is not None and self._http is not None
        deadline = time.monotonic() + self.startup_timeout
        while True:
            if self._process.poll() is not None:
                raise PrometheusError(f"prometheus exited with status {self._process.returncode}:\n{self.log()}")
            try:
                if self._http.get("/-/ready").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise PrometheusError(f"prometheus was not ready within {self.startup_timeout} s:\n{self.log()}")
            time.sleep(0.1)

    def stop(self) -> None:
        """Ask Prometheus to quit (``/-/quit``), kill it if it does not, and remove its storage."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            try:
                assert self._http is not None
                self._http.post("/-/quit")
                process.wait(timeout=15)
            except (httpx.TransportError, subprocess.TimeoutExpired):
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        if self._http is not None:
            self._http.close()
            self._http = None
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def __enter__(self) -> PrometheusServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def workdir(self) -> Path | None:
        """The temporary directory of the running server (configuration, storage, log); None when stopped."""
        return self._workdir

    def log(self) -> str:
        """What Prometheus has logged so far."""
        if self._workdir is None or self._log is None:
            return ""
        self._log.flush()
        return (self._workdir / "prometheus.log").read_text(encoding="utf-8", errors="replace")

    def reload(self) -> None:
        """Re-read the configuration and rule files (``/-/reload``)."""
        response = self._client().post("/-/reload")
        if response.status_code != 200:
            raise PrometheusError(f"reload failed: {response.status_code} {response.text}")

    # -- HTTP API ----------------------------------------------------------------------------------------------

    def _client(self) -> httpx.Client:
        if self._http is None:
            raise RuntimeError("this Prometheus server is not running")
        return self._http

    def api(self, path: str, params: dict[str, str] | None = None) -> Any:
        """``data`` of a successful ``/api/v1/<path>`` answer; :class:`PrometheusError` with Prometheus's
        ``errorType`` and ``error`` otherwise."""
        response = self._client().get(f"/api/v1/{path}", params=params)
        try:
            body = response.json()
        except ValueError:
            raise PrometheusError(f"{path}: HTTP {response.status_code}: {response.text[:500]}") from None
        if body.get("status") != "success":
            error_type, error = str(body.get("errorType", "")), str(body.get("error", ""))
            raise PrometheusError(f"{path} {params or ''}: {error_type}: {error}", error_type=error_type, error=error)
        return body["data"]

    def query(self, expr: str, at: float | None = None) -> list[dict[str, Any]]:
        """The result of an instant query (at ``at``, Unix seconds, or now) as a list of ``{"metric", "value"}``;
        a scalar or string result is returned as one item with an empty ``metric``."""
        params = {"query": expr}
        if at is not None:
            params["time"] = f"{at:.3f}"
        data = self.api("query", params)
        if data["resultType"] in ("scalar", "string"):
            return [{"metric": {}, "value": data["result"]}]
        result: list[dict[str, Any]] = data["result"]
        return result

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[dict[str, Any]]:
        """The result of a range query: a list of ``{"metric", "values"}``."""
        params = {"query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step:g}"}
        result: list[dict[str, Any]] = self.api("query_range", params)["result"]
        return result

    def targets(self) -> list[dict[str, Any]]:
        """The active scrape targets (``labels``, ``health``, ``lastError``, ``lastScrape``...)."""
        active: list[dict[str, Any]] = self.api("targets", {"state": "active"})["activeTargets"]
        return active

    def alerts(self) -> list[dict[str, Any]]:
        """The pending and firing alerts (``labels``, ``annotations``, ``state``, ``activeAt``, ``value``)."""
        alerts: list[dict[str, Any]] = self.api("alerts")["alerts"]
        return alerts

    def rules(self) -> list[dict[str, Any]]:
        """The loaded rule groups, with each rule's health and last evaluation error."""
        groups: list[dict[str, Any]] = self.api("rules")["groups"]
        return groups

    def successful_scrapes(self) -> dict[str, int]:
        """How many times each target (``instance``) has been scraped successfully so far."""
        result = self.query(f'sum_over_time(up{{job="{self.job}"}}[1d])')
        return {series["metric"]["instance"]: int(float(series["value"][1])) for series in result}

    def wait_for_scrapes(self, count: int = 2, timeout: float = 60.0) -> None:
        """Wait until every target has been scraped successfully ``count`` more times from now: whatever the targets
        exposed before the call is then in ``count`` samples, enough for ``rate()`` when ``count`` >= 2."""
        before = self.successful_scrapes()
        deadline = time.monotonic() + timeout
        while True:
            now = self.successful_scrapes()
            done = [target for target in self.scrape_targets if now.get(target, 0) >= before.get(target, 0) + count]
            if len(done) == len(self.scrape_targets):
                return
            if time.monotonic() > deadline:
                raise PrometheusError(
                    f"the targets were not scraped {count} more times within {timeout} s: {self._target_health()}"
                )
            time.sleep(0.2)

    def _target_health(self) -> str:
        return "; ".join(
            f"{target['scrapeUrl']}: {target['health']} {target.get('lastError') or ''}".strip()
            for target in self.targets()
        )


def loopback_target(url: str) -> str:
    """The ``host:port`` of a loopback URL such as ``http://127.0.0.1:8123``."""
    parsed = httpx.URL(url)
    if parsed.host not in ("127.0.0.1", "::1", "localhost") or parsed.port is None:
        raise ValueError(f"{url!r} is not a loopback URL with a port")
    host = f"[{parsed.host}]" if ":" in parsed.host else parsed.host
    return f"{host}:{parsed.port}"

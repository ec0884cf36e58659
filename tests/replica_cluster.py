"""Several ``gateway serve`` processes behind nginx on loopback, sharing one PostgreSQL database, one Redis and
one data directory (signing key, data keys): what ``tests/gateway/test_replicas.py`` checks and
``bench/replicas.py`` measures.

nginx is the Debian package's binary run as a plain process (no system service) with a generated configuration
on a free loopback port; its pid file, logs and temporary files are in a directory of its own, and when the
caller is root it runs as ``nobody``. Its access log names the replica (``$upstream_addr``) that answered each
request, with the request's ``X-Request-Id``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson
from support import free_port

from gateway.core.db import standalone_session
from gateway.identity.clients import create_client
from gateway.identity.passwords import use_pepper

NGINX_CANDIDATES = ("nginx", "/usr/sbin/nginx")
LOG_FORMAT = "$upstream_addr $status $request_method $uri $http_x_request_id"


def nginx_binary() -> str | None:
    """The nginx executable, if installed (``/usr/sbin`` is not on every user's ``PATH``)."""
    for candidate in NGINX_CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    return None


def wait_listening(url: str, process: subprocess.Popen[bytes], log: Path, seconds: float = 60) -> None:
    """Wait until ``url`` answers 200 (or fail with the end of the process's log)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited {process.returncode}:\n{_tail(log)}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer in {seconds:g} s:\n{_tail(log)}")
        time.sleep(0.05)


def _tail(path: Path, size: int = 3000) -> str:
    return path.read_text(errors="replace")[-size:] if path.exists() else "(no log)"


class Replica:
    """One ``gateway serve`` process on its own port, which can be killed (SIGKILL) and started again."""

    def __init__(self, number: int, env: Mapping[str, str], directory: Path) -> None:
        self.number = number
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.address = f"127.0.0.1:{self.port}"
        self.name = f"replica-{number}"
        self.env = dict(env)
        self.directory = directory
        self.log = directory / f"{self.name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def launch(self) -> None:
        """Start the process (see :meth:`wait`)."""
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gateway", "serve", "--port", str(self.port), "--no-migrate"],
                env=self.env,
                cwd=self.directory,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def wait(self) -> None:
        """Wait until it serves ``/readyz``."""
        assert self.process is not None
        wait_listening(f"{self.url}/readyz", self.process, self.log)

    def owns_connection(self, local_port: int, remote_port: int) -> bool:
        """Whether this process holds the loopback TCP connection from ``local_port`` to ``remote_port`` (Linux
        ``/proc``; a local port alone is not enough: connections to different servers may share one)."""
        inodes = set()
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            with contextlib.suppress(OSError):
                for line in Path(table).read_text().splitlines()[1:]:
                    fields = line.split()
                    local, remote = (int(end.rsplit(":", 1)[1], 16) for end in fields[1:3])
                    if (local, remote) == (local_port, remote_port):
                        inodes.add(f"socket:[{fields[9]}]")
        descriptors = Path(f"/proc/{self.pid}/fd")
        for descriptor in descriptors.iterdir() if descriptors.exists() else ():
            with contextlib.suppress(OSError):
                if str(descriptor.readlink()) in inodes:
                    return True
        return False

    def freeze(self) -> None:
        """SIGSTOP: the process does nothing more (sends no commit) until :meth:`thaw` or :meth:`kill`."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        """SIGCONT: a frozen process goes on where it stopped."""
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def kill(self) -> None:
        """SIGKILL: no shutdown, no lease released, claims and transactions left open."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)


@dataclass(frozen=True)
class LogLine:
    """One request as nginx logged it."""

    upstream: str
    status: int
    method: str
    path: str
    request_id: str


class Nginx:
    """nginx in front of the replicas, round robin, on a free loopback port."""

    def __init__(self, upstreams: Sequence[str], *, workers: int = 1) -> None:
        binary = nginx_binary()
        if binary is None:
            raise RuntimeError("nginx is not installed")
        self.binary = binary
        self.upstreams = list(upstreams)
        self.workers = workers
        # Outside pytest's temporary directories, which only root may enter (nginx runs as nobody under root).
        self.directory = Path(tempfile.mkdtemp(prefix="axis-nginx-"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.access_log = self.directory / "access.log"
        self.error_log = self.directory / "error.log"
        self.process: subprocess.Popen[bytes] | None = None

    def config(self) -> str:
        d = self.directory
        servers = "\n".join(f"        server {address} max_fails=1 fail_timeout=1s;" for address in self.upstreams)
        return f"""
worker_processes {self.workers};
pid {d}/nginx.pid;
error_log {self.error_log} warn;
events {{ worker_connections 4096; }}
http {{
    log_format replicas '{LOG_FORMAT}';
    access_log {self.access_log} replicas;
    client_body_temp_path {d}/tmp/client_body;
    proxy_temp_path {d}/tmp/proxy;
    fastcgi_temp_path {d}/tmp/fastcgi;
    uwsgi_temp_path {d}/tmp/uwsgi;
    scgi_temp_path {d}/tmp/scgi;
    upstream gateway {{
{servers}
        keepalive 64;
    }}
    server {{
        listen 127.0.0.1:{self.port};
        location / {{
            proxy_pass http://gateway;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_connect_timeout 2s;
            proxy_read_timeout 60s;
            # A request that could not reach a replica goes to the next; one sent already is not sent again
            # (nginx retries no POST): the client retries with its Idempotency-Key.
            proxy_next_upstream error timeout;
        }}
    }}
}}
"""

    def start(self) -> Nginx:
        (self.directory / "tmp").mkdir()
        conf = self.directory / "nginx.conf"
        conf.write_text(self.config())
        options: dict[str, object] = {}
        nobody = None
        if os.geteuid() == 0:
            with contextlib.suppress(KeyError):
                nobody = pwd.getpwnam("nobody")
        if nobody is not None:
            for path in (self.directory, self.directory / "tmp", conf):
                os.chown(path, nobody.pw_uid, nobody.pw_gid)
            options = {"user": nobody.pw_uid, "group": nobody.pw_gid, "extra_groups": []}
        command = [self.binary, "-p", str(self.directory), "-e", str(self.error_log), "-c", str(conf)]
        command += ["-g", "daemon off;"]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, **options)  # type: ignore[call-overload]
        wait_listening(f"{self.url}/healthz", self.process, self.error_log, seconds=20)
        return self

    def lines(self) -> list[LogLine]:
        """The requests logged so far."""
        found = []
        if not self.access_log.exists():
            return found
        for line in self.access_log.read_text().splitlines():
            parts = line.split(" ")
            if len(parts) == 5 and parts[1].isdigit():
                found.append(LogLine(parts[0], int(parts[1]), parts[2], parts[3], parts[4]))
        return found

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)  # graceful: finish the requests under way
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        shutil.rmtree(self.directory, ignore_errors=True)


def gateway_env(
    *,
    data_dir: Path,
    database_url: str,
    population_url: str,
    pepper: str,
    redis_url: str,
    redis_prefix: str,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment of every replica: production, one database, one Redis, one data directory."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GATEWAY_", "PROMETHEUS_MULTIPROC_DIR"))}
    connectors = {"population": {"config": {"url": population_url, "writes": {}, "timeout_seconds": 5}}}
    env |= {
        "GATEWAY_ENVIRONMENT": "production",
        "GATEWAY_DATA_DIR": str(data_dir),
        "GATEWAY_SECRET_PEPPER": pepper,
        "GATEWAY_DATABASE_URL": database_url,
        "GATEWAY_CONNECTORS": orjson.dumps(connectors).decode(),
        "GATEWAY_REDIS_URL": redis_url,
        "GATEWAY_RATE_LIMIT_KEY_PREFIX": redis_prefix,
        "GATEWAY_LOG_LEVEL": "WARNING",
        # The key rotation's test asks one client for a token on every replica until they sign with the new key:
        # far more than a client's tokens a minute (tests/gateway/test_token_allowance.py checks the allowance).
        "GATEWAY_TOKEN_REQUESTS_PER_MINUTE": "0",
        **(extra or {}),
    }
    return env


class Cluster:
    """``count`` replicas behind nginx."""

    def __init__(self, env: Mapping[str, str], directory: Path, count: int, *, nginx_workers: int = 1) -> None:
        self.env = dict(env)
        self.directory = directory
        self.replicas = [Replica(number, env, directory) for number in range(1, count + 1)]
        self.nginx: Nginx | None = None
        self.nginx_workers = nginx_workers

    @property
    def url(self) -> str:
        assert self.nginx is not None
        return self.nginx.url

    def start(self) -> Cluster:
        # All at once: the first to write the signing key or the data keys wins, the others read its files.
        for replica in self.replicas:
            replica.launch()
        for replica in self.replicas:
            replica.wait()
        self.nginx = Nginx([replica.address for replica in self.replicas], workers=self.nginx_workers).start()
        return self

    def by_address(self, address: str) -> Replica:
        return next(replica for replica in self.replicas if replica.address == address)

    def cli(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run ``gateway ARGS`` with the replicas' environment."""
        return subprocess.run(
            [sys.executable, "-m", "gateway", *args],
            env=self.env,
            cwd=self.directory,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def stop(self) -> None:
        if self.nginx is not None:
            self.nginx.stop()
        for replica in self.replicas:  # all at once: each shuts down gracefully, in parallel
            if replica.process is not None and replica.process.poll() is None:
                replica.process.terminate()
        for replica in self.replicas:
            replica.stop()


def make_client(
    database_url: str,
    pepper: str,
    *scopes: str,
    client_id: str,
    per_second: int | None = None,
    per_day: int | None = None,
) -> tuple[str, str]:
    """Create a client in the gateway's database (its secret hashed under ``pepper``): (id, secret)."""
    use_pepper(pepper.encode())

    async def run() -> tuple[str, str]:
        async with standalone_session(database_url) as session:
            client, secret = await create_client(
                session,
                name="Replicated client",
                scopes=scopes,
                client_id=client_id,
                rate_limit_per_second=per_second,
                rate_limit_per_day=per_day,
            )
            return client.client_id, secret

    return asyncio.run(run())

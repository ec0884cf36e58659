"""A ``GATEWAY_REDIS_URL`` the rate limiter cannot use (no scheme, another scheme) is a settings error, caught by
``gateway config check`` and every command with one line naming ``redis_url`` (never its value, which may hold a
password), not a traceback when ``gateway serve`` builds its rate limiter."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError
from support import run_gateway_command

from gateway.core.settings import Settings

PASSWORD = "redis-pw-not-shown-4"


@pytest.mark.parametrize(
    "url", ["127.0.0.1:6379", f"http://:{PASSWORD}@127.0.0.1:6379/0", f"redis//:{PASSWORD}@cache", "cache:6379"]
)
def test_a_url_redis_cannot_be_reached_by_is_refused_without_its_value(tmp_path: Path, url: str) -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(data_dir=tmp_path, redis_url=url)
    [error] = refused.value.errors()
    assert error["loc"] == ("redis_url",)
    assert PASSWORD not in str(refused.value.errors(include_input=False))


@pytest.mark.parametrize(
    "url", [f"redis://:{PASSWORD}@127.0.0.1:6379/0", "rediss://cache.example.org:6380/1", "unix:///run/redis.sock"]
)
def test_the_redis_schemes_pass(tmp_path: Path, url: str) -> None:
    assert Settings(data_dir=tmp_path, redis_url=url).redis_url == url


def test_config_check_names_the_setting(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env |= {"GATEWAY_DATA_DIR": str(tmp_path), "GATEWAY_REDIS_URL": f"http://:{PASSWORD}@127.0.0.1:6379/0"}
    result = run_gateway_command(("config", "check"), env=env, cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and PASSWORD not in result.stderr
    assert "redis_url: " in result.stderr

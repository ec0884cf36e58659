"""The documentation builds as a site (MkDocs Material, ``mkdocs.yml``) in strict mode: a link to a page or a section
that does not exist, or a page left out of the navigation, fails. The site loads nothing from the network (no web
font, no CDN), like the gateway's own /docs. ``.ci/run`` builds it too."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
MKDOCS = shutil.which("mkdocs", path=str(Path(sys.executable).parent))


@pytest.mark.skipif(MKDOCS is None, reason="mkdocs is in the development extras")
def test_the_site_builds_in_strict_mode_offline(tmp_path: Path) -> None:
    site = tmp_path / "site"
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
    # No network: any proxy is a dead one, so a plugin that fetched something would fail the build.
    env |= {"NO_MKDOCS_2_WARNING": "1", "HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9"}
    run = subprocess.run(
        [str(MKDOCS), "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-4000:]
    assert "WARNING" not in run.stderr, run.stderr[-4000:]
    pages = sorted(site.rglob("*.html"))
    assert (site / "index.html").is_file() and (site / "troubleshooting.html").is_file()
    for page in pages:
        remote = re.findall(r'<(?:script|link|img)[^>]*(?:src|href)="(https?://[^"]+)"', page.read_text("utf-8"))
        assert not remote, f"{page.name} loads {remote}"


def test_every_page_is_in_the_navigation() -> None:
    """mkdocs only notes a page left out of the navigation; here it is an error, and so is a page named twice."""
    config = yaml.load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"), Loader=yaml.BaseLoader)

    def pages(node: object) -> list[str]:
        if isinstance(node, str):
            return [node]
        if isinstance(node, list):
            return [page for item in node for page in pages(item)]
        if isinstance(node, dict):
            return [page for value in node.values() for page in pages(value)]
        return []

    listed = pages(config["nav"])
    assert len(listed) == len(set(listed))
    on_disk = sorted(path.relative_to(ROOT / "docs").as_posix() for path in (ROOT / "docs").rglob("*.md"))
    assert sorted(listed) == on_disk
    assert config["strict"] == "true"
    assert config["theme"]["font"] == "false", "no web font: the site is read offline"

"""Start-up time of the ``gateway`` command: the median wall time of ``gateway --help`` and the other commands below.

    .venv/bin/python bench/cli_startup.py [--runs 15] [--gateway PATH ...]

Each command is run ``--runs`` times in a fresh process (after one warm-up run), and the median, minimum and maximum
wall times are printed, for each ``gateway`` executable given (default: this checkout's ``.venv/bin/gateway``; give
another checkout's to compare). Then ``python -X importtime`` shows the modules that loading the command imports,
the slowest first. The machine's other load shows in the figures: compare the lines of one run.

Measured here (2 cores shared with other work, load average about 4, 15 runs, median; before: loading the command
imported the settings, SQLAlchemy, SQLModel, the models, the services and the connectors, about 1 s of imports, and
rendered the help with rich; after: typer and the standard library, plus pydantic, which typer uses to convert the
options' values, once a group's callback runs):

| command | before | after |
| --- | --- | --- |
| ``gateway --help`` | 1.43 s | 0.087 s |
| ``gateway clients --help`` | 1.47 s | 0.163 s |
| ``gateway grants list --help`` | 1.41 s | 0.166 s |
| ``gateway --version`` | 1.41 s | 0.084 s |
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = (
    ("--help",),
    ("clients", "--help"),
    ("grants", "list", "--help"),
    ("--version",),
)


def timed(argv: list[str]) -> float:
    """Seconds ``argv`` takes to run to its end (its output discarded); it must succeed."""
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def import_times(python: Path, top: int) -> list[tuple[int, str]]:
    """The ``top`` slowest imports (cumulative microseconds, module) of loading the command."""
    completed = subprocess.run(
        [str(python), "-X", "importtime", "-c", "import gateway.cli"],
        check=True,
        capture_output=True,
        text=True,
        cwd=python.parent,  # not this checkout: the gateway installed beside that python
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    rows = []
    for line in completed.stderr.splitlines():
        match = re.match(r"import time:\s+\d+ \|\s+(\d+) \|\s*(\S.*)$", line)
        if match:
            rows.append((int(match.group(1)), match.group(2).strip()))
    return sorted(rows, reverse=True)[:top]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15, help="Runs of each command.")
    parser.add_argument(
        "--gateway", type=Path, nargs="+", default=[ROOT / ".venv" / "bin" / "gateway"], help="gateway executables."
    )
    parser.add_argument("--imports", type=int, default=12, help="Slowest imports to show (0: none).")
    args = parser.parse_args()
    for gateway in (path.absolute() for path in args.gateway):  # absolute, not resolved: the venv's python
        print(f"{gateway} ({args.runs} runs each; median, min-max)")
        for command in COMMANDS:
            argv = [str(gateway), *command]
            timed(argv)  # warm-up: bytecode compiled, files in the page cache
            times = [timed(argv) for _ in range(args.runs)]
            print(
                f"  gateway {' '.join(command):<28} {statistics.median(times):6.3f} s  "
                f"({min(times):.3f}-{max(times):.3f})"
            )
        if args.imports:
            print("  slowest imports of `import gateway.cli` (cumulative):")
            for micros, module in import_times(gateway.parent / "python", args.imports):
                print(f"    {micros / 1000:8.1f} ms  {module}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()

"""Set everything up, then start the app or run the tests. Needs only Python 3.11.

    python3 run.py app    # virtual environment + runtime packages, then the app (demo data on first start)
    python3 run.py test   # + test packages, Debian's chromium and postgresql, then the whole test suite

Arguments after the command go to streamlit (app) or pytest (test).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
PYTHON = VENV / "bin" / "python"
CHROMIUM = Path("/usr/bin/chromium")
# Debian's postgresql puts pg_ctl and initdb here, not on PATH.
POSTGRESQL = Path("/usr/lib/postgresql")


def ensure_venv(requirements: str) -> None:
    """Create .venv and install `requirements` into it, unless it is already up to date."""
    if not PYTHON.exists():
        print(f"Creating the virtual environment in {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    wanted = _requirements_digest(ROOT / requirements)
    stamp = VENV / f".installed-{Path(requirements).stem}"
    if stamp.exists() and stamp.read_text() == wanted:
        return
    print(f"Installing {requirements}", flush=True)
    subprocess.run(
        [
            str(PYTHON),
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "-q",
            "-r",
            str(ROOT / requirements),
        ],
        check=True,
    )
    stamp.write_text(wanted)


def _requirements_digest(path: Path) -> str:
    digest = hashlib.sha256()
    for line in path.read_text().splitlines():
        digest.update(line.encode())
        if line.startswith("-r "):
            digest.update(_requirements_digest(path.parent / line[3:].strip()).encode())
    return digest.hexdigest()


def ensure_debian_packages() -> None:
    """The browser tests drive Debian's chromium, the collections tests run on Debian's PostgreSQL
    too (tests/postgres.py): install what is missing with apt-get."""
    missing = []
    if not CHROMIUM.exists():
        missing.append("chromium")
    if shutil.which("pg_ctl") is None and not any(POSTGRESQL.glob("*/bin/pg_ctl")):
        missing.append("postgresql")
    if not missing:
        return
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        sys.exit(
            f"The tests need Debian's {' and '.join(missing)}: run `apt-get install {' '.join(missing)}` "
            "as root, then retry."
        )
    print(f"Installing Debian's {' and '.join(missing)} for the tests", flush=True)
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-q"], check=True, env=environment)
    subprocess.run(["apt-get", "install", "-y", "-q", *missing], check=True, env=environment)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("app", "test"):
        print(__doc__)
        return 2
    command, rest = argv[0], argv[1:]
    os.chdir(ROOT)
    if command == "app":
        ensure_venv("requirements.txt")
        return subprocess.call([str(PYTHON), "-m", "streamlit", "run", "serve.py", *rest])
    ensure_venv("requirements-dev.txt")
    ensure_debian_packages()
    return subprocess.call([str(PYTHON), "-m", "pytest", *rest])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

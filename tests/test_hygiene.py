"""Nothing in the repository names a path outside it: a fresh clone on any machine works."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Absolute paths of the machines the project was developed on, and the shared provider
# folder beside the clone; the samples the code needs are copied into tests/fixtures/samples.
OUTSIDE = re.compile(r"/work/|\.\./shared/|shared/providers/")


def test_no_tracked_file_names_a_path_outside_the_repository() -> None:
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.split(b"\0")
    offenders = []
    for name in filter(None, tracked):
        path = ROOT / name.decode()
        if path.resolve() == Path(__file__).resolve() or not path.is_file():
            continue
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        offenders += [
            f"{name.decode()}:{number}: {line.strip()}"
            for number, line in enumerate(text.splitlines(), 1)
            if OUTSIDE.search(line)
        ]
    assert offenders == []

"""What the suite says about the tests it cannot run here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import clean_env

REPO_ROOT = Path(__file__).resolve().parent.parent


def test_without_chromium_the_browser_tests_are_skipped_on_one_line(tmp_path):
    missing = tmp_path / "no-chromium"
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "pytest"),
            "-ra",
            "-p",
            "no:cacheprovider",
            "tests/e2e/chromium",
        ],
        cwd=REPO_ROOT,
        env=clean_env(CHROMIUM=str(missing)),
        capture_output=True,
        text=True,
        timeout=120,
    )
    # 5: nothing ran, the package being skipped whole, which is no failure.
    assert result.returncode == 5, result.stdout + result.stderr
    skipped = [line for line in result.stdout.splitlines() if line.startswith("SKIPPED")]
    assert len(skipped) == 1, result.stdout
    assert f"Chromium is not installed at {missing} (apt-get install chromium" in skipped[0]
    assert "Traceback" not in result.stdout + result.stderr

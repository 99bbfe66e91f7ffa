"""Tests in a real browser: Debian's headless Chromium, driven by Playwright.

Where Chromium is missing, this package is skipped, and the run's summary says so on one line.
"""

from pathlib import Path

import pytest

from tests.e2e.conftest import CHROMIUM

if not Path(CHROMIUM).is_file():
    pytest.skip(
        f"Chromium is not installed at {CHROMIUM} (apt-get install chromium; .ci/run does)",
        allow_module_level=True,
    )

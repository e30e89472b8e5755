"""The executive report renders in headless Chromium: parsed DOM, no console errors, a screenshot.

Needs /usr/bin/chromium (`apt-get install -y chromium`); skipped with the reason when it is absent.
"""

from __future__ import annotations

import struct
import subprocess
from pathlib import Path

import pytest

from acso_financial_intelligence.costs.report import build_executive_report, render_executive_html
from tests.unit.finance.finance_helpers import sample_report_inputs

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--enable-logging=stderr", "--v=0"]


@pytest.fixture(scope="module")
def report_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not CHROMIUM.exists():
        reason = "headless Chromium is not installed at /usr/bin/chromium (apt-get install -y chromium)"
        print(f"SKIPPED: {reason}")
        pytest.skip(reason)
    report = build_executive_report(**sample_report_inputs())  # type: ignore[arg-type]
    page = tmp_path_factory.mktemp("report") / "executive.html"
    page.write_text(render_executive_html(report), encoding="utf-8")
    return page


def _chromium(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(CHROMIUM), *_FLAGS, *args], capture_output=True, text=True, timeout=120, check=False)


def test_the_browser_parses_every_section_and_chart(report_page: Path):
    result = _chromium("--dump-dom", report_page.as_uri())
    assert result.returncode == 0, result.stderr[-2000:]
    dom = result.stdout
    assert dom.count("<svg") == 3
    assert "Cost trend and forecast" in dom
    assert "Cost of security incidents" in dom
    assert "CONSOLE" not in result.stderr
    assert "Uncaught" not in result.stderr


def test_the_report_renders_to_a_screenshot(report_page: Path):
    shot = report_page.with_suffix(".png")
    result = _chromium(f"--screenshot={shot}", "--window-size=900,2400", report_page.as_uri())
    assert result.returncode == 0, result.stderr[-2000:]
    header = shot.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", header[16:24])
    assert (width, height) == (900, 2400)
    # A blank page compresses to a few kB; charts, text and tables do not.
    assert shot.stat().st_size > 50_000
    print(f"screenshot: {shot}")

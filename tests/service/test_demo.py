"""/demo in a real headless browser (Debian's chromium, driven by Playwright): upload real crops, read the page."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import REPO
from tests.service.conftest import Gateway, start_gateway, stop_gateway

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CROPS = [REPO / "examples" / "crops" / name for name in ("devices.png", "bone.png", "stopcock.png")]
KEY = "demo-key"
# what this machine's closed network needs (no background fetches) and a root user needs (no sandbox)
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]  # fmt: skip


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """The shipped model behind an API key."""
    gateway = start_gateway({"RARE_ORT_THREADS": "1", "RARE_API_KEY": KEY}, tmp_path_factory.mktemp("demo") / "g.log")
    yield gateway
    stop_gateway(gateway)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    playwright = pytest.importorskip("playwright.sync_api")
    assert Path(CHROMIUM).exists(), "Debian's chromium is installed by scripts/apt-install.sh (requirements/apt.txt)"
    with playwright.sync_playwright() as driver:
        chromium = driver.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield chromium
        chromium.close()


def test_the_page_reads_real_crops_with_the_key(keyed: Gateway, browser, tmp_path: Path) -> None:
    page = browser.new_page()
    page.goto(keyed.url + "/demo")
    assert page.locator("input[type=file]").count() == 1
    page.wait_for_selector("#keybox:not([hidden])")  # the gateway says it needs its key
    page.fill("#key", KEY)
    page.dispatch_event("#key", "change")
    page.set_input_files("#files", [str(p) for p in CROPS])
    page.wait_for_selector("#results tbody tr:nth-child(3)")
    shown = page.eval_on_selector_all("#results tbody tr", "rows => rows.map(r => r.dataset.text)")
    files = [("images", (p.name, p.read_bytes(), "image/png")) for p in CROPS]
    answer = httpx.post(keyed.url + "/recognize", files=files, headers={"X-API-Key": KEY}).json()
    assert shown == [r["text"] for r in answer["results"]] and shown[0] == "devices"
    assert page.locator("#results tbody tr:first-child .text span").count() == len(shown[0])  # one shade a char
    assert "rare_mv3_en" in page.inner_text("#status")
    page.screenshot(path=str(tmp_path / "demo.png"), full_page=True)
    page.close()


def test_without_the_key_the_page_says_it_was_refused(keyed: Gateway, browser) -> None:
    page = browser.new_page()
    page.goto(keyed.url + "/demo")
    page.set_input_files("#files", [str(CROPS[0])])
    page.wait_for_function("document.querySelector('#status').textContent.startsWith('Refused')")
    assert "401 unauthorized" in page.inner_text("#status")
    page.close()

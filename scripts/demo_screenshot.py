"""Regenerate docs/demo.png: the demo page after reading the sample crops (needs a running gateway and chromium).

python scripts/demo_screenshot.py http://127.0.0.1:8080
"""

from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

REPO = Path(__file__).resolve().parents[1]
ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-sync"]


def main(url: str) -> None:
    crops = sorted(str(p) for p in (REPO / "examples" / "crops").glob("*.png"))
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        page = browser.new_page(viewport={"width": 900, "height": 700})
        page.goto(url.rstrip("/") + "/demo")
        page.set_input_files("#files", crops)
        page.wait_for_selector(f"#results tbody tr:nth-child({len(crops)})")
        page.screenshot(path=str(REPO / "docs" / "demo.png"), full_page=True)
        browser.close()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8080")

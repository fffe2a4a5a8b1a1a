"""Screenshots of the Dagster UI and the KPI dashboard for the README, with Debian's Chromium driven
by Playwright (no browser download). Run after `make demo`, with `make ui` serving on port 3000:

    .venv/bin/python docs/ui_screenshots.py
    .venv/bin/python docs/ui_screenshots.py --dashboard publish/dashboard/index.html   (the page only)
"""

from __future__ import annotations

import argparse
from pathlib import Path

from playwright.sync_api import sync_playwright

DOCS = Path(__file__).resolve().parent
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ui", default="http://127.0.0.1:3000")
    parser.add_argument("--day", default="2024-03-13", help="a published partition to show")
    parser.add_argument("--held-day", default="2024-03-12", help="a partition the quality gate held")
    parser.add_argument("--location", default="orchestration.definitions:defs")
    parser.add_argument("--job", default="daily_pipeline", help="the job whose runs page to show")
    parser.add_argument("--dashboard", type=Path, default=None,
                        help="only take docs/dashboard.png of this page (opened offline from the file system)")
    args = parser.parse_args()
    if args.dashboard:
        dashboard_shot(args.dashboard.resolve())
        return
    pages = {
        "ui-asset-graph.png": f"{args.ui}/asset-groups",
        "ui-partition.png": f"{args.ui}/assets/silver/inspection_results_silver?view=partitions&partition={args.day}",
        "ui-partition-held.png": (f"{args.ui}/assets/silver/inspection_results_silver?view=partitions"
                                  f"&partition={args.held_day}"),
        "ui-job-runs.png": f"{args.ui}/locations/{args.location}/jobs/{args.job}/runs",
    }
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        for name, url in pages.items():
            page.goto(url, wait_until="networkidle")
            page.wait_for_timeout(3000)
            skip = page.get_by_role("button", name="Skip")  # Dagster's "join the community" dialog
            if skip.count():
                skip.first.click()
            page.wait_for_timeout(5000)
            page.screenshot(path=str(DOCS / name))
            print(f"{url} -> {DOCS / name}")
        browser.close()


def dashboard_shot(page_path: Path) -> None:
    """docs/dashboard.png: the page as it first opens, every non-file request refused."""
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 1300})
        page.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:") else route.abort())
        page.goto(page_path.as_uri(), wait_until="load")
        page.wait_for_function("document.querySelectorAll('.chart .main-svg').length >= 6")
        page.wait_for_timeout(500)
        page.screenshot(path=str(DOCS / "dashboard.png"))
        browser.close()
    print(f"{page_path} -> {DOCS / 'dashboard.png'}")


if __name__ == "__main__":
    main()

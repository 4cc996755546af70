"""Debian's Chromium driven by Playwright, offline: every request that would leave file:// is refused and kept,
and console errors are collected. Shared by the province and the national scorecard tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@dataclass
class OfflinePage:
    page: Any
    problems: list[str] = field(default_factory=list)  # console errors and uncaught page errors
    outside: list[str] = field(default_factory=list)  # requests that tried to leave file://


@contextmanager
def offline_page() -> Iterator[OfflinePage]:
    """A page in headless Chromium that may only load file:// URLs; skips when Chromium is not installed."""
    if not CHROMIUM.exists():
        pytest.skip("needs Debian's chromium at /usr/bin/chromium (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright Python package")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        try:
            offline = OfflinePage(browser.new_page(viewport={"width": 1280, "height": 900}))
            offline.page.on("console", lambda m: offline.problems.append(m.text) if m.type == "error" else None)
            offline.page.on("pageerror", lambda e: offline.problems.append(str(e)))

            def only_local(route: Any) -> None:
                if route.request.url.startswith("file://"):
                    route.continue_()
                else:
                    offline.outside.append(route.request.url)
                    route.abort()

            offline.page.route("**/*", only_local)
            yield offline
        finally:
            browser.close()

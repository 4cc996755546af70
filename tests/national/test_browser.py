"""The national site in a real browser (Debian's Chromium through Playwright), opened from file:// with every
request that would leave file:// refused: provinces listed, the map drawn, a province's own site reachable by its
relative link, nothing fetched from the network, no personal value on the page."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from sachsong.national.site import build_national

from .conftest import CCCD_SHARED, NAMES, PHONES

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "reports"))
from offline_browser import offline_page  # the scorecard tests' offline Chromium


@pytest.mark.browser
def test_national_site_in_chromium_offline(stores: Path, tmp_path: Path) -> None:
    # Copied the way a ministry would copy the folder: the national site beside the province stores.
    result = build_national(stores, stores / "national-browser")
    with offline_page() as offline:
        page = offline.page
        page.goto(result.index.as_uri())
        assert page.locator("html").get_attribute("lang") == "vi"
        # Every one of the 34 provinces is on the page: ranked, or listed with why it is not.
        listed = {
            *page.locator("#province-table tbody tr").evaluate_all("rows => rows.map(r => r.dataset.province)"),
            *page.locator("#unscored-table tbody tr").evaluate_all(
                "rows => rows.map(r => r.dataset.province || r.querySelector('code')?.textContent)"
            ),
        }
        assert len(listed - {None, ""}) == 34, sorted(str(code) for code in listed)
        assert page.locator("#province-table tr[data-province='79'] th").is_visible()
        assert page.locator("tr[data-province='48']").first.get_attribute("data-status") == "refused"

        tile_map = page.locator("#map details[open] svg.tile-map").first
        assert tile_map.is_visible()
        box = tile_map.bounding_box()
        assert box is not None and box["width"] > 200 and box["height"] > 200  # drawn, not collapsed
        assert tile_map.locator("g.tile").count() == 34

        page.click("#lang-toggle")
        assert page.locator("html").get_attribute("lang") == "en"

        text = page.locator("body").inner_text()
        for value in (*NAMES, CCCD_SHARED, *PHONES, PHONES[0][3:]):
            assert value not in text

        link = page.locator("#province-table tr[data-province='79'] a.province-site")
        href = link.get_attribute("href")
        assert href and not href.startswith(("/", "file:", "http"))
        link.click()
        page.wait_for_load_state()
        assert page.url.endswith("/reports/index.html")
        assert page.locator("h1").first.is_visible()  # the province's own scorecard opened
    assert offline.problems == []
    assert offline.outside == []

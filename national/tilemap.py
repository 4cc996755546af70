"""A tile-grid map of Vietnam's 34 provinces as inline SVG: one square per province, placed roughly where the
province lies (north at the top, the Mekong delta at the bottom), coloured by a criterion's band. No map data,
no map service; it prints as vectors."""

from __future__ import annotations

from collections.abc import Mapping
from html import escape

# (column, row) of each province's tile, by province code (the 34 provinces after 1 July 2025).
TILES: dict[str, tuple[int, int]] = {
    "12": (1, 0), "15": (2, 0), "08": (3, 0), "04": (4, 0),
    "11": (0, 1), "14": (1, 1), "25": (2, 1), "19": (3, 1), "20": (4, 1), "22": (5, 1),
    "01": (2, 2), "24": (3, 2), "31": (4, 2),
    "37": (2, 3), "33": (3, 3),
    "38": (2, 4),
    "40": (2, 5),
    "42": (3, 6),
    "44": (3, 7),
    "46": (4, 8),
    "48": (4, 9),
    "51": (4, 10),
    "52": (4, 11),
    "66": (4, 12),
    "68": (3, 13), "56": (4, 13),
    "80": (1, 14), "79": (2, 14), "75": (3, 14),
    "91": (0, 15), "82": (1, 15), "86": (2, 15),
    "92": (1, 16),
    "96": (0, 17),
}  # fmt: skip


def _short(name: str) -> str:
    for prefix in ("Thành phố ", "Tỉnh "):
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name


def tile_map(
    provinces: list[Mapping[str, object]], criterion: str, labelledby: str, tile: int = 46, gap: int = 4
) -> str:
    """SVG of the 34 tiles. Each mapping gives `province_code`, `province_name`, `share` (0..1 or None),
    `band` (green|amber|red|n/a) and `status`; a province without scores is drawn hatched-grey (band n/a)."""
    by_code = {str(p["province_code"]): p for p in provinces}
    columns = max(c for c, _ in TILES.values()) + 1
    rows = max(r for _, r in TILES.values()) + 1
    width, height = columns * (tile + gap), rows * (tile + gap)
    parts = [
        f'<svg class="tile-map" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-labelledby="{escape(labelledby)}" data-criterion="{escape(criterion)}">'
    ]
    for code, (column, row) in TILES.items():
        info = by_code.get(code, {})
        share = info.get("share")
        band = str(info.get("band") or "n/a")
        name = str(info.get("province_name") or code)
        status = str(info.get("status") or "no_store")
        x, y = column * (tile + gap), row * (tile + gap)
        value = f"{float(share) * 100:.1f}%" if isinstance(share, int | float) else "—"
        parts.append(
            f'<g class="tile status-{escape(status)}" data-province="{code}">'
            f"<title>{escape(name)} ({code}): {value} · {escape(status)}</title>"
            f'<rect class="band-{escape(band)}" x="{x}" y="{y}" width="{tile}" height="{tile}" rx="4"/>'
            f'<text class="tile-code" x="{x + tile / 2}" y="{y + 16}" text-anchor="middle">{code}</text>'
            f'<text class="tile-value" x="{x + tile / 2}" y="{y + 32}" text-anchor="middle">'
            f"{escape(value if share is not None else _short(name)[:6])}</text></g>"
        )
    parts.append("</svg>")
    return "".join(parts)

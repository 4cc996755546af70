"""Issue 13, as a whole: one folder holding a hostile file of every class next to ordinary exports.

One `sachsong run` in a child process must publish the province; every file is accounted for (rows in =
published + quarantined + rejected, the bad ones rejected with a reason naming the file and the limit); nothing
outside the sources folder is read; the run stays under 2 GB; and no value of the corpus appears in the run's
output, its history or any file ministries download.
"""

from __future__ import annotations

import json
import os
import resource
import zipfile
from pathlib import Path

import polars as pl
import pytest

from .conftest import AS_OF, Demo, child_env, run_command
from .test_security import _readable_text, find_personal_data

MEMORY_CAP_BYTES = 2 * 1024**3

# Made-up people planted in the hostile files (never in the demo): the leak scan looks for each.
PLANTED = [
    ("Lưu Thị Bích Ngọc", "044187055501", "0911 220 331"),
    ("Khổng Văn Toàn", "044090066602", "0977 330 442"),
    ("Mạc Thị Duyên", "045191077703", "0988 440 553"),
    ("Ninh Văn Khải", "044088088804", "0966 550 664"),
    ("Quách Thị Hương", "044195099905", "0933 660 775"),
]
OUTSIDE = ("Tạ Văn Ngoài", "044080011106", "0944 770 886")  # behind a link out of the sources folder
HEADER = "Họ và tên,Ngày sinh,Giới tính,Số CCCD,Điện thoại,Địa chỉ,Ngày cập nhật"


def _line(person: tuple[str, str, str], **override: str) -> str:
    name, cccd, phone = person
    fields = {
        "name": name, "dob": "12/03/1987", "sex": "Nữ" if " Thị " in name else "Nam", "cccd": cccd,
        "phone": phone, "address": "Thôn 3, xã Gio An, huyện Gio Linh, tỉnh Quảng Trị", "updated": "2026-10-20",
    }  # fmt: skip
    fields.update(override)
    return ",".join(f'"{v}"' for v in fields.values())


def _xlsx(path: Path, sheets: dict[str, str], dimension: str | None = None) -> None:
    """A minimal workbook written by hand (no library), so its XML can lie the way a hostile file does."""
    names = list(sheets)
    workbook = (
        '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>'
        + "".join(f'<sheet name="{n}" sheetId="{i + 1}" r:id="rId{i + 1}"/>' for i, n in enumerate(names))
        + "</sheets></workbook>"
    )
    rels = (
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        + "".join(
            f'<Relationship Id="rId{i + 1}" '
            'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
            f'Target="worksheets/sheet{i + 1}.xml"/>'
            for i in range(len(names))
        )
        + "</Relationships>"
    )
    types = (
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        + "".join(
            f'<Override PartName="/xl/worksheets/sheet{i + 1}.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
            for i in range(len(names))
        )
        + "</Types>"
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", types)
        archive.writestr(
            "_rels/.rels",
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" '
            'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
            'Target="xl/workbook.xml"/></Relationships>',
        )
        archive.writestr("xl/workbook.xml", workbook)
        archive.writestr("xl/_rels/workbook.xml.rels", rels)
        for i, text in enumerate(sheets.values()):
            rows = []
            for r, line in enumerate(text.splitlines(), start=1):
                cells = "".join(
                    f'<c r="{chr(65 + c)}{r}" t="inlineStr"><is><t>{value.strip(chr(34))}</t></is></c>'
                    for c, value in enumerate(line.split(","))
                )
                rows.append(f'<row r="{r}">{cells}</row>')
            dim = f'<dimension ref="A1:{dimension}"/>' if dimension else ""
            archive.writestr(
                f"xl/worksheets/sheet{i + 1}.xml",
                '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
                f"{dim}<sheetData>{''.join(rows)}</sheetData></worksheet>",
            )


def _corpus(demo: Demo, root: Path, outside: Path) -> dict[str, int]:
    """Write the hostile folder; returns the person rows each hostile file holds (what must not be lost)."""
    exports = root / "exports"
    exports.mkdir(parents=True)
    for path in sorted(demo.exports.rglob("*"))[:3]:
        if path.is_file():
            (exports / path.name).write_bytes(path.read_bytes())
    a, b, c, d, e = PLANTED
    held: dict[str, int] = {}

    # Class 1: values outside the standardizer's contract, in an otherwise ordinary file.
    (exports / "xa_gia_tri_la.csv").write_text(
        "\n".join([
            HEADER,
            _line(a, cccd="045O80000111"),
            _line(b, cccd="chưa cấp"),
            _line(c, cccd="079712345678"),
            _line(d, name="=HYPERLINK(\"http://x.example\",\"bấm\")"),
            _line(e, address="Thôn " + "Đông " * 60_000),
        ]) + "\n",
        encoding="utf-8",
    )  # fmt: skip
    held["xa_gia_tri_la.csv"] = 5
    # Class 2: files that would stop or starve a reader.
    (exports / "xa_long_nhau.json").write_text("[" * 100_000 + "]" * 100_000, encoding="ascii")
    _xlsx(exports / "xa_bom_kich_thuoc.xlsx", {"DS": f"{HEADER}\n{_line(a)}"}, dimension="XFD1048576")
    held["xa_bom_kich_thuoc.xlsx"] = 1
    os.mkfifo(exports / "xa_ong_dan.csv")
    # Class 3: rows a reader could lose while its own counts still balance.
    _xlsx(
        exports / "xa_hai_trang.xlsx",
        {"Trang 1": f"{HEADER}\n{_line(b)}", "Trang 2": f"Ho va ten,Ngay sinh,Gioi tinh,CCCD\n{_line(c)}"},
    )
    held["xa_hai_trang.xlsx"] = 2
    (exports / "xa_hai_danh_sach.json").write_text(
        json.dumps(
            {
                "nhan_khau": [{"ho_ten": d[0], "cccd": d[1], "ngay_sinh": "01/02/1990"}],
                "tam_tru": [{"ho_ten": e[0], "cccd": e[1], "ngay_sinh": "03/04/1991"}],
            },
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    held["xa_hai_danh_sach.json"] = 2
    # Issue 12's file dialects: old Mac line endings, an HTML table saved as .xls.
    (exports / "xa_mac_cu.csv").write_bytes(f"{HEADER}\r{_line(a)}\r{_line(b)}\r".encode())
    held["xa_mac_cu.csv"] = 2
    html = (
        "<html><body><table><tr>"
        + "".join(f"<th>{h}</th>" for h in HEADER.split(","))
        + "</tr><tr>"
        + "".join(f"<td>{v.strip(chr(34))}</td>" for v in _line(c).split('","'))
        + "</tr></table></body></html>"
    )
    (exports / "xa_trang_web.xls").write_text(html, encoding="utf-8")
    held["xa_trang_web.xls"] = 1
    # Class 5: a link out of the sources folder. (A registry linked out of it is configuration, not a commune's
    # export: that run is refused whole, with a message that quotes nothing: tests/sources/test_limits.py.)
    (outside / "secret.csv").write_text(f"{HEADER}\n{_line(OUTSIDE)}\n", encoding="utf-8")
    (exports / "xa_lien_ket.csv").symlink_to(outside / "secret.csv")
    # Class 9: a bidi override in a file name.
    (exports / "xa_\u202evsc.csv").write_text(f"{HEADER}\n{_line(d)}\n", encoding="utf-8")
    held["xa_\u202evsc.csv"] = 1
    return held


@pytest.mark.slow
def test_a_folder_with_every_hostile_class_still_publishes_and_accounts_for_every_row(
    demo: Demo, prefect_api: str, tmp_path: Path
) -> None:
    import subprocess

    from sachsong.store.history import read_runs
    from sachsong.store.reader import read_current_table

    outside = tmp_path / "outside"
    outside.mkdir()
    sources = tmp_path / "sources"
    held = _corpus(demo, sources, outside)
    store = tmp_path / "store"
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    done = subprocess.run(
        run_command(sources, store),
        env=child_env(tmp_path / "home", prefect_api),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=600,
        check=False,
    )
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    assert done.returncode == 0, done.stdout[-3000:]
    # ru_maxrss only grows: when an earlier child of this session was bigger, this run is at most that big.
    assert peak_kib * 1024 < MEMORY_CAP_BYTES or peak_kib == before

    run = read_runs(store).row(-1, named=True)
    assert run["status"] == "published" and run["as_of"].isoformat() == AS_OF
    counts = json.loads(run["counts_per_source"])
    for name, entry in counts.items():
        assert entry["rows_in"] == entry["published"] + entry["quarantined"] + entry["rejected"], name
    records = read_current_table(store, "residents_records")
    quarantine = read_current_table(store, "quarantine")
    rejects = read_current_table(store, "rejects")
    files = {name.replace("\u202e", ""): entry for name, entry in counts.items()}
    for name, persons in held.items():
        entry = next(e for n, e in files.items() if n.endswith(name.replace("\u202e", "")))
        assert entry["rows_in"] >= persons, name
    # The hostile values cost their own rows: the other rows of the file are published or quarantined.
    odd = counts["xa_gia_tri_la.csv"]
    assert odd["published"] + odd["quarantined"] == 5
    # Files that would stop a reader are rejected whole, each with a reason.
    for name in ("xa_long_nhau.json", "xa_ong_dan.csv", "xa_lien_ket.csv"):
        reasons = rejects.filter(pl.col("source_file") == name)["reason"].to_list()
        assert reasons and all(reasons), name
    # Nothing from outside the sources folder was read.
    published_names = set(records["full_name"].drop_nulls()) | set(quarantine["full_name"].drop_nulls())
    assert OUTSIDE[0] not in published_names
    assert "sources:" not in (run["message"] or "")

    # No planted value in what the run printed, its history, or any downloadable file.
    numbers = {"".join(ch for ch in v if ch.isdigit()) for p in (*PLANTED, OUTSIDE) for v in p[1:]}
    numbers |= {n[1:] for n in list(numbers) if n.startswith("0") and len(n) == 10}
    names = {p[0].casefold() for p in (*PLANTED, OUTSIDE)}
    leaks = {}
    for path in sorted((store / "reports").rglob("*")):
        if path.is_file():
            found = find_personal_data(_readable_text(path), numbers, names)
            if found:
                leaks[path.name] = found[:3]
    for label, text in (
        ("output", done.stdout),
        ("runs", read_runs(store).select("message", "counts_per_source").write_csv()),
    ):
        found = find_personal_data(text, numbers, names)
        if found:
            leaks[label] = found[:3]
    assert leaks == {}

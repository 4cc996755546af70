"""Small inputs that broke something in the held-out run (generated people, valid check digits from generate.py).

    python make_cases.py   # rewrites the fixtures beside this file

abbrev_headers/hkd_abbrev.csv  an export whose headers are the abbreviations commune offices use ("CCCD",
    "Ngày ĐK", "Ngày CN" beside "Tên HKD", "MST", "SĐT"): row 2 registers on 15/03/2027, after as-of 2026-09-30.
    Expected: the three columns mapped (owner_citizen_id, registered_on, updated_at), registered_in_future on row 2.
vsic_not_level5.csv  the contract's raw columns; business lines that are not VSIC 2018 level-5 codes (level-4
    codes 4771/5630/4711, 6 digits 471100, a letter 47A10, "4719 " with a trailing space) and two controls
    (56500 flagged today, 47110 valid). Expected: vsic_code_unknown on every row but the last.
"""

import csv
import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))
from generate import mst_check  # noqa: E402


def mst(first9: str) -> str:
    return first9 + str(mst_check(first9))


COLS = ["record_id", "source_id", "business_name", "owner_name", "owner_citizen_id", "tax_code", "business_line",
        "address", "phone", "registered_on", "status", "commune_code", "updated_at"]


def base_row(i: int, **kw) -> dict:
    row = {"record_id": f"case:{i}", "source_id": "case", "business_name": f"Tạp hóa Thử Nghiệm {i}",
           "owner_name": f"Nguyễn Văn Thử {chr(64 + i)}", "owner_citizen_id": f"0450850{i:05d}",
           "tax_code": mst(f"3299{i:05d}"), "business_line": "47110",
           "address": f"Thôn {i}, xã Gio Mỹ, huyện Gio Linh, tỉnh Quảng Trị", "phone": f"09120{i:05d}",
           "registered_on": "01/02/2020", "status": "Đang hoạt động", "commune_code": "19510",
           "updated_at": "01/03/2024"}
    row.update(kw)
    return row


def write(path: Path, rows: list[dict], cols=COLS) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=cols)
        w.writeheader()
        w.writerows(rows)


def main() -> None:
    for i in range(1, 6):  # keep the MSTs valid (a nine-digit start can have no check digit)
        assert mst_check(f"3299{i:05d}") is not None
    codes = ["4771", "5630", "4711", "471100", "47A10", "4719 ", "56500", "47110"]
    valid9 = [f"32990{n:04d}" for n in range(100) if mst_check(f"32990{n:04d}") is not None]
    write(HERE / "vsic_not_level5.csv", [base_row(i + 1, business_line=c, tax_code=mst(valid9[i]))
                                         for i, c in enumerate(codes)])
    hdr = ["STT", "Tên HKD", "Chủ hộ", "CCCD", "MST", "Ngành nghề", "Địa chỉ KD", "SĐT", "Ngày ĐK", "Trạng thái",
           "Mã xã", "Ngày CN"]
    rows = []
    for i, reg in enumerate(["12/05/2019", "15/03/2027", "02/11/2015"], 1):
        r = base_row(i, registered_on=reg, tax_code=mst(f"3298{i:05d}"))
        rows.append([str(i), r["business_name"], r["owner_name"], r["owner_citizen_id"], r["tax_code"],
                     r["business_line"], r["address"], r["phone"], r["registered_on"], r["status"],
                     r["commune_code"], r["updated_at"]])
    p = HERE / "abbrev_headers" / "hkd_abbrev.csv"
    p.parent.mkdir(parents=True, exist_ok=True)
    with open(p, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(hdr)
        w.writerows(rows)


if __name__ == "__main__":
    main()

"""Held-out household-business (hộ kinh doanh) register, generated independently of sachsong.

One province (the new Quảng Trị, old Quảng Trị communes), seven old communes' exports, each in the style its
office's Excel produced: UTF-8 csv, UTF-8+BOM semicolon csv with unaccented upper-case headers, a Windows-1258
csv (combining tone marks, as Excel "CSV (Windows)" writes it), a report-template xlsx (title rows, merged cells,
"(1) (2) …" row, repeated header, signature block, numbers stored as numbers, dates as date cells and as bare
serials), an xlsx with abbreviated headers and the MST column formatted as scientific, a csv whose business line is
"code - description", and a small double-encoded (UTF-8 read as cp1252) csv.

Businesses overlap between exports with variations (shop words, abbreviations CH/Cửa hàng, Tạp hoá/Tạp hóa,
no diacritics, upper case, phone formats, old-style addresses). Known errors are injected with truth:
  mst_checkdigit   a 10- or 13-digit MST whose check digit is wrong (own implementation, cross-checked with stdnum)
  vsic_invalid     a business line code that is not a VSIC 2018 level-5 code
  future_date      a registration date after the run's as-of date
Truth (outside the repo): truth/records.csv (file, row, data_index, business_id, errors, damage, fields as written)
and truth/canonical.csv (the contract's raw columns with the typed values, for the rule/dedupe-only path).

    python generate.py --out /work/heldout/business --businesses 1500 --seed 7 --as-of 2026-09-30
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import random
import unicodedata
from pathlib import Path

# ---------------------------------------------------------------- reference data ---------------------------------
# Old communes of Quảng Trị (codes and names as in the GSO list); each exports its own register.
COMMUNES = [
    # file stem, code, ward (type, name), district (type, name), kind of place
    ("p1_dongha", "19333", ("Phường", "1"), ("Thành phố", "Đông Hà"), "urban"),
    ("p5_dongha", "19348", ("Phường", "5"), ("Thành phố", "Đông Hà"), "urban"),
    ("hoxa_vinhlinh", "19363", ("Thị trấn", "Hồ Xá"), ("Huyện", "Vĩnh Linh"), "town"),
    ("giomy_giolinh", "19510", ("Xã", "Gio Mỹ"), ("Huyện", "Gio Linh"), "rural"),
    ("camlo_camlo", "19597", ("Thị trấn", "Cam Lộ"), ("Huyện", "Cam Lộ"), "town"),
    ("trieuai_trieuphong", "19669", ("Xã", "Triệu Ái"), ("Huyện", "Triệu Phong"), "rural"),
    ("cuaviet_giolinh", "19496", ("Thị trấn", "Cửa Việt"), ("Huyện", "Gio Linh"), "town"),
]
PROVINCE = "Quảng Trị"
# share of businesses whose home is each commune (the last, double-encoded export, is small)
COMMUNE_WEIGHTS = [18, 16, 16, 14, 16, 14, 6]

STREETS_URBAN = ["Lê Duẩn", "Hùng Vương", "Trần Hưng Đạo", "Lê Lợi", "Nguyễn Huệ", "Hàm Nghi", "Quốc lộ 9",
                 "Lý Thường Kiệt", "Ngô Quyền", "Phan Bội Châu", "Trần Phú", "Lê Quý Đôn"]
STREETS_TOWN = ["Quốc lộ 1A", "Hùng Vương", "Lê Duẩn", "Trần Hưng Đạo", "Nguyễn Trãi", "Quang Trung"]
VILLAGES = ["Thôn An Xuân", "Thôn Phước Thị", "Thôn Mai Xá", "Thôn Lâm Xuân", "Thôn Hà Thanh", "Thôn Nam Phú",
            "Thôn 1", "Thôn 2", "Thôn 3", "Thôn 4", "Thôn Trung An", "Thôn Đông Hải", "Thôn Tây Hải"]

SURNAMES = ["Nguyễn"] * 30 + ["Trần"] * 12 + ["Lê"] * 12 + ["Phạm"] * 6 + ["Hoàng"] * 5 + ["Võ"] * 6 + \
    ["Phan"] * 5 + ["Đặng"] * 3 + ["Bùi"] * 3 + ["Đỗ"] * 3 + ["Hồ"] * 4 + ["Ngô"] * 2 + ["Dương"] * 2 + \
    ["Lý", "Trương", "Đoàn", "Hà", "Lâm", "Mai", "Tôn Nữ", "Cao", "Lương", "Thái"]
MIDDLE_M = ["Văn", "Văn", "Văn", "Đức", "Hữu", "Quang", "Minh", "Công", "Thanh", "Xuân", "Đình", "Ngọc"]
MIDDLE_F = ["Thị", "Thị", "Thị", "Thị", "Ngọc", "Thu", "Thanh", "Kim", "Minh", "Hồng", "Diệu", "Phương"]
GIVEN_M = ["Hùng", "Dũng", "Tuấn", "Minh", "Nam", "Long", "Hải", "Sơn", "Thắng", "Quý", "Phúc", "Lộc", "Tài",
           "Bình", "Cường", "Đạt", "Hiếu", "Khánh", "Lâm", "Nghĩa", "Phong", "Quân", "Thành", "Trung", "Vinh"]
GIVEN_F = ["Hoa", "Hương", "Lan", "Mai", "Hà", "Thủy", "Thúy", "Hằng", "Nga", "Loan", "Liên", "Nhung", "Oanh",
           "Phượng", "Trang", "Tuyết", "Yến", "Xuân", "Hòa", "Thoa", "Hiền", "Lý", "Vân", "Duyên", "Ngọc"]
BRANDS = ["Minh Anh", "Hồng Phát", "Thành Đạt", "Phúc Lộc", "An Khang", "Tài Lộc", "Hưng Thịnh", "Kim Ngân",
          "Ngọc Ánh", "Thanh Bình", "Hoàng Long", "Bảo Ngọc", "Phú Quý", "Thuận Phát", "Đức Tài", "Vạn Phúc",
          "Thiên Phú", "Quang Minh", "Hải Đăng", "Sông Hiếu", "Cửa Tùng", "Ánh Dương", "Hòa Bình", "Tân Tiến"]

# (shop words as written, VSIC 2018 level-5 code, short description) — codes checked against the 2018 list
LINES = [
    ("Tạp hóa", "47110", "Bán lẻ lương thực, thực phẩm, đồ uống trong cửa hàng kinh doanh tổng hợp", 24),
    ("Cửa hàng tạp hóa", "47199", "Bán lẻ khác trong các cửa hàng kinh doanh tổng hợp", 8),
    ("Quán cà phê", "56309", "Dịch vụ phục vụ đồ uống khác", 10),
    ("Quán cơm", "56101", "Nhà hàng, quán ăn, hàng ăn uống", 7),
    ("Quán bún bò", "56101", "Nhà hàng, quán ăn, hàng ăn uống", 4),
    ("Quán nhậu", "56301", "Quán rượu, bia, quầy bar", 3),
    ("Nấu tiệc", "56210", "Cung cấp dịch vụ ăn uống theo hợp đồng không thường xuyên", 2),
    ("Cửa hàng điện thoại", "47412", "Bán lẻ thiết bị viễn thông", 3),
    ("Cửa hàng vật liệu xây dựng", "47524", "Bán lẻ xi măng, gạch xây, ngói, đá, cát sỏi", 4),
    ("Cửa hàng sơn", "47522", "Bán lẻ sơn, màu, véc ni", 1),
    ("Điện máy", "47591", "Bán lẻ đồ điện gia dụng, đèn và bộ đèn điện", 2),
    ("Nội thất", "47592", "Bán lẻ giường, tủ, bàn, ghế", 1),
    ("Shop quần áo", "47711", "Bán lẻ hàng may mặc", 4),
    ("Giày dép", "47712", "Bán lẻ giày dép", 2),
    ("Tiệm vàng", "47732", "Bán lẻ vàng, bạc, đá quý, đồ trang sức", 2),
    ("Đại lý gas", "47735", "Bán lẻ dầu hỏa, ga, than nhiên liệu dùng cho gia đình", 2),
    ("Đại lý sữa", "47224", "Bán lẻ đường, sữa và các sản phẩm sữa, bánh, mứt, kẹo", 2),
    ("Rau quả", "47223", "Bán lẻ rau, quả", 2),
    ("Hàng thịt", "47221", "Bán lẻ thịt và các sản phẩm thịt", 2),
    ("Hải sản", "47222", "Bán lẻ thủy sản", 3),
    ("Đại lý bia nước giải khát", "47230", "Bán lẻ đồ uống", 2),
    ("Nhà sách", "47610", "Bán lẻ sách, báo, tạp chí, văn phòng phẩm", 1),
    ("Hoa tươi", "47731", "Bán lẻ hoa, cây cảnh", 1),
    ("Xe đạp", "47738", "Bán lẻ xe đạp và phụ tùng", 1),
    ("Đồ chơi", "47640", "Bán lẻ trò chơi, đồ chơi", 1),
    ("Nhà thuốc", "47721", "Bán lẻ dược phẩm, dụng cụ y tế", 2),
    ("Mỹ phẩm", "47722", "Bán lẻ nước hoa, mỹ phẩm và vật phẩm vệ sinh", 2),
    ("Nhà trọ", "55104", "Nhà trọ, phòng trọ và các cơ sở lưu trú tương tự", 2),
    ("Cây cảnh", "01183", "Trồng hoa, cây cảnh", 1),  # a code with a leading zero (lost when typed as a number)
]
VALID_VSIC = {code for _, code, _, _ in LINES}
# codes that are not VSIC 2018 level 5: groups that do not exist, wrong length, letters, level-4 codes
INVALID_VSIC = ["99999", "4799", "4711", "5610", "47950", "56500", "47A10", "471100", "00000", "4719 ", "5630",
                "47800", "4771"]

WEIGHTS = (31, 29, 23, 19, 17, 13, 7, 5, 3)


def mst_check(first9: str) -> int | None:
    """The MST check digit (None when the nine digits admit none)."""
    check = 10 - sum(w * int(d) for w, d in zip(WEIGHTS, first9, strict=False)) % 11
    return None if check == 10 else check


def mst_valid(mst: str) -> bool:
    digits = mst.replace("-", "")
    if len(digits) not in (10, 13) or not digits.isdigit():
        return False
    return mst_check(digits[:9]) == int(digits[9])


def new_mst(rng: random.Random, used: set[str]) -> str:
    while True:
        prefix = rng.choices(["32", "31", "01", "03", "80", "81", "83"], [55, 10, 5, 5, 10, 10, 5])[0]
        first9 = prefix + "".join(rng.choice("0123456789") for _ in range(7))
        check = mst_check(first9)
        if check is None:
            continue
        mst = first9 + str(check)
        if mst not in used:
            used.add(mst)
            return mst


def corrupt_mst(rng: random.Random, mst: str) -> tuple[str, str]:
    """One typing slip that breaks the check digit: last digit, a middle digit, or two neighbours swapped."""
    base, _, suffix = mst.partition("-")
    how = rng.choice(["last", "last", "middle", "swap"])
    d = list(base)
    if how == "last":
        d[9] = rng.choice([c for c in "0123456789" if c != d[9]])
    elif how == "middle":
        i = rng.randrange(2, 9)
        d[i] = rng.choice([c for c in "0123456789" if c != d[i]])
    else:
        choices = [i for i in range(2, 9) if d[i] != d[i + 1]]
        if choices:
            i = rng.choice(choices)
            d[i], d[i + 1] = d[i + 1], d[i]
        else:
            d[9] = "0" if d[9] != "0" else "1"
    bad = "".join(d)
    assert not mst_valid(bad), (mst, bad)
    return (bad + ("-" + suffix if suffix else "")), how


# ---------------------------------------------------------------- text helpers -----------------------------------
def fold(s: str) -> str:
    s = unicodedata.normalize("NFD", s.replace("đ", "d").replace("Đ", "D"))
    return "".join(c for c in s if unicodedata.category(c) != "Mn")


def old_tone(s: str) -> str:
    """The old tone placement Excel users still type: hóa→hoá, thủy→thuỷ, hòa→hoà."""
    for new, old in [("óa", "oá"), ("òa", "oà"), ("ỏa", "oả"), ("õa", "oã"), ("ọa", "oạ"), ("ủy", "uỷ"),
                     ("úy", "uý"), ("ùy", "uỳ"), ("ụy", "uỵ"), ("ũy", "uỹ"), ("óe", "oé"), ("òe", "oè")]:
        s = s.replace(new, old)
    return s


def to_cp1258(text: str) -> bytes:
    """Windows-1258 as Windows writes it: precomposed where the code page has it, else base + combining tone."""
    out = bytearray()
    for ch in unicodedata.normalize("NFC", text):
        try:
            out += ch.encode("cp1258")
            continue
        except UnicodeEncodeError:
            pass
        decomposed = unicodedata.normalize("NFD", ch)
        tones = [m for m in decomposed[1:] if m in "\u0300\u0301\u0303\u0309\u0323"]
        rest = "".join(m for m in decomposed[1:] if m not in tones)
        out += unicodedata.normalize("NFC", decomposed[0] + rest).encode("cp1258")
        out += "".join(tones).encode("cp1258")
    return bytes(out)


def double_encoded(text: str) -> str:
    """UTF-8 bytes read back as cp1252 (undefined bytes as Latin-1), the classic mojibake."""
    out = []
    for b in text.encode("utf-8"):
        try:
            out.append(bytes([b]).decode("cp1252"))
        except UnicodeDecodeError:
            out.append(bytes([b]).decode("latin-1"))
    return "".join(out)


def excel_serial(d: dt.date) -> int:
    return (d - dt.date(1899, 12, 30)).days


# ---------------------------------------------------------------- the population ---------------------------------
def make_person(rng: random.Random, used_cccd: set[str]) -> dict:
    female = rng.random() < 0.55
    name = " ".join([rng.choice(SURNAMES), rng.choice(MIDDLE_F if female else MIDDLE_M),
                     rng.choice(GIVEN_F if female else GIVEN_M)])
    year = rng.randint(1955, 2003)
    century_sex = (0 if year < 2000 else 2) + (1 if female else 0)
    while True:
        cccd = rng.choice(["045", "045", "045", "044", "046"]) + str(century_sex) + f"{year % 100:02d}" + \
            f"{rng.randrange(10**6):06d}"
        if cccd not in used_cccd:
            used_cccd.add(cccd)
            break
    phone = rng.choice(["09", "03", "08", "07", "05"]) + "".join(rng.choice("0123456789") for _ in range(8))
    return {"owner_name": name, "female": female, "cccd": cccd, "phone": phone, "owner_id": f"P{len(used_cccd):05d}"}


def make_address(rng: random.Random, commune: tuple) -> dict:
    _, _, (wtype, wname), (dtype, dname), kind = commune
    if kind == "urban":
        street = f"{rng.randint(1, 250)} {rng.choice(STREETS_URBAN)}"
    elif kind == "town":
        street = rng.choice([f"Khu phố {rng.randint(1, 9)}", f"Khóm {rng.randint(1, 6)}",
                             f"{rng.randint(1, 180)} {rng.choice(STREETS_TOWN)}"])
    else:
        street = rng.choice(VILLAGES)
    return {"street": street, "wtype": wtype, "wname": wname, "dtype": dtype, "dname": dname}


def render_address(rng: random.Random, a: dict, style: str) -> str:
    wt = {"Phường": "phường", "Thị trấn": "thị trấn", "Xã": "xã"}[a["wtype"]]
    dt_ = {"Thành phố": "thành phố", "Huyện": "huyện"}[a["dtype"]]
    wab = {"Phường": "P.", "Thị trấn": "TT.", "Xã": "X."}[a["wtype"]]
    dab = {"Thành phố": "TP.", "Huyện": "H."}[a["dtype"]]
    if style == "full":
        return f"{a['street']}, {wt} {a['wname']}, {dt_} {a['dname']}, tỉnh {PROVINCE}"
    if style == "Full":
        return f"{a['street']}, {a['wtype']} {a['wname']}, {a['dtype']} {a['dname']}, Tỉnh {PROVINCE}"
    if style == "abbr":
        return f"{a['street']}, {wab} {a['wname']}, {dab} {a['dname']}, T. {PROVINCE}"
    if style == "short":  # no unit words for the commune and district (a town/xã keeps its type word)
        wpart = f"{wt} {a['wname']}" if a["wtype"] == "Phường" else a["wname"]
        return f"{a['street']}, {wpart}, {a['dname']}, {PROVINCE}"
    if style == "dash":
        return f"{a['street']} - {wt} {a['wname']} - {dt_} {a['dname']} - {PROVINCE}"
    raise ValueError(style)


SHOP_ABBR = [("Cửa hàng", "CH"), ("Tạp hóa", "Tạp hoá"), ("Quán cà phê", "Cafe"), ("Vật liệu xây dựng", "VLXD"),
             ("Điện thoại", "ĐT"), ("Hộ kinh doanh", "HKD"), ("Đại lý", "ĐL")]


def render_business_name(rng: random.Random, b: dict, style: str) -> str:
    shop, brand = b["shop"], b["brand"]
    prefix = rng.choices(["", "Hộ kinh doanh ", "HKD "], [70, 18, 12])[0]
    name = f"{prefix}{shop} {brand}"
    if rng.random() < 0.35:  # abbreviations / old tone marks, as the clerk typed them that day
        for full, short in SHOP_ABBR:
            if full in name and rng.random() < 0.7:
                name = name.replace(full, short, 1)
    if rng.random() < 0.25:
        name = old_tone(name)
    if rng.random() < 0.2 and shop == "Tạp hóa":
        name = name.replace("Tạp hóa", "Cửa hàng tạp hóa", 1)
    if style == "upper":
        name = name.upper()
    elif style == "ascii":
        name = fold(name)
    return name


def render_owner(rng: random.Random, b: dict, style: str) -> str:
    name = b["owner_name"]
    if rng.random() < 0.06:
        name = ("Bà " if b["female"] else "Ông ") + name
    if style == "upper":
        name = name.upper()
    elif style == "ascii":
        name = fold(name)
    return name


def render_phone(rng: random.Random, phone: str, style: str) -> str:
    if style == "plain":
        return phone
    if style == "dots":
        return f"{phone[:4]}.{phone[4:7]}.{phone[7:]}"
    if style == "spaces":
        return f"{phone[:4]} {phone[4:7]} {phone[7:]}"
    if style == "intl":
        return f"+84 {phone[1:4]} {phone[4:7]} {phone[7:]}"
    if style == "84":
        return "84" + phone[1:]
    raise ValueError(style)


STATUS_WORDS = {
    "active": ["Đang hoạt động", "Hoạt động", "Đang HĐ"],
    "suspended": ["Tạm ngừng kinh doanh", "Tạm ngừng", "Tạm nghỉ"],
    "closed": ["Ngừng hoạt động", "Đã chấm dứt hoạt động", "Đóng cửa"],
}


# ---------------------------------------------------------------- per-commune dialects -----------------------------
HEADERS_STD = ["STT", "Tên hộ kinh doanh", "Họ tên chủ hộ", "Số CCCD chủ hộ", "Mã số thuế", "Ngành nghề kinh doanh",
               "Địa chỉ", "Số điện thoại", "Ngày đăng ký", "Tình trạng", "Mã xã", "Ngày cập nhật"]
FIELDS = ["stt", "business_name", "owner_name", "owner_citizen_id", "tax_code", "business_line", "address", "phone",
          "registered_on", "status", "commune_code", "updated_at"]
DIALECTS = {
    # stem: format, header list, text style, address style, phone style, date style, line style
    "p1_dongha": dict(fmt="csv_utf8", headers=HEADERS_STD, text="normal", addr="full", phone="plain",
                      date="dmy_slash", line="code"),
    "p5_dongha": dict(fmt="csv_bom_semicolon", headers=[fold(h).upper() for h in HEADERS_STD], text="upper",
                      addr="abbr", phone="dots", date="dmy_dash", line="code"),
    "hoxa_vinhlinh": dict(fmt="csv_cp1258", headers=HEADERS_STD, text="normal", addr="Full", phone="spaces",
                          date="dmy_slash", line="code"),
    "giomy_giolinh": dict(fmt="xlsx_template", headers=HEADERS_STD, text="normal", addr="full", phone="number",
                          date="excel_date", line="number"),
    "camlo_camlo": dict(fmt="xlsx_abbrev", headers=["STT", "Tên HKD", "Chủ hộ", "CCCD", "MST", "Ngành nghề",
                                                    "Địa chỉ KD", "SĐT", "Ngày ĐK", "Trạng thái", "Mã xã",
                                                    "Ngày CN"],
                        text="normal", addr="short", phone="intl", date="mixed_xlsx", line="code"),
    "trieuai_trieuphong": dict(fmt="csv_utf8", headers=[fold(h).lower().replace(" ", "_") for h in HEADERS_STD],
                               text="ascii", addr="dash", phone="84", date="dmy_slash", line="code_desc"),
    "cuaviet_giolinh": dict(fmt="csv_mojibake", headers=HEADERS_STD, text="normal", addr="full", phone="plain",
                            date="dmy_slash", line="code"),
}


def fmt_date(d: dt.date, style: str) -> str:
    if style == "dmy_dash":
        return d.strftime("%d-%m-%Y")
    return d.strftime("%d/%m/%Y")


# ---------------------------------------------------------------- generation ---------------------------------------
def generate(out: Path, n_businesses: int, seed: int, as_of: dt.date) -> dict:
    rng = random.Random(seed)
    used_mst: set[str] = set()
    used_cccd: set[str] = set()
    businesses: list[dict] = []
    [c[0] for c in COMMUNES]

    def add_business(owner: dict, home: int, address: dict, mst: str, relation: str = "") -> dict:
        shop, code, desc, _ = rng.choices(LINES, [w for *_, w in LINES])[0]
        brand = rng.choice(BRANDS + [owner["owner_name"].split()[-1]] * 6)
        status = rng.choices(["active", "suspended", "closed"], [82, 8, 10])[0]
        reg = as_of - dt.timedelta(days=rng.randint(0, 365 * 20))
        b = {"business_id": f"B{len(businesses) + 1:05d}", "home": home, "shop": shop, "brand": brand,
             "vsic": code, "vsic_desc": desc, "mst": mst, "address": address, "status": status,
             "registered_on": reg, "relation": relation,
             "address_id": address.setdefault("aid", f"A{len(businesses) + 1:05d}"), **owner}
        businesses.append(b)
        return b

    n_main = n_businesses
    while len(businesses) < n_main:
        home = rng.choices(range(len(COMMUNES)), COMMUNE_WEIGHTS)[0]
        owner = make_person(rng, used_cccd)
        address = make_address(rng, COMMUNES[home])
        r = rng.random()
        if r < 0.02:  # one owner, two business locations: MST-001 and MST-002 (13 digits), distinct entities
            base = new_mst(rng, used_mst)
            add_business(owner, home, address, base + "-001", "branch")
            add_business(owner, home, make_address(rng, COMMUNES[home]), base + "-002", "branch")
        elif r < 0.05:  # husband and wife, each a business at the same address (hard negative)
            add_business(owner, home, address, new_mst(rng, used_mst), "spouse")
            spouse = make_person(rng, used_cccd)
            spouse["owner_name"] = owner["owner_name"].split()[0] + " " + spouse["owner_name"].split(" ", 1)[1]
            add_business(spouse, home, address, new_mst(rng, used_mst), "spouse")
        elif r < 0.07:  # since 1 July 2025 a person's tax code is the 12-digit CCCD: legitimate, not an error
            add_business(owner, home, address, owner["cccd"], "cccd_as_mst")
        else:
            add_business(owner, home, address, new_mst(rng, used_mst))
    businesses = businesses[:n_main]

    # which exports list each business: its home, plus (for ~22%) one other commune's export, and a few twice
    listings: dict[int, list[dict]] = {i: [] for i in range(len(COMMUNES))}
    for b in businesses:
        listings[b["home"]].append(b)
        if rng.random() < 0.22:
            other = rng.choice([i for i in range(len(COMMUNES)) if i != b["home"]])
            listings[other].append(b)
        if rng.random() < 0.03:  # entered twice in its own commune's register
            listings[b["home"]].append(b)
    for i in listings:
        rng.shuffle(listings[i])

    exports = out / "exports"
    truth_dir = out / "truth"
    exports.mkdir(parents=True, exist_ok=True)
    truth_dir.mkdir(parents=True, exist_ok=True)
    for old in exports.iterdir():
        old.unlink()

    truth_rows: list[dict] = []
    canonical_rows: list[dict] = []
    today = dt.date.today()
    for ci, commune in enumerate(COMMUNES):
        stem, ccode = commune[0], commune[1]
        d = DIALECTS[stem]
        records = []
        for _k, b in enumerate(listings[ci]):
            errors: list[str] = []
            damage: list[str] = []
            text_style = d["text"]
            name = render_business_name(rng, b, text_style)
            owner = render_owner(rng, b, text_style)
            address = render_address(rng, b["address"], d["addr"])
            if text_style == "upper":
                address = address.upper()
            elif text_style == "ascii":
                address = fold(address)
            # tax code
            mst = b["mst"]
            mst_missing = rng.random() < 0.03
            if mst_missing:
                mst = ""
            elif rng.random() < 0.06 and len(mst.replace("-", "")) in (10, 13):
                mst, how = corrupt_mst(rng, mst)
                errors.append("mst_checkdigit")
                damage.append("mst_" + how)
            # business line
            code = b["vsic"]
            if rng.random() < 0.06:
                code = rng.choice(INVALID_VSIC)
                errors.append("vsic_invalid")
                damage.append(f"vsic={code.strip()}{'+space' if code != code.strip() else ''}")
            # registration date
            reg = b["registered_on"]
            if rng.random() < 0.05:
                kind = rng.choice(["days", "days", "past_wallclock", "year_typo"])
                if kind == "days":
                    reg = as_of + dt.timedelta(days=rng.randint(1, 400))
                elif kind == "past_wallclock" and today > as_of + dt.timedelta(days=1):
                    # after as-of but before the machine's today: only an as-of-aware rule sees it
                    reg = as_of + dt.timedelta(days=rng.randint(1, (today - as_of).days - 1 or 1))
                else:
                    y = str(reg.year)
                    typo = int(y[:2] + y[3] + y[2]) if y[2] != y[3] else reg.year + 40
                    if typo <= as_of.year:
                        typo = as_of.year + rng.randint(1, 30)
                    try:
                        reg = reg.replace(year=typo)
                    except ValueError:
                        reg = reg.replace(year=typo, day=28)
                errors.append("future_date")
                damage.append("future_" + kind)
            elif rng.random() < 0.01:  # boundary: registered on the as-of date itself, not in the future
                reg = as_of
                damage.append("reg_on_as_of")
            upd = min(as_of, max(reg, b["registered_on"]) + dt.timedelta(days=rng.randint(0, 900)))
            phone_style = d["phone"]
            records.append({"b": b, "name": name, "owner": owner, "address": address, "mst": mst, "code": code,
                            "reg": reg, "upd": upd, "errors": errors, "damage": damage, "phone_style": phone_style,
                            "status": rng.choice(STATUS_WORDS[b["status"]]), "ccode": ccode,
                            "cccd": "" if rng.random() < 0.04 else b["cccd"]})
        written = WRITERS[d["fmt"]](rng, exports, stem, d, records)
        for rec, (row, data_index, as_written, extra_damage) in zip(records, written, strict=False):
            truth_rows.append({
                "file": as_written["__file"], "row": row, "data_index": data_index,
                "business_id": rec["b"]["business_id"], "errors": ";".join(rec["errors"]),
                "owner_id": rec["b"]["owner_id"], "address_id": rec["b"]["address_id"],
                "relation": rec["b"]["relation"], "shop_brand": fold(rec["b"]["shop"] + " " + rec["b"]["brand"]).lower(),
                "damage": ";".join(rec["damage"] + extra_damage),
                "written_business_name": as_written["business_name"], "written_tax_code": as_written["tax_code"],
                "written_business_line": as_written["business_line"],
                "written_registered_on": as_written["registered_on"],
            })
            canonical_rows.append({
                "record_id": f"{stem}:{row}", "source_id": stem, "business_name": rec["name"],
                "owner_name": rec["owner"], "owner_citizen_id": rec["cccd"], "tax_code": rec["mst"],
                "business_line": rec["code"] if d["line"] != "code_desc"
                else f"{rec['code']} - {rec['b']['vsic_desc']}",
                "address": rec["address"], "phone": render_phone(rng, rec["b"]["phone"], "plain"),
                "registered_on": rec["reg"].strftime("%d/%m/%Y"), "status": rec["status"],
                "commune_code": rec["ccode"], "updated_at": rec["upd"].strftime("%d/%m/%Y"),
            })

    with open(truth_dir / "records.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(truth_rows[0]))
        w.writeheader()
        w.writerows(truth_rows)
    with open(truth_dir / "canonical.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(canonical_rows[0]))
        w.writeheader()
        w.writerows(canonical_rows)
    meta = {"seed": seed, "businesses": n_businesses, "as_of": as_of.isoformat(), "records": len(truth_rows),
            "files": sorted(p.name for p in exports.iterdir()), "province": "44",
            "errors": {k: sum(k in t["errors"].split(";") for t in truth_rows)
                       for k in ("mst_checkdigit", "vsic_invalid", "future_date")}}
    (truth_dir / "meta.json").write_text(json.dumps(meta, indent=1, ensure_ascii=False))
    return meta


# ---------------------------------------------------------------- writers ------------------------------------------
def _text_values(rng, d, rec) -> dict:
    b = rec["b"]
    line = rec["code"]
    if d["line"] == "code_desc":
        line = f"{rec['code']} - {fold(b['vsic_desc']) if d['text'] == 'ascii' else b['vsic_desc']}"
    status = rec["status"]
    if d["text"] == "upper":
        status = status.upper()
    elif d["text"] == "ascii":
        status = fold(status)
    return {"business_name": rec["name"], "owner_name": rec["owner"], "owner_citizen_id": rec["cccd"],
            "tax_code": rec["mst"], "business_line": line, "address": rec["address"],
            "phone": render_phone(rng, b["phone"], rec["phone_style"]) if rec["phone_style"] != "number"
            else b["phone"],
            "registered_on": fmt_date(rec["reg"], d["date"]), "status": status, "commune_code": rec["ccode"],
            "updated_at": fmt_date(rec["upd"], d["date"])}


def _csv_text(rng, d, records, delimiter=","):
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter, lineterminator="\r\n")
    w.writerow(d["headers"])
    written = []
    for i, rec in enumerate(records):
        v = _text_values(rng, d, rec)
        w.writerow([str(i + 1)] + [v[f] for f in FIELDS[1:]])
        written.append((i + 2, i, v, []))
    return buf.getvalue(), written


def write_csv_utf8(rng, exports, stem, d, records):
    text, written = _csv_text(rng, d, records)
    name = f"{stem}.csv"
    (exports / name).write_bytes(text.encode("utf-8"))
    return [(r, i, {**v, "__file": name}, x) for r, i, v, x in written]


def write_csv_bom_semicolon(rng, exports, stem, d, records):
    text, written = _csv_text(rng, d, records, delimiter=";")
    name = f"{stem}.csv"
    (exports / name).write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    return [(r, i, {**v, "__file": name}, x) for r, i, v, x in written]


def write_csv_cp1258(rng, exports, stem, d, records):
    text, written = _csv_text(rng, d, records)
    name = f"{stem}.csv"
    (exports / name).write_bytes(to_cp1258(text))
    return [(r, i, {**v, "__file": name}, [*x, "file_cp1258"]) for r, i, v, x in written]


def write_csv_mojibake(rng, exports, stem, d, records):
    text, written = _csv_text(rng, d, records)
    name = f"{stem}.csv"
    (exports / name).write_bytes(double_encoded(text).encode("utf-8"))
    return [(r, i, {**v, "__file": name}, [*x, "file_double_encoded"]) for r, i, v, x in written]


def write_xlsx_template(rng, exports, stem, d, records):
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    wb = Workbook()
    ws = wb.active
    ws.title = "DS HKD"
    ncol = len(d["headers"])
    ws.cell(1, 1, "UBND XÃ GIO MỸ")
    ws.cell(1, 8, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM")
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=4)
    ws.merge_cells(start_row=1, start_column=8, end_row=1, end_column=ncol)
    ws.cell(2, 1, "DANH SÁCH HỘ KINH DOANH TRÊN ĐỊA BÀN XÃ (số liệu đến ngày 30/9/2026)")
    ws.merge_cells(start_row=2, start_column=1, end_row=2, end_column=ncol)
    ws.cell(2, 1).font = Font(bold=True, size=14)
    ws.cell(2, 1).alignment = Alignment(horizontal="center")
    header_row = 4
    for j, h in enumerate(d["headers"], 1):
        ws.cell(header_row, j, h).font = Font(bold=True)
        ws.cell(header_row + 1, j, f"({j})")
    row = header_row + 2
    written = []
    half = len(records) // 2
    for i, rec in enumerate(records):
        if i == half:  # the header repeated at a page break
            for j, h in enumerate(d["headers"], 1):
                ws.cell(row, j, h)
            row += 1
        v = _text_values(rng, d, rec)
        extra = []
        cells = {"stt": i + 1}
        for f in FIELDS[1:]:
            cells[f] = v[f]
        # numbers stored as numbers: MST, CCCD, phone, commune code and business line lose leading zeros
        for f in ("tax_code", "owner_citizen_id", "phone", "commune_code", "business_line"):
            val = v[f]
            if val and val.isdigit():
                cells[f] = int(val)
                if val[0] == "0":
                    extra.append(f"{f}_leading_zero_lost")
        # dates: date cells, but the update date as a bare serial (the column lost its format)
        cells["registered_on"] = rec["reg"]
        cells["updated_at"] = excel_serial(rec["upd"])
        for j, f in enumerate(FIELDS, 1):
            c = ws.cell(row, j, cells[f])
            if f == "registered_on":
                c.number_format = "dd/mm/yyyy"
        written.append((row, i, {**v, "__file": f"{stem}.xlsx",
                                 "tax_code": str(cells["tax_code"]), "business_line": str(cells["business_line"]),
                                 "registered_on": rec["reg"].strftime("%d/%m/%Y")}, [*extra, "xlsx_numbers"]))
        row += 1
    row += 1
    ws.cell(row, 2, "Tổng cộng:")
    ws.cell(row, 3, f"{len(records)} hộ")
    ws.cell(row + 2, 2, "NGƯỜI LẬP BIỂU")
    ws.cell(row + 2, 9, "TM. UBND XÃ")
    ws.cell(row + 3, 9, "CHỦ TỊCH")
    wb.save(exports / f"{stem}.xlsx")
    return written


def write_xlsx_abbrev(rng, exports, stem, d, records):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "HKD"
    for j, h in enumerate(d["headers"], 1):
        ws.cell(1, j, h)
    written = []
    for i, rec in enumerate(records):
        row = i + 2
        v = _text_values(rng, d, rec)
        extra = []
        cells = {"stt": i + 1, **{f: v[f] for f in FIELDS[1:]}}
        if v["tax_code"].isdigit():  # the MST column formatted as Scientific: the value is whole, shown 3.21E+09
            cells["tax_code"] = int(v["tax_code"])
            extra.append("mst_scientific_format")
        dates_as_cells = rng.random() < 0.5
        if dates_as_cells:
            cells["registered_on"] = rec["reg"]
            cells["updated_at"] = rec["upd"]
        for j, f in enumerate(FIELDS, 1):
            c = ws.cell(row, j, cells[f])
            if f == "tax_code" and isinstance(cells[f], int):
                c.number_format = "0.00E+00"
            if f in ("registered_on", "updated_at") and dates_as_cells:
                c.number_format = "d/m/yyyy"
        written.append((row, i, {**v, "__file": f"{stem}.xlsx", "registered_on": rec["reg"].strftime("%d/%m/%Y")},
                        extra))
    wb.save(exports / f"{stem}.xlsx")
    return written


WRITERS = {"csv_utf8": write_csv_utf8, "csv_bom_semicolon": write_csv_bom_semicolon,
           "csv_cp1258": write_csv_cp1258, "csv_mojibake": write_csv_mojibake,
           "xlsx_template": write_xlsx_template, "xlsx_abbrev": write_xlsx_abbrev}


def self_check(out: Path, as_of: dt.date) -> None:
    """The truth agrees with itself and, for MSTs, with python-stdnum (if installed)."""
    with open(out / "truth" / "canonical.csv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    with open(out / "truth" / "records.csv", encoding="utf-8") as handle:
        truth = list(csv.DictReader(handle))
    try:
        from stdnum.vn import mst as stdmst
    except ImportError:
        stdmst = None
    disagree = 0
    for c, t in zip(rows, truth, strict=False):
        errs = set(filter(None, t["errors"].split(";")))
        tc = c["tax_code"]
        if tc and (len(tc.replace("-", "")) in (10, 13)):
            assert mst_valid(tc) == ("mst_checkdigit" not in errs), (t["file"], t["row"])
            if stdmst is not None and stdmst.is_valid(tc) != mst_valid(tc):
                disagree += 1
        code = c["business_line"].split(" - ")[0]
        assert (code in VALID_VSIC) == ("vsic_invalid" not in errs), (t["file"], t["row"])
        reg = dt.datetime.strptime(c["registered_on"], "%d/%m/%Y").date()
        assert (reg > as_of) == ("future_date" in errs), (t["file"], t["row"])
    print(f"self-check: {len(rows)} records consistent; stdnum "
          + ("not installed" if stdmst is None else f"disagrees on {disagree} MSTs"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="/work/heldout/business")
    ap.add_argument("--businesses", type=int, default=1500)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--as-of", default="2026-09-30")
    a = ap.parse_args()
    as_of = dt.date.fromisoformat(a.as_of)
    meta = generate(Path(a.out), a.businesses, a.seed, as_of)
    self_check(Path(a.out), as_of)
    print(json.dumps(meta, ensure_ascii=False))


if __name__ == "__main__":
    main()

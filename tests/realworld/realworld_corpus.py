"""Exports made the way commune offices, real Excel installs and attackers make them, with their ground truth.

Written by an independent tester from README.md, DESIGN.md and issues 12/13 only: nothing here knows how
sachsong reads files. Every export is one old commune's register of the merged province of Tây Ninh (80 = old
Long An + old Tây Ninh); addresses use real old wards from the statistics office's crosswalk.

`build_corpus(root)` writes the exports into `root` and returns a `Corpus`: per written data row what it must
standardize to (CCCD, date of birth, sex, phone, name) and whether its dirt is recoverable; per file how many rows
it holds, counted by a reader of our own (csv, openpyxl, json, html.parser), never by sachsong.
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import html.parser
import io
import json
import random
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import openpyxl

CROSSWALK = Path("/work/shared/reference/nso_crosswalk_2025.csv")
PROVINCE = "80"
AS_OF = dt.date(2026, 11, 30)
EXCEL_EPOCH = dt.date(1899, 12, 30)

# Family names with their real shares (percent); the tail is spread over the rest.
FAMILY = [
    ("Nguyễn", 38.0), ("Trần", 11.0), ("Lê", 9.5), ("Phạm", 7.0), ("Huỳnh", 4.0), ("Hoàng", 1.1),
    ("Phan", 4.5), ("Võ", 3.0), ("Vũ", 0.9), ("Đặng", 2.1), ("Bùi", 2.0), ("Đỗ", 1.4), ("Hồ", 1.3),
    ("Ngô", 1.3), ("Dương", 1.0), ("Lý", 0.5), ("Trương", 0.8), ("Đinh", 0.6), ("Lâm", 0.6),
    ("Mai", 0.5), ("Tô", 0.3), ("Châu", 0.4), ("Lương", 0.4), ("Cao", 0.4), ("Đoàn", 0.5), ("Tạ", 0.2),
]
MIDDLE_M = ["Văn"] * 6 + ["Đức", "Minh", "Hữu", "Quốc", "Thanh", "Công", "Hoàng", "Tấn", "Ngọc"]
MIDDLE_F = ["Thị"] * 6 + ["Ngọc", "Thu", "Thanh", "Kim", "Mỹ", "Hồng", "Bích", "Thùy", "Minh"]
GIVEN_M = ["An", "Bình", "Cường", "Dũng", "Hùng", "Hải", "Hiếu", "Huy", "Khang", "Khoa", "Long", "Minh",
           "Nam", "Phát", "Phúc", "Quang", "Sơn", "Tài", "Thành", "Thắng", "Tuấn", "Vinh", "Trung", "Lộc",
           "Nghĩa", "Tâm", "Đạt", "Lực", "Toàn", "Hưng"]
GIVEN_F = ["Anh", "Châu", "Dung", "Hà", "Hằng", "Hạnh", "Hoa", "Hương", "Lan", "Linh", "Loan", "Mai",
           "Ngân", "Nhung", "Oanh", "Phương", "Thảo", "Trang", "Tuyết", "Vân", "Yến", "Thủy", "Hòa", "Xuân",
           "Diễm", "Ngọc", "Trâm", "Quyên"]
# Letters Windows-1252 can hold: a register saved as "ANSI" on a Western Windows keeps only names like these.
LATIN1_FAMILY = ["Lê", "Võ", "Tô", "Lý", "Hà", "Châu", "Mai", "Lâm"]
LATIN1_MIDDLE_M = ["Minh", "Thanh", "Xuân", "Công"]
LATIN1_MIDDLE_F = ["Kim", "Thanh", "Xuân", "Mai"]
LATIN1_GIVEN_M = ["Trí", "Tùng", "Tâm", "Lâm", "Tài", "Quý", "Toàn", "Hòa"]
LATIN1_GIVEN_F = ["Châu", "Tú", "Hà", "Vân", "Thúy", "Trâm", "Hòa", "Lài"]
# Where people of the province were born (CCCD province-of-birth codes, all >= 010 so a lost zero is one zero).
BIRTH_PROVINCES = ["080"] * 8 + ["072"] * 6 + ["079", "082", "083", "084", "086", "070", "074", "038", "040"]
MOBILE_PREFIXES = ["090", "091", "093", "094", "096", "097", "098", "086", "088", "089", "032", "033", "034",
                   "035", "036", "037", "038", "039", "070", "076", "077", "078", "079", "081", "083", "085"]
HAMLETS = ["Bình Trung", "Thạnh Hiệp", "Long Phú", "Tân Thuận", "Phước Lợi", "Hòa Bình", "Trường Xuân",
           "Bàu Sen", "Rạch Tre", "Cây Gòn", "Xóm Mới", "Bến Đò", "Chánh", "Ninh Điền", "Suối Ngô"]

TONE_MARKS = {"\u0300": "f", "\u0301": "s", "\u0303": "x", "\u0309": "r", "\u0323": "j"}
SHAPE_MARKS = {"\u0302", "\u0306", "\u031b"}  # circumflex, breve, horn


# ------------------------------------------------------------------------------------------------ ground truth
@dataclass
class Person:
    family: str
    middle: str
    given: str
    sex: str  # "M" | "F"
    dob: dt.date
    cccd: str
    phone: str  # national form, 10 digits
    address: str
    new_ward_code: str

    @property
    def full_name(self) -> str:
        return f"{self.family} {self.middle} {self.given}"

    @property
    def phone_e164(self) -> str:
        return "+84" + self.phone[1:]


@dataclass
class Row:
    """One row as written to an export, and what it must become."""

    file: str
    sheet: str | None
    position: int  # 1-based: line / sheet row / index in its JSON list, counting from the top
    kind: str  # "data" | "template"
    template_kind: str = ""
    person: Person | None = None
    written_name: str = ""  # the name as the row spells it (split columns joined by a space)
    written_cccd: str = ""  # the CCCD cell as text (numbers as Excel shows them)
    cccd: str | None = None  # the CCCD it must standardize to (None: no valid CCCD in the row)
    dob: dt.date | None = None
    sex: str | None = None
    phone_e164: str | None = None
    name: str | None = None  # the full name it must standardize to
    family: str | None = None
    dirt: list[str] = field(default_factory=list)  # tags of what was done to the row
    recoverable: bool = True  # every planted defect can be repaired with certainty
    hostile: bool = False
    updated: dt.datetime | None = None  # the last-update time the row states, if it has one
    updated_is_date: bool = False  # the row gives only the day of its last update


@dataclass
class FileInfo:
    name: str
    rows_in: int  # counted by our own reader: every non-blank row below the header, every sheet / list
    note: str


@dataclass
class Corpus:
    root: Path
    rows: list[Row]
    files: dict[str, FileInfo]
    planted_names: set[str]
    planted_numbers: set[str]  # CCCDs and phones, in every form written plus the clean forms

    def data_rows(self) -> list[Row]:
        return [r for r in self.rows if r.kind == "data"]


# ----------------------------------------------------------------------------------------- value generators
class Gen:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.used_cccd: set[str] = set()
        self.used_phone: set[str] = set()
        self.wards = _load_wards()

    def family(self, latin1: bool = False) -> str:
        if latin1:
            return self.rng.choice(LATIN1_FAMILY)
        names, weights = zip(*FAMILY, strict=True)
        return self.rng.choices(names, weights)[0]

    def person(self, ward: dict, *, latin1: bool = False, born: tuple[int, int] = (1940, 2006)) -> Person:
        rng = self.rng
        sex = rng.choice("MF")
        if latin1:
            middle = rng.choice(LATIN1_MIDDLE_M if sex == "M" else LATIN1_MIDDLE_F)
            given = rng.choice(LATIN1_GIVEN_M if sex == "M" else LATIN1_GIVEN_F)
        else:
            middle = rng.choice(MIDDLE_M if sex == "M" else MIDDLE_F)
            given = rng.choice(GIVEN_M if sex == "M" else GIVEN_F)
        dob = dt.date(rng.randint(*born), 1, 1) + dt.timedelta(days=rng.randint(0, 364))
        prov = rng.choice(BIRTH_PROVINCES)
        century = (0 if dob.year < 2000 else 2) + (0 if sex == "M" else 1)
        while True:
            cccd = f"{prov}{century}{dob.year % 100:02d}{rng.randint(0, 999999):06d}"
            if cccd not in self.used_cccd:
                self.used_cccd.add(cccd)
                break
        while True:
            phone = rng.choice(MOBILE_PREFIXES) + f"{rng.randint(0, 9999999):07d}"
            if phone not in self.used_phone:
                self.used_phone.add(phone)
                break
        hamlet = rng.choice(HAMLETS)
        unit = "Khu phố" if ward["old_ward_name"].startswith(("Phường", "Thị trấn")) else "Ấp"
        address = f"{unit} {hamlet}, {ward['old_ward_name']}, {ward['old_district']}, {ward['old_province']}"
        return Person(self.family(latin1), middle, given, sex, dob, cccd, phone, address, ward["new_ward_code"])

    def ward(self, old_province: str) -> dict:
        return self.rng.choice([w for w in self.wards if w["old_province"] == old_province])


def _load_wards() -> list[dict]:
    """Old wards of the new Tây Ninh that went whole into one new ward (no split: the right answer is certain)."""
    with CROSSWALK.open(encoding="utf-8", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["new_province"].startswith("Tỉnh Tây Ninh")]
    seen: dict[str, int] = {}
    for r in rows:
        seen[r["old_ward_code"]] = seen.get(r["old_ward_code"], 0) + 1
    names: dict[str, int] = {}
    for r in rows:
        names[_fold(r["old_ward_name"])] = names.get(_fold(r["old_ward_name"]), 0) + 1
    out = []
    for r in rows:
        if seen[r["old_ward_code"]] != 1 or r["note"].strip() not in ("Nhập toàn bộ", "Giữ nguyên"):
            continue
        if names[_fold(r["old_ward_name"])] != 1:  # a name that recurs in the province needs its district
            continue
        strip = re.compile(r"\s*\(\d+\)\s*$")
        district = strip.sub("", r["old_district"]).replace("Thị Xã", "Thị xã")
        out.append({
            "old_ward_name": r["old_ward_name"].strip(),
            "old_district": district,
            "old_province": strip.sub("", r["old_province"]),
            "new_ward_code": r["new_ward_code"],
        })
    return out


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFD", text.replace("Đ", "D").replace("đ", "d"))
    return "".join(c for c in text if not unicodedata.combining(c)).casefold()


def telex(text: str) -> str:
    """What a keyboard with the Vietnamese input method switched off leaves: "Nguyễn Văn" -> "Nguyeenx Vawn"."""
    out = []
    for word in text.split(" "):
        tone = ""
        letters = []
        for ch in word:
            if ch in "Đđ":
                letters.append("DD" if ch == "Đ" else "dd")
                continue
            parts = unicodedata.normalize("NFD", ch)
            base = parts[0]
            for mark in parts[1:]:
                if mark in TONE_MARKS:
                    tone = TONE_MARKS[mark]
                elif mark == "\u0302":
                    base += base.lower()
                elif mark == "\u0306" or mark == "\u031b":
                    base += "w"
            letters.append(base)
        out.append("".join(letters) + tone)
    return " ".join(out)


VNI_TONES = {"\u0301": "1", "\u0300": "2", "\u0309": "3", "\u0303": "4", "\u0323": "5"}
VNI_SHAPES = {"\u0302": "6", "\u031b": "7", "\u0306": "8"}


def vni(text: str) -> str:
    """VNI keystrokes left as typed: "Nguyễn Văn" -> "Nguye6n4 Va8n"."""
    out = []
    for word in text.split(" "):
        tone = ""
        letters = []
        for ch in word:
            if ch in "Đđ":
                letters.append("D9" if ch == "Đ" else "d9")
                continue
            parts = unicodedata.normalize("NFD", ch)
            letters.append(parts[0] + "".join(VNI_SHAPES.get(m, "") for m in parts[1:]))
            tone = next((VNI_TONES[m] for m in parts[1:] if m in VNI_TONES), tone)
        out.append("".join(letters) + tone)
    return " ".join(out)


def cp1258_encode(text: str) -> bytes:
    """Windows-1258 as Vietnamese Windows writes it: precomposed where the code page has the letter, else the
    base letter (â ê ô ă ơ ư) followed by a combining tone mark."""
    out = bytearray()
    for ch in unicodedata.normalize("NFC", text):
        try:
            out += ch.encode("cp1258")
            continue
        except UnicodeEncodeError:
            pass
        parts = unicodedata.normalize("NFD", ch)
        tones = "".join(m for m in parts if m in TONE_MARKS)
        base = unicodedata.normalize("NFC", "".join(m for m in parts if m not in TONE_MARKS))
        out += (base + tones).encode("cp1258")
    return bytes(out)


def fullwidth(digits: str) -> str:
    return "".join(chr(0xFF10 + int(d)) for d in digits)


def serial(day: dt.date) -> int:
    return (day - EXCEL_EPOCH).days


# ---------------------------------------------------------------------------------------- dirt, per field
def dirty_cccd(rng: random.Random, cccd: str, kinds: list[str]) -> tuple[object, str, str]:
    """(cell value, tag, text the cell shows). Every kind here is recoverable with certainty."""
    kind = rng.choice(kinds)
    if kind == "int":  # typed into a General cell: the leading zero is gone, 11 digits
        return int(cccd), "cccd_number_lost_zero", str(int(cccd))
    if kind == "float":  # a number that went through a float: "80012345678.0"
        return float(int(cccd)), "cccd_float", f"{int(cccd)}.0"
    if kind == "dot0":
        return f"{int(cccd)}.0", "cccd_dot0", f"{int(cccd)}.0"
    if kind == "apostrophe":
        return "'" + cccd, "cccd_apostrophe", "'" + cccd
    if kind == "zw":  # pasted from a web form: a zero-width space inside the number
        v = cccd[:4] + "\u200b" + cccd[4:]
        return v, "cccd_zero_width", v
    if kind == "fullwidth":
        v = fullwidth(cccd)
        return v, "cccd_fullwidth", v
    if kind == "spaced":
        v = f"{cccd[:3]} {cccd[3:6]} {cccd[6:9]} {cccd[9:]}"
        return v, "cccd_spaced", v
    if kind == "text_formula":  # the CSV trick that keeps a leading zero when Excel opens the file
        v = f'="{cccd}"'
        return v, "cccd_text_formula", v
    if kind == "nbsp":  # copied from a web page: no-break spaces around the number
        v = f"\u00a0{cccd}\u00a0"
        return v, "cccd_nbsp", v
    return cccd, "", cccd


def dirty_phone(rng: random.Random, phone: str, kinds: list[str]) -> tuple[object, str]:
    kind = rng.choice(kinds)
    if kind == "int":
        return int(phone), "phone_number_lost_zero"
    if kind == "dot0":
        return f"{int(phone)}.0", "phone_dot0"
    if kind == "spaced":
        return f"{phone[:4]} {phone[4:7]} {phone[7:]}", "phone_spaced"
    if kind == "dotted":
        return f"{phone[:4]}.{phone[4:7]}.{phone[7:]}", "phone_dotted"
    if kind == "plus84":
        return f"+84 {phone[1:4]} {phone[4:7]} {phone[7:]}", "phone_plus84"
    if kind == "paren84":
        return f"(+84) {phone[1:]}", "phone_paren84"
    if kind == "text_formula":
        return f'="{phone}"', "phone_text_formula"
    return phone, ""


def date_vn(rng: random.Random, d: dt.date, kinds: list[str]) -> tuple[str, str]:
    kind = rng.choice(kinds)
    if kind == "words":
        return f"{d.day} tháng {d.month} năm {d.year}", "dob_words"
    if kind == "ngay":
        return f"ngày {d.day:02d}/{d.month:02d}/{d.year}", "dob_ngay_prefix"
    if kind == "yy" and 1930 <= d.year <= 1999 and d.year % 100 > AS_OF.year % 100:
        return f"{d.day:02d}/{d.month:02d}/{d.year % 100:02d}", "dob_two_digit_year"
    if kind == "sa":  # Excel on a Vietnamese Windows: "SA" = sáng (a.m.)
        return f"{d.day}/{d.month}/{d.year} 12:00:00 SA", "dob_datetime_sa"
    if kind == "dash":
        return f"{d.day:02d}-{d.month:02d}-{d.year}", "dob_dash"
    if kind == "serial":
        return str(serial(d)), "dob_excel_serial"
    if kind == "serial_float":
        return f"{serial(d)}.0", "dob_excel_serial_float"
    if kind == "ch":  # "CH" = chiều (p.m.)
        return f"{d.day}/{d.month}/{d.year} 2:30:00 CH", "dob_datetime_ch"
    if kind == "nopad":
        return f"{d.day}/{d.month}/{d.year}", "dob_no_padding"
    if kind == "dot":
        return f"{d.day:02d}.{d.month:02d}.{d.year}", "dob_dotted"
    if kind == "iso":
        return d.isoformat(), "dob_iso"
    if kind == "Ngay_words":
        return f"Ngày {d.day:02d} tháng {d.month:02d} năm {d.year}", "dob_words_capital"
    return f"{d.day:02d}/{d.month:02d}/{d.year}", ""


# ------------------------------------------------------------------------------------------------ writers
def _csv_text(header: list[str], rows: list[list[object]], newline: str = "\r\n", delimiter: str = ",") -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator=newline, delimiter=delimiter)
    w.writerow(header)
    for r in rows:
        w.writerow(["" if v is None else v for v in r])
    return buf.getvalue()


def _data_row(file: str, sheet: str | None, position: int, p: Person, **kw) -> Row:
    row = Row(file=file, sheet=sheet, position=position, kind="data", person=p, cccd=p.cccd, dob=p.dob,
              sex=p.sex, phone_e164=p.phone_e164, name=p.full_name, family=p.family,
              written_name=p.full_name, written_cccd=p.cccd)
    for k, v in kw.items():
        setattr(row, k, v)
    return row


def _updated(rng: random.Random) -> dt.datetime:
    return dt.datetime.combine(AS_OF - dt.timedelta(days=rng.randint(3, 300)), dt.time(rng.randint(7, 17),
                               rng.randint(0, 59)))


class Builder:
    def __init__(self, root: Path, seed: int = 20261202) -> None:
        self.root = root
        self.g = Gen(seed)
        self.rng = self.g.rng
        self.rows: list[Row] = []
        self.files: dict[str, FileInfo] = {}
        self.extra_names: set[str] = set()
        self.extra_numbers: set[str] = set()
        self.pool: list[Person] = []  # people an earlier export holds, who may appear again in a later one

    def person(self, ward: dict, *, reuse: bool = False, keep: bool = False, **kw) -> tuple[Person, list[str]]:
        """A new person, or (reuse) one an earlier export of another old commune already holds."""
        if reuse and self.pool:
            return self.pool.pop(self.rng.randrange(len(self.pool))), ["duplicate_across_exports"]
        p = self.g.person(ward, **kw)
        if keep:
            self.pool.append(p)
        return p, []

    def add_file(self, name: str, rows_in: int, note: str) -> None:
        self.files[name] = FileInfo(name, rows_in, note)

    # 1. An xlsx straight out of Excel: numbers where text belongs, two sheets with different headers.
    def excel_numbers(self) -> None:
        rng = self.rng
        ward = self.g.ward("Tỉnh Long An")
        name = "DS_NhanKhau_" + _fold(ward["old_ward_name"]).title().replace(" ", "_") + "_T11-2026.xlsx"
        wb = openpyxl.Workbook()
        ws = wb.active
        ws.title = "Nhân khẩu"
        ws.append(["STT", "Họ và tên", "Ngày sinh", "Giới tính", "Số CCCD", "Số điện thoại",
                   "Địa chỉ thường trú", "Ngày cập nhật"])
        for i in range(1, 41):
            p, _ = self.person(ward, keep=True)
            cval, ctag, ctext = dirty_cccd(rng, p.cccd, ["int", "int", "float", "plain", "apostrophe"])
            pval, ptag = dirty_phone(rng, p.phone, ["int", "int", "plain"])
            dkind = rng.choice(["date", "serial", "text"])
            if dkind == "date":
                dval, dtag = dt.datetime.combine(p.dob, dt.time()), "dob_excel_date_cell"
            elif dkind == "serial":
                dval, dtag = serial(p.dob), "dob_excel_serial_number"
            else:
                dval, dtag = f"{p.dob.day:02d}/{p.dob.month:02d}/{p.dob.year}", ""
            upd = _updated(rng)
            ws.append([i, p.full_name, dval, "Nam" if p.sex == "M" else "Nữ", cval, pval, p.address, upd])
            if dkind == "date":
                ws.cell(row=i + 1, column=3).number_format = "dd/mm/yyyy"
            ws.cell(row=i + 1, column=8).number_format = "dd/mm/yyyy hh:mm"
            self.rows.append(_data_row(name, ws.title, i + 1, p, written_cccd=ctext, updated=upd,
                                       dirt=[t for t in (ctag, ptag, dtag) if t]))
        # The second sheet came from another officer, headers typed without diacritics.
        ws2 = wb.create_sheet("Tam tru")
        ws2.append(["TT", "Ho va ten", "Ngay sinh", "Gioi tinh", "So dinh danh", "Dien thoai", "Dia chi"])
        for i in range(1, 16):
            p = self.g.person(ward)
            cval, ctag, ctext = dirty_cccd(rng, p.cccd, ["int", "plain"])
            ws2.append([i, p.full_name, f"{p.dob.day:02d}/{p.dob.month:02d}/{p.dob.year}",
                        "Nam" if p.sex == "M" else "Nữ", cval, p.phone, p.address])
            self.rows.append(_data_row(name, ws2.title, i + 1, p, written_cccd=ctext,
                                       dirt=[t for t in (ctag, "second_sheet") if t]))
        wb.save(self.root / name)
        self.add_file(name, 55, "xlsx: CCCDs/phones as numbers, serial and real date cells, a second sheet")

    # 2. A report template: title block, column numbers, a repeated header at the page break, totals, footer.
    def report_template(self) -> None:
        rng = self.rng
        ward = self.g.ward("Tỉnh Tây Ninh")
        name = "Mau_01_DS_NhanKhau_" + _fold(ward["old_ward_name"]).title().replace(" ", "") + ".xlsx"
        wb = openpyxl.Workbook()
        ws = wb.active
        ws.title = "Sheet1"
        header = ["STT", "Họ và tên đệm", "Tên", "Ngày sinh", "Tháng sinh", "Năm sinh", "Nam", "Nữ",
                  "Số CCCD", "Số điện thoại", "Nơi thường trú", "Ghi chú"]
        title = [
            ["UBND " + ward["old_ward_name"].upper(), None, None, None, None, None, None,
             "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"],
            ["CÔNG AN XÃ", None, None, None, None, None, None, "Độc lập - Tự do - Hạnh phúc"],
            [],
            [None, None, None, "DANH SÁCH NHÂN KHẨU THƯỜNG TRÚ"],
            [None, None, None, "(Kèm theo Báo cáo số 123/BC-CAX ngày 15/11/2026)"],
            [],
        ]
        for t in title:
            ws.append(t)
        ws.append(header)
        header_row = ws.max_row
        ws.append([f"({i})" for i in range(1, len(header) + 1)])
        self.rows.append(Row(name, ws.title, ws.max_row, "template", "column_numbers"))
        for n in range(1, 31):
            if n == 19:  # page break: the header printed again
                ws.append(header)
                self.rows.append(Row(name, ws.title, ws.max_row, "template", "repeated_header"))
            p = self.g.person(ward)
            cval, ctag, ctext = dirty_cccd(rng, p.cccd, ["plain", "int", "apostrophe"])
            ws.append([n, f"{p.family} {p.middle}", p.given, p.dob.day, p.dob.month, p.dob.year,
                       "x" if p.sex == "M" else None, "x" if p.sex == "F" else None, cval, p.phone,
                       p.address, None])
            self.rows.append(_data_row(name, ws.title, ws.max_row, p, written_cccd=ctext,
                                       dirt=[t for t in (ctag, "name_split", "dob_three_columns",
                                                         "sex_x_marks") if t]))
        for k in range(31, 34):  # numbered lines left empty on the form
            ws.append([k])
            self.rows.append(Row(name, ws.title, ws.max_row, "template", "stt_only"))
        ws.append(["Tổng cộng", None, None, None, None, None, sum(1 for r in self.rows if r.file == name and
                   r.kind == "data" and r.sex == "M"), sum(1 for r in self.rows if r.file == name and
                   r.kind == "data" and r.sex == "F"), "30 người"])
        self.rows.append(Row(name, ws.title, ws.max_row, "template", "total"))
        ws.append([])
        ws.append([None, "Người lập biểu", None, None, None, None, None, None, "Trưởng Công an xã"])
        self.rows.append(Row(name, ws.title, ws.max_row, "template", "footer"))
        ws.append([None, "(Ký, ghi rõ họ tên)", None, None, None, None, None, None, "(Ký tên, đóng dấu)"])
        self.rows.append(Row(name, ws.title, ws.max_row, "template", "footer"))
        signer = "Phạm Thị Tuyết Nhung"
        ws.append([None, signer, None, None, None, None, None, None, "Đại úy Lê Quang Vinh"])
        self.rows.append(Row(name, ws.title, ws.max_row, "template", "footer"))
        self.extra_names.update({signer, "Lê Quang Vinh"})
        wb.save(self.root / name)
        rows_in = ws.max_row - header_row - 1  # every row below the header except the one blank line
        self.add_file(name, rows_in, "report template, split name/date/sex columns")

    # 3. Windows-1258 CSV from a Vietnamese Windows: dates in words, two-digit years, SA/CH, Ông/Bà.
    def cp1258_csv(self) -> None:
        rng = self.rng
        ward = self.g.ward("Tỉnh Tây Ninh")
        name = "nhankhau_" + _fold(ward["old_ward_name"]).replace(" ", "_") + ".csv"
        header = ["Họ tên", "Ngày sinh", "Giới tính", "CCCD", "SĐT", "Địa chỉ", "Ngày cập nhật"]
        body = []
        for i in range(1, 41):
            p, _ = self.person(ward, keep=True)
            dtext, dtag = date_vn(rng, p.dob, ["words", "ngay", "yy", "sa", "plain", "dash", "ch", "nopad",
                                               "Ngay_words", "dot"])
            honor = i % 5 == 0
            written_name = (("Ông " if p.sex == "M" else "Bà ") + p.full_name) if honor else p.full_name
            sex_text = ("Ông" if p.sex == "M" else "Bà") if i % 2 else ("Nam" if p.sex == "M" else "Nữ")
            row = _data_row(name, None, i + 1, p, written_name=written_name,
                            dirt=[t for t in (dtag, "name_honorific" if honor else "",
                                              "sex_ong_ba" if i % 2 else "") if t])
            if i in (7, 23):  # a number Excel showed in scientific notation: its digits are gone
                ctext = f"{int(p.cccd) / 1e10:.1f}E+10"
                row.dirt.append("cccd_scientific")
                row.cccd, row.recoverable = None, False
            else:
                _, ctag, ctext = dirty_cccd(rng, p.cccd, ["dot0", "apostrophe", "plain", "int"])
                if ctag:
                    row.dirt.append(ctag)
            row.written_cccd = ctext
            ptext, ptag = dirty_phone(rng, p.phone, ["dot0", "plain", "spaced", "int"])
            if ptag:
                row.dirt.append(ptag)
            upd = _updated(rng)
            row.updated = upd
            body.append([written_name, dtext, sex_text, ctext, ptext, p.address,
                         upd.strftime("%d/%m/%Y %H:%M")])
            self.rows.append(row)
        # Vietnamese regional settings: decimal comma, so Excel's list separator is ";"
        (self.root / name).write_bytes(cp1258_encode(_csv_text(header, body, delimiter=";")))
        self.add_file(name, 40, "Windows-1258, dates in words, Ông/Bà, scientific CCCDs")

    # 4. "ANSI" (Windows-1252) CSV from a Western Windows: only Latin-1 letters survive, so names are simple.
    def cp1252_csv(self) -> None:
        rng = self.rng
        ward = self.g.ward("Tỉnh Long An")
        name = "danhsach_" + _fold(ward["old_ward_name"]).replace(" ", "") + "_ansi.csv"
        header = ["Ho ten", "Ngay sinh", "Gioi tinh", "So CCCD", "Dien thoai", "Dia chi", "Ngay cap nhat"]
        body = []
        for i in range(1, 31):
            p = self.g.person(ward, latin1=True)
            p.address = _fold(p.address).title()
            upd = _updated(rng)
            body.append([p.full_name, f"{p.dob.day:02d}/{p.dob.month:02d}/{p.dob.year}",
                         "Nam" if p.sex == "M" else "Nu", p.cccd, p.phone, p.address, upd.strftime("%d/%m/%Y")])
            self.rows.append(_data_row(name, None, i + 1, p, dirt=["cp1252", "sex_unaccented"], updated=upd,
                                       updated_is_date=True))
        (self.root / name).write_bytes(_csv_text(header, body).encode("cp1252"))
        self.add_file(name, 30, "Windows-1252 with Latin-1 Vietnamese letters")

    # 5. UTF-8 with BOM from a US-locale machine: every date month-first; invisible and fullwidth digits.
    def us_locale_bom(self) -> None:
        rng = self.rng
        ward = self.g.ward("Tỉnh Long An")
        name = "export_hokhau_" + _fold(ward["old_ward_name"]).replace(" ", "") + ".csv"
        header = ["Họ và tên", "Ngày sinh", "Giới tính", "Số định danh cá nhân", "Số điện thoại",
                  "Địa chỉ thường trú", "Cập nhật lúc"]
        body = []
        for i in range(1, 41):
            # a third of the rows have a day above 12: they give the month-first order away
            p, dup = self.person(ward, reuse=i % 8 == 0)
            if i % 3 == 0 and p.dob.day <= 12 and not dup:
                p.dob = p.dob.replace(day=rng.randint(13, 28))  # the CCCD holds only the year
            upd = _updated(rng)
            ampm = "AM" if upd.hour < 12 else "PM"
            utext = f"{upd.month}/{upd.day}/{upd.year} {(upd.hour - 1) % 12 + 1}:{upd.minute:02d}:00 {ampm}"
            _, ctag, ctext = dirty_cccd(rng, p.cccd, ["zw", "fullwidth", "apostrophe", "spaced", "plain", "int"])
            ptext, ptag = dirty_phone(rng, p.phone, ["dot0", "plain", "dotted"])
            body.append([p.full_name, f"{p.dob.month}/{p.dob.day}/{p.dob.year}",
                         "Nam" if p.sex == "M" else "Nữ", ctext, ptext, p.address, utext])
            self.rows.append(_data_row(name, None, i + 1, p, written_cccd=ctext, updated=upd,
                                       dirt=[t for t in (ctag, ptag, "dob_month_first", *dup) if t]))
        (self.root / name).write_bytes(b"\xef\xbb\xbf" + _csv_text(header, body).encode("utf-8"))
        self.add_file(name, 40, "UTF-8 BOM, month-first dates, zero-width/fullwidth digits")

    # 6. Old Mac line endings (CR only); some names typed with the input method off.
    def mac_cr(self) -> None:
        ward = self.g.ward("Tỉnh Tây Ninh")
        name = "thon_" + _fold(ward["old_ward_name"]).replace(" ", "_") + "_mac.csv"
        header = ["STT", "Họ và tên", "Ngày sinh", "Giới tính", "Số CCCD", "Điện thoại", "Địa chỉ"]
        body = []
        for i in range(1, 31):
            p, dup = self.person(ward, reuse=i % 10 == 5)
            written, tags = p.full_name, ["mac_cr", *dup]
            if i % 6 == 0:
                written, tags = telex(p.full_name), [*tags, "name_telex"]
            elif i % 6 == 3:
                written, tags = vni(p.full_name), [*tags, "name_vni"]
            elif i % 6 == 1:  # a Mac keeps letters decomposed
                written, tags = unicodedata.normalize("NFD", p.full_name), [*tags, "name_nfd"]
            body.append([i, written, f"{p.dob.day:02d}/{p.dob.month:02d}/{p.dob.year}",
                         "Nam" if p.sex == "M" else "Nữ", p.cccd, p.phone, p.address])
            self.rows.append(_data_row(name, None, i + 1, p, written_name=written, dirt=tags))
        (self.root / name).write_bytes(_csv_text(header, body, newline="\r").encode("utf-8"))
        self.add_file(name, 30, "CR line endings, Telex/VNI residue, NFD names")

    # 7. An HTML table saved as .xls (what many web systems export), entities for Vietnamese letters.
    def html_xls(self) -> None:
        rng = self.rng
        ward = self.g.ward("Tỉnh Long An")
        name = "DanhSachCongDan_" + _fold(ward["old_ward_name"]).title().replace(" ", "") + ".xls"
        header = ["STT", "Họ và tên", "Ngày sinh", "Giới tính", "Số CCCD", "Số điện thoại", "Địa chỉ"]

        def cell(v: str) -> str:
            # ASP.NET-style: non-ASCII letters as numeric entities
            return "".join(c if ord(c) < 128 else f"&#{ord(c)};" for c in html.escape(v))

        lines = ['<html xmlns:o="urn:schemas-microsoft-com:office:office" '
                 'xmlns:x="urn:schemas-microsoft-com:office:excel">',
                 '<head><meta http-equiv="Content-Type" content="text/html; charset=utf-8"></head><body>',
                 '<table border="1">',
                 "<tr>" + "".join(f"<td><b>{cell(h)}</b></td>" for h in header) + "</tr>"]
        for i in range(1, 26):
            p, dup = self.person(ward, reuse=i % 6 == 2)
            dtext, dtag = date_vn(rng, p.dob, ["plain", "dash", "dot", "iso"])
            written = p.full_name.upper() if i % 5 == 0 else p.full_name
            dup += ["name_upper"] if i % 5 == 0 else []
            vals = [str(i), written, dtext, "Nam" if p.sex == "M" else "Nữ", p.cccd, p.phone, p.address]
            tds = "".join(
                f"<td style=\"mso-number-format:'\\@'\">{cell(v)}</td>" if k == 4 else f"<td>{cell(v)}</td>"
                for k, v in enumerate(vals))
            lines.append(f"<tr>{tds}</tr>")
            self.rows.append(_data_row(name, None, i + 1, p, written_name=written,
                                       dirt=[t for t in ("html_xls", dtag, *dup) if t]))
        lines += ["</table></body></html>"]
        (self.root / name).write_text("\r\n".join(lines), encoding="utf-8")
        self.add_file(name, 25, "HTML table saved as .xls")

    # 8. JSON from a web system: one object holding two record lists; CCCDs as JSON numbers in some rows.
    def json_two_lists(self) -> None:
        rng = self.rng
        ward = self.g.ward("Tỉnh Tây Ninh")
        name = "nhankhau_" + _fold(ward["old_ward_name"]).replace(" ", "") + ".json"
        doc: dict = {"don_vi": ward["old_ward_name"], "ngay_xuat": "2026-11-28"}
        for list_name, count in (("nhan_khau_thuong_tru", 20), ("nhan_khau_tam_tru", 15)):
            items = []
            for i in range(count):
                p, dup = self.person(ward, reuse=i % 7 == 3)
                as_number = i % 4 == 1
                upd = _updated(rng)
                items.append({
                    "ho_ten": p.full_name,
                    # a JavaScript system stores local midnight as UTC: 17:00Z of the day before
                    "ngay_sinh": (f"{(p.dob - dt.timedelta(days=1)).isoformat()}T17:00:00.000Z" if i % 5 == 2
                                  else p.dob.isoformat()),
                    "gioi_tinh": "Nam" if p.sex == "M" else "Nữ",
                    "so_cccd": int(p.cccd) if as_number else p.cccd,
                    "so_dien_thoai": "+84" + p.phone[1:] if i % 3 == 0 else p.phone,
                    "dia_chi": p.address,
                    "ngay_cap_nhat": upd.isoformat(),
                })
                self.rows.append(_data_row(name, list_name, i + 1, p, updated=upd,
                                           written_cccd=str(int(p.cccd)) if as_number else p.cccd,
                                           dirt=["json_" + list_name, *dup]
                                           + (["cccd_json_number"] if as_number else [])
                                           + (["dob_utc_iso_previous_day"] if i % 5 == 2 else [])
                                           + (["phone_e164_written"] if i % 3 == 0 else [])))
            doc[list_name] = items
        (self.root / name).write_text(json.dumps(doc, ensure_ascii=False, indent=1), encoding="utf-8")
        self.add_file(name, 35, "JSON object with two record lists")

    # 9. Hostile rows, in a file whose own name is a formula.
    def hostile(self) -> None:
        rng = self.rng
        ward = self.g.ward("Tỉnh Long An")
        name = "=SUM(1+1)_ds_bo_sung.csv"
        header = ["Họ và tên", "Ngày sinh", "Giới tính", "Số CCCD", "Số điện thoại", "Địa chỉ", "Ngày cập nhật"]
        formulas = ['=HYPERLINK("http://evil.example/p?x=1","Bấm vào đây")', "=1+1", "@SUM(A1:A9)",
                    "+cmd|' /C calc'!A0", "-2+3+cmd|' /C notepad'!A0"]
        body = []
        for i in range(1, 21):
            p = self.g.person(ward, born=(1950, 2000))
            upd = _updated(rng)
            row = _data_row(name, None, i + 1, p, hostile=True, recoverable=False, updated=upd,
                            updated_is_date=True)
            vals = [p.full_name, f"{p.dob.day:02d}/{p.dob.month:02d}/{p.dob.year}",
                    "Nam" if p.sex == "M" else "Nữ", p.cccd, p.phone, p.address, upd.strftime("%d/%m/%Y")]
            if i == 1:
                vals[3], row.cccd, row.dirt = "chưa cấp", None, ["cccd_chua_cap"]
            elif i == 2:
                vals[3] = p.cccd[:3] + "O" + p.cccd[4:]  # letter O typed for a zero
                row.cccd, row.dirt = None, ["cccd_letter_o"]
            elif i == 3:
                vals[3] = p.cccd[:3] + "7" + p.cccd[4:]  # century digit 7: born in 2180
                row.cccd, row.dirt = None, ["cccd_century_7"]
            elif 4 <= i <= 8:
                vals[0] = formulas[i - 4]
                row.name, row.family, row.dirt = None, None, ["name_formula"]
            elif i == 9:
                vals[5] = "Ấp " + "Bình Trung " * (2 * 1024 * 1024 // 11)  # a 2 MB field
                row.dirt = ["field_2mb"]
            elif i == 10:
                vals[1], row.dob, row.dirt = "31/02/1980", None, ["dob_impossible"]
            elif i == 12:  # 11 digits, but a leading zero would give province 050, which does not exist
                vals[3] = "50" + p.cccd[3:]
                row.cccd, row.dirt = None, ["cccd_11_digits_no_such_province"]
            elif i == 11:
                vals[0] = p.full_name.replace(" ", "\u00a0", 1) + "\u200b"
                row.dirt, row.recoverable, row.hostile = ["name_nbsp_zero_width"], True, False
            else:
                row.recoverable, row.hostile = True, False
            row.written_name, row.written_cccd = vals[0], vals[3]
            body.append(vals)
            self.rows.append(row)
        self.extra_names.update(f for f in formulas if len(f) > 6)
        (self.root / name).write_text(_csv_text(header, body), encoding="utf-8")
        self.add_file(name, 20, "hostile values; the file name is a formula")

    # 10. A file whose name carries a right-to-left override (shows as "…_vsc.xls").
    def bidi_name(self) -> None:
        rng = self.rng
        ward = self.g.ward("Tỉnh Tây Ninh")
        name = "danhsach_thon4_\u202eslx.csv"
        header = ["Họ và tên", "Ngày sinh", "Giới tính", "Số CCCD", "Số điện thoại", "Địa chỉ"]
        body = []
        for i in range(1, 16):
            p = self.g.person(ward)
            dtext, dtag = date_vn(rng, p.dob, ["plain", "yy", "serial"])
            pval, ptag = dirty_phone(rng, p.phone, ["int", "plain", "text_formula", "plus84"])
            _, ctag, ctext = dirty_cccd(rng, p.cccd, ["text_formula", "nbsp", "plain"])
            sex = ("Nam giới" if p.sex == "M" else "Nữ giới") if i % 2 else ("Nam" if p.sex == "M" else "Nữ")
            body.append([p.full_name, dtext, sex, ctext, pval, p.address])
            self.rows.append(_data_row(name, None, i + 1, p, written_cccd=ctext,
                                       dirt=[t for t in ("file_name_bidi", dtag, ptag, ctag,
                                                         "sex_gioi" if i % 2 else "") if t]))
        (self.root / name).write_text(_csv_text(header, body), encoding="utf-8")
        self.add_file(name, 15, "bidi override in the file name")

    # 11. A printed-report layout: a two-row header (merged "Ngày sinh" over Ngày/Tháng/Năm, "Giới tính" over
    # Nam/Nữ, "Địa chỉ thường trú" over its four parts), so date, sex and address are split over columns.
    def merged_header(self) -> None:
        rng = self.rng
        ward = self.g.ward("Tỉnh Long An")
        name = "BaoCao_NhanKhau_" + _fold(ward["old_ward_name"]).title().replace(" ", "") + ".xlsx"
        wb = openpyxl.Workbook()
        ws = wb.active
        ws.title = "DS"
        ws.append(["DANH SÁCH NHÂN KHẨU " + ward["old_ward_name"].upper()])
        ws.append([])
        ws.append(["STT", "Họ và tên", "Ngày sinh", None, None, "Giới tính", None, "Số định danh cá nhân",
                   "Địa chỉ thường trú", None, None, None, "Số điện thoại"])
        ws.append([None, None, "Ngày", "Tháng", "Năm", "Nam", "Nữ", None, "Thôn, ấp", "Xã, phường",
                   "Quận, huyện", "Tỉnh, thành phố", None])
        for rng_ in ("C3:E3", "F3:G3", "I3:L3", "A3:A4", "B3:B4", "H3:H4", "M3:M4"):
            ws.merge_cells(rng_)
        for i in range(1, 26):
            p, _ = self.person(ward)
            hamlet = p.address.split(",")[0]
            cval, ctag, ctext = dirty_cccd(rng, p.cccd, ["plain", "int"])
            ws.append([i, p.full_name, p.dob.day, p.dob.month, p.dob.year, "x" if p.sex == "M" else None,
                       "x" if p.sex == "F" else None, cval, hamlet, ward["old_ward_name"], ward["old_district"],
                       ward["old_province"], p.phone])
            self.rows.append(_data_row(name, ws.title, ws.max_row, p, written_cccd=ctext,
                                       dirt=[t for t in (ctag, "header_two_rows", "dob_three_columns",
                                                         "sex_x_marks", "address_four_columns") if t]))
        wb.save(self.root / name)
        self.add_file(name, 25, "two-row merged header; date, sex, address split over columns")

    # 12. Excel's "Unicode Text" save: UTF-16 little-endian with a BOM, tab-separated, named .txt.
    def unicode_text(self) -> None:
        rng = self.rng
        ward = self.g.ward("Tỉnh Tây Ninh")
        name = "NhanKhau_" + _fold(ward["old_ward_name"]).title().replace(" ", "") + "_UnicodeText.txt"
        header = ["STT", "Họ và tên", "Ngày sinh", "Giới tính", "Số CCCD", "Số điện thoại", "Địa chỉ"]
        body = []
        for i in range(1, 21):
            p, dup = self.person(ward, reuse=i % 9 == 4)
            dtext, dtag = date_vn(rng, p.dob, ["plain", "serial_float", "nopad"])
            body.append([i, p.full_name, dtext, "Nam" if p.sex == "M" else "Nữ", p.cccd, p.phone, p.address])
            self.rows.append(_data_row(name, None, i + 1, p, dirt=[t for t in ("utf16_tab", dtag, *dup) if t]))
        buf = io.StringIO()
        w = csv.writer(buf, delimiter="\t", lineterminator="\r\n")
        w.writerow(header)
        w.writerows(body)
        (self.root / name).write_bytes(b"\xff\xfe" + buf.getvalue().encode("utf-16-le"))
        self.add_file(name, 20, "UTF-16LE tab-separated .txt (Excel Unicode Text)")

    # 13. A query result saved without its header line: values only (issue 13 class 4 — logs must not show them).
    def headerless(self) -> None:
        ward = self.g.ward("Tỉnh Long An")
        name = "ketxuat_" + _fold(ward["old_ward_name"]).replace(" ", "") + "_khongtieude.csv"
        body = []
        for i in range(1, 13):
            p, _ = self.person(ward)
            body.append([p.full_name, f"{p.dob.day:02d}/{p.dob.month:02d}/{p.dob.year}",
                         "Nam" if p.sex == "M" else "Nữ", p.cccd, p.phone, p.address])
            self.rows.append(_data_row(name, None, i, p, dirt=["headerless"], recoverable=False))
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\r\n").writerows(body)
        (self.root / name).write_text(buf.getvalue(), encoding="utf-8")
        self.add_file(name, 12, "no header line")

    # 14. JSON as a list of arrays, the first array the header (a spreadsheet dumped by a script).
    def json_arrays(self) -> None:
        ward = self.g.ward("Tỉnh Tây Ninh")
        name = "bang_" + _fold(ward["old_ward_name"]).replace(" ", "") + "_arrays.json"
        doc: list[list] = [["Họ và tên", "Ngày sinh", "Giới tính", "Số CCCD", "Số điện thoại", "Địa chỉ"]]
        for i in range(1, 11):
            p, _ = self.person(ward)
            doc.append([p.full_name, f"{p.dob.day:02d}/{p.dob.month:02d}/{p.dob.year}",
                        "Nam" if p.sex == "M" else "Nữ", p.cccd, p.phone, p.address])
            self.rows.append(_data_row(name, None, i + 1, p, dirt=["json_arrays"]))
        (self.root / name).write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
        self.add_file(name, 10, "JSON list of arrays with a header array")

    # 18. A contractor's web app with English headers: names in given-name-first order where the family name
    # is certain (the last word is a family name, the first is "Thị"/"Đức", which never are), Male/Female.
    def english_web(self) -> None:
        ward = self.g.ward("Tỉnh Long An")
        name = "export_citizens_" + _fold(ward["old_ward_name"]).replace(" ", "") + ".csv"
        header = ["Full name", "Date of birth", "Gender", "ID number", "Phone number", "Address"]
        body = []
        for i in range(1, 13):
            p, _dup = self.person(ward)
            tags = ["english_headers", "sex_english"]
            written = p.full_name
            if i % 2:
                p.middle = "Thị" if p.sex == "F" else "Đức"
                p.family = self.rng.choice(["Nguyễn", "Trần", "Lê", "Phạm", "Huỳnh"])
                written, tags = f"{p.middle} {p.given} {p.family}", [*tags, "name_given_first"]
            body.append([written, p.dob.isoformat(), "Male" if p.sex == "M" else "Female", p.cccd, p.phone,
                         p.address])
            self.rows.append(_data_row(name, None, i + 1, p, written_name=written, dirt=tags))
        (self.root / name).write_text(_csv_text(header, body), encoding="utf-8")
        self.add_file(name, 12, "English headers, given-name-first names, Male/Female")

    # 19. UTF-8 text once read as Windows-1252 and saved again as UTF-8 ("Nguyá»…n"): the whole file.
    def double_encoded(self) -> None:
        ward = self.g.ward("Tỉnh Tây Ninh")
        name = "nhankhau_" + _fold(ward["old_ward_name"]).replace(" ", "") + "_loifont.csv"
        header = ["Họ và tên", "Ngày sinh", "Giới tính", "Số CCCD", "Số điện thoại", "Địa chỉ"]
        body = []
        for i in range(1, 9):
            p, _dup = self.person(ward)
            body.append([p.full_name, f"{p.dob.day:02d}/{p.dob.month:02d}/{p.dob.year}",
                         "Nam" if p.sex == "M" else "Nữ", p.cccd, p.phone, p.address])
            self.rows.append(_data_row(name, None, i + 1, p, dirt=["mojibake_utf8_as_cp1252"]))
        text = _csv_text(header, body)
        sloppy = "".join(bytes([b]).decode("cp1252", errors="ignore") or chr(b) for b in text.encode("utf-8"))
        (self.root / name).write_text(sloppy, encoding="utf-8")
        self.add_file(name, 8, "double-encoded UTF-8 (mojibake)")

    # 15. A register kept on a Mac Excel (1904 date system), indented one column, wrapped header labels
    # (Alt+Enter), people grouped under "I. ẤP …" section rows with a blank line between the groups.
    def mac_1904_groups(self) -> None:
        from openpyxl.utils.datetime import CALENDAR_MAC_1904

        ward = self.g.ward("Tỉnh Long An")
        name = "SoTheoDoi_" + _fold(ward["old_ward_name"]).title().replace(" ", "") + "_Mac.xlsx"
        wb = openpyxl.Workbook()
        wb.epoch = CALENDAR_MAC_1904
        ws = wb.active
        ws.title = "So theo doi"
        ws.append([None, "SỔ THEO DÕI NHÂN KHẨU"])
        ws.append([])
        ws.append([None, "STT", "Họ và\ntên", "Ngày,\ntháng,\nnăm sinh", "Giới\ntính", "Số\nCCCD", "Số điện\nthoại",
                   "Địa chỉ\nthường trú"])
        header_row = ws.max_row
        n = 0
        for g_i, roman in enumerate(("I", "II", "III")):
            hamlet = HAMLETS[g_i]
            if g_i:
                ws.append([])
            ws.append([None, f"{roman}. ẤP {hamlet.upper()}"])
            self.rows.append(Row(name, ws.title, ws.max_row, "template", "group_header"))
            for _ in range(8):
                p, _dup = self.person(ward)
                p.address = f"Ấp {hamlet}, {ward['old_ward_name']}, {ward['old_district']}, {ward['old_province']}"
                n += 1
                ws.append([None, n, p.full_name, dt.datetime.combine(p.dob, dt.time()),
                           "Nam" if p.sex == "M" else "Nữ", int(p.cccd), p.phone, p.address])
                ws.cell(row=ws.max_row, column=4).number_format = "dd/mm/yyyy"
                ws.cell(row=ws.max_row, column=6).number_format = "#,##0"
                self.rows.append(_data_row(name, ws.title, ws.max_row, p, written_cccd=str(int(p.cccd)),
                                           dirt=["xlsx_1904_dates", "indented_columns", "wrapped_header",
                                                 "cccd_number_lost_zero"]))
        wb.save(self.root / name)
        self.add_file(name, ws.max_row - header_row - 2, "Mac 1904 dates, indented, wrapped header, group rows")

    # 16. A CSV that tells Excel its separator ("sep=;" first line), English-locale "11-Mar-87" dates, numbers
    # with thousands separators, and a closing line "Danh sách có N người".
    def sep_line_csv(self) -> None:
        ward = self.g.ward("Tỉnh Tây Ninh")
        name = "ds_" + _fold(ward["old_ward_name"]).replace(" ", "") + "_sep.csv"
        months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        header = ["Họ và tên", "Ngày sinh", "Giới tính", "Số CCCD", "Số điện thoại", "Địa chỉ"]
        body = []
        for i in range(1, 19):
            p, _dup = self.person(ward, born=(1940, 1999))
            row = _data_row(name, None, i + 1, p, dirt=["sep_line"])
            if i % 2 and p.dob.year % 100 > AS_OF.year % 100:
                dtext = f"{p.dob.day}-{months[p.dob.month - 1]}-{p.dob.year % 100:02d}"
                row.dirt.append("dob_d_mmm_yy")
            else:
                dtext = f"{p.dob.day:02d}/{p.dob.month:02d}/{p.dob.year}"
            if i % 3 == 0:
                ctext = f"{int(p.cccd):,}"  # "80,012,345,678": a number cell with thousands separators
                row.dirt.append("cccd_thousands_separators")
            else:
                ctext = p.cccd
            row.written_cccd = ctext
            body.append([p.full_name, dtext, "Nam" if p.sex == "M" else "Nữ", ctext, p.phone, p.address])
            self.rows.append(row)
        text = "sep=;\r\n" + _csv_text(header, body, delimiter=";") + f"Danh sách có {len(body)} người\r\n"
        self.rows.append(Row(name, None, len(body) + 3, "template", "closing_line"))
        (self.root / name).write_text(text, encoding="utf-8")
        self.add_file(name, 19, "sep=; line, d-mmm-yy dates, thousands separators, closing line")

    # 17. A CSV renamed to .xlsx by a user (Excel opens it with a warning; the file is text).
    def renamed_csv(self) -> None:
        ward = self.g.ward("Tỉnh Long An")
        name = "DanhSach_" + _fold(ward["old_ward_name"]).title().replace(" ", "") + "_doiten.xlsx"
        header = ["Họ và tên", "Ngày sinh", "Giới tính", "Số CCCD", "Số điện thoại", "Địa chỉ"]
        body = []
        for i in range(1, 11):
            p, _dup = self.person(ward)
            body.append([p.full_name, f"{p.dob.day:02d}/{p.dob.month:02d}/{p.dob.year}",
                         "Nam" if p.sex == "M" else "Nữ", p.cccd, p.phone, p.address])
            self.rows.append(_data_row(name, None, i + 1, p, dirt=["csv_named_xlsx"]))
        (self.root / name).write_text(_csv_text(header, body), encoding="utf-8")
        self.add_file(name, 10, "CSV text in a file named .xlsx")

    def corpus(self) -> Corpus:
        names = {r.person.full_name for r in self.rows if r.person} | self.extra_names
        names |= {r.written_name for r in self.rows if r.kind == "data" and len(r.written_name) < 100}
        numbers: set[str] = set()
        for r in self.rows:
            if r.person:
                # whole digit runs: the CCCD with and without its zero, the phone national, E.164 and bare
                numbers |= {r.person.cccd, r.person.cccd[1:], r.person.phone, "84" + r.person.phone[1:],
                            r.person.phone[1:]}
            written = "".join(c for c in unicodedata.normalize("NFKC", r.written_cccd) if c.isdigit())
            if len(written) >= 9:
                numbers.add(written)
        return Corpus(self.root, self.rows, self.files, {n for n in names if n.strip()}, numbers)


def build_corpus(root: Path, seed: int = 20261202) -> Corpus:
    root.mkdir(parents=True, exist_ok=True)
    b = Builder(root, seed)
    b.excel_numbers()
    b.report_template()
    b.cp1258_csv()
    b.cp1252_csv()
    b.us_locale_bom()
    b.mac_cr()
    b.html_xls()
    b.json_two_lists()
    b.hostile()
    b.bidi_name()
    b.merged_header()
    b.unicode_text()
    b.headerless()
    b.json_arrays()
    b.mac_1904_groups()
    b.sep_line_csv()
    b.renamed_csv()
    b.english_web()
    b.double_encoded()
    corpus = b.corpus()
    counted = count_rows(root)
    for name, info in corpus.files.items():
        # our counter, reading the files back, must agree with what the builder meant to write
        assert counted[name] == info.rows_in, (name, counted[name], info.rows_in)
    return corpus


# --------------------------------------------------------------------------- an independent row counter
HEADER_WORDS = ("ho va ten", "ho ten", "ho_ten")


def _is_header(cells: list[str]) -> bool:
    folded = [" ".join(_fold(c).split()) for c in cells]
    return any(f.startswith(HEADER_WORDS) or f in ("ho va ten dem", "full name") for f in folded)


def _is_subheader(cells: list[str]) -> bool:
    """The second line of a two-row header: labels only ("Ngày", "Tháng", "Nam", "Nữ"), no digit."""
    folded = {_fold(c).strip() for c in cells if c.strip()}
    return bool(folded & {"ngay", "thang", "nam", "nu"}) and not any(ch.isdigit() for c in cells for ch in c)


def _count_table(rows: list[list[object]]) -> int:
    """Non-blank rows below the header (one or two lines); every non-blank row when there is no header."""
    texts = [["" if c is None else str(c) for c in cells] for cells in rows]
    starts = [i for i, cells in enumerate(texts) if _is_header(cells)]
    if not starts:
        return sum(1 for cells in texts if any(c.strip() for c in cells))
    first = starts[0] + 1
    if first < len(texts) and _is_subheader(texts[first]):
        first += 1
    return sum(1 for cells in texts[first:] if any(c.strip() for c in cells))


class _Tables(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "tr":
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._row is not None and self._cell is not None:
            self._row.append("".join(self._cell))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.rows.append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _undo_double_encoding(text: str) -> str:
    """UTF-8 once read as Windows-1252 ("Há» vÃ  tÃªn") back to what it was; other text unchanged."""
    try:
        raw = b"".join(ch.encode("cp1252") if ord(ch) > 255 else bytes([ord(ch)]) for ch in text)
        fixed = raw.decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return text
    return fixed if fixed != text else text


def count_rows(root: Path) -> dict[str, int]:
    """Rows each export holds, read with the standard library and openpyxl only."""
    out: dict[str, int] = {}
    for path in sorted(root.iterdir()):
        raw = path.read_bytes()
        if path.suffix == ".xlsx" and raw[:2] == b"PK":
            wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
            out[path.name] = sum(_count_table([list(r) for r in ws.iter_rows(values_only=True)])
                                 for ws in wb.worksheets)
            wb.close()
        elif path.suffix == ".json":
            doc = json.loads(raw.decode("utf-8"))
            if isinstance(doc, dict):
                out[path.name] = sum(len(v) for v in doc.values() if isinstance(v, list))
            elif doc and all(isinstance(v, list) for v in doc):
                out[path.name] = _count_table(doc)
            else:
                out[path.name] = len(doc)
        elif raw.lstrip().lower().startswith(b"<html"):
            parser = _Tables()
            parser.feed(raw.decode("utf-8"))
            out[path.name] = _count_table(parser.rows)
        else:
            text = None
            encodings = ("utf-16",) if raw.startswith((b"\xff\xfe", b"\xfe\xff")) else ("utf-8-sig", "cp1258")
            for enc in encodings:
                try:
                    text = raw.decode(enc)
                    break
                except UnicodeDecodeError:
                    continue
            assert text is not None
            csv.field_size_limit(64 * 1024 * 1024)
            text = _undo_double_encoding(text)
            first = text.splitlines()[0]
            delimiter = max("\t;,", key=first.count)
            out[path.name] = _count_table(list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)))
    return out

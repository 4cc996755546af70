"""Matching features derived from the standardized residents table: folded name parts, date keys, flags.

Everything here is a polars expression over whole columns. The folded name key (`name_key`: ASCII lower case,
Đ→d, i/y unified) comes from standardization; the matcher splits it into family / middle / given syllables so
that comparisons never see UTF-8 bytes (DuckDB's string similarity functions work on bytes).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

REQUIRED_COLUMNS: tuple[str, ...] = (
    "row_uid",
    "record_id",
    "source_id",
    "name_norm",
    "name_key",
    "dob",
    "dob_precision",
    "sex_code",
    "cccd",
    "cmnd",
    "phone_e164",
    "ward_code",
    "updated_ts",
)

# The columns the comparisons read, per side of a pair.
FEATURE_COLUMNS: tuple[str, ...] = (
    "row_uid",
    "name_norm",
    "name_key",
    "fam_key",
    "mid_key",
    "giv_key",
    "fam_norm",
    "giv_norm",
    "giv_has_marks",
    "dob",
    "dob_day",
    "birth_year",
    "sex_code",
    "cccd",
    "cmnd",
    "phone_e164",
    "ward_code",
    "addr_key",
    "source_id",
)

NON_ASCII = r"[^\x00-\x7F]"


class MissingColumnsError(ValueError):
    """The table handed to the matcher lacks columns of the standardized contract."""


def check_columns(frame: pl.DataFrame, required: tuple[str, ...] = REQUIRED_COLUMNS) -> None:
    """Raise a clear error naming every missing column, and reject duplicate row_uids."""
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise MissingColumnsError(
            f"dedupe input lacks standardized column(s) {', '.join(missing)}; "
            "run standardize_residents first (or call dedupe_raw_table)"
        )
    duplicated = frame.filter(pl.col("row_uid").is_duplicated())
    if duplicated.height:
        first = duplicated.row(0, named=True)
        raise ValueError(
            f"dedupe input: row_uid must be unique; {duplicated['row_uid'].n_unique()} value(s) repeat "
            f"(first: row_uid={first['row_uid']}, record_id={first['record_id']}, source_id={first['source_id']})"
        )


def _clean_key(column: str) -> pl.Expr:
    """Lower case, single spaces, empty → null."""
    text = pl.col(column).cast(pl.String).str.to_lowercase().str.replace_all(r"\s+", " ").str.strip_chars()
    return pl.when(text == "").then(None).otherwise(text)


# The address detail: what an address says below the ward (house number, street, hamlet, residential group).
# Everything from the first segment naming an administrative unit (ward/commune and above, full or abbreviated)
# on is cut: the ward is compared on its own (`ward_code`), and an old three-tier tail ("Huyện B, Tỉnh C") says
# nothing about the household. Filler words ("số nhà", "đường") are dropped so "Số 12 đường Lê Lợi" and
# "12 Lê Lợi" agree.
_ADMIN_WORDS = r"xa|phuong|thi tran|thi xa|huyen|quan|thanh pho|tinh|dac khu"
_ADMIN_TAIL = rf"(?:^|,)\s*(?:(?:{_ADMIN_WORDS})\b|(?:x|p|tt|tx|tp|q|h|dk)\.).*$"
_ADMIN_INLINE = rf"\s(?:{_ADMIN_WORDS})\s.*$"  # an address written without commas
_FILLER_WORDS = r"\b(?:so|nha|sn|duong|d)\b"
# Abbreviations of the residential units, written out so "TDP 4" and "Tổ dân phố 4" agree.
_UNIT_ABBREVIATIONS = {r"\btdp\b": "to dan pho", r"\bkp\b": "khu pho", r"\bkdc\b": "khu dan cu"}


def address_detail(column: str = "address") -> pl.Expr:
    """The folded address detail below the ward as its words in sorted order ("Số 12, Thôn 3, Xã A, Huyện B" →
    "12 3 thon"), null when the address names nothing below the ward. Sorted, because registers order the parts
    differently ("Thôn 3, số 12" and "Số 12, Thôn 3" are one address)."""
    folded = (
        pl.col(column)
        .cast(pl.String)
        .str.normalize("NFD")
        .str.replace_all(r"\p{Mn}", "")
        .str.replace_all(r"[đĐð]", "d")
        .str.to_lowercase()
    )
    # Punctuation becomes spaces before the inline cut, so "Thôn 3 - Xã A" and "Thôn 3-Xã A" lose their tail too.
    detail = (
        folded.str.replace(_ADMIN_TAIL, "")
        .str.replace_all(r"[^a-z0-9]+", " ")
        .str.replace(_ADMIN_INLINE, "")
        .str.replace_all(_FILLER_WORDS, " ")
    )
    for abbreviation, written_out in _UNIT_ABBREVIATIONS.items():
        detail = detail.str.replace_all(abbreviation, written_out)
    words = detail.str.replace_all(r"\s+", " ").str.strip_chars()
    return pl.when(words.str.len_bytes() > 0).then(words.str.split(" ").list.sort().list.join(" "))


def _address_details(std: pl.DataFrame) -> pl.Series:
    """`addr_key` per record: the detail is computed once per distinct address (a province has about one per
    household) and joined back on a 64-bit hash of the text. A table without an address column (hand-built)
    simply has no address evidence."""
    if "address" not in std.columns:
        return pl.repeat(None, std.height, dtype=pl.String, eager=True).alias("addr_key")
    text = std.select(pl.col("address").cast(pl.String).alias("address")).with_columns(
        pl.col("address").hash().alias("address_hash")
    )
    distinct = text.unique(subset="address_hash").select("address_hash", address_detail().alias("addr_key"))
    joined = text.select("address_hash").join(distinct, on="address_hash", how="left", maintain_order="left")
    return joined["addr_key"]


# Older than this at the record's update is no real birth date (a mistyped year such as 1905 for 1972).
MAX_AGE_YEARS = 120
# The date a record's birth date is judged against: its own update, else the newest update in the table.
_as_of = pl.coalesce(pl.col("updated_ts"), pl.col("updated_ts").max()).cast(pl.Date)


def build_features(std: pl.DataFrame) -> pl.DataFrame:
    """The per-record features blocking and comparisons use (one row per input record, same order).

    Name parts come from regular-expression captures on the cleaned key (no list columns), in two stages so
    polars computes the cleaned key once instead of once per derived column.
    """
    first, last = r"^(\S+)", r"\s(\S+)$"
    staged = std.select(
        pl.col("row_uid").cast(pl.Int64),
        pl.col("name_norm").cast(pl.String),
        _clean_key("name_key").alias("name_key"),
        pl.col("name_norm").cast(pl.String).str.strip_chars().str.to_lowercase().alias("_display"),
        # A birth date after the record's own last update, or more than MAX_AGE_YEARS before it, is impossible
        # (the rules room reports both): compared as missing rather than as evidence that two records are
        # different generations. A record without an update time is judged against the table's newest one.
        pl.when(
            pl.col("dob")
            .cast(pl.Date)
            .is_between(_as_of.dt.offset_by(f"-{MAX_AGE_YEARS}y"), _as_of, closed="both")
            | _as_of.is_null()
        )
        .then(pl.col("dob").cast(pl.Date))
        .alias("dob"),
        pl.col("dob_precision"),
        pl.col("sex_code").cast(pl.String),
        *(pl.col(c).cast(pl.String) for c in ("cccd", "cmnd", "phone_e164", "ward_code")),
        _address_details(std),
        pl.col("source_id").cast(pl.String),
    )
    empty_to_null = lambda e: pl.when(e.str.len_bytes() > 0).then(e)  # noqa: E731
    return staged.select(
        "row_uid",
        "name_norm",
        "name_key",
        pl.col("name_key").str.extract(first).alias("fam_key"),
        pl.col("name_key").str.extract(r"^\S+ (.+) \S+$").alias("mid_key"),
        pl.col("name_key").str.extract(last).alias("giv_key"),
        pl.col("_display").str.extract(first).alias("fam_norm"),
        pl.col("_display").str.extract(last).alias("giv_norm"),
        pl.col("_display").str.extract(r"(\S+)$").str.contains(NON_ASCII).alias("giv_has_marks"),
        "dob",
        # Full dates only: a year-only date ("1985-01-01") must never equal a real 1 January birthday.
        pl.when(pl.col("dob_precision") == "day").then(pl.col("dob").dt.strftime("%Y%m%d")).alias("dob_day"),
        pl.col("dob").dt.year().cast(pl.Int32).alias("birth_year"),
        "sex_code",
        *(empty_to_null(pl.col(c)).alias(c) for c in ("cccd", "cmnd", "phone_e164", "ward_code")),
        "addr_key",
        empty_to_null(pl.col("source_id")).alias("source_id"),
    )


# Columns the comparisons spell out (fuzzy similarity, partial containment): dictionary-coded, with the strings.
VOCAB_COLUMNS: tuple[str, ...] = ("fam_key", "mid_key", "giv_key", "addr_key")
# Columns only ever tested for equality: a 64-bit hash is as good as the string and 8 bytes wide.
HASHED_COLUMNS: tuple[str, ...] = (
    "name_key",
    "fam_norm",
    "giv_norm",
    "phone_e164",
    "ward_code",
    "sex_code",
    "source_id",
)


class UidIndex:
    """Positions of row_uids in a sorted array of unique uids. The night's row_uids are positions (dense): a table
    indexed by uid turns each lookup of millions of pair ends into one gather; sparse uids keep a binary search."""

    def __init__(self, uids: np.ndarray):
        self.uids = uids
        self._base = int(uids[0]) if len(uids) else 0
        span = int(uids[-1]) - self._base + 1 if len(uids) else 0
        self._table: np.ndarray | None = None
        if 0 < span <= 4 * len(uids) + (1 << 20):
            self._table = np.full(span, -1, dtype=np.int64)
            self._table[uids - self._base] = np.arange(len(uids), dtype=np.int64)

    def positions(self, uids: pl.Series | np.ndarray) -> np.ndarray:
        """Positions of `uids`; a uid not in the array raises ValueError naming one."""
        values = uids.to_numpy() if isinstance(uids, pl.Series) else np.asarray(uids)
        if self._table is not None and values.dtype.kind in "iu":
            offset = values.astype(np.int64, copy=False) - self._base
            inside = (offset >= 0) & (offset < len(self._table))
            pos = self._table[np.where(inside, offset, 0)]
            found = inside & (pos >= 0)
            if not found.all():
                raise ValueError(f"pairs name row_uid(s) absent from the records, e.g. {int(values[~found][0])}")
            return pos
        pos = np.searchsorted(self.uids, values)
        pos = np.minimum(pos, max(len(self.uids) - 1, 0))
        if len(values) and (len(self.uids) == 0 or not np.array_equal(self.uids[pos], values)):
            unknown = values[self.uids[pos] != values] if len(self.uids) else values
            raise ValueError(f"pairs name row_uid(s) absent from the records, e.g. {int(unknown[0])}")
        return pos


@dataclass
class EncodedFeatures:
    """The features as numbers, one row per record sorted by row_uid: what blocking and comparisons read.

    Pair tables then carry two integer positions instead of two copies of every string (the old layout held
    17 columns per side for every candidate pair). `vocab[c][i]` is the string of dictionary id `i` of column c
    (a polars Series: a province has about one distinct address per household, kept in Arrow memory rather than
    as Python strings).
    """

    frame: pl.DataFrame
    vocab: dict[str, pl.Series]
    uids: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.uids = self.frame["row_uid"].to_numpy()
        self._arrays: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._index = UidIndex(self.uids)

    @property
    def height(self) -> int:
        return self.frame.height

    def positions(self, uids: pl.Series | np.ndarray) -> np.ndarray:
        """Row positions of `uids` (each must be a known row_uid)."""
        return self._index.positions(uids)

    def array(self, column: str) -> tuple[np.ndarray, np.ndarray]:
        """(values with nulls filled by 0, present mask) of one coded column, cached."""
        if column not in self._arrays:
            series = self.frame[column]
            present = series.is_not_null().to_numpy()
            filler = False if series.dtype == pl.Boolean else 0
            self._arrays[column] = (series.fill_null(filler).to_numpy(), present)
        return self._arrays[column]

    def counts(self, column: str) -> np.ndarray:
        """Records per dictionary id of a vocab column (for term frequencies)."""
        values, present = self.array(column)
        return np.bincount(values[present], minlength=len(self.vocab[column]))


def encode_features(features: pl.DataFrame) -> EncodedFeatures:
    """Integer-code the features of `build_features` (sorted by row_uid)."""
    frame = features.sort("row_uid")
    vocab: dict[str, pl.Series] = {}
    exprs: list[pl.Expr] = [pl.col("row_uid")]
    for column in VOCAB_COLUMNS:
        vocab[column] = frame[column].drop_nulls().unique().sort()
        # Id i is vocab[column][i]: a hash lookup of the few distinct strings, 5-10x cheaper than a dense rank
        # (which sorts every record's string) at a million records, with the same ids.
        ids = pl.int_range(len(vocab[column]), dtype=pl.Int32, eager=True)
        exprs.append(pl.col(column).replace_strict(vocab[column], ids, default=None).alias(column))
    for column in HASHED_COLUMNS:
        exprs.append(pl.when(pl.col(column).is_not_null()).then(pl.col(column).hash()).alias(column))
    yyyymmdd = pl.col("dob_day").cast(pl.Int32, strict=False)
    exprs += [
        pl.col("giv_has_marks").fill_null(False),
        pl.col("dob").cast(pl.Int32).alias("dob"),  # days since 1970-01-01
        yyyymmdd.alias("dob_day"),
        pl.col("birth_year").cast(pl.Int32),
        # 12/9 digits fit an Int64 (leading zeros are restored by position when digits are compared).
        pl.col("cccd").str.to_integer(strict=False).alias("cccd"),
        pl.col("cmnd").str.to_integer(strict=False).alias("cmnd"),
        # The phone's digits as a number, for a keying slip (the hash above answers equality).
        pl.col("phone_e164").str.replace_all(r"\D", "").str.to_integer(strict=False).alias("phone_digits"),
    ]
    return EncodedFeatures(frame.select(exprs), vocab)

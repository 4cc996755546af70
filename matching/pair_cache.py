"""An exact cache of candidate pairs' comparison levels across nights (issue 15, incremental nights).

Comparing candidate pairs (compare.compare_pairs: rapidfuzz, digit slips, containment) is the costliest part of
matching, and on a night where few records changed almost every candidate pair joins two records whose features
are exactly last night's. Every column compare_pairs adds (`<comparison>_level`, `given_dob_level`,
`years_apart`) is a pure function of the two records' feature rows (keys.build_features, which already folds in
the table-wide newest update time used for records without one): dictionary ids and value hashes only stand in
for strings in equality tests, and fuzzy scores are computed on the strings. So a pair is keyed by the
fingerprints of its two feature rows (a 64-bit row hash without `row_uid`) and reuses last night's levels only
when both fingerprints match; any other pair is compared as usual. Every comparison is symmetric (tested in
tests/matching/test_pair_cache.py), so the key is the unordered pair (lo, hi) and a pair whose row_uids swapped
sides between nights is still found.

The file is one Parquet: `lo, hi` (UInt64 fingerprints, lo <= hi), `bucket` and one column per compared
column, levels as their integer codes with -1 for null. Its schema metadata names the cache format, the polars
and rapidfuzz versions (polars' row hashes are stable within a version only), a hash of the comparison code
(compare.py, keys.py and this file) and the feature schema; a file that differs in any of these, or that cannot
be read (pages carry checksums), is ignored with a warning and every pair is compared. Rows are grouped by bucket (a hash of the key; one row group
per bucket per chunk written), so the lookup reads the file once, a bucket at a time, against tonight's pairs
of that bucket: memory grows by a bucket's rows, not by the whole cache, and time stays linear in the pairs.
Tonight's levels are filled into per-chunk arrays (what the compared chunks hold anyway) and the pairs not
found are compared; each chunk's frame is built as compare_pairs builds it, so everything after is unchanged.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import rapidfuzz

from sachsong.matching import compare, keys
from sachsong.matching.compare import _level_columns, compare_pairs, compare_positions, years_apart
from sachsong.matching.keys import EncodedFeatures, UidIndex

log = logging.getLogger(__name__)

CACHE_FORMAT = 1
METADATA_KEY = b"sachsong_pair_cache"
# Pairs per bucket (the unit read at once): bounds what the lookup holds besides tonight's levels.
BUCKET_PAIRS = 1 << 20
NULL_CODE = -1  # compare.NULL: a level that cannot be computed; stored as is, a polars null in the frames
_KEY_COLUMNS = ("lo", "hi")


def _code_hash() -> str:
    """A hash of the code that makes a pair's comparison levels and of this file's layout: a change there
    invalidates every cached level."""
    digest = hashlib.sha256()
    for source in (compare.__file__, keys.__file__, __file__):
        digest.update(Path(source).read_bytes())
    return digest.hexdigest()


@dataclass
class Fingerprints:
    """A 64-bit hash of each record's feature row (without row_uid), looked up by row_uid."""

    uids: np.ndarray  # sorted row_uids
    values: np.ndarray  # uint64, aligned with uids
    schema: str  # the feature columns and types the hash covers

    def __post_init__(self) -> None:
        self._index = UidIndex(self.uids)

    def of(self, uids: np.ndarray) -> np.ndarray:
        """The fingerprints of `uids` (each a known row_uid)."""
        return self.values[self._index.positions(uids)]


def record_fingerprints(features: pl.DataFrame) -> Fingerprints:
    """Fingerprints of keys.build_features' rows: equal fingerprints mean equal comparison inputs."""
    content = features.drop("row_uid")
    values = content.hash_rows().to_numpy()
    uids = features["row_uid"].to_numpy()
    order = np.argsort(uids, kind="stable")
    schema = json.dumps([[name, str(dtype)] for name, dtype in content.schema.items()])
    return Fingerprints(uids[order], values[order], schema)


@dataclass
class CacheReport:
    """What the cache did tonight (for the night's log)."""

    pairs_reused: int = 0
    pairs_compared: int = 0
    read_seconds: float = 0.0
    write_seconds: float = 0.0
    ignored: str | None = None  # why last night's cache was not used, if it was given and not used
    written: Path | None = None


def _compared_columns(encoded: EncodedFeatures) -> dict[str, pl.DataType] | None:
    """The columns compare_pairs adds, with their types; None when the cache cannot rebuild them (a comparison
    added outside compare_positions / years_apart, or a type that is not a small integer code)."""
    empty = pl.DataFrame(schema={"left_uid": pl.Int64, "right_uid": pl.Int64})
    added = {k: v for k, v in compare_pairs(empty, encoded).schema.items() if k not in empty.columns}
    position = np.zeros(0, dtype=np.int64)
    known = [f"{name}_level" for name in compare_positions(encoded, position, position)] + ["years_apart"]
    if list(added) != known or any(dtype not in (pl.Int8, pl.Int16) for dtype in added.values()):
        return None
    return added


def _metadata(columns: dict[str, pl.DataType], fingerprints: Fingerprints, buckets: int) -> dict:
    return {
        "format": CACHE_FORMAT,
        "polars": pl.__version__,
        "rapidfuzz": rapidfuzz.__version__,
        "code": _code_hash(),
        "features": fingerprints.schema,
        "columns": [[name, str(dtype)] for name, dtype in columns.items()],
        "buckets": buckets,
    }


def _arrow_schema(columns: dict[str, pl.DataType], metadata: dict) -> pa.Schema:
    arrow = {pl.Int8: pa.int8(), pl.Int16: pa.int16()}
    fields = [pa.field("lo", pa.uint64()), pa.field("hi", pa.uint64()), pa.field("bucket", pa.uint32())]
    fields += [pa.field(name, arrow[dtype]) for name, dtype in columns.items()]
    return pa.schema(fields, metadata={METADATA_KEY: json.dumps(metadata).encode()})


def _mixed(lo: np.ndarray | pl.Series, hi: np.ndarray | pl.Series) -> np.ndarray:
    """One 64-bit value per pair key (wrapping multiply-xor), the join key of the lookup."""
    lo = lo.to_numpy() if isinstance(lo, pl.Series) else lo
    hi = hi.to_numpy() if isinstance(hi, pl.Series) else hi
    return (lo * np.uint64(0x9E3779B97F4A7C15)) ^ hi


def _bucket(lo: np.ndarray, hi: np.ndarray, buckets: int) -> np.ndarray:
    # lo is the smaller of two uniform hashes (skewed low); their xor is uniform.
    return ((lo ^ hi) % np.uint64(buckets)).astype(np.uint32)


class _Previous:
    """Last night's cache file, validated; `None` from `open` (with a warning) when it must not be used."""

    def __init__(self, file: pq.ParquetFile, buckets: int, groups: dict[int, list[int]]):
        self.file, self.buckets, self.groups = file, buckets, groups

    @classmethod
    def open(cls, path: Path, expected: dict, report: CacheReport) -> _Previous | None:
        def ignore(reason: str) -> None:
            report.ignored = reason
            log.warning("comparison cache %s ignored (%s): every candidate pair is compared", path, reason)

        if not path.is_file():
            ignore("no such file")
            return None
        try:
            file = pq.ParquetFile(path, page_checksum_verification=True)
            raw = (file.schema_arrow.metadata or {}).get(METADATA_KEY)
            if raw is None:
                ignore("not a comparison cache: no cache metadata")
                return None
            found = json.loads(raw)
            for item in ("format", "polars", "rapidfuzz", "code", "features", "columns"):
                if found.get(item) != expected[item]:
                    ignore(f"written with another {item}")
                    return None
            buckets = found.get("buckets")
            wanted = _arrow_schema(
                {name: getattr(pl, dtype) for name, dtype in expected["columns"]}, expected
            ).remove_metadata()
            if (
                not isinstance(buckets, int)
                or buckets < 1
                or not file.schema_arrow.remove_metadata().equals(wanted)
            ):
                ignore("unexpected layout")
                return None
            groups: dict[int, list[int]] = {}
            column = file.schema_arrow.get_field_index("bucket")
            for index in range(file.metadata.num_row_groups):
                stats = file.metadata.row_group(index).column(column).statistics
                if stats is None or not stats.has_min_max or stats.min != stats.max or stats.min >= buckets:
                    ignore("unexpected layout: row group without a single bucket")
                    return None
                groups.setdefault(int(stats.min), []).append(index)
        except (OSError, ValueError, pa.ArrowException) as error:
            ignore(f"unreadable: {type(error).__name__}")
            return None
        return cls(file, buckets, groups)

    def read_bucket(self, bucket: int, columns: list[str]) -> pl.DataFrame:
        table = self.file.read_row_groups(self.groups[bucket], columns=[*_KEY_COLUMNS, *columns])
        return pl.from_arrow(table)


class ComparisonCache:
    """compare_pairs over chunks of candidate pairs, reusing last night's levels where both records' features are
    unchanged, and writing tonight's levels for the next night.

    `compare_chunks` gives exactly the frames `compare_pairs(pairs.slice(start, chunk), encoded)` gives.
    """

    def __init__(
        self,
        fingerprints: Fingerprints,
        cache_in: str | Path | None = None,
        cache_out: str | Path | None = None,
    ):
        self.fingerprints = fingerprints
        self.cache_in = Path(cache_in) if cache_in is not None else None
        self.cache_out = Path(cache_out) if cache_out is not None else None
        self.report = CacheReport()

    def compare_chunks(self, pairs: pl.DataFrame, encoded: EncodedFeatures, chunk: int) -> list[pl.DataFrame]:
        """The compared pairs, `chunk` rows per frame (pairs' order and columns kept, level columns added)."""
        columns = _compared_columns(encoded)
        if columns is None:
            # Cannot happen with today's compare.py; a future comparison outside compare_positions is not cached.
            self.report.ignored = "compare_pairs adds a column the cache cannot rebuild"
            log.warning("comparison cache disabled: %s", self.report.ignored)
            return [compare_pairs(pairs.slice(s, chunk), encoded) for s in range(0, pairs.height, chunk)]
        starts = list(range(0, pairs.height, chunk))
        left = pairs["left_uid"].to_numpy()
        right = pairs["right_uid"].to_numpy()
        clock = time.perf_counter()
        codes = self._look_up(left, right, starts, chunk, columns) if self.cache_in is not None else None
        self.report.read_seconds = time.perf_counter() - clock
        writer = self._writer(columns, pairs.height) if self.cache_out is not None else None
        compared = []
        try:
            for index, start in enumerate(starts):
                part = pairs.slice(start, chunk)
                stop = start + part.height
                found = codes[index] if codes is not None else None
                codes_here = self._fill(found, left[start:stop], right[start:stop], encoded, columns)
                if codes is not None:
                    codes[index] = None  # freed chunk by chunk, as the frames are built
                compared.append(part.with_columns(*_frame_columns(codes_here, columns)))
                if writer is not None:
                    writer = self._write(
                        writer, codes_here, left[start:stop], right[start:stop], list(columns)
                    )
                del codes_here, found
        except BaseException:
            if writer is not None:
                writer.discard()
            raise
        if writer is not None:
            self._finish(writer)
        self.report.pairs_compared = pairs.height - self.report.pairs_reused
        return compared

    # Lookup ----------------------------------------------------------------------------------------------

    def _keys(self, left: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        a, b = self.fingerprints.of(left), self.fingerprints.of(right)
        return np.minimum(a, b), np.maximum(a, b)

    def _look_up(
        self,
        left: np.ndarray,
        right: np.ndarray,
        starts: list[int],
        chunk: int,
        columns: dict[str, pl.DataType],
    ) -> list[dict[str, np.ndarray] | None] | None:
        """Per chunk: the cached codes of its pairs and a `_hit` mask (None when the cache is not usable)."""
        expected = _metadata(columns, self.fingerprints, 1)
        previous = _Previous.open(self.cache_in, expected, self.report)
        if previous is None:
            return None
        total = len(left)
        buckets = np.empty(total, dtype=np.uint32)
        for start in range(0, total, chunk):
            lo, hi = self._keys(left[start : start + chunk], right[start : start + chunk])
            buckets[start : start + chunk] = _bucket(lo, hi, previous.buckets)
            del lo, hi
        codes: list[dict[str, np.ndarray] | None] = []
        for start in starts:
            size = min(chunk, total - start)
            arrays = {name: np.empty(size, dtype=_NUMPY[dtype]) for name, dtype in columns.items()}
            arrays["_hit"] = np.zeros(size, dtype=bool)
            codes.append(arrays)
        names = list(columns)
        bounds = np.asarray([*starts, total])
        try:
            for bucket in sorted(previous.groups):
                rows = np.flatnonzero(buckets == bucket)
                if not len(rows):
                    continue
                cached = previous.read_bucket(bucket, names)
                _check_ranges(cached, names)
                cached = cached.with_columns(pl.Series("key", _mixed(cached["lo"], cached["hi"])))
                lo, hi = self._keys(left[rows], right[rows])
                tonight = pl.DataFrame({"row": rows, "key": _mixed(lo, hi), "lo": lo, "hi": hi})
                del lo, hi
                # Joined on one 64-bit mix of the two fingerprints (a join on two key columns is several times
                # slower), then both fingerprints compared: a collision of the mix never passes for a hit.
                hits = tonight.join(
                    cached, on="key", how="inner", maintain_order="left", suffix="_cached"
                ).filter((pl.col("lo") == pl.col("lo_cached")) & (pl.col("hi") == pl.col("hi_cached")))
                del tonight, cached
                found = hits["row"].to_numpy()
                # A key written twice (pairs of records with identical features: the same levels) matches twice;
                # the join keeps tonight's order, so the repeats are neighbours.
                first = np.ones(len(found), dtype=bool)
                first[1:] = found[1:] != found[:-1]
                if not first.all():
                    hits, found = hits.filter(pl.Series(first)), found[first]
                # `found` is increasing (rows are, and the join keeps their order): cut it at the chunk bounds.
                cuts = np.searchsorted(found, bounds)
                for index in range(len(starts)):
                    a, b = cuts[index], cuts[index + 1]
                    if a == b:
                        continue
                    offsets = found[a:b] - starts[index]
                    target = codes[index]
                    for name in names:
                        target[name][offsets] = hits[name][a:b].to_numpy()
                    target["_hit"][offsets] = True
                del hits, found
        except (OSError, ValueError, pa.ArrowException, pl.exceptions.PolarsError) as error:
            # A page that fails its checksum or does not decode: nothing from the file is trusted.
            self.report.ignored = f"unreadable: {type(error).__name__}"
            log.warning(
                "comparison cache %s ignored (%s): every candidate pair is compared",
                self.cache_in,
                self.report.ignored,
            )
            return None
        self.report.pairs_reused = int(sum(int(arrays["_hit"].sum()) for arrays in codes))
        return codes

    def _fill(
        self,
        found: dict[str, np.ndarray] | None,
        left: np.ndarray,
        right: np.ndarray,
        encoded: EncodedFeatures,
        columns: dict[str, pl.DataType],
    ) -> dict[str, np.ndarray]:
        """The chunk's codes: the cached ones, and the others compared now."""
        if found is None:
            missing = slice(None)
            found = {name: np.empty(len(left), dtype=_NUMPY[dtype]) for name, dtype in columns.items()}
        else:
            missing = np.flatnonzero(~found.pop("_hit"))
            if not len(missing):
                return found
        left_pos = encoded.positions(left[missing])
        right_pos = encoded.positions(right[missing])
        for name, values in compare_positions(encoded, left_pos, right_pos).items():
            found[f"{name}_level"][missing] = values
        years = years_apart(encoded, left_pos, right_pos)
        found["years_apart"][missing] = years.fill_null(NULL_CODE).to_numpy()
        return found

    # Writing ---------------------------------------------------------------------------------------------

    def _writer(self, columns: dict[str, pl.DataType], pairs: int) -> _Writer | None:
        buckets = max(1, math.ceil(pairs / BUCKET_PAIRS))
        schema = _arrow_schema(columns, _metadata(columns, self.fingerprints, buckets))
        # Written beside the target and renamed at the end: tonight's lookup may still read last night's file at
        # the same path, and a half-written file must never be taken for a cache.
        temporary = self.cache_out.with_name(f".{self.cache_out.name}.{os.getpid()}.tmp")
        try:
            self.cache_out.parent.mkdir(parents=True, exist_ok=True)
            # Fingerprints are random (no dictionary, no compression gains): lz4 and no dictionary write and read
            # fastest; statistics only where the reader needs them (the bucket of each row group); checksums so a
            # damaged page is noticed instead of read.
            handle = pq.ParquetWriter(
                temporary,
                schema,
                compression="lz4",
                use_dictionary=False,
                write_statistics=["bucket"],
                write_page_checksum=True,
            )
        except OSError as error:
            self._not_written(error)
            return None
        return _Writer(handle, temporary, buckets, schema)

    def _not_written(self, error: BaseException) -> None:
        log.warning("comparison cache %s not written (%s)", self.cache_out, type(error).__name__)

    def _write(
        self,
        writer: _Writer,
        codes: dict[str, np.ndarray],
        left: np.ndarray,
        right: np.ndarray,
        names: list[str],
    ) -> _Writer | None:
        """Append one chunk's pairs, one row group per bucket (the reader finds a bucket's row groups by their
        statistics). None when the file could not be written (the night goes on without a cache)."""
        clock = time.perf_counter()
        lo, hi = self._keys(left, right)
        bucket = _bucket(lo, hi, writer.buckets)
        # One bucket (up to BUCKET_PAIRS pairs a night): already in order.
        order = np.argsort(bucket, kind="stable") if writer.buckets > 1 else slice(None)
        edges = np.searchsorted(bucket[order], np.arange(writer.buckets + 1))
        # Through polars: pyarrow's own numpy conversion imports pandas (a second of import and its memory).
        frame = pl.DataFrame(
            {"lo": lo[order], "hi": hi[order], "bucket": bucket[order], **{n: codes[n][order] for n in names}}
        )
        del lo, hi, bucket, order
        try:
            for index in range(writer.buckets):
                a, b = int(edges[index]), int(edges[index + 1])
                if a < b:
                    table = frame.slice(a, b - a).to_arrow().replace_schema_metadata(writer.schema.metadata)
                    writer.handle.write_table(table, row_group_size=b - a)
        except (OSError, pa.ArrowException) as error:
            self._not_written(error)
            writer.discard()
            return None
        finally:
            self.report.write_seconds += time.perf_counter() - clock
        return writer

    def _finish(self, writer: _Writer) -> None:
        clock = time.perf_counter()
        try:
            writer.handle.close()
            os.replace(writer.temporary, self.cache_out)
            self.report.written = self.cache_out
        except (OSError, pa.ArrowException) as error:
            self._not_written(error)
            writer.temporary.unlink(missing_ok=True)
        self.report.write_seconds += time.perf_counter() - clock


@dataclass
class _Writer:
    handle: pq.ParquetWriter
    temporary: Path
    buckets: int
    schema: pa.Schema

    def discard(self) -> None:
        try:
            self.handle.close()
        finally:
            self.temporary.unlink(missing_ok=True)


_NUMPY = {pl.Int8: np.int8, pl.Int16: np.int16}
MAX_YEARS_APART = 250  # a birth-year gap no two records can have; anything beyond is a damaged cache


def _check_ranges(cached: pl.DataFrame, names: list[str]) -> None:
    """Raise ValueError when a cached code is outside its comparison's levels: a damaged or forged file is
    ignored whole (every pair compared) instead of indexing past a level table."""
    from sachsong.matching.compare import LEVELS, SCORED_LEVELS

    labels = {**LEVELS, **SCORED_LEVELS}
    for name in names:
        top = MAX_YEARS_APART if name == "years_apart" else len(labels[name.removesuffix("_level")]) - 1
        column = cached[name]
        if column.len() and (column.min() < NULL_CODE or column.max() > top):
            raise ValueError(f"cached {name} outside its levels")


def _frame_columns(codes: dict[str, np.ndarray], columns: dict[str, pl.DataType]) -> list[pl.Series]:
    """The polars columns compare_pairs would add, from the codes (NULL_CODE → null)."""
    levels = {name.removesuffix("_level"): codes[name] for name in columns if name != "years_apart"}
    # compare's own constructor of the level columns, so the frames are built exactly as compare_pairs builds them.
    out = _level_columns(levels)
    years = pl.Series("years_apart", codes["years_apart"], dtype=pl.Int16)
    missing = codes["years_apart"] == NULL_CODE
    out.append(years.set(pl.Series(missing), None) if missing.any() else years)
    return out

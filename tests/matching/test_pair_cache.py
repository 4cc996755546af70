"""The comparison cache of incremental nights (issue 15 item 5, matching/pair_cache.py): a night that reuses last
night's comparison levels publishes exactly what a full rebuild publishes, reuses only pairs of unchanged
records, and ignores a cache it cannot trust."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import numpy as np
import polars as pl
import pyarrow.parquet as pq
import pytest
from matching_cases import fold
from polars.testing import assert_frame_equal

from sachsong.matching import pair_cache
from sachsong.matching.blocking import generate_candidate_pairs
from sachsong.matching.compare import compare_pairs
from sachsong.matching.dedupe import DedupeConfig, dedupe_standardized
from sachsong.matching.keys import build_features, encode_features
from sachsong.matching.pair_cache import METADATA_KEY, ComparisonCache, record_fingerprints
from sachsong.matching.scoring import random_pairs

CHUNK = 300  # ~1,500 candidate pairs: several chunks
BUCKET = 400  # several buckets in the cache file


def _config(**cache) -> DedupeConfig:
    # The nightly flow's settings (lean mode), small chunks. (With 40,000 random pairs for u one record of night 2
    # ties between two namesakes; which one it joined varied between identical runs until the match weight became
    # a fixed-order sum: test_dedupe.py::test_the_same_input_scores_bit_for_bit_the_same.)
    return DedupeConfig(keep_pairs=False, pair_chunk=CHUNK, **cache)


def _night_two(night1: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Night 2 from night 1: 3% removed, 3% edited (phone, birth date or given name), new records added, rows
    shuffled and numbered again (every row_uid shifts; many pairs swap sides). Returns the table and the edited
    records' night-1 row_uids."""
    rng = np.random.default_rng(3)
    n = night1.height
    kept = night1.filter(pl.Series(rng.random(n) >= 0.03))
    edit = rng.random(kept.height)
    phone, birth, given = edit < 0.01, (edit >= 0.01) & (edit < 0.02), (edit >= 0.02) & (edit < 0.03)
    renamed = pl.col("name_norm").str.replace(r"\S+$", "Tùng")
    kept = kept.with_columns(
        phone_e164=pl.when(pl.Series(phone)).then(pl.lit("+84987654321")).otherwise("phone_e164"),
        dob=pl.when(pl.Series(birth) & pl.col("dob").is_not_null())
        .then(pl.col("dob") + timedelta(days=1))
        .otherwise("dob"),
        name_norm=pl.when(pl.Series(given)).then(renamed).otherwise("name_norm"),
        given_name=pl.when(pl.Series(given)).then(pl.lit("Tùng")).otherwise("given_name"),
    ).with_columns(
        name_key=pl.when(pl.Series(given))
        .then(pl.col("name_norm").map_elements(fold, return_dtype=pl.String))
        .otherwise("name_key")
    )
    edited = kept.filter(pl.Series(phone | birth | given))["row_uid"]
    # New records: copies of some existing ones registered again by another source (new duplicates).
    added = night1.sample(60, seed=4).with_columns(
        pl.lit("xa_new").alias("source_id"), (pl.col("record_id") + "-new").alias("record_id")
    )
    night2 = (
        pl.concat([kept, added])
        .sample(fraction=1.0, shuffle=True, seed=5)
        .with_columns(pl.int_range(7, pl.len() + 7, dtype=pl.Int64).alias("row_uid"))
    )
    return night2, edited


def _rewrite(path, change) -> int:
    """Rewrite a cache file through `change(frame) -> frame`, keeping its schema, metadata and one row group per
    bucket; returns the number of rows `change` altered."""
    table = pq.read_table(path)
    before = pl.from_arrow(table)
    after = change(before)
    writer = pq.ParquetWriter(path, table.schema)
    for (_,), part in after.sort("bucket").group_by("bucket", maintain_order=True):
        writer.write_table(part.to_arrow().cast(table.schema), row_group_size=part.height)
    writer.close()
    return int((before.sort("lo", "hi").hash_rows() != after.sort("lo", "hi").hash_rows()).sum())


def _same_publication(a, b) -> None:
    assert a.clusters.equals(b.clusters)
    assert a.golden.equals(b.golden)
    assert a.review.equals(b.review)
    assert a.model.table().equals(b.model.table())
    assert a.pairs_scored == b.pairs_scored


@pytest.fixture(scope="module")
def nights(province, tmp_path_factory):
    night1 = province.drop("person_id", "household_id")
    night2, edited = _night_two(night1)
    folder = tmp_path_factory.mktemp("pair_cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pair_cache, "BUCKET_PAIRS", BUCKET)
        first = dedupe_standardized(night1, config=_config(comparison_cache_out=folder / "night1.parquet"))
    rebuild = dedupe_standardized(night2, config=_config())
    return {
        "night1": night1,
        "night2": night2,
        "edited": edited,
        "first": first,
        "cache": folder / "night1.parquet",
        "rebuild": rebuild,
    }


@pytest.fixture(scope="module")
def tonight(nights):
    """Night 2's features, candidate pairs and their levels compared without a cache."""
    features = build_features(nights["night2"])
    encoded = encode_features(features)
    pairs = generate_candidate_pairs(encoded.frame)[0].select("left_uid", "right_uid")
    return {
        "features": features,
        "encoded": encoded,
        "pairs": pairs,
        "compared": compare_pairs(pairs, encoded),
        "prints": record_fingerprints(features),
    }


def test_an_incremental_night_publishes_what_a_full_rebuild_publishes(nights, tmp_path):
    cache = tmp_path / "night1.parquet"
    cache.write_bytes(nights["cache"].read_bytes())
    assert pq.ParquetFile(cache).metadata.num_row_groups > 4  # several chunks x several buckets
    result = dedupe_standardized(
        nights["night2"], config=_config(comparison_cache_in=cache, comparison_cache_out=cache)
    )
    rebuild = nights["rebuild"]
    # The comparison is only worth something if the night has merges, review pairs and changed records.
    assert rebuild.golden.filter(pl.col("cluster_size") > 1).height > 100 and rebuild.review.height > 0
    _same_publication(result, rebuild)
    # Most pairs came from the cache, the edited and new records' pairs were compared again.
    assert 0.6 * result.pairs_scored < result.pairs_reused < result.pairs_scored
    assert result.comparison_cache.ignored is None
    assert "pairs reused" in result.describe()
    # Tonight's cache (written over last night's at the same path) serves the same night again in full.
    again = dedupe_standardized(nights["night2"], config=_config(comparison_cache_in=cache))
    assert again.pairs_reused == again.pairs_scored
    _same_publication(again, rebuild)


def test_keeping_every_pair_gives_the_same_pairs_with_the_cache(nights, tonight):
    config = DedupeConfig(comparison_cache_in=nights["cache"])
    kept = dedupe_standardized(nights["night2"], config=config)
    assert kept.pairs_reused > 0
    compared = tonight["compared"]
    assert kept.pairs.select(compared.columns).sort("left_uid", "right_uid").equals(compared)
    # Keeping every pair and the lean mode publish the same (test_lean_pairs.py); so with the cache.
    _same_publication(kept, nights["rebuild"])


def test_a_changed_record_never_takes_its_old_levels(nights, tmp_path):
    """Last night's levels of the edited records' pairs are poisoned (strongest agreement on every field): a
    record's new content has another fingerprint, so the poison is never read."""
    cache = tmp_path / "poisoned.parquet"
    cache.write_bytes(nights["cache"].read_bytes())
    old = record_fingerprints(build_features(nights["night1"])).of(nights["edited"].to_numpy())
    tonight = record_fingerprints(build_features(nights["night2"])).values
    # An edit the features do not see (a birth date already out of range) leaves the record unchanged for the
    # comparisons: its pairs are rightly reused, so only the records whose features changed are poisoned.
    changed = pl.Series(old[~np.isin(old, tonight)], dtype=pl.UInt64).to_list()
    assert len(changed) > 50
    levels = [c for c in pq.read_schema(cache).names if c.endswith("_level") or c == "years_apart"]
    of_changed = pl.col("lo").is_in(changed) | pl.col("hi").is_in(changed)
    poisoned = _rewrite(
        cache, lambda f: f.with_columns(pl.when(of_changed).then(0).otherwise(pl.col(levels)).name.keep())
    )
    assert poisoned > 50  # the cache did hold the changed records' old pairs
    result = dedupe_standardized(nights["night2"], config=_config(comparison_cache_in=cache))
    assert result.pairs_reused > 0
    _same_publication(result, nights["rebuild"])


def test_reused_levels_come_from_the_file(nights, tonight, tmp_path):
    """The control for the test above: poisoning the pairs of unchanged records does show (so the night really
    reads the cache, and a reused pair is found whichever side its records are on tonight)."""
    cache = tmp_path / "poisoned.parquet"
    cache.write_bytes(nights["cache"].read_bytes())
    _rewrite(cache, lambda f: f.with_columns(pl.col("given_level").replace({0: 3})))
    reader = ComparisonCache(tonight["prints"], cache_in=cache)
    got = pl.concat(reader.compare_chunks(tonight["pairs"], tonight["encoded"], CHUNK))
    want = tonight["compared"]
    changed = (got["given_level"] != want["given_level"]).fill_null(False)
    assert reader.report.pairs_reused > 0
    assert changed.sum() > 100
    assert (want.filter(changed)["given_level"] == 0).all()  # only the poisoned level moved
    assert got.drop("given_level").equals(want.drop("given_level"))


def test_every_comparison_is_symmetric(tonight):
    """The cache keys a pair by its two fingerprints in either order: that is exact only because swapping a pair's
    sides changes no compared column. Checked on every candidate pair and on random pairs of the province."""
    encoded = tonight["encoded"]
    pairs = pl.concat([tonight["pairs"], random_pairs(encoded, 20_000, seed=1)]).unique(maintain_order=True)
    forward = compare_pairs(pairs, encoded)
    swapped = compare_pairs(pairs.select(left_uid="right_uid", right_uid="left_uid"), encoded)
    assert_frame_equal(forward.drop("left_uid", "right_uid"), swapped.drop("left_uid", "right_uid"))
    # Every level of the fuzzy and containment comparisons occurs, so the check covers them.
    for column in ("given_level", "family_level", "middle_level", "dob_level", "address_level"):
        assert forward[column].drop_nulls().n_unique() >= 3, column


def _with_metadata(path, **changes) -> None:
    table = pq.read_table(path)
    metadata = json.loads(table.schema.metadata[METADATA_KEY])
    metadata.update(changes)
    schema = table.schema.with_metadata({METADATA_KEY: json.dumps(metadata).encode()})
    pq.write_table(table.cast(schema), path)


def _flip_a_data_byte(path) -> None:
    column = pq.ParquetFile(path).metadata.row_group(0).column(0)  # lo
    data = bytearray(path.read_bytes())
    data[column.data_page_offset + column.total_compressed_size // 2] ^= 0xFF
    path.write_bytes(bytes(data))


BROKEN = {
    "missing": lambda path: path.unlink(),
    "other format version": lambda path: _with_metadata(path, format=pair_cache.CACHE_FORMAT + 1),
    "other polars version": lambda path: _with_metadata(path, polars="0.20.0"),
    "other comparison code": lambda path: _with_metadata(path, code="0" * 64),
    "other features": lambda path: _with_metadata(path, features="[]"),
    "not a cache": lambda path: pl.DataFrame({"lo": [1], "hi": [2]}).write_parquet(path),
    "garbage": lambda path: path.write_bytes(b"PAR1 not a parquet file"),
    "truncated": lambda path: path.write_bytes(path.read_bytes()[: path.stat().st_size // 2]),
    "flipped data byte": _flip_a_data_byte,
}


@pytest.mark.parametrize("damage", list(BROKEN))
def test_an_untrusted_cache_is_ignored_with_a_warning(nights, tonight, tmp_path, caplog, damage):
    cache = tmp_path / "night1.parquet"
    cache.write_bytes(nights["cache"].read_bytes())
    BROKEN[damage](cache)
    out = tmp_path / "tonight.parquet"
    reader = ComparisonCache(tonight["prints"], cache_in=cache, cache_out=out)
    with caplog.at_level(logging.WARNING, logger="sachsong.matching.pair_cache"):
        got = reader.compare_chunks(tonight["pairs"], tonight["encoded"], CHUNK)
    assert reader.report.pairs_reused == 0 and reader.report.ignored
    assert "comparison cache" in caplog.text and "ignored" in caplog.text
    assert pl.concat(got).equals(tonight["compared"])
    assert reader.report.written == out and pq.read_metadata(out).num_rows == tonight["pairs"].height


def test_a_corrupt_cache_does_not_stop_the_night(nights, tmp_path):
    cache = tmp_path / "night1.parquet"
    cache.write_bytes(nights["cache"].read_bytes())
    _flip_a_data_byte(cache)
    result = dedupe_standardized(nights["night2"], config=_config(comparison_cache_in=cache))
    assert result.pairs_reused == 0 and "ignored" in result.describe()
    _same_publication(result, nights["rebuild"])


def test_the_first_night_writes_a_cache_of_every_compared_pair(nights):
    first = nights["first"]
    cache = pq.read_table(nights["cache"])
    assert cache.num_rows == first.pairs_scored and first.pairs_reused == 0
    metadata = json.loads(cache.schema.metadata[METADATA_KEY])
    assert metadata["polars"] == pl.__version__ and metadata["format"] == pair_cache.CACHE_FORMAT
    assert metadata["buckets"] == -(-first.pairs_scored // BUCKET)
    frame = pl.from_arrow(cache)
    assert (frame["lo"] <= frame["hi"]).all()

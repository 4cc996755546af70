"""Shared table helpers."""

from __future__ import annotations

import polars as pl
from polars.testing import assert_frame_equal

from sachsong.tableio import sort_column_by_column, stack_single_chunk


def test_stack_single_chunk_matches_a_relaxed_concat_and_leaves_one_chunk_per_column() -> None:
    batches = [
        pl.DataFrame(
            {"row_uid": [0, 1], "full_name": ["Nguyễn Văn An", "Trần Thị Bình"], "ward": [None, None]}
        ),
        # A later batch may lack a column (filled with nulls) or carry a wider type (relaxed to the supertype).
        pl.DataFrame({"row_uid": [2], "full_name": ["Lê Văn Cường"]}),
        pl.DataFrame({"row_uid": [3.5], "full_name": [None], "ward": ["26734"]}),
    ]
    expected = pl.concat([frame.clone() for frame in batches], how="diagonal_relaxed")
    pieces = list(batches)

    stacked = stack_single_chunk(pieces)

    assert_frame_equal(stacked, expected)
    assert stacked.n_chunks("all") == [1, 1, 1]
    assert pieces == []  # handed over, so the caller holds no second copy


def test_stack_single_chunk_of_one_frame_and_of_none() -> None:
    many_chunks = pl.concat([pl.DataFrame({"x": [1]}), pl.DataFrame({"x": [2]})], rechunk=False)
    assert many_chunks.n_chunks() == 2
    assert stack_single_chunk([many_chunks]).n_chunks("all") == [1]
    assert stack_single_chunk([]).shape == (0, 0)


def test_sort_column_by_column_is_a_stable_frame_sort() -> None:
    frame = pl.DataFrame(
        {
            "cluster_id": ["c3", None, "c1", "c3", "c2"],
            "member_row_uids": [[5], [1], [2, 9], [4], [3]],
            "name_norm": ["Phạm Thị Dung", "Võ Minh", "Hồ Thanh", "Đỗ Lan", "Bùi An"],
        }
    )
    by_cluster = sort_column_by_column(frame, ["cluster_id"])
    assert_frame_equal(by_cluster, frame.sort("cluster_id", maintain_order=True))
    assert by_cluster["name_norm"].to_list()[-2:] == ["Phạm Thị Dung", "Đỗ Lan"]  # ties keep their order
    assert_frame_equal(
        sort_column_by_column(frame, ["name_norm", "cluster_id"]), frame.sort("name_norm", "cluster_id")
    )

"""Round 5: the address detail and the source register compared inside one ward, the household dependence of a
shared phone and address, the address_given blocking key, and anchoring on the old CMND."""

from __future__ import annotations

from datetime import date
from itertools import combinations

import numpy as np
import polars as pl
import pytest
from matching_cases import CASE_OFFSET as O
from matching_cases import frame, load_synth, record

from sachsong.matching.blocking import DEFAULT_RULES, generate_candidate_pairs, rule_names
from sachsong.matching.cluster import cluster_records
from sachsong.matching.compare import compare_pairs, level_label
from sachsong.matching.dedupe import dedupe_standardized
from sachsong.matching.keys import address_detail, build_features, encode_features
from sachsong.matching.scoring import (
    MIN_ANCHOR_PAIRS,
    MatchModel,
    Thresholds,
    decide_bands,
    fit_anchored,
    household_dependence,
    random_pairs_same_ward,
    term_frequency_by_id,
    term_frequency_in_ward,
)


def cluster_of(result, uid: int) -> str:
    return result.clusters.filter(pl.col("row_uid") == uid)["cluster_id"].item()


def pair(result, left: int, right: int) -> dict:
    rows = result.pairs.filter((pl.col("left_uid") == left) & (pl.col("right_uid") == right))
    assert rows.height == 1, f"pair {left}-{right} was not a candidate"
    return rows.row(0, named=True)


# --- the address detail ------------------------------------------------------------------------------------
def test_address_detail_keeps_what_lies_below_the_ward():
    addresses = {
        "Số 12, Thôn 3, Xã Hòa An, Huyện Phú Hòa, Tỉnh Phú Yên": "12 3 thon",  # old three-tier tail cut
        "so 12 thon 3, xa Hoa An": "12 3 thon",  # unaccented, lower case: the same detail
        "Thôn 3, số nhà 12, Xã Hòa An": "12 3 thon",  # the parts in another order
        "Số nhà 45 đường Trần Phú, P. Bến Thành, Q.1, TP.HCM": "45 phu tran",  # abbreviated units, fillers
        "45 Tran Phu Phuong Ben Thanh Quan 1": "45 phu tran",  # no commas at all
        "Thôn 3-Xã Hòa An-Huyện Phú Hòa": "3 thon",  # dashes instead of commas
        "Tổ dân phố 4, Phường Cửa Nam, Hà Nội": "4 dan pho to",
        "TDP 4, P. Cửa Nam": "4 dan pho to",  # abbreviated residential group
        "Ấp 3 xã Tân Phú": "3 ap",
        "Thôn Đông, Xã Hòa An": "dong thon",  # Đ folds to d
        "Xã Hòa An, Huyện Phú Hòa": None,  # nothing below the ward
        "": None,
    }
    table = pl.DataFrame({"address": [*addresses, None]}).with_columns(address_detail().alias("detail"))
    assert table["detail"].to_list() == [*addresses.values(), None]


def _levels(rows: list[dict], pairs: list[tuple[int, int]]) -> pl.DataFrame:
    compared = compare_pairs(
        pl.DataFrame({"left_uid": [a for a, _ in pairs], "right_uid": [b for _, b in pairs]}),
        build_features(frame(rows)),
    )
    return compared.select(level_label("address"), level_label("source"))


def test_address_and_source_are_compared_inside_one_ward_only():
    rows = [
        record(1, "Lê Văn An", ward="19001", address="Số 12, Thôn 3, Xã A", source="xa_a"),
        record(2, "Lê Văn An", ward="19001", address="so 12 thon 3, xa A", source="xa_b"),
        record(3, "Lê Văn An", ward="19001", address="Thôn 3, Xã A", source="xa_a"),  # no house number
        record(4, "Lê Văn An", ward="19001", address="Số 1, Thôn 3, Xã A"),  # "1" is not inside "12"
        record(5, "Lê Văn An", ward="19002", address="Số 12, Thôn 3, Xã B"),  # another ward
        record(6, "Lê Văn An", ward=None, address="Số 12, Thôn 3"),  # ward unknown
        record(7, "Lê Văn An", ward="19001", address="Xã A"),  # nothing below the ward
    ]
    got = _levels(rows, [(1, 2), (1, 3), (1, 4), (1, 5), (1, 6), (1, 7)]).rows()
    assert got == [
        ("same", "different"),
        ("contained", "same"),
        ("different", "same"),
        ("missing", "missing"),  # a house number says nothing across wards
        ("missing", "missing"),
        ("missing", "same"),
    ]


def test_random_neighbour_pairs_share_a_ward_and_never_pair_a_record_with_itself():
    rows = [record(i, "Lê Văn An", ward=("19001", "19002", None)[i % 3]) for i in range(60)]
    encoded = encode_features(build_features(frame(rows)))
    pairs = random_pairs_same_ward(encoded, 2000, seed=3)
    assert pairs.height > 1000
    ward = dict(zip(encoded.uids.tolist(), [i % 3 for i in encoded.uids.tolist()], strict=True))
    assert all(ward[a] == ward[b] != 2 for a, b in pairs.rows())  # same ward, never the ward-less records
    assert (pairs["left_uid"] != pairs["right_uid"]).all()
    assert pairs["left_uid"].n_unique() == 40  # every record with a ward is drawn


# --- household dependence ----------------------------------------------------------------------------------
def test_a_shared_phone_and_address_are_charged_back_their_measured_dependence():
    # Three households of one ward: members share the phone and the address; two lone neighbours.
    rows = []
    for h, size in enumerate((4, 3, 3)):
        for k in range(size):
            rows.append(
                record(10 * h + k, f"Lê Văn H{h}k{k}", phone=f"+8491100000{h}", address=f"Số {h + 1}")
            )
    rows += [record(90, "Lê Văn X", phone="+84911000090", address="Số 1"), record(91, "Lê Văn Y")]
    std = frame(rows)
    encoded = encode_features(build_features(std))
    uids = std["row_uid"].to_list()
    phone = dict(zip(uids, std["phone_e164"].to_list(), strict=True))
    address = dict(zip(uids, std["address"].to_list(), strict=True))
    # The within-ward collision rates, counted pair by pair over the records that carry a phone and an address.
    carried = [u for u in uids if phone[u] and address[u]]
    everyone = list(combinations(carried, 2))
    same_phone = sum(phone[a] == phone[b] for a, b in everyone) / len(everyone)
    same_address = sum(address[a] == address[b] for a, b in everyone) / len(everyone)
    same_both = sum(phone[a] == phone[b] and address[a] == address[b] for a, b in everyone) / len(everyone)
    expected = np.log2(same_both / (same_phone * same_address))
    model = MatchModel(
        m={"phone": np.array([0.8, 0.2]), "address": np.array([0.8, 0.2])},
        u={"phone": np.array([1e-4, 1 - 1e-4]), "address": np.array([1e-3, 1 - 1e-3])},
        prior=1e-3,
    )
    compared = compare_pairs(pl.DataFrame({"left_uid": [0, 0, 90], "right_uid": [1, 90, 91]}), encoded)
    correction = household_dependence(compared, encoded, model).to_list()
    assert expected > 0
    assert correction[0] == -min(expected, np.log2(0.8 / 1e-3))  # same household: phone and address agree
    assert correction[1] == 0.0  # same address, another phone: nothing to charge back
    assert correction[2] == 0.0


# --- blocking ------------------------------------------------------------------------------------------------
def test_one_household_address_and_given_name_make_a_candidate_despite_name_and_date_errors():
    home = {"ward": "19003", "address": "Số 77, Thôn 5, Xã C"}
    std = frame(
        [
            record(1, "Nguyễn Văn Thắng", date(1980, 5, 1), **home),
            record(2, "Ngyễn Văn Thắng", date(1980, 1, 5), **home),  # family typo + a swapped date
            record(3, "Nguyễn Văn Thắng", date(1980, 5, 1), ward="19003", address="Số 9, Thôn 2, Xã C"),
        ]
    )
    pairs, _ = generate_candidate_pairs(encode_features(build_features(std)).frame)
    found = {
        (a, b): rule_names(mask)
        for a, b, mask in pairs.select("left_uid", "right_uid", "blocking_rules").rows()
    }
    assert found[(1, 2)] == ["address_given"]  # no other key brings them together
    assert "address_given" not in found[(1, 3)]  # another address
    # Appended after the older rules, so their bits in `blocking_rules` keep their meaning.
    assert [rule.name for rule in DEFAULT_RULES[8:]] == ["address_given", "name_year"]


# --- scoring on a realistic background -----------------------------------------------------------------------
def test_an_undated_record_joins_the_namesake_at_its_own_address():
    background = load_synth().make_residents(1500, seed=5).drop("person_id", "household_id")
    ward = background["ward_code"].drop_nulls().mode().sort()[0]  # the busiest ward of the background
    here, there = f"Số 15, Thôn 4, Xã {ward}", f"Số 230, Thôn 9, Xã {ward}"
    cases = frame(
        [
            record(
                O + 1,
                "Nguyễn Văn Bình",
                date(1980, 4, 2),
                sex="M",
                ward=ward,
                address=here,
                cccd="044080111222",
            ),
            record(O + 2, "Nguyễn Văn Bình", None, sex="M", ward=ward, address=here, source="xa_b"),
            record(
                O + 3, "Nguyễn Văn Bình", date(1961, 9, 9), sex="M", ward=ward, address=there, source="xa_c"
            ),
        ]
    )
    result = dedupe_standardized(pl.concat([background, cases], how="diagonal_relaxed"))
    home, namesake = pair(result, O + 1, O + 2), pair(result, O + 2, O + 3)
    assert home["address_level"] == 0 and namesake["address_level"] == 2
    assert home["address_weight"] > 0 > namesake["address_weight"]
    assert home["band"] == "link" and namesake["band"] != "link"
    assert cluster_of(result, O + 2) == cluster_of(result, O + 1) != cluster_of(result, O + 3)


# --- anchoring on the CMND -----------------------------------------------------------------------------------
def _compared(id_levels: list[int | None], phone_levels: list[int | None]) -> pl.DataFrame:
    n = len(id_levels)
    columns = {f"{c}_level": [0] * n for c in ("family", "middle", "ward", "sex", "address", "source")}
    columns |= {"given_dob_level": [0] * n, "id_level": id_levels, "phone_level": phone_levels}
    return pl.DataFrame(columns, schema={c: pl.Int8 for c in columns})


def test_a_register_of_old_cards_is_anchored_on_the_cmnd():
    u = {
        "given_dob": np.full(36, 1 / 36),
        **{c: np.full(k, 1 / k) for c, k in (("family", 4), ("middle", 4), ("id", 5), ("phone", 3))},
        **{c: np.full(k, 1 / k) for c, k in (("ward", 2), ("sex", 2), ("address", 3), ("source", 2))},
    }
    anchors = MIN_ANCHOR_PAIRS + 50
    # Same-CMND pairs share the phone 9 times in 10; the other candidates never do.
    compared = _compared([1] * anchors + [None] * 500, [0] * 225 + [1] * 25 + [1] * 500)
    assert fit_anchored(compared, u, records_with_cccd=0) is None  # no CCCD, no CMND count: EM's turn
    model = fit_anchored(compared, u, records_with_cccd=0, records_with_cmnd=2000)
    assert model is not None and model.method == "anchored" and model.anchor_card == "CMND"
    assert model.anchors == anchors and model.prior == anchors / (2000 * 1999 / 2)
    # Measured on the anchors (all of them agree on name and date), smoothed towards u by 50 pseudo-pairs.
    assert abs(model.m["given_dob"][0] - (anchors + 50 * u["given_dob"][0]) / (anchors + 50)) < 1e-9
    smoothed = 50 * u["phone"][0]  # u is uniform here
    assert model.m["phone"][0] / model.m["phone"][1] == pytest.approx((225 + smoothed) / (25 + smoothed))


def test_the_same_cmnd_and_birth_date_link_whatever_the_name_fields_say():
    rows = [
        record(1, "Lê Văn Tám", date(1975, 8, 19), cmnd="190123456", ward="19001"),
        record(2, "Tám Văn Lê", date(1975, 8, 19), cmnd="190123456", ward="19002", source="xa_b"),  # swapped
        record(3, "Đỗ Thị Mai", date(1990, 2, 1), cmnd="190999888", ward="19002", source="xa_b"),
    ]
    result = dedupe_standardized(frame(rows))
    swapped = pair(result, 1, 2)
    assert swapped["id_level"] == 1 and swapped["given_level"] == 4 and swapped["band"] == "link"
    assert cluster_of(result, 1) == cluster_of(result, 2) != cluster_of(result, 3)


def test_a_card_without_the_same_birth_day_is_left_to_the_weights():
    scored = pl.DataFrame(
        {
            "id_level": [1, 1, 0],
            "given_level": [4, 4, 4],
            "dob_level": [0, 1, 2],  # same day / day and month swapped / one digit apart
            "sex_level": [None, None, None],
            "years_apart": [0, 0, 0],
            "match_weight": [-5.0, -5.0, -5.0],
        },
        schema_overrides={
            "id_level": pl.Int8,
            "given_level": pl.Int8,
            "dob_level": pl.Int8,
            "sex_level": pl.Int8,
        },
    )
    bands = decide_bands(scored, Thresholds())["band"].to_list()
    assert bands == ["link", "distinct", "distinct"]


# --- name frequency inside the ward ------------------------------------------------------------------------
def test_a_name_common_in_its_ward_weighs_less_between_neighbours():
    # Ward 19001 is a Phùng village (40 of 50 records); elsewhere Phùng is rare and Nguyễn common.
    rows = [record(i, f"Phùng Văn A{i}", ward="19001") for i in range(40)]
    rows += [record(40 + i, f"Nguyễn Văn B{i}", ward="19001") for i in range(10)]
    rows += [record(100 + i, f"Nguyễn Văn C{i}", ward=f"190{10 + i % 20}") for i in range(400)]
    rows += [record(600, "Phùng Văn Z", ward="19030"), record(601, "Phùng Văn Y", ward="19030")]
    encoded = encode_features(build_features(frame(rows)))
    positions = encoded.positions(np.array([0, 40, 600]))
    province = term_frequency_by_id(encoded, "fam_key")[encoded.array("fam_key")[0][positions]]
    in_ward = term_frequency_in_ward(encoded, "fam_key", positions)
    assert province[0] == province[2] > province[1]  # province-wide Phùng is the rare name
    assert in_ward[0] < province[0]  # but not in its village
    assert in_ward[1] > province[1]  # and Nguyễn is rarer there than in the province
    assert 0 < province[2] - in_ward[2] < province[0] - in_ward[0]  # a ward of two shrinks to the province


# --- keying slips --------------------------------------------------------------------------------------------
def _level(left: dict, right: dict, comparison: str) -> str:
    compared = compare_pairs(
        pl.DataFrame({"left_uid": [left["row_uid"]], "right_uid": [right["row_uid"]]}),
        build_features(frame([left, right])),
    )
    return compared.select(level_label(comparison)).item()


def test_two_adjacent_digits_swapped_are_one_slip_in_dates_cards_and_phones():
    born = record(1, "Trần Văn Nam", date(1985, 3, 12), cccd="044085001234", cmnd="190123456")
    other = lambda **k: record(2, "Trần Văn Nam", **k)  # noqa: E731
    assert _level(born, other(dob=date(1958, 3, 12)), "dob") == "one_digit_or_day"  # year digits swapped
    assert _level(born, other(dob=date(1985, 3, 21)), "dob") == "one_digit_or_day"  # day digits swapped
    assert _level(born, other(dob=date(1985, 3, 31)), "dob") == "different"  # two digits, not a swap
    assert _level(born, other(cccd="044085002134"), "id") == "typing_slip"
    assert (
        _level(born, other(cccd="044085003214"), "id") == "different_cccd"
    )  # two digits apart, not adjacent
    assert _level(born, other(cmnd="190123465"), "id") == "typing_slip"
    phone = record(1, "Trần Văn Nam", phone="+84901234567")
    assert _level(phone, other(phone="+84901234576"), "phone") == "one_slip"
    assert _level(phone, other(phone="+84901234568"), "phone") == "one_slip"
    assert _level(phone, other(phone="+84907654321"), "phone") == "different"
    assert _level(phone, other(phone="+84901234567"), "phone") == "same"
    # A swapped birth year is a slip, not two generations of one household.
    slipped = record(2, "Trần Văn Nam", date(1958, 3, 12), cccd="044085001234")
    result = dedupe_standardized(frame([born, slipped, record(3, "Đỗ Thị Mai", date(1990, 2, 1))]))
    assert pair(result, 1, 2)["hard_rule"] is None and pair(result, 1, 2)["years_apart"] == 27


def test_clustering_keeps_two_cards_an_adjacent_swap_apart_together():
    nodes = pl.DataFrame(
        {"row_uid": [1, 2, 3, 4, 5], "cccd": ["044085001234", "044085002134", None, "044085003214", None]}
    )
    edges = pl.DataFrame(
        {"left_uid": [1, 3], "right_uid": [2, 4], "match_weight": [9.0, 9.0], "forced": [False, False]}
    ).vstack(pl.DataFrame({"left_uid": [2], "right_uid": [3], "match_weight": [8.0], "forced": [False]}))
    roots, _ = cluster_records(
        nodes, edges, pl.DataFrame(schema={"left_uid": pl.Int64, "right_uid": pl.Int64})
    )
    label = dict(roots.rows())
    assert label[1] == label[2]  # ...1234 / ...2134: two adjacent digits swapped, one person
    assert label[3] != label[1] or label[4] != label[1]  # ...3214 is two digits off both: another card
    assert label[4] != label[1]


def test_a_rule_with_its_own_block_limit_compares_only_small_crowds(caplog):
    # Five namesakes born in 1980 (a crowd) and two born in 1990, all in different wards, dates and no card.
    crowd = [record(i, "Nguyễn Văn Hùng", date(1980, 1 + i, 3), ward=f"190{10 + i}") for i in range(6)]
    pair_ = [record(20 + i, "Nguyễn Văn Hùng", date(1990, 5 + i, 9), ward=f"190{30 + i}") for i in range(2)]
    encoded = encode_features(build_features(frame(crowd + pair_)))
    with caplog.at_level("INFO", logger="sachsong.matching.blocking"):
        pairs, report = generate_candidate_pairs(encoded.frame)
    name_year = report.filter(pl.col("rule") == "name_year").row(0, named=True)
    assert name_year["dropped_blocks"] == 1 and name_year["dropped_records"] == 6  # over its limit of 5
    assert name_year["pairs"] == 1
    found = {
        (a, b): rule_names(m) for a, b, m in pairs.select("left_uid", "right_uid", "blocking_rules").rows()
    }
    assert "name_year" in found[(20, 21)]
    assert not any("name_year" in rules for (a, _), rules in found.items() if a < 20)
    assert any(r.levelname == "INFO" and "name_year" in r.getMessage() for r in caplog.records)


def test_a_level_the_anchors_never_show_weighs_no_less_than_different():
    u = {
        "given_dob": np.full(36, 1 / 36),
        **{
            c: np.full(k, 1 / k)
            for c, k in (("family", 4), ("middle", 4), ("id", 5), ("ward", 2), ("sex", 2))
        },
        "phone": np.array([1e-5, 1 - 2e-5, 1e-5]),  # same / different / one slip
        "address": np.array([1e-3, 1e-2, 1 - 1.1e-2]),
        "source": np.array([0.3, 0.7]),
    }
    anchors = 2000
    # The anchors share the phone 80% of the time, never show a slip; never a partial address; never one source.
    compared = _compared([0] * anchors, [0] * 1600 + [1] * 400).with_columns(
        pl.lit(1, dtype=pl.Int8).alias("source_level")
    )
    model = fit_anchored(compared, u, records_with_cccd=100_000)
    phone, address, source = (model.weights(c) for c in ("phone", "address", "source"))
    assert phone[2] >= phone[1] - 1e-9  # a slip weighs at least what "different" does
    assert phone[0] > 10 and phone[1] < 0
    assert address[1] >= address[2] - 1e-9
    assert source[0] < -4  # not ordered: a register that never lists one person twice is evidence against

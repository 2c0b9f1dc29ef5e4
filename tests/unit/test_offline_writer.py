from segcopy_assets.generation.answer_parsing import split_copy_and_rationale
from segcopy_assets.generation.offline_writer import sentences, write_offline_variant

PRODUCT = {
    "product_id": "T-1",
    "name": "Ridge 2 Tent",
    "description": "A two-person tent with 2 doors. It weighs 1.9 kg! Poles are DAC NSL aluminium. Does it fit? Yes, 2 mats.",
}


def segment(region_share, price="Premium", discount="Low", group="high value"):
    return {
        "segment_id": "tents--high-value",
        "value_group": group,
        "customer_count": 245,
        "price_preference_shares": [
            {"value": price, "count": 6, "share": 0.6},
            {"value": "Value", "count": 4, "share": 0.4},
        ],
        "discount_sensitivity_shares": [{"value": discount, "count": 7, "share": 0.7}],
        "top_regions": [{"value": "Pacific", "count": 5, "share": region_share}],
    }


def test_keeps_every_sentence_and_writes_a_rationale():
    parsed = split_copy_and_rationale(write_offline_variant(segment(0.4), PRODUCT))
    for sentence in sentences(PRODUCT["description"]):
        assert sentence in parsed.copy
    assert parsed.rationale and parsed.problem is None
    assert "not an LLM" in parsed.rationale


def test_deterministic_and_segment_aware():
    a = write_offline_variant(segment(0.4), PRODUCT)
    assert a == write_offline_variant(segment(0.4), PRODUCT)
    core = write_offline_variant(
        segment(0.4, price="Value", discount="High", group="core"), PRODUCT
    )
    assert core != a
    assert "included as standard" in core and "season after season" in a


def test_region_only_when_it_holds_half_the_segment():
    assert (
        "Pacific"
        not in split_copy_and_rationale(write_offline_variant(segment(0.49), PRODUCT)).copy
    )
    majority = split_copy_and_rationale(write_offline_variant(segment(0.5), PRODUCT))
    assert (
        "of the Pacific" in majority.copy and "50% of the segment lives there" in majority.rationale
    )


def test_invents_no_price_or_discount():
    copy = split_copy_and_rationale(
        write_offline_variant(segment(0.6, "Value", "High", "core"), PRODUCT)
    ).copy
    for word in ("$", "%", "discount", "off", "free shipping", "sale"):
        assert word not in copy.lower().split() and word not in copy


def test_the_rationale_gives_the_segment_size_as_its_summary_does():
    """Issue 26: the page showed "about 240 customers" (the summary) beside a rationale's 245."""
    from segcopy_assets.core.segments import approximate_count

    parsed = split_copy_and_rationale(write_offline_variant(segment(0.4), PRODUCT))
    assert approximate_count(245) == 240
    assert "about 240 customers" in parsed.rationale and "245" not in parsed.rationale

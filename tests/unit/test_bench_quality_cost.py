"""bench.quality's judging cost: each pass judges anew (the per-text memos are cleared) while
the vocabularies loaded once stay loaded."""

from bench import quality
from segcopy_assets.quality import answers, quantities
from segcopy_assets.quality.corpus import load_cases


def test_a_pass_starts_from_cleared_text_memos_and_kept_vocabularies():
    quantities.quantities("It weighs 1.6 kg.")
    answers.filler_words()
    assert quantities.quantities.cache_info().currsize > 0
    quality._clear_text_caches()
    assert quantities.quantities.cache_info().currsize == 0
    assert answers.filler_words.cache_info().currsize == 1  # loaded once, kept


def test_the_cost_is_measured_per_variant():
    cases = load_cases(quality.CORPUS)[:6]
    ms = quality.cpu_ms_per_variant(cases, quality.check_settings(), passes=1)
    assert 0 < ms < 1000


def test_patterns_built_from_facts_stay_between_passes():
    from segcopy_assets.quality.fact_matching import fact_regex

    fact_regex("9.4 kg")
    quality._clear_text_caches()
    assert fact_regex.cache_info().currsize >= 1  # a run builds each fact's pattern once

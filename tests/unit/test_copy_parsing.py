import pytest

from segcopy_assets.generation.answer_parsing import split_copy_and_rationale


@pytest.mark.parametrize(
    "answer",
    [
        "Great tent.\n\n**Rationale:** Because.",
        "Great tent.\n\n**Rationale**: Because.",
        "Great tent.\nRationale: Because.",
        "Great tent.\n\n## Rationale\nBecause.",
        "Great tent.\n\n---\n\n### Rationale:\n\nBecause.",
        "Great tent.\n\n  rationale:  Because.",
    ],
)
def test_marker_variants(answer):
    parsed = split_copy_and_rationale(answer)
    assert parsed.copy == "Great tent."
    assert parsed.rationale == "Because."
    assert parsed.problem is None


def test_missing_rationale_or_copy_is_a_problem():
    assert split_copy_and_rationale("Only copy.").problem == "the answer has no Rationale section"
    assert (
        split_copy_and_rationale("**Rationale:** only why").problem
        == "the answer has no copy before the Rationale"
    )


def test_word_rationale_inside_a_sentence_is_not_a_marker():
    parsed = split_copy_and_rationale(
        "The rationale: is not here? Copy.\nThe design rationale matters.\n**Rationale:** Why."
    )
    assert parsed.copy.startswith("The rationale: is not here? Copy.")
    assert parsed.rationale == "Why."

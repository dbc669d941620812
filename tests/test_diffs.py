"""The word diff rule (app/diffs.py): exact, readable, and bounded whatever the texts."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from app.diffs import Change, Op, Segment, change_of, diff

E, INS, D = Op.EQUAL, Op.INSERT, Op.DELETE


def rebuilt(segments: list[Segment]) -> tuple[str, str]:
    old = "".join(s.text for s in segments if s.op is not INS)
    new = "".join(s.text for s in segments if s.op is not D)
    return old, new


def test_a_persons_edit_of_a_bots_draft_is_marked_word_by_word() -> None:
    segments = diff("Hi Sam, your order shipped.", "Hi Sam, your order has shipped today!")
    assert segments == [
        Segment(E, "Hi Sam, your order "),
        Segment(INS, "has "),
        Segment(E, "shipped"),
        Segment(D, "."),
        Segment(INS, " today!"),
    ]
    assert change_of(segments) == Change(added=3, removed=1)


def test_words_changed_side_by_side_read_as_one_change_not_several() -> None:
    assert diff("the quick brown fox", "a slow brown fox") == [
        Segment(D, "the quick"),
        Segment(INS, "a slow"),
        Segment(E, " brown fox"),
    ]


def test_an_added_word_is_marked_with_the_space_after_it_not_before_it() -> None:
    assert diff("our depot", "our Leeds depot") == [
        Segment(E, "our "),
        Segment(INS, "Leeds "),
        Segment(E, "depot"),
    ]
    assert diff("our Leeds depot", "our depot") == [
        Segment(E, "our "),
        Segment(D, "Leeds "),
        Segment(E, "depot"),
    ]


def test_changes_far_apart_in_a_long_text_are_each_marked_alone() -> None:
    words = [f"word{i}" for i in range(5_000)]
    edited = [*words]
    edited[10], edited[4_990] = "first", "last"
    segments = diff(" ".join(words), " ".join(edited))
    assert [s for s in segments if s.op is not E] == [
        Segment(D, "word10"),
        Segment(INS, "first"),
        Segment(D, "word4990"),
        Segment(INS, "last"),
    ]


def test_unchanged_empty_added_and_removed_texts() -> None:
    assert diff("same words", "same words") == [Segment(E, "same words")]
    assert diff("", "") == []
    assert diff("", "new text") == [Segment(INS, "new text")]
    assert diff("old text", "") == [Segment(D, "old text")]


def test_a_pair_past_the_budget_is_shown_as_its_middle_replaced_and_stays_exact() -> None:
    # Repetitive text made difflib's SequenceMatcher take 12.5 s for 500 words; here the
    # search stops at its budget and shows the differing middle removed and the new one added.
    old = " ".join(["the"] * 2_000)
    new = " ".join(["the", "a"] * 1_000)
    segments = diff(old, new, budget=1_000)
    assert rebuilt(segments) == (old, new)
    assert [s.op for s in segments] == [E, D, INS]  # "the " kept, then the rest replaced
    assert segments == diff(old, new, budget=1_000)  # the same answer every time


texts = st.lists(
    st.sampled_from(["a", "b", "cat", "dog", " ", "  ", "\n", ".", "!", ",", "é", "日本"]),
    max_size=40,
).map("".join)


@given(texts, texts)
def test_the_segments_rebuild_both_texts_and_never_repeat_an_operation(old: str, new: str) -> None:
    segments = diff(old, new)
    assert rebuilt(segments) == (old, new)
    assert all(s.text for s in segments)
    for before, after in itertools.pairwise(segments):
        assert before.op != after.op
        assert (before.op, after.op) != (INS, D)  # a change is its removal, then its insertion
    if old == new:
        assert change_of(segments) == Change(0, 0)


@given(texts, texts)
def test_a_budget_of_nothing_still_gives_an_exact_diff(old: str, new: str) -> None:
    assert rebuilt(diff(old, new, budget=0)) == (old, new)

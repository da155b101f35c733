"""The sliding-window lexical baseline picks the span beside the question's words."""

from modelyard.qa.lexical import lexical_answer


def test_the_span_next_to_the_question_words_wins():
    context = "Rain fell all day. The treaty was signed in Paris by the envoys. Dogs barked."
    assert lexical_answer("Where was the treaty signed?", context) == "Paris"


def test_an_empty_context_gives_an_empty_answer():
    assert lexical_answer("Where?", "") == ""

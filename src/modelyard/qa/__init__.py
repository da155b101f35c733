"""Extractive question answering (`task: question_answering`): the span of a context that
answers a question, from a pretrained encoder with a start/end layer.

windows.py   (question, context) -> overlapping token windows; answers characters -> tokens
spans.py     start/end scores of all windows of a question -> the best answer span (characters)
metrics.py   SQuAD's exact match and F1 (its answer normalisation, best over references)
data.py      reading and checking the tables, the split by group (article)
model.py     QuestionAnswerer: fit / evaluate / predict / save / load
lexical.py   the sliding-window lexical baseline (Rajpurkar et al. 2016)
serve.py, explain.py   POST /predict {question, context}; token attributions for start and end
"""

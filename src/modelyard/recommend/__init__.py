"""Recommendation: learn from (user, item[, rating][, time]) interactions, recommend items.

`task: recommendation` configs (config/schema/recommendation.py). Interactions are not
independent rows with a per-row head (evaluation ranks the whole catalogue per user, with
the user's known items excluded), so this is a kind of run of its own, like language-model
pretraining, rather than an output type of the row `Task` interface: data.py (reading and
id mapping), split.py, build.py (one network per model.type), networks.py (matrix
factorisation; MSE, BPR, sampled- and full-softmax objectives), neumf.py, sasrec.py (sequential:
its own training rows and objective), side.py (side features of items and users), towers.py
(the two-tower network), cold.py (the cold-item protocol and popularity baselines),
metrics.py (rating errors, full-ranking top-K metrics), sampled.py (the NCF protocol's sampled
metrics, when evaluation.sampled asks), model.py (`Recommender`: fit through fitting.Fitting
and train/loop.py, save, load, recommend), apply.py (predict on (user, item) pairs, similar
items, the popularity fallback), synthetic.py (test data). serve/recommend_app.py serves a run.
"""

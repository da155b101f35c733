"""Recommendation: learn from (user, item[, rating][, time]) interactions, recommend items.

`task: recommendation` configs (config/schema/recommendation.py). Interactions are not
independent rows with a per-row head (evaluation ranks the whole catalogue per user, with
the user's known items excluded), so this is a kind of run of its own, like language-model
pretraining, rather than an output type of the row `Task` interface: data.py (reading and
id mapping), split.py, networks.py (matrix factorisation, MSE and BPR objectives),
metrics.py (rating errors, full-ranking top-K metrics), model.py (`Recommender`: fit through
fitting.Fitting and train/loop.py, save, load, recommend), build.py (one network per
model.type), side.py (side features of items and users), towers.py (the two-tower network),
cold.py (the cold-item protocol and popularity baselines), synthetic.py (test data).
"""

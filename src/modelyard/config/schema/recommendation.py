"""The recommendation task's config: an interactions table, its split, the model, evaluation."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, PositiveInt

from modelyard.config.schema.common import PositiveFloat, Probability, Strict, tagged_union
from modelyard.config.schema.inputs import Input
from modelyard.config.schema.trainer import Adam, Optimizer, Tracking, Trainer


class Interactions(Strict):
    """One table of (user, item) interactions: CSV, TSV, Parquet or JSON lines, relative to
    the config's folder. `rating`: a column of explicit ratings (leave it out for implicit
    feedback: every row is a positive); `rating_scale: [min, max]` rejects ratings outside it.
    `timestamp`: needed by `split.by: leave_last_out`. `duplicates`: what to do with repeated
    (user, item) pairs: keep the `last` row (default, with a note), the `first`, their `mean`
    rating, or stop with an `error`."""

    file: Annotated[str, Field(min_length=1)] | None = None  # or a DataFrame given to fit
    user: str = "user"
    item: str = "item"
    rating: str | None = None
    timestamp: str | None = None
    rating_scale: tuple[float, float] | None = None
    duplicates: Literal["last", "first", "mean", "error"] = "last"
    separator: str | None = None  # default: ',' for .csv, a tab for .tsv
    encoding: str = "utf-8"


class SideTable(Strict):
    """Side features of the items (`items:`) or users (`users:`), one row per id: `file` (a
    table relative to the config's folder; leave it out to take the features from columns of
    the interactions table, which must then agree in every row of an id), `id` (its id column;
    default: data.item or data.user), and `features`: inputs as in a supervised config's
    `inputs:` (number, category, binary, text with any text encoder: bow, pretrained minilm,
    ...). Every id of the interactions needs a row; rows of ids without interactions add
    items (users) that are scored from their features alone: new items, cold start.
    Preprocessing (vocabularies, scalers) is fitted on the ids of the training interactions
    only. Read by `model.type: two_tower`."""

    file: Annotated[str, Field(min_length=1)] | None = None
    id: str | None = None
    features: Annotated[list[Input], Field(min_length=1)]
    separator: str | None = None  # default: ',' for .csv, a tab for .tsv
    encoding: str = "utf-8"


class RecSplit(Strict):
    """`random`: shuffle the interactions (with `seed`) and hold out `validation` and `test`
    fractions. `leave_last_out`: per user, by timestamp, the last interaction is the test one
    and the second to last the validation one (users with fewer than 3 interactions keep all
    in training). `per_user`: of each user's n interactions, round(n x test) to test and
    round(n x validation) to validation: the latest by time with `data.timestamp`, else a
    seeded random choice (each user keeps one or more in training). `cold_items`: cold start:
    round(items x test) of the ITEMS (seeded) and all their interactions go to test, and
    round(items x validation) others to validation; training never sees them, so only a model
    that scores items from their features (two_tower with `items.features`) can rank them.
    Cold splits are ranked among their own held-out items (recommend/cold.py). Validation
    picks the epoch (early stopping, `keep: best`); test is only measured at the end."""

    by: Literal["random", "leave_last_out", "per_user", "cold_items"] = "random"
    validation: Probability = 0.1
    test: Probability = 0.1
    seed: int = 0


class RecModelBase(Strict):
    """What every model type shares: `objective: ratings` fits explicit ratings with mean
    squared error; `ranking` trains for top-N with `loss: bpr` (each positive against
    `negatives` items drawn uniformly on the device) or `loss: softmax` (sampled softmax: each
    positive against the batch's other items and `negatives` uniform items shared by the
    batch; cost B x (B + negatives) scores per step, so keep batch_size in the thousands) or
    `loss: full_softmax` (cross-entropy over every item of the catalogue, no sampling: the
    strongest on catalogues up to about 100k items; cost B x items scores per step).
    `popularity_correction` (softmax): subtract from each logit the log of the item's expected
    count among the candidates (logQ), so in-batch negatives stop pushing popular items down.
    `l2`: penalty on the embeddings (and biases) of each batch. Use `ratings` when the data
    have ratings and you predict them; `ranking` for implicit feedback (clicks, views) or to
    rank items. `dim`: the size of the user and item vectors."""

    objective: Literal["ratings", "ranking"] = "ratings"
    loss: Literal["bpr", "softmax", "full_softmax"] = "bpr"  # of objective ranking
    dim: PositiveInt = 32
    l2: Annotated[float, Field(ge=0)] = 0.0
    negatives: PositiveInt = 1
    popularity_correction: bool = True  # of loss softmax


class MatrixFactorizationModel(RecModelBase):
    """`type: mf`, matrix factorisation: score(u, i) = p_u . q_i (+ b_u + b_i + global mean
    with `biases`). Cost: (users + items) x (dim + 1) parameters."""

    type: Literal["mf"] = "mf"
    biases: bool = True


class NeuMFModel(RecModelBase):
    """`type: neumf`, neural matrix factorisation (He et al. 2017): a GMF branch (the
    elementwise product of `dim`-sized user and item vectors) and an MLP branch (separate
    `dim`-sized user and item vectors, concatenated, through `layers` with ReLU and `dropout`),
    joined by one linear score. Use when MF underfits interactions that are not a plain dot
    product; cost: scoring the full catalogue runs the MLP on every (user, item) pair (about
    layers[0] x layers[1] multiply-adds each: tens of times MF's cost), so evaluation is slower.
    On small data it overfits sooner than MF (on MovieLens it ranks worse: see the README)."""

    type: Literal["neumf"] = "neumf"
    layers: Annotated[list[PositiveInt], Field(min_length=1)] = [64, 32, 16]
    dropout: Probability = 0.1


class SASRecModel(RecModelBase):
    """`type: sasrec`, self-attentive sequential recommendation (Kang & McAuley 2018): a causal
    Transformer (`layers` blocks, `heads` attention heads, `dropout`) over each user's last
    `max_length` items in time order (item vectors of size `dim` plus learned positions),
    trained to predict the next item at every position. Needs data.timestamp and objective
    ranking; `loss: bpr` is the paper's binary cross-entropy of each next item against
    `negatives` uniform items per position, `loss: softmax` a sampled softmax against
    `negatives` uniform items shared by the batch (give it 100 or more), `loss: full_softmax`
    (the default) the cross-entropy of each next item over every item (Klenitskiy & Vasilev
    2023; batch x max_length x items logits per step, taken in slices of at most 1 GB
    recomputed in the backward pass, so memory stays bounded; time grows with the catalogue:
    above about 100k items a sampled softmax is faster; on MovieLens it ranked far better
    than bpr). Use when the order of interactions matters
    (sessions, watching series); cost: batch x max_length x dim activations per layer, and
    scoring a user runs the Transformer over its history once."""

    type: Literal["sasrec"] = "sasrec"
    objective: Literal["ratings", "ranking"] = "ranking"
    loss: Literal["bpr", "softmax", "full_softmax"] = "full_softmax"
    max_length: PositiveInt = 50
    layers: PositiveInt = 2
    heads: PositiveInt = 1
    dropout: Probability = 0.2


class TwoTowerModel(RecModelBase):
    """`type: two_tower`: a user tower (a user id embedding with `user_id`, and the encoded
    `users.features`) and an item tower (an item id embedding with `item_id`, and the encoded
    `items.features`, e.g. a title through bow or minilm), each concatenated and put through
    an MLP (`hidden` layers with ReLU, then a linear map to `dim`). score(u, i) = u . i
    (`similarity: dot`) or cos(u, i) / `temperature` (`cosine`). Ids without training
    interactions share one zero id vector, so new items and users are scored from their
    features alone; `id_dropout` replaces training ids by that zero vector at this rate, so the
    towers learn to work without them. Use for side features and cold start (items without
    interactions); mf is cheaper and as good where every item has interactions. Cost: the
    encoders run on the B (+ negatives) items of each step; evaluation encodes every item once,
    `item_chunk` items at a time."""

    type: Literal["two_tower"] = "two_tower"
    objective: Literal["ratings", "ranking"] = "ranking"
    loss: Literal["bpr", "softmax"] = "softmax"
    user_id: bool = True
    item_id: bool = False
    id_dropout: Probability = 0.0
    hidden: list[PositiveInt] = [128]
    dropout: Probability = 0.0
    similarity: Literal["dot", "cosine"] = "dot"
    temperature: PositiveFloat = 0.1  # of cosine
    item_chunk: PositiveInt = 4096


# One member per model type (recommend/build.py has one network per type); `type` defaults
# to the first.
RecModel = tagged_union(MatrixFactorizationModel, NeuMFModel, SASRecModel, TwoTowerModel)


class SampledEvaluation(Strict):
    """The NCF protocol, as well as the full ranking: each held-out positive ranked among
    `negatives` items drawn uniformly (with `seed`) from those its user has not interacted
    with; written as sampled_hr_at_K, sampled_ndcg_at_K and sampled_protocol."""

    negatives: PositiveInt = 99
    seed: int = 0


class RecEvaluation(Strict):
    """Ranking metrics (objective ranking) over the FULL catalogue: every item is ranked,
    the user's training items excluded (for test, the validation items too). `k`: cut-offs of
    recall/ndcg/hr (coverage is at the largest). `user_chunk`: the most users scored at once;
    fewer when user_chunk x items would pass 2^25 scores (128 MB), so memory stays bounded
    whatever the catalogue's size. `sampled: {negatives: 99, seed: 0}` adds the sampled
    metrics of the NCF papers beside (never instead of) the full-ranking ones; use them only
    to compare with numbers measured the same way."""

    k: Annotated[list[PositiveInt], Field(min_length=1)] = [10]
    user_chunk: PositiveInt = 1024
    sampled: SampledEvaluation | None = None


class RecTrainer(Trainer):
    """As `trainer` elsewhere, with defaults that suit embedding tables."""

    epochs: PositiveInt = 30
    optimizer: Optimizer = Adam(lr=0.01)
    batch_size: PositiveInt | Literal["full"] = 1024
    eval_batch_size: PositiveInt = 65536


class RecommendationConfig(Strict):
    """Learn from (user, item[, rating][, time]) interactions; recommend items per user."""

    task: Literal["recommendation"]
    name: str = "run"
    data: Interactions
    split: RecSplit = RecSplit()
    items: SideTable | None = None
    users: SideTable | None = None
    model: RecModel = MatrixFactorizationModel()
    evaluation: RecEvaluation = RecEvaluation()
    trainer: RecTrainer = RecTrainer()
    tracking: Tracking = Tracking()

"""The link-prediction task's config: triples files, the split, the embedding model, its
training objective and the filtered ranking evaluation."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, PositiveInt

from modelyard.config.schema.common import PositiveFloat, Probability, Strict, tagged_union
from modelyard.config.schema.trainer import Adam, EarlyStopping, Optimizer, Tracking, Trainer

Column = Annotated[int, Field(ge=0)] | Annotated[str, Field(min_length=1)]
Path = Annotated[str, Field(min_length=1)]


class Triples(Strict):
    """(head, relation, tail) triples: CSV, TSV, Parquet or JSON lines, relative to the
    config's folder. Either `train` with `validation` and `test` files (the usual benchmark
    layout), or one `file` that `split` cuts. `columns`: the head, relation and tail columns,
    as positions from 0 (default `[0, 1, 2]`, for files without a header line such as
    PyKEEN's and the original benchmarks' TSVs) or as names (which needs `header: true`).
    `header`: whether the first line of a CSV/TSV names the columns. `unknown`: what to do
    with a validation or test triple whose entity or relation is not in the training triples:
    `drop` it (default; counted in metrics.json as `rows_left_out`, with a note) or stop with
    an `error`. Every row must have the same number of fields and no empty entity or relation."""

    file: Path | None = None
    train: Path | None = None
    validation: Path | None = None
    test: Path | None = None
    columns: tuple[Column, Column, Column] = (0, 1, 2)
    header: bool = False
    separator: str | None = None  # default: ',' for .csv, a tab for .tsv and .txt
    encoding: str = "utf-8"
    unknown: Literal["drop", "error"] = "drop"


class KgSplit(Strict):
    """With `data.file`: shuffle the triples (with `seed`) and hold out the `validation` and
    `test` fractions. Held-out triples whose entity or relation is left with no training
    triple follow `data.unknown`."""

    validation: Probability = 0.1
    test: Probability = 0.1
    seed: int = 0


class KgModelBase(Strict):
    """`dim`: the size of entity (and relation) vectors; complex models (complex, rotate) hold
    `dim` complex numbers, i.e. 2 x dim reals per entity."""

    dim: PositiveInt = 200


class TransEModel(KgModelBase):
    """`type: transe` (Bordes et al. 2013): score(h, r, t) = -||h + r - t||_p. Cheap, good
    on hierarchies of 1-to-1 relations, weak on 1-to-N and symmetric ones. `normalize_entities`
    (default): entity vectors scaled to unit L2 norm before scoring, the paper's constraint
    and PyKEEN's default; `false` leaves their norms free (lower test MRR on Nations and UMLS
    in bench/kge_vs_pykeen.py, `--raw-transe`; README's knowledge-graph section)."""

    type: Literal["transe"] = "transe"
    p_norm: Literal[1, 2] = 1
    normalize_entities: bool = True


class DistMultModel(KgModelBase):
    """`type: distmult` (Yang et al. 2015): score = <h, r, t> (trilinear product). Cheap and
    strong with the softmax loss, but symmetric: it cannot tell (h, r, t) from (t, r, h)."""

    type: Literal["distmult"] = "distmult"


class ComplExModel(KgModelBase):
    """`type: complex` (Trouillon et al. 2016): score = Re(<h, r, conj(t)>) over complex
    vectors. Handles symmetric and antisymmetric relations; with `loss: softmax` and `n3`
    regularisation among the strongest of these models (Lacroix et al. 2018)."""

    type: Literal["complex"] = "complex"


class RotatEModel(KgModelBase):
    """`type: rotate` (Sun et al. 2019): relations rotate complex entity vectors, score =
    -sum_i |h_i r_i - t_i| with |r_i| = 1. Models symmetry, inversion and composition; use it
    with `negative_sampling`, `self_adversarial` and a `margin` (as in the paper)."""

    type: Literal["rotate"] = "rotate"
    # 1: the sum of the complex moduli |h_i r_i - t_i| (the paper); 2: their L2 norm (PyKEEN)
    p_norm: Literal[1, 2] = 1


class TuckERModel(KgModelBase):
    """`type: tucker` (Balazevic et al. 2019): score = W x1 h x2 r x3 t with a shared core
    tensor W (dim x relation_dim x dim) and dropout. Strong with `loss: softmax`; cost: the
    core's dim^2 x relation_dim parameters and as many multiply-adds per query."""

    type: Literal["tucker"] = "tucker"
    relation_dim: PositiveInt = 30
    dropout: Annotated[float, Field(ge=0, lt=1)] = 0.2


class ConvEModel(KgModelBase):
    """`type: conve` (Dettmers et al. 2018): a 2D convolution over the stacked head and
    relation vectors (each reshaped to `height` x dim/height), projected back and compared
    with every tail. Needs `training.inverse_relations: true` (it predicts tails only) and
    suits `loss: softmax`. Cost: a convolution per query, not per candidate, so 1-N scoring
    stays cheap; batch norm makes it want batches of tens or more."""

    type: Literal["conve"] = "conve"
    height: PositiveInt = 10
    channels: PositiveInt = 32
    dropout: Annotated[float, Field(ge=0, lt=1)] = 0.2


# One member per model type (linkpred/networks.py has one network per type); `type`
# defaults to the first.
KgModel = tagged_union(
    DistMultModel, TransEModel, ComplExModel, RotatEModel, TuckERModel, ConvEModel
)


class KgTraining(Strict):
    """The objective. `loss: softmax` (1-N scoring): each (entity, relation) query is scored
    against every entity, cross-entropy on the true answer, with `label_smoothing`; cost per
    step batch x entities scores, the usual choice up to ~10^5 entities. `negative_sampling`:
    each triple against `negatives` corrupted ones (head or tail replaced: `corruption:
    uniform` picks the side with even odds, `bernoulli` by the relation's tails per head and
    heads per tail, Wang et al. 2014), logistic loss log sigmoid(margin + s) for true and
    log sigmoid(-margin - s) for corrupted triples; `self_adversarial: T` weighs the negatives
    by softmax(T x score) (Sun et al. 2019; null: evenly). `margin` applies to the distance
    models (transe, rotate), whose scores are negative distances.

    `queries` (`loss: softmax`): `triples` asks one query per training triple, its answer the
    target (1vsAll, Lacroix et al. 2018). `grouped`: the same loss, but each distinct
    (entity, relation) query is scored once per epoch against all its training answers, its
    loss weighted by their number: fewer, larger steps, less time where entities have several
    answers per relation. `distinct`: each distinct query once, all its answers as the
    target, every query weighted alike (KvsAll: PyKEEN's LCWA with cross-entropy).

    `inverse_relations: true` adds a relation r' per relation r and trains every triple as
    (h, r, ?) and (t, r', ?), so every query asks for a tail (Lacroix et al. 2018); head
    prediction then uses r'. `regularizer`: `n3` (nuclear 3-norm, Lacroix et al. 2018) or
    `l2` on the batch's embeddings, times `weight`."""

    loss: Literal["softmax", "negative_sampling"] = "softmax"
    label_smoothing: Probability = 0.0
    queries: Literal["triples", "grouped", "distinct"] = "triples"
    negatives: PositiveInt = 64
    corruption: Literal["uniform", "bernoulli"] = "uniform"
    self_adversarial: PositiveFloat | None = None
    margin: Annotated[float, Field(ge=0)] = 6.0
    inverse_relations: bool = True
    regularizer: Literal["none", "n3", "l2"] = "none"
    weight: Annotated[float, Field(ge=0)] = 0.0


class KgEvaluation(Strict):
    """Filtered ranking (Bordes et al. 2013): every test triple is asked as (h, r, ?) and
    (?, r, t); the true answer is ranked against EVERY entity, leaving out the other answers
    known to be true in train, validation or test. Ties count by the realistic rank, the
    mean of the optimistic and pessimistic ranks (Berrendorf et al. 2020), so a model that
    scores everything alike ranks in the middle, not first. `query_chunk`: the most queries
    scored at once (fewer when chunk x entities would pass 2^25 scores), so memory stays
    bounded. `per_relation`: also write per_relation.csv (the test metrics of each relation)."""

    query_chunk: PositiveInt = 1024
    per_relation: bool = True


class KgTrainer(Trainer):
    """As `trainer` elsewhere, with defaults that suit embedding tables: early stopping and
    `keep: best` follow the validation MRR."""

    epochs: PositiveInt = 100
    optimizer: Optimizer = Adam(lr=0.01)
    batch_size: PositiveInt | Literal["full"] = 512
    eval_batch_size: PositiveInt = 1024
    early_stopping: EarlyStopping | None = EarlyStopping(metric="mrr", patience=10)


class LinkPredictionConfig(Strict):
    """Learn entity and relation embeddings from (head, relation, tail) triples; rank the
    missing entity of (h, r, ?) and (?, r, t) queries."""

    task: Literal["link_prediction"]
    name: str = "run"
    data: Triples
    split: KgSplit = KgSplit()
    model: KgModel = DistMultModel()
    training: KgTraining = KgTraining()
    evaluation: KgEvaluation = KgEvaluation()
    trainer: KgTrainer = KgTrainer()
    tracking: Tracking = Tracking()

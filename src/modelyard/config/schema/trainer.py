"""The training loop's settings: optimizer, schedule, early stopping, precision."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, PositiveInt

from modelyard.config.schema.common import PositiveFloat, Probability, Strict, tagged_union


class Sgd(Strict):
    type: Literal["sgd"] = "sgd"
    lr: PositiveFloat = 0.01
    momentum: Annotated[float, Field(ge=0)] = 0.0
    nesterov: bool = False
    weight_decay: Annotated[float, Field(ge=0)] = 0.0


class Adam(Strict):
    type: Literal["adam"] = "adam"
    lr: PositiveFloat = 0.001
    betas: tuple[Probability, Probability] = (0.9, 0.999)
    eps: PositiveFloat = 1e-8
    weight_decay: Annotated[float, Field(ge=0)] = 0.0


class AdamW(Strict):
    type: Literal["adamw"] = "adamw"
    lr: PositiveFloat = 0.001
    betas: tuple[Probability, Probability] = (0.9, 0.999)
    eps: PositiveFloat = 1e-8
    weight_decay: Annotated[float, Field(ge=0)] = 0.01


Optimizer = tagged_union(Adam, AdamW, Sgd)


class Schedule(Strict):
    """Learning-rate schedule, stepped per batch (`plateau`: per epoch, on the early-stopping metric).

    warmup_steps ramps linearly from 0 to lr first. step: multiply by gamma every step_epochs.
    cosine/linear: decay to min_lr by the last step. plateau: multiply by gamma after
    `patience` epochs without improvement.
    """

    type: Literal["constant", "step", "cosine", "linear", "plateau"] = "constant"
    warmup_steps: Annotated[int, Field(ge=0)] = 0
    step_epochs: PositiveInt = 10
    gamma: Annotated[float, Field(gt=0, le=1)] = 0.1
    patience: PositiveInt = 2
    min_lr: Annotated[float, Field(ge=0)] = 0.0


class EarlyStopping(Strict):
    """Stops after `patience` epochs without improvement of `metric` on validation and
    restores the best weights. `metric`: `loss` or any validation metric name. On by default
    (validation loss, patience 5) when there is validation data; `early_stopping: null` turns
    it off."""

    metric: str = "loss"
    patience: PositiveInt = 5
    min_delta: Annotated[float, Field(ge=0)] = 0.0


class Privacy(Strict):
    """Differentially private training (DP-SGD, through Opacus): each batch is a Poisson
    sample of the training rows, each row's gradient is clipped to `max_grad_norm` and
    Gaussian noise is added to their sum; an accountant tracks the (epsilon, delta) spent.

    Give exactly one of `epsilon` (the target for the whole run: the noise multiplier is
    chosen so that `epochs` epochs spend it) or `noise_multiplier` (the noise's standard
    deviation over `max_grad_norm`; epsilon is then what the run spends). `delta` must be
    below 1 / training rows (1e-5 for up to 100,000 rows). `accountant`: `prv` (default,
    Opacus' default: the tightest bound) or `rdp` (Renyi DP, what most papers report).
    Cost: per-row gradients and their clipping, about 2x the time of a step without privacy
    (1.85x: bench/dp_fashion_mnist.py). Each refusal of a clashing setting is a config check."""

    epsilon: PositiveFloat | None = None
    noise_multiplier: PositiveFloat | None = None
    delta: Annotated[float, Field(gt=0, lt=1)]
    max_grad_norm: PositiveFloat = 1.0
    accountant: Literal["prv", "rdp"] = "prv"


class Trainer(Strict):
    """`epochs` (default 100) is the most the run trains: early stopping (on by default, on the
    validation loss) ends it once the validation loss has not improved for 5 epochs, and the
    best epoch's weights are kept. `batch_size: full` trains full-batch gradient descent (one step per epoch).
    `gradient_accumulation: K` sums gradients of K batches per optimizer step.

    `keep`: which weights the finished model gets when there is validation data. `best`
    (default, as Ludwig does): those of the epoch best in validation loss, or in the
    early-stopping metric if set; the log names that epoch. `last`: the final epoch's.
    `keep_checkpoints`: what stays in the run's checkpoints/ once training has finished.
    `none` (default): nothing, since a checkpoint (weights plus optimizer state) is about three
    times the model's size; the checkpoint exists throughout training, so a crashed run can
    still `--resume`. `last`: keep it, to continue a finished run later with more epochs.
    `checkpoint_every_steps: N` also checkpoints within an epoch, every N optimizer updates,
    so that a killed long epoch resumes where it was (exactly: the rows not yet seen, the
    random draws it would have made).

    `strategy`: how several processes (under torchrun) share the model. `ddp` (default): each
    process holds the whole model, its gradients and optimizer state, and the gradients are
    averaged; use it while the model fits one device, it is the fastest. `fsdp` (FSDP2): each
    process holds 1/N of the weights, gradients and optimizer state, gathering one transformer
    block's weights at a time for its forward and backward passes; use it when the model and
    its optimizer state do not fit one device. Cost: per step, about 1.5x the communication
    of ddp. Its checkpoints are sharded (torch.distributed.checkpoint), and a run resumes on
    any number of processes, as a ddp run does. In one process it trains as usual.

    `privacy`: differentially private training (DP-SGD); see `Privacy`."""

    epochs: PositiveInt = 100
    batch_size: PositiveInt | Literal["full"] = 32
    optimizer: Optimizer = Adam()
    l1: Annotated[float, Field(ge=0)] = 0.0
    schedule: Schedule = Schedule()
    gradient_accumulation: PositiveInt = 1
    gradient_clip: PositiveFloat | None = None
    early_stopping: EarlyStopping | None = EarlyStopping()
    precision: Literal["fp32", "bf16", "auto"] = "fp32"
    device: Literal["auto", "cpu", "cuda"] = "auto"
    seed: int = 42
    eval_batch_size: PositiveInt = 256
    keep: Literal["best", "last"] = "best"
    keep_checkpoints: Literal["none", "last"] = "none"
    checkpoint_every_steps: PositiveInt | None = None
    strategy: Literal["ddp", "fsdp"] = "ddp"
    privacy: Privacy | None = None


class Tracking(Strict):
    """Live records of a run, besides history.csv (rewritten every epoch): the training loss
    every `every_steps` batches, and per epoch the learning rates, validation metrics and
    throughput. TensorBoard event files in `<run>/events` (`tensorboard --logdir
    <run>/events`); with `mlflow`, also an MLflow run (`pip install 'modelyard[mlflow]'`) in
    the tracking store at that URI, with the config as params and, at the end, the final
    metrics and the saved model and report as artifacts. `mlflow`: `sqlite:///mlruns.db`
    (a relative path is relative to the config file's folder, like data paths),
    `http://host:5000`, or any other MLflow tracking URI; `mlflow_experiment`: the
    experiment's name (default: the config's `name`)."""

    tensorboard: bool = True
    every_steps: PositiveInt = 50
    mlflow: Annotated[str, Field(min_length=1)] | None = None
    mlflow_experiment: Annotated[str, Field(min_length=1)] | None = None


def early_stopping_chosen(trainer: Trainer) -> bool:
    """Whether the config asks for early stopping other than the default (patience 5 on the
    validation loss), which quietly does nothing without validation data (and under model_type
    gbdt); a chosen one needs validation data. The test is by value, not by whether the key is
    written, so that a run's saved config.yaml reads back alike."""
    return trainer.early_stopping not in (None, EarlyStopping())

"""`fit` on a tiny linearly separable task: learning, steps per epoch, early stopping,
gradient clipping and exact resume from a checkpoint."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from modelyard.config import schema
from modelyard.data.source import InMemorySource
from modelyard.errors import UserError
from modelyard.models.heads import make_loss
from modelyard.train import checkpoint
from modelyard.train.distributed import Processes
from modelyard.train.loop import FitSetup, fit, supervised_objective

ROWS = 64
LOSSES = {"y": (1.0, make_loss("binary_cross_entropy"))}


class Tiny(nn.Module):
    """{"x": (B, 2)} -> {"y": (B,)} logits; counts training forward passes (= optimizer steps)."""

    def __init__(self, dropout: float = 0.0):
        super().__init__()
        self.hidden = nn.Linear(2, 4)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(4, 1)
        self.steps = 0

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        self.steps += self.training
        return {"y": self.out(self.dropout(torch.tanh(self.hidden(batch["x"])))).squeeze(-1)}


def _data() -> dict[str, torch.Tensor]:
    x = torch.randn(ROWS, 2, generator=torch.Generator().manual_seed(0))
    return {"x": x, "y": (x @ torch.tensor([1.0, -2.0]) > 0).float()}


def _model(seed: int = 0, dropout: float = 0.0) -> Tiny:
    torch.manual_seed(seed)
    return Tiny(dropout)


def _setup(validate=None, **trainer) -> FitSetup:
    settings = schema.Trainer(
        **{"epochs": 3, "batch_size": 16, "optimizer": schema.Adam(lr=0.05), **trainer}
    )
    return FitSetup(
        settings,
        supervised_objective(LOSSES),
        torch.device("cpu"),
        False,
        Processes(),
        validate=validate,
    )


def _fit(model: nn.Module, data: dict[str, torch.Tensor], setup: FitSetup):
    """`fit` on the in-memory source of `data`, batched as the trainer settings say."""
    source = InMemorySource(data, setup.settings.batch_size, setup.settings.seed)
    return fit(model, source, setup)


def _weights(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_loss_decreases() -> None:
    model = _model()
    state = _fit(model, _data(), _setup(epochs=15))
    losses = [row["train_loss"] for row in state.history]
    assert [row["epoch"] for row in state.history] == list(range(1, 16))
    assert losses[-1] < 0.5 * losses[0]
    with torch.no_grad():
        accuracy = ((model(_data())["y"] > 0).float() == _data()["y"]).float().mean()
    assert accuracy > 0.9


@pytest.mark.parametrize(
    ("batch_size", "steps"), [("full", 1), (64, 1), (1000, 1), (16, 4), (20, 4)]
)
def test_optimizer_steps_per_epoch(batch_size, steps) -> None:
    model = _model()
    _fit(model, _data(), _setup(epochs=3, batch_size=batch_size))
    assert model.steps == 3 * steps


def test_early_stopping_stops_after_patience_and_restores_best() -> None:
    scores = iter([1.0, 0.5, 0.7, 0.5, 0.9, 0.1])  # best at epoch 2; 0.5 again is no improvement
    seen: list[dict[str, torch.Tensor]] = []

    def validate(model: nn.Module) -> dict[str, float]:
        seen.append(_weights(model))
        return {"loss": next(scores)}

    model = _model()
    setup = _setup(validate, epochs=10, early_stopping=schema.EarlyStopping(patience=3))
    state = _fit(model, _data(), setup)
    assert [row["epoch"] for row in state.history] == [1, 2, 3, 4, 5]
    assert [row["validation_loss"] for row in state.history] == [1.0, 0.5, 0.7, 0.5, 0.9]
    assert state.best_score == 0.5 and state.bad_epochs == 3
    for name, value in model.state_dict().items():
        assert torch.equal(value, seen[1][name]), name
    assert not torch.equal(seen[1]["out.weight"], seen[4]["out.weight"])  # training did move on


def test_early_stopping_on_a_metric_to_maximise() -> None:
    scores = iter([0.6, 0.8, 0.8, 0.79])
    setup = _setup(
        lambda m: {"loss": 0.0, "accuracy": next(scores)},
        epochs=10,
        early_stopping=schema.EarlyStopping(metric="accuracy", patience=2),
    )
    setup.metric_mode = "max"
    state = _fit(_model(), _data(), setup)
    assert len(state.history) == 4 and state.best_score == 0.8


def test_plateau_follows_the_metric_mode() -> None:
    scores = iter([0.5, 0.6, 0.7, 0.8, 0.9])  # accuracy improves every epoch: no reduction due
    setup = _setup(
        lambda m: {"loss": 1.0, "accuracy": next(scores)},
        epochs=5,
        schedule=schema.Schedule(type="plateau", patience=1),
        early_stopping=schema.EarlyStopping(metric="accuracy", patience=5),
    )
    setup.metric_mode = "max"
    state = _fit(_model(), _data(), setup)
    assert [row["lr"] for row in state.history] == pytest.approx([0.05] * 5)


def test_gradient_clip_limits_the_update() -> None:
    model = _model()
    before = _weights(model)
    sgd = schema.Sgd(lr=1.0)
    _fit(model, _data(), _setup(epochs=1, batch_size="full", optimizer=sgd, gradient_clip=1e-3))
    step = torch.cat([(model.state_dict()[k] - before[k]).flatten() for k in before])
    assert step.norm().item() == pytest.approx(1e-3, rel=1e-4)  # lr 1 * clipped norm

    unclipped = _model()
    _fit(unclipped, _data(), _setup(epochs=1, batch_size="full", optimizer=sgd))
    step = torch.cat([(unclipped.state_dict()[k] - before[k]).flatten() for k in before])
    assert step.norm().item() > 1e-2


def test_l1_shrinks_weights() -> None:
    plain, sparse = _model(), _model()
    _fit(plain, _data(), _setup(epochs=5))
    _fit(sparse, _data(), _setup(epochs=5, l1=0.05))
    assert sparse.hidden.weight.abs().sum() < plain.hidden.weight.abs().sum()


def test_resume_gives_the_same_weights_as_an_uninterrupted_run(tmp_path) -> None:
    trainer = {
        "epochs": 4,
        "batch_size": 20,
        "schedule": schema.Schedule(type="cosine", warmup_steps=2),
        "gradient_clip": 0.5,
        "l1": 1e-3,
        "early_stopping": schema.EarlyStopping(patience=10),
    }

    def validate(model: nn.Module) -> dict[str, float]:
        with torch.no_grad():
            return {"loss": LOSSES["y"][1](model.eval()(_data())["y"], _data()["y"]).item()}

    whole = _model(dropout=0.3)
    whole_state = _fit(whole, _data(), _setup(validate, **trainer))

    calls = iter(range(100))

    def crash_in_epoch_3(model: nn.Module) -> dict[str, float]:
        if next(calls) == 2:
            raise KeyboardInterrupt
        return validate(model)

    path = tmp_path / "checkpoint.pt"
    crashed = _setup(crash_in_epoch_3, **trainer)
    crashed.checkpoint_path = path
    with pytest.raises(KeyboardInterrupt):
        _fit(_model(dropout=0.3), _data(), crashed)
    assert checkpoint.load(path)["state"]["epoch"] == 2

    torch.manual_seed(999)  # the resumed process starts from other random state and weights
    resumed = _model(seed=7, dropout=0.3)
    setup = _setup(validate, **trainer)
    setup.resume = checkpoint.load(path)
    resumed_state = _fit(resumed, _data(), setup)

    for name, value in whole.state_dict().items():
        assert torch.equal(resumed.state_dict()[name], value), name
    strip = lambda history: [{k: v for k, v in row.items() if k != "seconds"} for row in history]  # noqa: E731
    assert strip(resumed_state.history) == strip(whole_state.history)


def test_checkpoint_every_epoch_without_tmp(tmp_path) -> None:
    setup = _setup(epochs=2)
    setup.checkpoint_path = tmp_path / "run" / "checkpoint.pt"
    model = _model()
    _fit(model, _data(), setup)
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["checkpoint.pt", "previous.pt"]
    snapshot = checkpoint.load(setup.checkpoint_path)
    assert snapshot["state"]["epoch"] == 2
    assert checkpoint.load(tmp_path / "run" / "previous.pt")["state"]["epoch"] == 1
    for name, value in model.state_dict().items():
        assert torch.equal(snapshot["model"][name], value)


def test_gradient_accumulation_equals_the_larger_batch() -> None:
    """Two micro-batches of 8 accumulated give the same update as one batch of 16 (plain SGD)."""
    sgd = schema.Sgd(lr=0.5)
    accumulated, direct = _model(), _model()
    _fit(
        accumulated, _data(), _setup(epochs=2, batch_size=8, gradient_accumulation=2, optimizer=sgd)
    )
    _fit(direct, _data(), _setup(epochs=2, batch_size=16, optimizer=sgd))
    for key, value in direct.state_dict().items():
        torch.testing.assert_close(accumulated.state_dict()[key], value, rtol=0, atol=1e-6)


def test_each_param_groups_rate_is_recorded_and_shown_when_they_differ():
    """A pretrained backbone trains at its own rate: the epoch line and history show both."""
    from modelyard.train.loop import _epoch_line, _learning_rates
    from modelyard.train.optim import build_optimizer

    model = _model()
    model.backbone_lr, model.backbone = 2e-5, model.hidden  # how a pretrained encoder marks it
    optimizer = build_optimizer(schema.Adam(lr=1e-3), model)
    rates = _learning_rates(optimizer)
    assert rates == {"lr": 1e-3, "lr_head": 1e-3, "lr_backbone": 2e-5}
    line = _epoch_line({"epoch": 1, "train_loss": 0.5, **rates, "seconds": 1.0}, 3, 64, ())
    assert "lr head 0.001 / backbone 2e-05" in line
    single = _learning_rates(build_optimizer(schema.Adam(lr=1e-3), _model()))
    assert single == {"lr": 1e-3}
    assert "lr 0.001  " in _epoch_line(
        {"epoch": 1, "train_loss": 0.5, **single, "seconds": 1.0}, 3, 64
    )


def test_a_diverging_loss_stops_the_run_naming_epoch_and_step(tmp_path) -> None:
    data = _data()
    data["x"][37] = float("nan")  # row 37 comes in some batch of epoch 1: the loss is NaN
    setup = _setup(epochs=3)
    setup.checkpoint_path = tmp_path / "last.pt"
    with pytest.raises(UserError, match=r"at epoch 1, step [1-4];.*lr.*gradient_clip"):
        _fit(_model(), data, setup)
    assert not setup.checkpoint_path.exists()  # NaN weights are never saved


def test_a_learning_rate_that_blows_up_never_saves_nan_weights(tmp_path) -> None:
    setup = _setup(epochs=5, optimizer=schema.Sgd(lr=3e38))
    setup.checkpoint_path = tmp_path / "last.pt"
    with pytest.raises(UserError, match="training diverged: .* epoch 1"):
        _fit(_model(), _data(), setup)
    assert not setup.checkpoint_path.exists()


def test_a_stopping_metric_the_split_cannot_give_is_refused_before_training() -> None:
    model = _model()
    setup = _setup(
        lambda m: {"loss": 0.5, "accuracy": 1.0},  # no roc_auc: one class in validation
        early_stopping=schema.EarlyStopping(metric="roc_auc"),
    )
    setup.metric_mode = "max"
    with pytest.raises(UserError, match="'roc_auc' cannot be computed.*gives: loss, accuracy"):
        _fit(model, _data(), setup)
    assert model.steps == 0


@pytest.mark.parametrize(("keep", "epoch"), [("best", 2), ("last", 4)])
def test_the_best_validation_epoch_is_kept_by_default(keep, epoch, capsys) -> None:
    scores = iter([0.9, 0.3, 0.5, 0.7])
    seen: list[dict[str, torch.Tensor]] = []

    def validate(model: nn.Module) -> dict[str, float]:
        seen.append(_weights(model))
        return {"loss": next(scores)}

    model = _model()
    _fit(model, _data(), _setup(validate, epochs=4, keep=keep))
    for name, value in model.state_dict().items():
        assert torch.equal(value, seen[epoch - 1][name]), name
    restored = "restored the weights of epoch 2, the best in validation loss"
    assert (restored in capsys.readouterr().err) == (keep == "best")


def test_a_stopping_metric_missing_after_an_epoch_is_a_user_error_not_a_key_error() -> None:
    setup = _setup(lambda m: {"loss": 0.5}, early_stopping=schema.EarlyStopping(metric="f1_entity"))
    setup.metric_mode = "max"
    with pytest.raises(UserError, match="'f1_entity' cannot be computed.*gives: loss"):
        _fit(_model(), _data(), setup)


@pytest.mark.parametrize("strategy", ["ddp", "fsdp"])
def test_a_run_killed_within_an_epoch_resumes_there_to_the_same_weights(tmp_path, strategy) -> None:
    """checkpoint_every_steps: a crash in the middle of epoch 2 resumes at its step, with the
    rows not yet seen and the dropout draws it would have made: bit-exact. With fsdp (in one
    process: trained as usual) the weights and optimizer state go through DCP shards."""
    trainer = {"epochs": 3, "batch_size": 8, "checkpoint_every_steps": 3, "strategy": strategy}
    whole = _model(dropout=0.3)
    whole_state = _fit(whole, _data(), _setup(**trainer))

    steps = iter(range(100))
    objective = supervised_objective(LOSSES)

    def crash_at_step_13(model, batch):
        if next(steps) == 12:  # epoch 2, step 5: after the checkpoint at its step 3
            raise KeyboardInterrupt
        return objective(model, batch)

    path = tmp_path / "checkpoint.pt"
    crashed = _setup(**trainer)
    crashed.objective, crashed.checkpoint_path = crash_at_step_13, path
    with pytest.raises(KeyboardInterrupt):
        _fit(_model(dropout=0.3), _data(), crashed)
    saved = checkpoint.load(path)["state"]
    assert (saved["epoch"], saved["position"]) == (1, 3)

    torch.manual_seed(999)  # the resumed process starts from other random state and weights
    resumed = _model(seed=7, dropout=0.3)
    setup = _setup(**trainer)
    setup.resume = checkpoint.load(path)
    resumed_state = _fit(resumed, _data(), setup)
    for name, value in whole.state_dict().items():
        assert torch.equal(resumed.state_dict()[name], value), name
    assert [r["train_loss"] for r in resumed_state.history] == [
        r["train_loss"] for r in whole_state.history
    ]


def test_sharded_checkpoints_are_folders_named_by_last_and_previous(tmp_path, capsys) -> None:
    """trainer.strategy fsdp: weights and optimizer state are DCP shards in a folder beside the
    checkpoint, one per checkpoint; a folder neither last.pt nor previous.pt names is removed,
    and a checkpoint whose shards are damaged falls back to the one before."""
    setup = _setup(epochs=3, strategy="fsdp")
    setup.checkpoint_path = tmp_path / "last.pt"
    _fit(_model(), _data(), setup)
    assert "trains as usual" in capsys.readouterr().err  # one process: a note, not an error
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "last.pt",
        "previous.pt",
        "shards-2-0",
        "shards-3-0",
    ]
    last = checkpoint.load(setup.checkpoint_path)
    assert "model" not in last and last["shards"] == tmp_path / "shards-3-0"
    assert len(last["rngs"]) == 1 and last["cuda_rngs"] == []  # per process; no GPU here
    (tmp_path / "shards-3-0" / "__0_0.distcp").unlink()
    assert checkpoint.load(setup.checkpoint_path)["state"]["epoch"] == 2
    assert "lack __0_0.distcp" in capsys.readouterr().err

"""Gradient-boosted trees as the model of a run (`model_type: gbdt`, config section `gbdt`).

One scikit-learn HistGradientBoostingClassifier / Regressor per output, fitted on the same
preprocessed inputs a network gets (numbers standardised and filled, binaries 0/1, categories
as categorical features: `baselines.categorical_mask`) and the same split, with early stopping
on the run's own validation rows. `GbdtModel` wraps the fitted estimators in an `nn.Module`
whose outputs are the tensors the network's heads would give (`Task.baseline_outputs`), so
scoring, predict, evaluate, serve and permutation importance run unchanged.

The estimators are saved pickled in `model/gbdt.pkl` (pickle is how scikit-learn documents
saving a model). Loading a gbdt run therefore executes its pickle, like opening any
scikit-learn model file: load only runs you trust. The network's `weights.safetensors` is
written empty, as the marker of a finished run.
"""

from __future__ import annotations

import pickle
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from modelyard.errors import UserError
from modelyard.train.progress import log

FILE = "gbdt.pkl"  # in the run's model/ folder
_LOSSES = {"mse": "squared_error", "mae": "absolute_error"}  # our number losses -> sklearn's
UNSUPPORTED = {  # capability (tasks.CAPABILITIES) -> what to do instead
    "export": "export writes a network as ONNX; a gbdt run has none: load its model/gbdt.pkl "
    "with scikit-learn (sklearn-onnx can convert that)",
    "compress": "compress quantizes, prunes or distills a network; a gbdt run has none: use "
    "smaller gbdt.max_iter or gbdt.max_leaf_nodes",
    "distill": "--method distill trains a smaller network from a network teacher; a gbdt run "
    "has none",
    "attributions": "per-row attributions need a network's gradients; a gbdt run has none: "
    "use --method permutation",
}


class GbdtModel(nn.Module):
    """batch {input name: (B,)} -> {output name: what its head would give}: (B, C) class
    log-probabilities (category: softmax gives the trees' probabilities back), (B,) logit of
    the positive class (binary), (B,) standardised value (number). No parameters; not
    differentiable. `estimators`: {output name: fitted estimator}."""

    def __init__(self, inputs: list, outputs: list, categorical: list[bool]):
        super().__init__()
        self.input_names = [f.name for f in inputs]
        self.outputs = outputs  # the fitted output features (vocabularies, scales)
        self.categorical = categorical
        self.estimators: dict[str, Any] = {}

    def pack(self, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Table tensors {name: (N,)} -> the inputs the trees read, by name."""
        return {name: tensors[name] for name in self.input_names}

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        device = batch[self.input_names[0]].device
        x = matrix(batch, self.input_names)  # (B, F)
        return {f.name: self._predict(f, x).to(device) for f in self.outputs}

    def _predict(self, feature, x: np.ndarray) -> torch.Tensor:
        from modelyard.tasks import task_of

        task, fitted = task_of(feature), self.estimators[feature.name]
        if task.baseline == "regressor":
            return task.baseline_outputs(feature, fitted.predict(x))
        probs = np.zeros((len(x), len(task.classes(feature))))  # (B, C)
        probs[:, fitted.classes_] = fitted.predict_proba(x)
        return task.baseline_outputs(feature, probs)

    def save(self, path: Path) -> None:
        import sklearn

        with path.open("wb") as f:
            pickle.dump({"sklearn_version": sklearn.__version__, "estimators": self.estimators}, f)

    def load(self, path: Path) -> None:
        """The estimators of `path` (executes its pickle: see the module's docstring)."""
        import sklearn

        if not path.is_file():
            raise UserError(
                f"'{path}' is missing: the gbdt run did not finish; train it again (--overwrite)"
            )
        with path.open("rb") as f:
            saved = pickle.load(f)  # noqa: S301 - a run's own estimators, as sklearn documents
        if saved["sklearn_version"] != sklearn.__version__:
            log(
                f"note: '{path}' was saved by scikit-learn {saved['sklearn_version']}, this is "
                f"{sklearn.__version__}; its predictions may differ"
            )
        self.estimators = saved["estimators"]


def matrix(tensors: dict[str, torch.Tensor], names: list[str]) -> np.ndarray:
    """(N, F) float64: one column per input, categories as their vocabulary index."""
    return np.stack([tensors[n].detach().cpu().numpy().astype(np.float64) for n in names], axis=1)


def build(config, preprocessing) -> GbdtModel:
    """The unfitted model of a gbdt config (inputs checked by config.checks.gbdt_settings_fit)."""
    from modelyard.baselines import categorical_mask

    categorical = categorical_mask(preprocessing.inputs, config.gbdt.max_bins)
    return GbdtModel(preprocessing.inputs, preprocessing.outputs, categorical)


def require(capability: str, tool: str) -> None:
    """A UserError when `tool` needs what a gbdt model lacks (a network)."""
    if capability in UNSUPPORTED:
        raise UserError(f"{tool}: {UNSUPPORTED[capability]}")


# ------------------------------------------------------------ training


def train(model, data, run_dir: Path | None, procs) -> Any:
    """`api.Model._train` for `model_type: gbdt`: the same data, preprocessing, run directory,
    final metrics and baselines; boosting instead of the training loop."""
    from modelyard.fitting import seed_everything

    if procs.world > 1:
        raise UserError(
            "model_type gbdt trains in one process (scikit-learn uses the machine's cores); "
            "run it without torchrun"
        )
    prepared = model._prepare(data, None, procs)
    if prepared.stream is not None:  # data.streaming auto found the training file too large
        raise UserError(
            "model_type gbdt fits on the training rows in memory, but the training file is too "
            "large to read whole (data.streaming: auto); use fewer rows, or model_type: neural"
        )
    seed_everything(model.config.trainer.seed)
    model.module = build(model.config, model.preprocessing)
    if run_dir is not None:
        model._save_start(run_dir, prepared)
    model.history = fit(model.module, prepared.tables, model.config)
    model.module.eval()
    details = model._final_metrics(prepared, torch.device("cpu"))
    if run_dir is not None:
        model._save_end(run_dir, details)
    return model


def fit(module: GbdtModel, tables: dict, config) -> list[dict[str, float]]:
    """Fit an estimator per output on tables["train"] (early stopping on tables["validation"]
    when there is one); returns the history: one row per boosting iteration."""
    train, validation = tables["train"], tables.get("validation")
    x_train = matrix(train.tensors, module.input_names)
    x_val = matrix(validation.tensors, module.input_names) if validation is not None else None
    losses = {}
    for feature in module.outputs:
        started = time.perf_counter()
        fitted, scores = _fit_output(module, feature, (x_train, train), (x_val, validation), config)
        module.estimators[feature.name] = fitted
        losses[feature.name] = (feature.config.weight, scores)
        _log_fit(feature.name, fitted, config.gbdt, time.perf_counter() - started)
    return _history(losses)


def _fit_output(module: GbdtModel, feature, train, validation, config):
    """(the fitted estimator, {"train": [...], "validation": [...]} losses per iteration)."""
    from modelyard.tasks import task_of

    task = task_of(feature)
    x, y = _labelled(task, feature, *train)
    x_val, y_val = (None, None) if validation[0] is None else _labelled(task, feature, *validation)
    if task.baseline == "classifier" and x_val is not None:
        seen = np.isin(y_val, np.unique(y))  # sklearn's early stopping knows only these
        x_val, y_val = x_val[seen], y_val[seen]
    if x_val is not None and len(y_val) == 0:
        x_val = y_val = None
    settings = config.gbdt
    if x_val is None and settings.early_stopping is not None:
        log(
            f"note: output '{feature.name}' has no validation rows, so all gbdt.max_iter iterations run (no early stopping)"
        )
    loss, seed = feature.config.loss, config.trainer.seed
    estimator = make(task.baseline, settings, module.categorical, seed, loss, x_val is not None)
    extra = {} if x_val is None else {"X_val": x_val, "y_val": y_val}
    estimator.fit(x, y, **extra)
    return estimator, _scores(estimator, loss)


def _labelled(task, feature, x: np.ndarray, table) -> tuple[np.ndarray, np.ndarray]:
    """The rows of `x` with a label of a class seen in training, and those labels."""
    target = table.tensors[feature.name]
    kept = task.seen(feature, target)
    kept = np.ones(len(target), bool) if kept is None else kept.numpy()
    y = target[torch.from_numpy(kept)].numpy()
    return x[kept], (y.astype(np.int64) if task.baseline == "classifier" else y.astype(np.float64))


def make(kind: str, settings, categorical: list[bool], seed: int, loss: str, validation: bool):
    """An unfitted HistGradientBoosting estimator with `settings` (schema.Gbdt). Scores are
    always recorded (the history); without `early_stopping` patience, or without validation
    rows, the patience exceeds max_iter so that every iteration runs."""
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    stop = settings.early_stopping if validation else None
    params = {
        "learning_rate": settings.learning_rate,
        "max_iter": settings.max_iter,
        "max_leaf_nodes": settings.max_leaf_nodes,
        "max_depth": settings.max_depth,
        "min_samples_leaf": settings.min_samples_leaf,
        "l2_regularization": settings.l2_regularization,
        "max_features": settings.max_features,
        "max_bins": settings.max_bins,
        "categorical_features": np.array(categorical, dtype=bool),
        "early_stopping": True,
        "scoring": "loss",
        "validation_fraction": None,
        "n_iter_no_change": stop or settings.max_iter + 1,
        "tol": settings.tol,
        "random_state": seed,
    }
    if kind == "regressor":
        return HistGradientBoostingRegressor(loss=_LOSSES[loss], **params)
    return HistGradientBoostingClassifier(**params)


def _scores(estimator, loss: str) -> dict[str, list[float]]:
    """Loss per iteration (index 0: before the first tree) on the training and validation
    rows, in our loss's units (sklearn's squared error is half the mean squared error)."""
    factor = 2.0 if loss == "mse" else 1.0
    return {
        name: [-factor * float(s) for s in getattr(estimator, f"{name}_score_")]
        for name in ("train", "validation")
        if len(getattr(estimator, f"{name}_score_", ()))
    }


def _history(losses: dict[str, tuple[float, dict]]) -> list[dict[str, float]]:
    """One row per boosting iteration (`epoch`): `train_loss` and `validation_loss`, the sum
    over outputs of weight x loss; an output that stopped earlier counts its last value."""
    iterations = max((len(s.get("train", ())) for _, s in losses.values()), default=1) - 1
    history = []
    for i in range(1, iterations + 1):
        row: dict[str, float] = {"epoch": i}
        for split in ("train", "validation"):
            values = [(w, s[split]) for w, s in losses.values() if s.get(split)]
            if values and len(values) == len(losses):
                row[f"{split}_loss"] = sum(w * v[min(i, len(v) - 1)] for w, v in values)
        history.append(row)
    return history


def _log_fit(name: str, fitted, settings, seconds: float) -> None:
    stopped = fitted.n_iter_ < settings.max_iter
    how = (
        f" (stopped early: validation loss no better for {settings.early_stopping})"
        if stopped
        else ""
    )
    log(f"gbdt: output '{name}': {fitted.n_iter_} boosting iterations{how}, {seconds:.2f} s")

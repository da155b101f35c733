"""ModelyardClassifier and ModelyardRegressor: a modelyard model behind scikit-learn's API.

`fit(X, y)` builds a config from the estimator's parameters and X's columns (tables.py),
trains a `modelyard.Model` on the rows in memory (no run directory unless `output_dir`), and
keeps it as `model_`. Pickling stores the model as the files `Model.save` writes (in a tar
archive in memory), so `clone`, `Pipeline`, `GridSearchCV` and `cross_val_score` with worker
processes work, and nothing but the model's own files is pickled.
"""

from __future__ import annotations

import io
import logging
import tarfile
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from modelyard.errors import UserError
from modelyard.sklearn import tables


class _ModelyardEstimator(BaseEstimator):
    """The parameters and the fit shared by the classifier and the regressor.

    A parameter left at None keeps modelyard's default (the config schema's: `modelyard
    schema` shows them), so the defaults live in one place. `config`: a config dict for the
    rest (e.g. `{"trainer": {"schedule": {"type": "cosine"}}}`); its `inputs` entries update
    the inputs made from X's columns by name (`{"name": "review", "type": "text"}`), and its
    `outputs` holds at most one entry that updates the output. A key set both there and by a
    parameter to different values is an error."""

    _output_type: str

    def __init__(
        self,
        *,
        hidden=None,
        encoder=None,
        epochs=None,
        batch_size=None,
        lr=None,
        optimizer=None,
        weight_decay=None,
        dropout=None,
        early_stopping=None,
        validation_fraction=None,
        random_state=None,
        verbose=False,
        output_dir=None,
        config=None,
    ):
        self.hidden = hidden
        self.encoder = encoder
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.optimizer = optimizer
        self.weight_decay = weight_decay
        self.dropout = dropout
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.random_state = random_state
        self.verbose = verbose
        self.output_dir = output_dir
        self.config = config

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # a missing value, filled by the input's `missing`
        return tags

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "model_")  # not set by a fit that failed half-way

    # ------------------------------------------------------------ fitting

    def _fit_frame(self, X):
        """X as a table (tables.fit_frame), recording its columns' input types."""
        frame, self.input_kinds_ = tables.fit_frame(self, X)
        return frame

    def _train(self, frame, target: np.ndarray):
        """Train `model_` on `frame` (of _fit_frame) and the (N,) target column; returns self."""
        from modelyard.api import Model

        if self.early_stopping is not False and len(frame) < 2:  # scikit-learn's wording
            raise ValueError(
                "Found 1 sample, but early stopping holds out validation rows; pass more "
                "samples or early_stopping=False"
            )
        names = tables.input_names(self)
        output = tables.output_name(names)
        frame[output] = target
        config = self._config(names, output)
        with _speaking(self.verbose):
            model = Model.from_config(config)
            if self.output_dir is None:
                model.fit(train=frame)
            else:
                model.fit(train=frame, output_dir=self.output_dir, overwrite=True)
        self.model_ = model
        self.output_name_ = output
        return self

    def _config(self, names: list[str], output: str) -> dict[str, Any]:
        """The modelyard config (a dict) of these parameters, for inputs `names` of
        `self.input_kinds_` and the output column `output`."""
        given = dict(self.config or {})
        inputs = [{"name": n, "type": k} for n, k in zip(names, self.input_kinds_, strict=True)]
        if self.encoder is not None:
            for entry in inputs:
                if entry["type"] == tables.NUMBER:
                    entry["encoder"] = {"type": self.encoder}
        seed = _seed(self.random_state)
        generated = {
            "baselines": False,
            "combiner": _set(hidden=_listed(self.hidden), dropout=self.dropout),
            "trainer": {
                **_set(epochs=self.epochs, batch_size=self.batch_size, seed=seed),
                "optimizer": _set(type=self.optimizer, lr=self.lr, weight_decay=self.weight_decay),
            },
            "data": {"split": {"test": 0, "seed": seed, **self._validation_split()}},
        }
        if self.early_stopping is False:
            generated["trainer"]["early_stopping"] = None
        config = tables.merged(generated, _without(given, "inputs", "outputs"))
        config.setdefault("name", type(self).__name__)  # the run directory's config name
        config["inputs"] = tables.with_inputs(inputs, given.get("inputs"))
        config["outputs"] = [self._output(output, given.get("outputs"))]
        return config

    def _validation_split(self) -> dict[str, Any]:
        """The validation share: none without early stopping, else `validation_fraction`
        (None: modelyard's default)."""
        if self.early_stopping is False:
            return {"validation": 0}
        return _set(validation=self.validation_fraction)

    def _output(self, name: str, given: list | None) -> dict[str, Any]:
        if given is None:
            given = [{}]
        if not (isinstance(given, list) and len(given) == 1 and isinstance(given[0], dict)):
            raise UserError(
                "config['outputs'] must be a list of one dict of output settings (the "
                "estimator names the output and sets its type)"
            )
        output = {"name": name, "type": self._output_type}
        return tables.merged(output, given[0], "config['outputs'][0]")

    # ------------------------------------------------------------ applying

    def _predicted(self, X):
        """modelyard's predictions DataFrame for X (prediction and probability columns)."""
        check_is_fitted(self)
        frame = tables.predict_frame(self, X)
        with _speaking(self.verbose):
            return self.model_.predict(frame, ids=False)

    # ------------------------------------------------------------ pickling

    def __getstate__(self):
        state = super().__getstate__()
        if "model_" in state:
            state = {**state, "model_": _saved(state["model_"])}
        return state

    def __setstate__(self, state):
        if isinstance(state.get("model_"), bytes):
            state = {**state, "model_": _loaded(state["model_"])}
        super().__setstate__(state)


class ModelyardClassifier(ClassifierMixin, _ModelyardEstimator):
    """A modelyard model with one category output, as a scikit-learn classifier.

    Use when a neural network on a table (numbers, categories, text columns through
    `config`) should sit in a scikit-learn Pipeline or search; alternatives: sklearn's
    `MLPClassifier` (numbers only) or `HistGradientBoostingClassifier` (often as accurate on
    small tables, much faster). Cost: a modelyard training per fit.

    Attributes after fit: `classes_` (the labels, as y gave them), `n_features_in_`,
    `feature_names_in_` (a DataFrame's column names), `model_` (the `modelyard.Model`)."""

    _output_type = tables.CATEGORY

    def fit(self, X, y):
        """X: (N, F) array or DataFrame; y: (N,) labels of any type."""
        frame = self._fit_frame(X)
        y = tables.target_vector(y, len(frame), numeric=False)
        check_classification_targets(y)
        self.classes_, codes = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(
                f"This solver needs samples of at least 2 classes in the data, but the data "
                f"contains only one class: {self.classes_[0]!r}"
            )
        return self._train(frame, codes.astype(np.int64))

    def predict_proba(self, X) -> np.ndarray:
        """(N, C) probabilities of `classes_`, in that order."""
        found = self._predicted(X)
        columns = [f"{self.output_name_}_probability_{i}" for i in range(len(self.classes_))]
        return found[columns].to_numpy(dtype=np.float64)

    def predict(self, X) -> np.ndarray:
        """(N,) the most probable class of each row."""
        probabilities = self.predict_proba(X)  # first: NotFittedError before classes_ is read
        return self.classes_[np.argmax(probabilities, axis=1)]


class ModelyardRegressor(RegressorMixin, _ModelyardEstimator):
    """A modelyard model with one number output, as a scikit-learn regressor.

    Use as ModelyardClassifier, for a number target (normalised for training, predicted in
    y's own units); alternatives: sklearn's `MLPRegressor`, `HistGradientBoostingRegressor`.

    Attributes after fit: `n_features_in_`, `feature_names_in_`, `model_`."""

    _output_type = tables.NUMBER

    def fit(self, X, y):
        """X: (N, F) array or DataFrame; y: (N,) numbers."""
        frame = self._fit_frame(X)
        return self._train(frame, tables.target_vector(y, len(frame), numeric=True))

    def predict(self, X) -> np.ndarray:
        """(N,) float64 predictions."""
        found = self._predicted(X)
        return found[f"{self.output_name_}_prediction"].to_numpy(dtype=np.float64)


def _without(given: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in given.items() if k not in keys}


def _set(**values) -> dict[str, Any]:
    """The values that are not None: parameters left at None keep modelyard's defaults."""
    return {k: v for k, v in values.items() if v is not None}


def _listed(hidden) -> list[int] | None:
    """`hidden` as a list of layer widths: an int is one layer."""
    if hidden is None:
        return None
    return [hidden] if isinstance(hidden, int) else list(hidden)


def _seed(random_state) -> int:
    """The training and split seed: an int as given; None or a RandomState draws one (so
    random_state=None gives a different model per fit, as scikit-learn's estimators do)."""
    if isinstance(random_state, int | np.integer):
        return int(random_state)
    return int(check_random_state(random_state).randint(2**31 - 1))


@contextmanager
def _speaking(verbose: bool):
    """modelyard's notes, epoch lines and progress bar only with verbose=True; warnings
    always."""
    from modelyard.train.progress import LOGGER

    level = LOGGER.level
    LOGGER.setLevel(logging.INFO if verbose else max(level, logging.WARNING))
    try:
        yield
    finally:
        LOGGER.setLevel(level)


def _saved(model) -> bytes:
    """The files `model.save` writes, as an uncompressed tar archive."""
    buffer = io.BytesIO()
    with tempfile.TemporaryDirectory() as folder, tarfile.open(fileobj=buffer, mode="w") as tar:
        model.save(Path(folder) / "model")
        tar.add(Path(folder) / "model", arcname="model")
    return buffer.getvalue()


def _loaded(archive: bytes):
    """The Model of `_saved`'s archive."""
    from modelyard.api import Model

    with tempfile.TemporaryDirectory() as folder:
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r") as tar:
            tar.extractall(folder, filter="data")
        return Model.load(Path(folder) / "model")

"""Classical scikit-learn baselines fitted beside a row model (`baselines: true`, the default).

After training, `modelyard train` fits, on the same training rows (at most `MAX_ROWS`, sampled
with `trainer.seed`) and the same preprocessed features the model gets:

- `logistic_regression` (classification outputs) or `ridge` (number outputs; `linear` when a
  run has both) on the table inputs: numbers standardised, binaries 0/1, categories one-hot;
- `gradient_boosting`: scikit-learn's HistGradientBoosting on the same inputs, categories
  given as categorical features (as ordinal codes past 255 categories);
- `tfidf_logistic_regression` / `tfidf_ridge` (`tfidf_linear`) on the raw text of the text
  inputs (word 1-2 grams and char_wb 2-5 grams, sublinear tf), when there are any.

Each output gets its own estimator; a baseline's predictions become the tensors the model
would give (`Task.baseline_outputs`) and are scored by `evaluate.score`, so the metrics have
the model's names and meaning (a class never seen in training is an error for both). Runs
with an image or audio input, an output that is not a value per row, or streamed training
rows get none, with a note. Use when: always, to see whether the network earns its cost;
cost: seconds on tables of 100k rows.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

import numpy as np

MAX_ROWS = 100_000  # training rows the baselines are fitted on, at most
_HGB_CATEGORIES = 255  # HistGradientBoosting's limit for a categorical feature
_TABLE_TYPES = ("number", "binary", "category")
_TEXT = "text"


def skip_reason(preprocessing) -> str | None:
    """Why this model gets no baselines (a note for the log), or None when it gets them.
    `preprocessing`: the fitted Preprocessing, or the config (its inputs and outputs alike)."""
    from modelyard.tasks import task_of

    files = [f.name for f in preprocessing.inputs if f.type not in (*_TABLE_TYPES, _TEXT)]
    if files:
        return f"no baselines for a model with image or audio inputs ({', '.join(files)})"
    other = [f.name for f in preprocessing.outputs if not task_of(f).baseline]
    if other:
        return f"no baselines: output {', '.join(other)} is not a value per row"
    return None


class Worker:
    """The Python process that fits the baselines while the network trains, started before
    the data are read so that importing scikit-learn (about 1.3 s of CPU, the bulk of what
    baselines cost on small tables) overlaps with reading, preprocessing and training instead
    of adding to the run. It runs at the lowest priority, gets numpy arrays only (`_jobs`,
    pickled through its stdin) and writes back `fit_predict`'s result. A plain subprocess, not
    multiprocessing: spawning would re-import the caller's script. It exits at the end of its
    stdin, so a run that stops early (or dies) leaves nothing behind."""

    def __init__(self) -> None:
        import subprocess
        import sys

        code = "import os; os.nice(19); from modelyard.baselines import serve_jobs; serve_jobs()"
        self.process = subprocess.Popen(
            [sys.executable, "-c", code],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )

    def submit(self, preprocessing, tables: dict, seed: int) -> Future:
        """The future of `fit_predict` for these tables (`_jobs`); a thread waits on the pipes."""
        from concurrent.futures import ThreadPoolExecutor

        jobs = _jobs(preprocessing, tables, seed)
        pool = ThreadPoolExecutor(1, thread_name_prefix="baselines")
        future = pool.submit(self._run, jobs)
        pool.shutdown(wait=False)
        return future

    def cancel(self) -> None:
        """No baselines after all: the process ends at once."""
        self.process.kill()
        self.process.communicate()

    def _run(self, jobs: list[dict]) -> dict:
        import pickle

        out, err = self.process.communicate(pickle.dumps(jobs))
        if self.process.returncode != 0:
            last = err.decode(errors="replace").strip().splitlines()[-1:] or ["no message"]
            raise RuntimeError(f"exit code {self.process.returncode}: {last[0]}")
        return pickle.loads(out)


class LocalWorker:
    """Fits the baselines in a thread of this process: `worker()`'s choice where scikit-learn
    is already imported (a notebook, a test session), so the import costs nothing here."""

    def submit(self, preprocessing, tables: dict, seed: int) -> Future:
        from concurrent.futures import ThreadPoolExecutor

        jobs = _jobs(preprocessing, tables, seed)
        pool = ThreadPoolExecutor(1, thread_name_prefix="baselines")
        future = pool.submit(fit_predict, jobs)
        pool.shutdown(wait=False)
        return future

    def cancel(self) -> None:
        """Nothing started yet."""


def worker() -> Worker | LocalWorker:
    """Where this run's baselines are fitted: a process of their own (`Worker`), which hides
    importing scikit-learn, unless this process has imported it already (`LocalWorker`)."""
    import sys

    return LocalWorker() if "sklearn.linear_model" in sys.modules else Worker()


def serve_jobs() -> None:
    """The baselines' process: imports scikit-learn first, then `fit_predict` of the jobs
    pickled on stdin, pickled to stdout; nothing on stdin (the run stopped): nothing to do."""
    import pickle
    import sys

    import sklearn.ensemble  # noqa: F401  (imported while the parent still reads the data)
    import sklearn.feature_extraction.text  # noqa: F401
    import sklearn.linear_model  # noqa: F401

    raw = sys.stdin.buffer.read()
    if raw:
        sys.stdout.buffer.write(pickle.dumps(fit_predict(pickle.loads(raw))))


def collect(preprocessing, predicted: dict) -> dict[str, dict[str, dict]]:
    """`fit_predict`'s arrays as the model's output tensors (`Task.baseline_outputs`)."""
    from modelyard.tasks import task_of

    features = {f.name: f for f in preprocessing.outputs}
    return {
        name: {
            split: {
                output: task_of(features[output]).baseline_outputs(features[output], values)
                for output, values in by_output.items()
            }
            for split, by_output in by_split.items()
        }
        for name, by_split in predicted.items()
    }


def _jobs(preprocessing, tables: dict, seed: int) -> list[dict]:
    """What fitting each baseline needs, as plain numpy / scipy arrays and strings: per
    baseline its estimator (`_ESTIMATORS` name and arguments), the training matrix and, per
    output, the kept training rows, their targets and the kind of estimator."""
    from modelyard.tasks import task_of
    from modelyard.train.progress import log

    train = tables["train"]
    rows = _sample(len(train), seed)
    if len(rows) < len(train):
        log(
            f"baselines: fitted on {len(rows)} of {len(train)} training rows (sampled, trainer.seed)"
        )
    splits = {s: tables[s] for s in ("validation", "test") if tables.get(s) is not None}
    outputs = []
    for feature in preprocessing.outputs:
        task, target = task_of(feature), train.tensors[feature.name][rows]
        kept = task.seen(feature, target)
        kept = np.ones(len(target), bool) if kept is None else kept.numpy()
        width = 0 if task.baseline == "regressor" else len(task.classes(feature))
        outputs.append(
            {
                "name": feature.name,
                "kind": task.baseline,
                "rows": np.flatnonzero(kept),
                "target": target[kept].numpy(),
                "width": width,
            }
        )
    jobs = []
    for name, features, estimator in _candidates(preprocessing, seed):
        jobs.append(
            {
                "name": name,
                "estimator": estimator,
                "train": _take(features(train), rows),
                "splits": {s: features(t) for s, t in splits.items()},
                "outputs": outputs,
            }
        )
    return jobs


def fit_predict(jobs: list[dict]) -> dict[str, dict[str, dict[str, np.ndarray]]]:
    """{baseline: {split: {output: predictions}}}: class probabilities (N, classes) or values
    (N,). Runs in `start`'s process, on one thread (training has the others)."""
    from threadpoolctl import threadpool_limits

    found: dict[str, dict[str, dict[str, np.ndarray]]] = {}
    with threadpool_limits(1):
        for job in jobs:
            by_split: dict[str, dict[str, np.ndarray]] = {s: {} for s in job["splits"]}
            for output in job["outputs"]:
                predict = _fit_one(job, output)
                for split, x in job["splits"].items():
                    by_split[split][output["name"]] = predict(x)
            found[job["name"]] = by_split
    return found


def score_baselines(preprocessing, predictions: dict, tables: dict, losses) -> dict[str, dict]:
    """{baseline: {split: metrics}} of `collect`'s predictions, scored as the model is."""
    from modelyard.evaluate import score

    return {
        name: {
            split: score(preprocessing, outputs, tables[split], losses, details=False)[0]
            for split, outputs in by_split.items()
        }
        for name, by_split in predictions.items()
    }


def _candidates(preprocessing, seed: int) -> list[tuple[str, Callable, tuple]]:
    """(name, table -> feature matrix, (estimator maker, its arguments)) of each baseline
    that applies."""
    from modelyard.tasks import task_of

    kinds = {task_of(f).baseline for f in preprocessing.outputs}
    linear = {"classifier": "logistic_regression", "regressor": "ridge"}.get(
        kinds.pop() if len(kinds) == 1 else "", "linear"
    )
    table = [f for f in preprocessing.inputs if f.type in _TABLE_TYPES]
    texts = [f for f in preprocessing.inputs if f.type == _TEXT]
    found = []
    if table:
        found.append((linear, lambda t: _one_hot(table, t), ("linear", ())))
        boosting = ("boosting", (categorical_mask(table), seed))
        found.append(("gradient_boosting", lambda t: _codes(table, t), boosting))
    if texts:
        found.append((f"tfidf_{linear}", lambda t: _texts(texts, t), ("tfidf", ())))
    return found


def _fit_one(job: dict, output: dict) -> Callable:
    """Fit one output's estimator on the training rows with a label (of a class seen in
    training); returns features -> its predictions for them."""
    maker, arguments = job["estimator"]
    x, y = _take(job["train"], output["rows"]), output["target"]
    if output["kind"] == "regressor":
        estimator = _fit(_ESTIMATORS[maker]("regressor", *arguments), x, y)
        return estimator.predict
    y, width = y.astype(np.int64), output["width"]
    classes = np.unique(y)
    if len(classes) < 2:  # one class in the training rows: always that class
        return lambda rows: _full(rows.shape[0], width, classes)
    estimator = _fit(_ESTIMATORS[maker]("classifier", *arguments), x, y)

    def predict(rows):
        probs = np.zeros((rows.shape[0], width))
        probs[:, estimator.classes_] = estimator.predict_proba(rows)
        return probs

    return predict


def _fit(estimator, x, y):
    """`estimator` fitted; a linear model stopping at max_iter is fine for a baseline."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(x, y)


def _full(rows: int, width: int, classes: np.ndarray) -> np.ndarray:
    probs = np.zeros((rows, width))
    probs[:, classes[0]] = 1.0
    return probs


def _sample(rows: int, seed: int) -> np.ndarray:
    """Indices of the training rows to fit on: all, or MAX_ROWS drawn with `seed`, in order."""
    if rows <= MAX_ROWS:
        return np.arange(rows)
    return np.sort(np.random.default_rng(seed).choice(rows, MAX_ROWS, replace=False))


def _take(x, rows: np.ndarray):
    """Rows of a feature matrix: a numpy array or a scipy sparse matrix."""
    return x[rows]


# ------------------------------------------------------------ features


def _one_hot(features: list, table):
    """(N, D) sparse: numbers and binaries as the model gets them, categories one-hot."""
    from scipy import sparse

    columns = []
    for f in features:
        values = table.tensors[f.name].numpy()
        if f.type == "category":
            width = len(f.vocab)
            columns.append(
                sparse.csr_matrix(
                    (np.ones(len(values)), (np.arange(len(values)), values)),
                    shape=(len(values), width),
                )
            )
        else:
            columns.append(sparse.csr_matrix(values.astype(np.float64).reshape(-1, 1)))
    return sparse.hstack(columns, format="csr")


def _codes(features: list, table) -> np.ndarray:
    """(N, D) float: one column per input, categories as their vocabulary index."""
    return np.stack([table.tensors[f.name].numpy().astype(np.float64) for f in features], axis=1)


def _texts(features: list, table) -> np.ndarray:
    """(N,) the raw texts of the text inputs, joined by a space (missing: empty)."""
    frame = table.frame
    parts = [frame[f.column or f.name].fillna("").astype(str) for f in features]
    joined = parts[0]
    for part in parts[1:]:
        joined = joined + " " + part
    return joined.to_numpy(dtype=object)


# ------------------------------------------------------------ estimators


def _linear(kind: str):
    from sklearn.linear_model import LogisticRegression, Ridge

    return LogisticRegression(max_iter=1000) if kind == "classifier" else Ridge(alpha=1.0)


def categorical_mask(features: list, limit: int = _HGB_CATEGORIES) -> list[bool]:
    """Which inputs HistGradientBoosting takes as categorical: categories of at most `limit`
    values (its max_bins); larger vocabularies go in as ordinal codes."""
    return [f.type == "category" and len(f.vocab) <= limit for f in features]


def _boosting(kind: str, categorical: list[bool], seed: int):
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    cls = HistGradientBoostingClassifier if kind == "classifier" else HistGradientBoostingRegressor
    return cls(categorical_features=np.array(categorical), random_state=seed)


def _tfidf(kind: str):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_pipeline, make_union

    words = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
    chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True)
    return make_pipeline(make_union(words, chars), _linear(kind))


_ESTIMATORS = {"linear": _linear, "boosting": _boosting, "tfidf": _tfidf}


# ------------------------------------------------------------ reporting


def main_metric(config) -> str:
    """The metric baselines are compared on: the first output's main one (accuracy, rmse),
    `output.metric` when there are several outputs."""
    from modelyard.tasks import task_of

    first = config.outputs[0]
    name = task_of(first).main_metric
    return f"{first.name}.{name}" if len(config.outputs) > 1 else name


def log_lines(config, metrics: dict) -> list[str]:
    """One line per baseline, then the sentence of `verdict` when there is one."""
    metric = main_metric(config)
    lines = []
    for name, found in metrics.get("baselines", {}).items():
        scores = [f"{s} {_number(v[metric])}" for s, v in found.items() if metric in v]
        if scores:
            scores[0] = scores[0].replace(" ", f" {metric} ", 1)
        lines.append(f"baseline {name}: {', '.join(scores) or 'no validation or test rows'}")
    sentence = verdict(config, metrics)
    return lines + ([sentence] if sentence else [])


def verdict(config, metrics: dict) -> str | None:
    """A plain sentence when a baseline beats the model on the validation split's main
    metric (the best such baseline), else None."""
    from modelyard.metrics import metric_mode

    metric = main_metric(config)
    model = metrics.get("validation", {}).get(metric)
    if model is None:
        return None
    sign = 1 if metric_mode(metric) == "max" else -1
    scores = {
        n: f["validation"][metric]
        for n, f in metrics.get("baselines", {}).items()
        if metric in f.get("validation", {})
    }
    better = {n: v for n, v in scores.items() if sign * (v - model) > 0}
    if not better:
        return None
    best = max(better, key=lambda n: sign * better[n])
    return (
        f"The baseline {best} beats the model on validation {metric}: "
        f"{_number(better[best])} vs {_number(model)}."
    )


def comparison(config, metrics: dict) -> dict[str, Any] | None:
    """For the report: the main metric, rows (name, validation, test) model first, and the
    verdict; None without baselines."""
    if not metrics.get("baselines"):
        return None
    metric = main_metric(config)
    rows = [("model", *(_number(metrics.get(s, {}).get(metric)) for s in ("validation", "test")))]
    for name, found in metrics["baselines"].items():
        rows.append(
            (name, *(_number(found.get(s, {}).get(metric)) for s in ("validation", "test")))
        )
    return {"metric": metric, "rows": rows, "sentence": verdict(config, metrics)}


def _number(value) -> str:
    return "-" if value is None else f"{value:.4f}"

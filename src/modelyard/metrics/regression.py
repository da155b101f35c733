"""Regression metrics."""

from __future__ import annotations

import numpy as np

from modelyard.metrics.classification import _downsample_indices

_MAX_SCATTER_POINTS = 2000


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """MSE, RMSE, MAE and R² (R² left out when there are fewer than 2 examples), in plain numpy
    (equal to scikit-learn's, see tests/unit/metrics).

    y_true, y_pred: (N,) or (N, D); with D > 1 each metric is averaged over the D targets.
    R² of a constant target is 1 for exact predictions, else 0 (scikit-learn's force_finite).
    """
    y_true, y_pred = _check(y_true, y_pred)
    error = y_true - y_pred
    mse = float(np.mean(error**2))
    result = {"mse": mse, "rmse": float(np.sqrt(mse)), "mae": float(np.mean(np.abs(error)))}
    if len(y_true) >= 2:
        residual = (error**2).sum(axis=0)
        spread = ((y_true - y_true.mean(axis=0)) ** 2).sum(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            r2 = np.where(spread > 0, 1 - residual / spread, np.where(residual > 0, 0.0, 1.0))
        result["r2"] = float(np.mean(r2))
    return result


def regression_details(y_true: np.ndarray, y_pred: np.ndarray) -> dict:
    """True and predicted values (flattened; at most 2000, evenly spaced) for a scatter plot."""
    y_true, y_pred = _check(y_true, y_pred)
    y_true, y_pred = y_true.ravel(), y_pred.ravel()
    keep = _downsample_indices(len(y_true), _MAX_SCATTER_POINTS)
    return {"true": y_true[keep].tolist(), "predicted": y_pred[keep].tolist()}


def _check(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"y_true and y_pred must have the same shape, got {y_true.shape} and {y_pred.shape}"
        )
    if len(y_true) == 0:
        raise ValueError("cannot compute metrics on zero examples")
    return y_true, y_pred

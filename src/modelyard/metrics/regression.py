"""Regression metrics."""

from __future__ import annotations

import numpy as np

from modelyard.metrics.classification import _downsample_indices

_MAX_SCATTER_POINTS = 2000


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """MSE, RMSE, MAE and R² (R² left out when there are fewer than 2 examples).

    y_true, y_pred: (N,) or (N, D); with D > 1 each metric is averaged over the D targets.
    """
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    y_true, y_pred = _check(y_true, y_pred)
    mse = float(mean_squared_error(y_true, y_pred))
    result = {
        "mse": mse,
        "rmse": float(np.sqrt(mse)),
        "mae": float(mean_absolute_error(y_true, y_pred)),
    }
    if len(y_true) >= 2:
        result["r2"] = float(r2_score(y_true, y_pred))
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

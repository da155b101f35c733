"""The `gbdt:` section: gradient-boosted trees instead of a network (`model_type: gbdt`)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, NonNegativeFloat, PositiveInt

from modelyard.config.schema.common import PositiveFloat, Strict


class Gbdt(Strict):
    """scikit-learn's HistGradientBoostingClassifier / Regressor, one per output, on the same
    preprocessed inputs a network gets (numbers standardised and filled, binaries 0/1,
    categories as categorical features). Use when: a table of numbers and categories, where
    boosted trees are usually as good as a network or better, in seconds and with no tuning
    of epochs or learning-rate schedules. Alternative: the default `model_type: neural`, for
    text, image or audio inputs and for outputs that are not a value per row. Cost: seconds
    for 100k rows on a few cores (CPU only).

    `early_stopping`: stop when the validation loss has not improved for this many boosting
    iterations (null: run all `max_iter`); it needs validation rows, and without them all
    `max_iter` iterations run (with a note in the log). The others are scikit-learn's
    parameters of the same name.
    """

    learning_rate: PositiveFloat = 0.1
    max_iter: PositiveInt = 100
    max_leaf_nodes: Annotated[int, Field(ge=2)] | None = 31
    max_depth: PositiveInt | None = None
    min_samples_leaf: PositiveInt = 20
    l2_regularization: NonNegativeFloat = 0.0
    max_features: Annotated[float, Field(gt=0, le=1)] = 1.0
    max_bins: Annotated[int, Field(ge=2, le=255)] = 255
    early_stopping: PositiveInt | None = 10
    tol: NonNegativeFloat = 1e-7

"""The `evaluation` section of a supervised config: fairness across groups of rows."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, PositiveInt

from modelyard.config.schema.common import Strict


class Mitigation(Strict):
    """Post-processing by fairlearn's `ThresholdOptimizer`: a decision threshold (randomised
    between two where needed) per group of the sensitive columns, fitted on the validation
    rows (never test), saved as JSON with the model and applied by `predict` and `serve`.

    Use when a trained binary classifier's decisions must meet a parity constraint across
    groups; it costs some accuracy and needs the sensitive columns at prediction time."""

    method: Literal["threshold_optimizer"] = "threshold_optimizer"
    constraint: Literal["demographic_parity", "equalized_odds"] = Field(
        "demographic_parity",
        description="demographic_parity: equal selection rates; equalized_odds: equal true "
        "and false positive rates",
    )
    objective: Literal["accuracy_score", "balanced_accuracy_score"] = Field(
        "accuracy_score", description="what the thresholds maximise under the constraint"
    )
    grid_size: PositiveInt = Field(1000, description="thresholds tried per group")
    seed: int = Field(
        0, description="random_state of the randomised decisions (fairlearn's predict)"
    )
    min_group_rows: PositiveInt = Field(
        20, description="fewest validation rows a group needs for its thresholds"
    )


class Evaluation(Strict):
    """Per-group metrics of classification outputs (fairlearn's MetricFrame) over the groups
    of each sensitive column, which is read from the data whether or not it is an input."""

    sensitive: Annotated[list[str], Field(min_length=1)] = Field(
        ..., description="columns of the data whose groups are compared (e.g. [sex])"
    )
    mitigation: Mitigation | None = None

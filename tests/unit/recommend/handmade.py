"""A recommendation model whose vectors are set by hand, for tests of what uses a run."""

from __future__ import annotations

import numpy as np
import torch

from modelyard import Model
from modelyard.recommend.networks import MatrixFactorization


def handmade_recommender(objective="ratings", scale=(1, 5)):
    """Users a, b; items x, y, z, w with vectors x=(1,0), y=(2,0.1), z=(0,1), w=(-1,0).
    a=(2,0), b=(0,1); no biases. Known pairs: (a, x), (b, x), (b, y)."""
    data = {"rating": "r", "rating_scale": list(scale)} if objective == "ratings" else {}
    model = Model.from_config(
        {
            "task": "recommendation",
            "data": data,
            "model": {"objective": objective, "dim": 2, "biases": False},
        }
    )
    network = MatrixFactorization(2, 4, 2, biases=False)
    with torch.no_grad():
        network.user.weight.copy_(torch.tensor([[2.0, 0.0], [0.0, 1.0]]))
        network.item.weight.copy_(torch.tensor([[1.0, 0.0], [2.0, 0.1], [0.0, 1.0], [-1.0, 0.0]]))
    model.module = network.eval()
    model.user_ids, model.item_ids = np.array(["a", "b"]), np.array(["x", "y", "z", "w"])
    model.seen = (np.array([0, 1, 1]), np.array([0, 0, 1]))
    return model

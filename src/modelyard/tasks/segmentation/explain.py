"""`modelyard explain` of a mask output: a heatmap per image and predicted class.

For each explained image and each class it predicts somewhere (background left out; or the
one `--target` class), integrated gradients (captum) attribute that class's region score,
the sum of its logits over the pixels predicted as that class (the region is fixed from the
image's own prediction), to the normalised pixels, from the training mean image as baseline.
Red pixels push the region towards the class, blue ones away.
"""

from __future__ import annotations

import torch

from modelyard.errors import UserError

DEFAULT_ROWS = 3
STEPS = 32


def class_heatmaps(model, feature, frame, method: str, rows: int | None, target: str | None):
    """The explanation dict of `modelyard.explain.explain`: one entry per (image, class)."""
    if method != "integrated_gradients":
        raise UserError(
            f"--method {method}: a mask output is explained per pixel by integrated_gradients "
            "(a heatmap per predicted class); use --method integrated_gradients"
        )
    wanted = _target_class(feature, target)
    module = model.module
    table = model.preprocessing.prepare(frame.head(rows or DEFAULT_ROWS), "explain", labels=False)
    model._log_notes()
    name = module.input_names[0]
    images = module.pack(table.tensors)[name]
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            predicted = module({name: images})[feature.name].argmax(dim=1)  # (N, H, W)
        found = []
        for i in range(len(images)):
            classes = [wanted] if wanted is not None else predicted[i].unique().tolist()
            for k in (k for k in classes if k != 0):
                found.append(
                    _heatmap_row(model, feature, table, i, images[i : i + 1], predicted[i] == k, k)
                )
    finally:
        module.train(was_training)
    return {
        "method": method,
        "output": feature.name,
        "target": target or "predicted",
        "rows": found,
        "global": {},
    }


def _target_class(feature, target: str | None) -> int | None:
    if target is None:
        return None
    if target not in feature.classes[1:]:
        raise UserError(
            f"--target '{target}': the classes of '{feature.name}' are {feature.classes[1:]}"
        )
    return feature.classes.index(target)


def _heatmap_row(model, feature, table, i: int, x: torch.Tensor, region: torch.Tensor, k: int):
    """One image (1, C, H, W) and one class k with its (H, W) bool region -> a row entry."""
    from captum.attr import LayerIntegratedGradients

    from modelyard.explain.inputs import Heatmap

    module, name = model.module, model.module.input_names[0]
    image = next(f for f in model.preprocessing.inputs if f.name == name)

    def region_score(pixels: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) -> (B,)
        logits = module({name: pixels})[feature.name][:, k]  # (B, H, W)
        return (logits * region).sum(dim=(1, 2))

    baseline = image.explain_baseline(x)
    explainer = LayerIntegratedGradients(region_score, image.attribution_layer(module.encoders[0]))
    attribution = explainer.attribute(x, baselines=baseline, n_steps=STEPS)  # (1, C, H, W)
    with torch.no_grad():
        value, base = float(region_score(x)), float(region_score(baseline))
    index = table.frame.index[i]
    number = int(index) + 1 if isinstance(index, int) else index
    return {
        "row": f"{number}-class{k}",
        "prediction": f"{int(region.sum())} pixels of {feature.classes[k]}",
        "target": feature.classes[k],
        "value": value,
        "baseline_value": base,
        "attributions": {
            name: Heatmap(attribution[0].sum(0).detach().numpy(), x[0].to(torch.uint8).numpy())
        },
    }

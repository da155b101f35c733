"""The model every config becomes: encoders per input -> combiner -> head per output."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

STACKED = "__numbers__"


class YardModel(nn.Module):
    """batch {input name: (B, ...)} -> {output name: (B,) or (B, classes)}.

    Inputs that pass through unchanged (numbers, binaries) are stacked once per table by
    `pack` into one (N, K) tensor under `STACKED`, so a table with many numeric columns
    costs one index and no concatenation per step. Modules take plain arguments;
    `build.build_model` is the one place a config becomes this.
    """

    def __init__(
        self,
        input_names: list[str],
        encoders: list[nn.Module],
        combiner: nn.Module,
        output_names: list[str],
        heads: list[nn.Module],
        stacked: list[str] = (),
    ):
        super().__init__()
        self.stacked = list(stacked)
        self.input_names = input_names
        self.output_names = output_names
        self.encoders = nn.ModuleList(encoders)
        self.combiner = combiner
        self.heads = nn.ModuleList(heads)

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        encoded = [
            encoder(batch[name])
            for name, encoder in zip(self.input_names, self.encoders, strict=True)
        ]
        hidden = self.combiner(encoded)  # (B, H)
        return {
            name: head(hidden) for name, head in zip(self.output_names, self.heads, strict=True)
        }

    def pack(self, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Table tensors {name: (N, ...)} -> model inputs: passthrough columns stacked to (N, K)."""
        packed = {name: tensors[name] for name in self.input_names if name != STACKED}
        if self.stacked:
            columns = [tensors[name].float() for name in self.stacked]
            if all(c.device.type == "cpu" and not c.requires_grad for c in columns):
                # numpy's stack: a tenth of the time of torch.stack(dim=1) here (strided writes)
                stacked = torch.from_numpy(np.stack([c.numpy() for c in columns], axis=1))
            else:
                stacked = torch.stack(columns, dim=1)
            packed[STACKED] = stacked
        return packed

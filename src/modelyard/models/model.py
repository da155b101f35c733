"""The model every config becomes: encoders per input -> combiner -> head per output."""

from __future__ import annotations

import torch
from torch import nn


class YardModel(nn.Module):
    """batch {input name: (B, ...)} -> {output name: (B,) or (B, classes)}.

    Modules take plain arguments; `build.build_model` is the one place a config becomes this.
    """

    def __init__(self, input_names: list[str], encoders: list[nn.Module], combiner: nn.Module, output_names: list[str], heads: list[nn.Module]):
        super().__init__()
        self.input_names = input_names
        self.output_names = output_names
        self.encoders = nn.ModuleList(encoders)
        self.combiner = combiner
        self.heads = nn.ModuleList(heads)

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        encoded = [encoder(batch[name]) for name, encoder in zip(self.input_names, self.encoders, strict=True)]
        hidden = self.combiner(encoded)  # (B, H)
        return {name: head(hidden) for name, head in zip(self.output_names, self.heads, strict=True)}

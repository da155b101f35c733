"""The extractive summariser: a text encoder pooled over each sentence, then a scorer that
sees each sentence beside its document (the mean of its sentences), its position and, with
`layers` > 0, the other sentences (a Transformer across sentences, as in BertSumExt)."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

MASKED = -1e4  # the score of a position past a document's last sentence


def present_sentences(x: torch.Tensor) -> torch.Tensor:
    """(B, S, L) ids (0 = padding) or (B, S, 2, L) ids and mask -> (B, S) bool: real sentences."""
    return x[:, :, 1].sum(dim=-1) > 0 if x.dim() == 4 else (x != 0).any(dim=-1)


def token_counts(x: torch.Tensor) -> torch.Tensor:
    """(B, S, L) ids (0 = padding) or (B, S, 2, L) ids and mask -> (B, S) float tokens."""
    return (x[:, :, 1].sum(dim=-1) if x.dim() == 4 else (x != 0).sum(dim=-1)).float()


def centrality(vectors: torch.Tensor, present: torch.Tensor, damping: float = 0.85):
    """(B, S, H) sentence vectors, (B, S) bool -> (B, S) log(S x PageRank) of each sentence in
    the graph of its document's sentences weighted by max(cosine, 0) (LexRank; select.pagerank
    on each document, here batched, with a fixed 50 power steps): 0 = average centrality."""
    unit = F.normalize(vectors.float(), dim=-1, eps=1e-8)
    both = present[:, :, None] & present[:, None, :]
    alone = torch.eye(present.shape[1], dtype=torch.bool, device=present.device)
    weights = (unit @ unit.transpose(1, 2)).clamp(min=0).masked_fill(~both | alone, 0)
    real = present.float()
    count = real.sum(1, keepdim=True).clamp(min=1)  # (B, 1)
    out = weights.sum(-1, keepdim=True)  # (B, S, 1)
    even = (real / count)[:, None, :].expand_as(weights)  # a sentence without edges spreads evenly
    transition = torch.where(out > 0, weights / out.clamp(min=1e-12), even)
    rank = real / count
    for _ in range(50):
        rank = damping * torch.einsum("bi,bij->bj", rank, transition) + (1 - damping) * real / count
    return torch.log((rank * count).clamp(min=1e-6)) * real


class SentenceScorer(nn.Module):
    """(B, S, H) sentence vectors, (B, S) bool of real sentences and (B, S) token counts ->
    (B, S) scores. `centrality`, `length`: the two extra inputs of config SentenceScorer."""

    def __init__(
        self,
        size: int,
        dim: int,
        layers: int,
        heads: int,
        dropout: float,
        positions: int,
        centrality: bool = False,
        length: bool = False,
    ):
        super().__init__()
        self.use_centrality, self.use_length = centrality, length
        extra = 1 + int(centrality) + int(length)
        self.inputs = nn.Sequential(
            nn.Linear(3 * size + extra, dim), nn.GELU(), nn.Dropout(dropout)
        )
        self.positions = nn.Embedding(positions, dim)
        layer = nn.TransformerEncoderLayer(
            dim, heads, 4 * dim, dropout, batch_first=True, norm_first=True
        )
        self.context = (
            nn.TransformerEncoder(layer, layers, enable_nested_tensor=False) if layers else None
        )
        self.out = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, 1))

    def forward(
        self, vectors: torch.Tensor, present: torch.Tensor, tokens: torch.Tensor | None = None
    ) -> torch.Tensor:
        weights = present.to(vectors.dtype)[..., None]  # (B, S, 1)
        document = (vectors * weights).sum(1, keepdim=True) / weights.sum(1, keepdim=True).clamp(
            min=1
        )
        document = document.expand_as(vectors)  # (B, S, H)
        cosine = F.cosine_similarity(vectors, document, dim=-1, eps=1e-8)[..., None]
        parts = [vectors, document, vectors * document, cosine]
        if self.use_centrality:
            parts.append(centrality(vectors, present).to(vectors.dtype)[..., None])
        if self.use_length:
            counts = tokens if tokens is not None else present.float()
            parts.append(torch.log1p(counts).to(vectors.dtype)[..., None])
        h = self.inputs(torch.cat(parts, dim=-1))
        index = torch.arange(vectors.shape[1], device=vectors.device)
        h = h + self.positions(index.clamp(max=self.positions.num_embeddings - 1))  # (B, S, D)
        if self.context is not None:
            h = self.context(h, src_key_padding_mask=~present)
        return self.out(h).squeeze(-1).masked_fill(~present, MASKED)


class ExtractiveSummariser(nn.Module):
    """batch {document: (B, S, L) or (B, S, 2, L) sentence ids} -> {summary: (B, S) scores}.

    With a frozen encoder (no parameter trains: a pretrained one with `freeze: all`) each
    distinct sentence is encoded once, in eval mode, and remembered for the rest of the run
    (not saved): epochs after the first cost the scorer only.
    `input_names`/`encoders` mean what they mean in `YardModel` (backbone export finds them).
    """

    def __init__(
        self, input_name: str, encoder: nn.Module, output_name: str, scorer: SentenceScorer
    ):
        super().__init__()
        self.input_names, self.output_names = [input_name], [output_name]
        self.encoders = nn.ModuleList([encoder])
        self.scorer = scorer
        self._memo: dict[bytes, torch.Tensor] = {}

    def pack(self, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Table tensors -> model inputs: the document's sentence ids."""
        return {self.input_names[0]: tensors[self.input_names[0]]}

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        x = batch[self.input_names[0]]
        present = present_sentences(x)  # (B, S)
        encoded = self._encode(x[present])  # (M, H)
        vectors = encoded.new_zeros((*present.shape, encoded.shape[-1]))
        vectors[present] = encoded
        return {self.output_names[0]: self.scorer(vectors, present, token_counts(x))}

    def _frozen(self) -> bool:
        return not any(p.requires_grad for p in self.encoders[0].parameters())

    def _encode(self, sentences: torch.Tensor) -> torch.Tensor:
        """(M, L) or (M, 2, L) sentence ids -> (M, H) vectors."""
        encoder = self.encoders[0]
        if not self._frozen():
            return encoder(sentences)
        keys = [_key(row) for row in sentences.cpu()]
        new = list(
            {k: i for i, k in reversed(list(enumerate(keys))) if k not in self._memo}.values()
        )
        if new:
            was_training = encoder.training
            encoder.eval()
            with torch.no_grad():
                for start in range(0, len(new), 64):
                    rows = new[start : start + 64]
                    for i, vector in zip(rows, encoder(sentences[rows]).float().cpu(), strict=True):
                        self._memo[keys[i]] = vector
            encoder.train(was_training)
        return torch.stack([self._memo[k] for k in keys]).to(sentences.device)


def _key(row: torch.Tensor) -> bytes:
    """A sentence's real token ids as bytes (its padding left out)."""
    ids = row[0][row[1].bool()] if row.dim() == 2 else row[row != 0]
    return ids.numpy().tobytes()


def sentence_loss(scores: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """(B, S) scores, (B, S) labels (1, 0; -1 past a document's end) -> mean binary
    cross-entropy over the real sentences (0 for a batch without any)."""
    real = target >= 0
    total = F.binary_cross_entropy_with_logits(
        scores[real].float(), target[real].float(), reduction="sum"
    )
    return total / real.sum().clamp(min=1)

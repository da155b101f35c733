"""Sequence to sequence (translation): a text encoder's token states, then an autoregressive
Transformer decoder with cross-attention to them.

Training: teacher forcing, label-smoothed cross-entropy over the real target tokens.
Evaluation (`model.eval()`): the encoder memory is computed once per batch, then greedy
decoding or beam search with a key/value cache (one decoder step per generated token). With
the target in the batch the model also returns each row's teacher-forced loss, so validation
loss and BLEU come from one call. Per-epoch validation decodes greedily (`evaluate.per_epoch`);
final metrics, `evaluate` and `predict` use the configured beam size.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from modelyard.data.features.text_target import TOKENS

KeyValues = list[tuple[torch.Tensor, torch.Tensor]]  # per block: (B, heads, S, Dh) keys, values


def _heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    """(B, T, D) -> (B, heads, T, D / heads)."""
    b, t, d = x.shape
    return x.view(b, t, heads, d // heads).transpose(1, 2)


def _merge(x: torch.Tensor) -> torch.Tensor:
    """(B, heads, T, Dh) -> (B, T, heads * Dh)."""
    b, h, t, dh = x.shape
    return x.transpose(1, 2).reshape(b, t, h * dh)


class DecoderBlock(nn.Module):
    """Pre-norm block: causal self-attention, cross-attention to the memory, feed-forward.
    (B, T, D) -> (B, T, D)."""

    forward_methods = ("memory_kv",)  # also runs its weights (trainer.strategy fsdp gathers them)

    def __init__(self, dim: int, heads: int, ff_multiplier: int, dropout: float):
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim {dim} is not divisible by heads {heads}")
        self.heads, self.p = heads, dropout
        self.norm1, self.qkv, self.self_out = (
            nn.LayerNorm(dim),
            nn.Linear(dim, 3 * dim),
            nn.Linear(dim, dim),
        )
        self.norm2, self.q, self.kv = (
            nn.LayerNorm(dim),
            nn.Linear(dim, dim),
            nn.Linear(dim, 2 * dim),
        )
        self.cross_out = nn.Linear(dim, dim)
        self.norm3 = nn.LayerNorm(dim)
        self.ff = nn.Sequential(
            nn.Linear(dim, ff_multiplier * dim), nn.GELU(), nn.Linear(ff_multiplier * dim, dim)
        )
        self.dropout = nn.Dropout(dropout)

    def memory_kv(self, memory: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, S, D) memory -> cross-attention keys and values, each (B, heads, S, Dh)."""
        k, v = self.kv(memory).chunk(2, dim=-1)
        return _heads(k, self.heads), _heads(v, self.heads)

    def forward(
        self,
        x: torch.Tensor,
        memory_kv: tuple[torch.Tensor, torch.Tensor],
        memory_mask: torch.Tensor,
        cache: list[torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """x (B, T, D); memory_mask (B, 1, 1, S) True at real source tokens. `cache` None:
        training, each position sees itself and earlier ones. A list: decoding, x is the one
        new position (T = 1) and the cache holds (and gains) the earlier keys and values."""
        p = self.p if self.training else 0.0
        q, k, v = (_heads(t, self.heads) for t in self.qkv(self.norm1(x)).chunk(3, dim=-1))
        if cache is None:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=p)
        else:
            if cache:
                k, v = torch.cat([cache[0], k], dim=2), torch.cat([cache[1], v], dim=2)
            cache[:] = [k, v]
            y = F.scaled_dot_product_attention(q, k, v)  # the new position sees all earlier ones
        x = x + self.dropout(self.self_out(_merge(y)))
        q = _heads(self.q(self.norm2(x)), self.heads)
        y = F.scaled_dot_product_attention(q, *memory_kv, attn_mask=memory_mask, dropout_p=p)
        x = x + self.dropout(self.cross_out(_merge(y)))
        return x + self.dropout(self.ff(self.norm3(x)))


class TransformerDecoder(nn.Module):
    """(B, T) target ids + memory -> (B, T, vocab) next-token logits."""

    def __init__(
        self,
        vocab_size: int,
        max_positions: int,
        dim: int,
        layers: int,
        heads: int,
        ff_multiplier: int,
        dropout: float,
        tie_embeddings: bool,
    ):
        super().__init__()
        self.tokens = nn.Embedding(vocab_size, dim, padding_idx=0)
        self.positions = nn.Embedding(max_positions, dim)
        for embedding in (self.tokens, self.positions):
            nn.init.normal_(embedding.weight, std=0.02)  # GPT-2's scale, so tied logits start small
        self.blocks = nn.ModuleList(
            DecoderBlock(dim, heads, ff_multiplier, dropout) for _ in range(layers)
        )
        self.norm = nn.LayerNorm(dim)
        self.dropout = nn.Dropout(dropout)
        # tied: logits from the token embeddings themselves (no shared Parameter, which
        # safetensors refuses to save)
        self.output = None if tie_embeddings else nn.Linear(dim, vocab_size, bias=False)

    def memory_kv(self, memory: torch.Tensor) -> KeyValues:
        """(B, S, D) memory -> each block's cross-attention keys and values (computed once)."""
        return [block.memory_kv(memory) for block in self.blocks]

    def forward(
        self,
        tokens: torch.Tensor,
        memory_kv: KeyValues,
        memory_mask: torch.Tensor,
        start: int = 0,
        caches: list[list[torch.Tensor]] | None = None,
    ) -> torch.Tensor:
        """tokens (B, T) at positions start..start+T-1; memory_mask (B, 1, 1, S).
        With `caches` (one list per block), T = 1 and earlier positions come from the caches."""
        positions = torch.arange(start, start + tokens.shape[1], device=tokens.device)
        x = self.dropout(self.tokens(tokens) + self.positions(positions))  # (B, T, D)
        for i, block in enumerate(self.blocks):
            x = block(x, memory_kv[i], memory_mask, None if caches is None else caches[i])
        x = self.norm(x)
        return self.output(x) if self.output is not None else x @ self.tokens.weight.T  # (B, T, V)


def token_losses(
    logits: torch.Tensor, target: torch.Tensor, label_smoothing: float
) -> torch.Tensor:
    """logits (B, L-1, V) for target (B, L) = [BOS] ... [EOS] 0...: (B, L-1) losses, 0 at padding."""
    next_ids = target[:, 1:]
    losses = F.cross_entropy(
        logits.reshape(-1, logits.shape[-1]).float(),
        next_ids.reshape(-1),
        ignore_index=0,
        label_smoothing=label_smoothing,
        reduction="none",
    )
    return losses.view(next_ids.shape)


class SequenceLoss:
    """The loss of a text output, mean over real target tokens.

    Training: (B, L-1, V) teacher-forced logits against (B, L) target ids. Evaluation: the
    model returns each row's (summed loss, token count) as (B, 2), since the logits of a whole
    split need not fit in memory; the loss is their ratio, the same token mean.
    """

    def __init__(self, label_smoothing: float):
        self.label_smoothing = label_smoothing

    def __call__(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if prediction.dim() == 3:
            target = target[:, : prediction.shape[1] + 1]  # the model trims padding columns
            tokens = (target[:, 1:] != 0).sum().clamp(min=1)
            return token_losses(prediction, target, self.label_smoothing).sum() / tokens
        return prediction[:, 0].sum() / prediction[:, 1].sum().clamp(min=1)


class Seq2Seq(nn.Module):
    """batch {input: (B, ...) text, [output: (B, L) target ids]} ->
    training: {output: (B, L-1, V) logits}; evaluation: {output + '.tokens': (B, max_length)
    generated ids, 0 after [EOS]} and, with the target given, {output: (B, 2) summed loss and
    token count per row}.
    """

    def __init__(
        self,
        input_name: str,
        encoder: nn.Module,
        memory_size: int,
        output_name: str,
        decoder: TransformerDecoder,
        bos_id: int,
        eos_id: int,
        label_smoothing: float,
        max_length: int,
        beam_size: int,
        length_penalty: float,
    ):
        super().__init__()
        self.input_names, self.output_names = [input_name], [output_name]
        self.encoders = nn.ModuleList([encoder])  # as in YardModel, so backbone export finds it
        dim = decoder.tokens.embedding_dim
        self.bridge = nn.Linear(memory_size, dim) if memory_size != dim else nn.Identity()
        self.decoder = decoder
        self.bos_id, self.eos_id = bos_id, eos_id
        self.label_smoothing = label_smoothing
        self.max_length, self.beam_size, self.length_penalty = max_length, beam_size, length_penalty

    def pack(self, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Table tensors -> model inputs: the text, and the target when the table has it."""
        names = self.input_names + self.output_names
        return {name: tensors[name] for name in names if name in tensors}

    def encode(self, text: torch.Tensor) -> tuple[KeyValues, torch.Tensor]:
        """(B, ...) text -> per-block cross-attention keys/values and (B, 1, 1, S) memory mask."""
        states, mask = self.encoders[0].sequence(text)  # (B, S, H), (B, S)
        return self.decoder.memory_kv(self.bridge(states)), mask[:, None, None, :]

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        name = self.output_names[0]
        memory_kv, mask = self.encode(_trim(batch[self.input_names[0]]))
        target = _trim(batch[name]) if name in batch else None
        if self.training:
            return {name: self.decoder(target[:, :-1], memory_kv, mask)}
        outputs = {name + TOKENS: self.generate(memory_kv, mask)}
        if target is not None:
            losses = token_losses(
                self.decoder(target[:, :-1], memory_kv, mask), target, self.label_smoothing
            )
            counts = (target[:, 1:] != 0).sum(dim=1)
            outputs[name] = torch.stack([losses.sum(dim=1), counts.to(losses.dtype)], dim=1)
        return outputs

    def generate(self, memory_kv: KeyValues, mask: torch.Tensor) -> torch.Tensor:
        """(B, max_length) generated ids (ending with [EOS], then 0s)."""
        if self.beam_size == 1:
            return self.greedy(memory_kv, mask)
        return self.beam_search(memory_kv, mask, self.beam_size, self.length_penalty)

    def greedy(self, memory_kv: KeyValues, mask: torch.Tensor) -> torch.Tensor:
        """The most probable next token, one step at a time: (B, max_length) ids."""
        rows = mask.shape[0]
        out = torch.zeros(rows, self.max_length, dtype=torch.long, device=mask.device)
        last = torch.full((rows, 1), self.bos_id, dtype=torch.long, device=mask.device)
        done = torch.zeros(rows, dtype=torch.bool, device=mask.device)
        caches: list[list[torch.Tensor]] = [[] for _ in self.decoder.blocks]
        for t in range(self.max_length):
            logits = self.decoder(last, memory_kv, mask, t, caches)[:, -1]  # (B, V)
            token = logits.argmax(dim=-1).masked_fill(done, 0)
            out[:, t] = token
            done |= token == self.eos_id
            if done.all():
                break
            last = token[:, None]
        return out

    def beam_search(
        self, memory_kv: KeyValues, mask: torch.Tensor, beam_size: int, length_penalty: float
    ) -> torch.Tensor:
        """Beam search as in GNMT / Hugging Face: `beam_size` running texts per row; a text
        that ends (among the best `beam_size` candidates of a step, so one beam is greedy)
        scores log P / length**length_penalty and joins the row's best finished ones;
        a row is done when its worst finished text beats its best running one (at the current
        length). Returns the best finished text per row, (B, max_length) ids."""
        rows, k, steps = mask.shape[0], beam_size, self.max_length
        device = mask.device
        memory_kv = [(a.repeat_interleave(k, 0), b.repeat_interleave(k, 0)) for a, b in memory_kv]
        mask = mask.repeat_interleave(k, 0)  # (B * K, 1, 1, S)
        scores = torch.full((rows, k), -math.inf, device=device)
        scores[:, 0] = 0.0  # K copies of [BOS]: only the first one may expand at first
        texts = torch.zeros(rows, k, 0, dtype=torch.long, device=device)
        finished = _Finished(rows, k, steps, device)
        caches: list[list[torch.Tensor]] = [[] for _ in self.decoder.blocks]
        last = torch.full((rows * k, 1), self.bos_id, dtype=torch.long, device=device)
        for t in range(steps):
            logits = self.decoder(last, memory_kv, mask, t, caches)[:, -1]  # (B * K, V)
            vocab = logits.shape[-1]
            total = scores[..., None] + F.log_softmax(logits.float(), dim=-1).view(rows, k, vocab)
            top, index = total.view(rows, -1).topk(min(2 * k, k * vocab), dim=1)  # (B, 2K)
            beam, token = index // vocab, index % vocab
            is_eos = token == self.eos_id
            ends = is_eos & (
                torch.arange(top.shape[1], device=device) < k
            )  # only the top K may end
            candidates = torch.cat([_take(texts, beam), token[..., None]], dim=2)  # (B, 2K, t+1)
            finished.add(candidates, top.masked_fill(~ends, -math.inf) / (t + 1) ** length_penalty)
            scores, pick = top.masked_fill(is_eos, -math.inf).topk(k, dim=1)  # (B, K)
            beam, token = beam.gather(1, pick), token.gather(1, pick)
            texts = torch.cat([_take(texts, beam), token[..., None]], dim=2)
            order = (beam + torch.arange(rows, device=device)[:, None] * k).view(-1)
            for cache in caches:
                cache[:] = [c[order] for c in cache]
            last = token.view(-1, 1)
            if finished.beats(scores[:, 0] / (t + 1) ** length_penalty):
                return finished.best()
        finished.add(texts, scores / steps**length_penalty)  # texts that never ended
        return finished.best()


def _trim(ids: torch.Tensor) -> torch.Tensor:
    """(B, L) ids padded with 0 at the end -> (B, L') up to the batch's longest row (tables are
    padded to their longest text; a batch needs only its own). Other layouts pass unchanged."""
    if ids.dim() != 2:
        return ids
    used = (ids != 0).any(dim=0).nonzero()
    return ids[:, : int(used[-1]) + 1] if len(used) else ids[:, :1]


def _take(texts: torch.Tensor, beam: torch.Tensor) -> torch.Tensor:
    """texts (B, K, T), beam (B, J) indices -> (B, J, T)."""
    return texts.gather(1, beam[..., None].expand(-1, -1, texts.shape[2]))


class _Finished:
    """The best `k` finished texts per row and their length-normalised scores."""

    def __init__(self, rows: int, k: int, steps: int, device: torch.device):
        self.scores = torch.full((rows, k), -math.inf, device=device)
        self.texts = torch.zeros(rows, k, steps, dtype=torch.long, device=device)

    def add(self, texts: torch.Tensor, scores: torch.Tensor) -> None:
        """texts (B, J, t) with scores (B, J); -inf scores are not texts."""
        texts = F.pad(texts, (0, self.texts.shape[2] - texts.shape[2]))
        pool_scores = torch.cat([self.scores, scores], dim=1)
        self.scores, keep = pool_scores.topk(self.scores.shape[1], dim=1)
        self.texts = _take(torch.cat([self.texts, texts], dim=1), keep)

    def beats(self, best_running: torch.Tensor) -> bool:
        """Whether every row's worst kept text scores at least its best running one (B,)."""
        return bool((self.scores[:, -1] >= best_running).all())

    def best(self) -> torch.Tensor:
        return self.texts[:, 0]

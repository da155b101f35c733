"""Knowledge-graph embedding models, one per `model.type`, all answering one kind of call.

A query is (anchor entity, relation, side): side 0 asks for the tail of (anchor, relation, ?),
side 1 for the head of (?, relation, anchor). Every model turns a query into a vector
(`query`) and compares it with candidate entities (`compare`); so tail and head prediction,
1-N scoring against every entity and scoring a few drawn candidates share one code path,
and `forward` (one call per training step, as DDP needs) is `compare(query(...))`.
Complex-valued models keep an entity's real parts in the first half of its row and the
imaginary parts in the second.
"""

from __future__ import annotations

import math

import torch
from torch import nn

# RotatE's all-entity scoring goes in chunks of this many (query, entity, dim) elements
# (float32: 4 MB): chunks that stay in cache were 9x faster than 2**24 when scoring against 54k
# entities, and 1.4-2.7x faster when training 1-N (measured on one thread).
ELEMENT_BUDGET = 2**20
HYPOT_SHIFT = 1e-9  # keeps RotatE's distance differentiable where a difference is exactly 0


class KgNetwork(nn.Module):
    """Base of the models: `entity` (E, width) and `relation` (R, width') embeddings."""

    entity: nn.Embedding
    relation: nn.Embedding

    @property
    def entities(self) -> int:
        return self.entity.num_embeddings

    def forward(
        self,
        anchor: torch.Tensor,
        relation: torch.Tensor,
        side: torch.Tensor,
        candidates: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """anchor, relation, side (B,) int64 -> scores (B, E) of every entity as the missing
        one, or (B, K) of `candidates` (B, K) entity codes. Higher is more plausible."""
        return self.compare(self.query(anchor, relation, side), candidates)

    def query(self, anchor: torch.Tensor, relation: torch.Tensor, side: torch.Tensor):
        """(B,) each -> (B, width) query vectors."""
        raise NotImplementedError

    def compare(self, query: torch.Tensor, candidates: torch.Tensor | None) -> torch.Tensor:
        raise NotImplementedError

    def factors(self, heads, relations, tails) -> list[torch.Tensor]:
        """(B,) each -> the (B, d) magnitudes the regularizers penalise (n3: sum |x|^3)."""
        return [self.entity(heads), self.relation(relations), self.entity(tails)]

    def entity_vectors(self) -> torch.Tensor:
        """(E, width): what entity_embeddings.npy holds."""
        return self.entity.weight.detach()


class _Bilinear(KgNetwork):
    """Models whose score is the dot product of the query and the entity vector."""

    def compare(self, query, candidates):
        if candidates is None:
            return query @ self.entity.weight.T  # (B, E)
        # (B, K, D) @ (B, D, 1): no (B, K, D) product tensor (and its gradient) in memory
        return torch.bmm(self.entity(candidates), query.unsqueeze(-1)).squeeze(-1)  # (B, K)


class DistMult(_Bilinear):
    """score(h, r, t) = sum_i h_i r_i t_i."""

    def __init__(self, entities: int, relations: int, dim: int):
        super().__init__()
        self.entity = nn.Embedding(entities, dim)
        self.relation = nn.Embedding(relations, dim)
        nn.init.xavier_uniform_(self.entity.weight)
        nn.init.xavier_uniform_(self.relation.weight)

    def query(self, anchor, relation, side):
        return self.entity(anchor) * self.relation(relation)  # symmetric: side changes nothing


def _complex(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    half = x.shape[-1] // 2
    return x[..., :half], x[..., half:]


class ComplEx(_Bilinear):
    """score = Re(sum_i h_i r_i conj(t_i)); tail query q = h r, head query q = t conj(r):
    both give score = Re(q) . Re(e) + Im(q) . Im(e)."""

    def __init__(self, entities: int, relations: int, dim: int):
        super().__init__()
        self.entity = nn.Embedding(entities, 2 * dim)
        self.relation = nn.Embedding(relations, 2 * dim)
        nn.init.xavier_uniform_(self.entity.weight)
        nn.init.xavier_uniform_(self.relation.weight)

    def query(self, anchor, relation, side):
        a_re, a_im = _complex(self.entity(anchor))
        r_re, r_im = _complex(self.relation(relation))
        r_im = torch.where(side[:, None].bool(), -r_im, r_im)  # head: conj(r)
        return torch.cat([a_re * r_re - a_im * r_im, a_re * r_im + a_im * r_re], -1)

    def factors(self, heads, relations, tails):
        return [_modulus(self.entity(x)) for x in (heads, tails)] + [
            _modulus(self.relation(relations))
        ]


def _modulus(x: torch.Tensor) -> torch.Tensor:
    re, im = _complex(x)
    return torch.sqrt(re**2 + im**2 + 1e-12)


def _distance(a: torch.Tensor, b: torch.Tensor, p: int = 1) -> torch.Tensor:
    """(sum_i |a_i - b_i|^p)^(1/p) over complex vectors (real parts, then imaginary), p 1 or
    2: (..., 2d) -> (...).
    hypot: one kernel each way, about twice as fast as sqrt(re^2 + im^2). Its gradient is
    0 / 0 where a_i == b_i exactly (it happened on Kinships): the imaginary part is shifted by
    HYPOT_SHIFT, far below float32's resolution of any distance that matters."""
    a_re, a_im = _complex(a)
    b_re, b_im = _complex(b)
    if p == 2:  # the L2 norm of the whole complex difference
        return torch.cat([a_re - b_re, a_im - b_im + HYPOT_SHIFT], -1).norm(dim=-1)
    return torch.hypot(a_re - b_re, a_im - b_im + HYPOT_SHIFT).sum(-1)


class TransE(KgNetwork):
    """score = -||h + r - t||_p; tail query h + r, head query t - r. `normalize`: entity
    vectors scaled to unit L2 norm wherever they are used (the constraint of Bordes et al.
    2013, which PyKEEN applies after every step)."""

    def __init__(
        self,
        entities: int,
        relations: int,
        dim: int,
        p_norm: int,
        scale: float,
        normalize: bool,
    ):
        super().__init__()
        self.p = p_norm
        self.normalize = normalize
        self.entity = nn.Embedding(entities, dim)
        self.relation = nn.Embedding(relations, dim)
        bound = scale / dim if p_norm == 1 else scale / math.sqrt(dim)
        nn.init.uniform_(self.entity.weight, -bound, bound)
        nn.init.uniform_(self.relation.weight, -bound, bound)

    def _entities(self, codes: torch.Tensor | None = None) -> torch.Tensor:
        """(..., dim) vectors of `codes`, or (E, dim) of every entity."""
        vectors = self.entity.weight if codes is None else self.entity(codes)
        return nn.functional.normalize(vectors, dim=-1) if self.normalize else vectors

    def query(self, anchor, relation, side):
        sign = 1.0 - 2.0 * side[:, None].float()
        return self._entities(anchor) + sign * self.relation(relation)

    def compare(self, query, candidates):
        if candidates is None:
            return -torch.cdist(query, self._entities(), p=self.p)
        return -(query[:, None, :] - self._entities(candidates)).norm(p=self.p, dim=-1)

    def factors(self, heads, relations, tails):
        return [self._entities(heads), self.relation(relations), self._entities(tails)]

    def entity_vectors(self) -> torch.Tensor:
        return self._entities().detach()


class RotatE(KgNetwork):
    """score = -sum_i |h_i r_i - t_i| (p_norm 1, the paper) or -sqrt(sum_i |h_i r_i - t_i|^2)
    (p_norm 2, PyKEEN's) with r_i = exp(i theta_i); tail query h r, head query t conj(r)
    (|r_i| = 1, so both give the same distance)."""

    def __init__(self, entities: int, relations: int, dim: int, scale: float, p_norm: int = 1):
        super().__init__()
        self.p = p_norm
        self.entity = nn.Embedding(entities, 2 * dim)
        self.relation = nn.Embedding(relations, dim)  # phases
        nn.init.uniform_(self.entity.weight, -scale / dim, scale / dim)
        nn.init.uniform_(self.relation.weight, -math.pi, math.pi)

    def query(self, anchor, relation, side):
        a_re, a_im = _complex(self.entity(anchor))
        phase = self.relation(relation)
        r_re, r_im = torch.cos(phase), torch.sin(phase)
        r_im = torch.where(side[:, None].bool(), -r_im, r_im)
        return torch.cat([a_re * r_re - a_im * r_im, a_re * r_im + a_im * r_re], -1)

    def compare(self, query, candidates):
        if candidates is not None:
            return -_distance(query[:, None, :], self.entity(candidates), self.p)
        table = self.entity.weight
        if self.p == 2:  # the complex L2 distance is the real one over [re, im]: a matmul
            return -torch.cdist(query, table)
        step = max(1, ELEMENT_BUDGET // max(query.shape[0] * query.shape[1], 1))
        parts = [
            -_distance(query[:, None, :], table[None, start : start + step], self.p)
            for start in range(0, len(table), step)
        ]
        return torch.cat(parts, 1)  # (B, E)

    def factors(self, heads, relations, tails):
        return [_modulus(self.entity(heads)), _modulus(self.entity(tails))]


class TuckER(_Bilinear):
    """score = W x1 h x2 r x3 t: the relation picks a (dim, dim) matrix M_r = r . W from the
    core W (relation_dim, dim, dim); tail query h M_r, head query M_r t; dropout on the
    anchor and the query while training."""

    def __init__(self, entities: int, relations: int, dim: int, relation_dim: int, dropout: float):
        super().__init__()
        self.entity = nn.Embedding(entities, dim)
        self.relation = nn.Embedding(relations, relation_dim)
        self.core = nn.Parameter(torch.empty(relation_dim, dim, dim).uniform_(-1, 1) * 0.1)
        nn.init.xavier_uniform_(self.entity.weight)
        nn.init.xavier_uniform_(self.relation.weight)
        self.dropout = nn.Dropout(dropout)

    def query(self, anchor, relation, side):
        a = self.dropout(self.entity(anchor))  # (B, d)
        m = (self.relation(relation) @ self.core.flatten(1)).view(len(anchor), *self.core.shape[1:])
        tail = (a[:, None, :] @ m)[:, 0]  # (B, d): h M_r
        head = (m @ a[:, :, None])[..., 0]  # (B, d): M_r t
        return self.dropout(torch.where(side[:, None].bool(), head, tail))


class ConvE(KgNetwork):
    """score = f(vec(f([h; r] * w)) W) . t + b_t (Dettmers et al. 2018): the head and relation
    vectors, each reshaped to a (height, dim / height) image, stacked and convolved with
    `channels` 3x3 filters, projected back to dim; batch norm and dropout between. Tail
    queries only (it needs inverse relations for heads)."""

    def __init__(
        self, entities: int, relations: int, dim: int, height: int, channels: int, dropout: float
    ):
        super().__init__()
        self.entity = nn.Embedding(entities, dim)
        self.relation = nn.Embedding(relations, dim)
        nn.init.xavier_normal_(self.entity.weight)
        nn.init.xavier_normal_(self.relation.weight)
        self.shape = (height, dim // height)
        self.convolve = nn.Sequential(
            nn.BatchNorm2d(1),
            nn.Dropout(dropout),
            nn.Conv2d(1, channels, 3),
            nn.BatchNorm2d(channels),
            nn.ReLU(),
            nn.Dropout2d(dropout),
            nn.Flatten(),
        )
        flat = channels * (2 * height - 2) * (dim // height - 2)
        self.project = nn.Sequential(
            nn.Linear(flat, dim), nn.Dropout(dropout), nn.BatchNorm1d(dim), nn.ReLU()
        )
        self.bias = nn.Parameter(torch.zeros(entities))

    def query(self, anchor, relation, side):
        image = torch.cat(
            [
                self.entity(anchor).view(-1, 1, *self.shape),
                self.relation(relation).view(-1, 1, *self.shape),
            ],
            2,
        )  # (B, 1, 2 height, dim / height)
        return self.project(self.convolve(image))  # (B, dim)

    def compare(self, query, candidates):
        if candidates is None:
            return query @ self.entity.weight.T + self.bias
        return (query[:, None, :] * self.entity(candidates)).sum(-1) + self.bias[candidates]

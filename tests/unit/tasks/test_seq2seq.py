"""The seq2seq model: shapes, causality, the key/value cache, greedy and beam search, the loss."""

from __future__ import annotations

import pytest
import torch

from modelyard.evaluate import per_epoch
from modelyard.models.encoders.transformer import TextTransformer
from modelyard.tasks.seq2seq import Seq2Seq, SequenceLoss, TransformerDecoder

VOCAB, BOS, EOS = 12, 2, 3


@pytest.fixture(autouse=True)
def _no_grad():
    with torch.no_grad():
        yield


def tiny(beam_size: int = 1, length_penalty: float = 1.0, max_length: int = 10, seed: int = 0):
    torch.manual_seed(seed)
    encoder = TextTransformer(20, 16, 24, 1, 2, 2, "mean", 0.0)
    decoder = TransformerDecoder(VOCAB, 16, 16, 2, 2, 2, 0.0, tie_embeddings=True)
    model = Seq2Seq(
        "src", encoder, 24, "tgt", decoder, BOS, EOS, 0.1, max_length, beam_size, length_penalty
    )
    return model.eval()


def trained(steps: int = 60) -> Seq2Seq:
    """A tiny model taught for a moment to copy short texts: it ends its texts (a fresh model
    predicts near-uniformly and rarely says [EOS]), yet is unsure about lengths."""
    model = tiny(max_length=12, seed=3).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    generator = torch.Generator().manual_seed(0)
    with torch.enable_grad():
        for _ in range(steps):
            text = torch.randint(4, VOCAB, (32, 8), generator=generator)
            lengths = torch.randint(1, 9, (32, 1), generator=generator)
            text = text.masked_fill(torch.arange(8) >= lengths, 0)
            tgt = torch.cat(
                [torch.full((32, 1), BOS), text, torch.zeros(32, 1, dtype=torch.long)], 1
            )
            tgt.scatter_(1, lengths + 1, EOS)
            loss = SequenceLoss(0.0)(model({"src": text, "tgt": tgt})["tgt"], tgt)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return model.eval()


def source(rows: int = 6, seed: int = 1) -> torch.Tensor:
    ids = torch.randint(3, 20, (rows, 7), generator=torch.Generator().manual_seed(seed))
    ids[0, 4:] = 0  # a shorter text
    return ids


def target(rows: int = 6) -> torch.Tensor:
    ids = torch.randint(4, VOCAB, (rows, 6), generator=torch.Generator().manual_seed(2))
    ids[:, 0], ids[:, -1] = BOS, EOS
    ids[1, 3:] = torch.tensor([EOS, 0, 0])
    return ids


def test_training_gives_next_token_logits_and_a_finite_loss():
    model = tiny().train()
    with torch.enable_grad():
        logits = model({"src": source(), "tgt": target()})["tgt"]
        loss = SequenceLoss(0.1)(logits, target())
        loss.backward()
    assert logits.shape == (6, 5, VOCAB)
    assert torch.isfinite(loss) and model.decoder.tokens.weight.grad is not None


def test_evaluation_gives_ids_and_the_same_loss_as_training():
    model = tiny()
    out = model({"src": source(), "tgt": target()})
    assert out["tgt.tokens"].shape == (6, 10) and out["tgt"].shape == (6, 2)
    assert out["tgt"][:, 1].tolist() == (target()[:, 1:] != 0).sum(1).float().tolist()
    logits = model.decoder(target()[:, :-1], *model.encode(source()))
    assert SequenceLoss(0.1)(out["tgt"], target()) == pytest.approx(
        float(SequenceLoss(0.1)(logits, target()))
    )


def test_a_future_token_cannot_change_earlier_logits():
    model = tiny()
    memory_kv, mask = model.encode(source())
    tokens = target()[:, :-1]
    changed = tokens.clone()
    changed[:, 3] = (changed[:, 3] + 1) % VOCAB
    before, after = model.decoder(tokens, memory_kv, mask), model.decoder(changed, memory_kv, mask)
    assert torch.allclose(before[:, :3], after[:, :3], atol=1e-6)
    assert not torch.allclose(before[:, 3:], after[:, 3:])


def test_source_padding_does_not_change_the_output():
    model = tiny()
    text = source()
    longer = torch.cat([text, torch.zeros(6, 5, dtype=torch.long)], dim=1)
    assert model({"src": text})["tgt.tokens"].equal(model({"src": longer})["tgt.tokens"])


def test_the_cache_gives_the_same_logits_as_a_full_pass():
    model = tiny()
    memory_kv, mask = model.encode(source())
    tokens = target()[:, :-1]
    full = model.decoder(tokens, memory_kv, mask)
    caches = [[] for _ in model.decoder.blocks]
    steps = [
        model.decoder(tokens[:, t : t + 1], memory_kv, mask, t, caches)
        for t in range(tokens.shape[1])
    ]
    assert torch.allclose(torch.cat(steps, dim=1), full, atol=1e-5)


def test_beam_search_with_one_beam_is_greedy():
    model = tiny(max_length=12)
    memory_kv, mask = model.encode(source(16))
    greedy = model.greedy(memory_kv, mask)
    assert model.beam_search(memory_kv, mask, 1, 0.0).equal(greedy)


def test_beam_search_finds_more_probable_texts_than_greedy_on_average():
    model = trained()
    memory_kv, mask = model.encode(source(16))

    def log_prob(ids: torch.Tensor) -> torch.Tensor:
        full = torch.cat([torch.full((16, 1), BOS), ids], dim=1)
        logits = model.decoder(full[:, :-1], memory_kv, mask).log_softmax(-1)
        picked = logits.gather(2, full[:, 1:, None])[..., 0]
        return (picked * (full[:, 1:] != 0)).sum(1)

    greedy, beam = model.greedy(memory_kv, mask), model.beam_search(memory_kv, mask, 4, 0.0)
    assert log_prob(beam).mean() > log_prob(greedy).mean()  # not for every row: beams get pruned
    assert (beam == EOS).any(dim=1).all()


def test_a_larger_length_penalty_gives_longer_texts():
    model = trained()
    memory_kv, mask = model.encode(source(32))

    def mean_length(alpha: float) -> float:
        ids = model.beam_search(memory_kv, mask, 4, alpha)
        return float((ids != 0).sum(1).float().mean())

    short, long = mean_length(0.0), mean_length(3.0)
    assert long > short


def test_per_epoch_validation_decodes_greedily_then_restores_the_beam():
    model = tiny(beam_size=4)
    with per_epoch(model):
        assert model.beam_size == 1
    assert model.beam_size == 4

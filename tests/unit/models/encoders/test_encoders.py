"""One shared tester for every encoder: shape, gradients, save/load, determinism, padding.

Each case is a tiny module plus a function making a batch for it; every test below runs
over all cases, so a new encoder gets the whole suite by adding one line to `CASES`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import pytest
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from modelyard.models.encoders import audio, bow, cnn, mlp, resnet, rnn, tabular, transformer
from modelyard.models.encoders.common import (
    FeatureMapEncoder,
    FeaturePyramidEncoder,
    FrameStatesEncoder,
    PooledEncoder,
    TokenEmbedder,
    TokenStatesEncoder,
)
from modelyard.models.encoders.pixels import Pixels

B, L, VOCAB, C, H, W = 4, 7, 20, 3, 8, 8
MELS, FRAMES = 8, 16


def _tokens(generator: torch.Generator) -> torch.Tensor:
    """(B, L) ids in 1..VOCAB-1 with rows of lengths L, 5, 2, 1 (0 = padding after them)."""
    ids = torch.randint(1, VOCAB, (B, L), generator=generator)
    for row, length in enumerate((L, 5, 2, 1)):
        ids[row, length:] = 0
    return ids


def _ngrams(generator: torch.Generator) -> torch.Tensor:
    """(B, 2, L) n-gram ids in 1..VOCAB-1 (distinct per row) and counts 1-3, 0-padded after
    rows of lengths L, 5, 2, 1, as BowTextFeature gives them."""
    ids = torch.stack([torch.randperm(VOCAB - 1, generator=generator)[:L] + 1 for _ in range(B)])
    counts = torch.randint(1, 4, (B, L), generator=generator)
    for row, length in enumerate((L, 5, 2, 1)):
        ids[row, length:], counts[row, length:] = 0, 0
    return torch.stack([ids, counts], dim=1)


def _images(generator: torch.Generator) -> torch.Tensor:
    return torch.randn(B, C, H, W, generator=generator)


def _spectrograms(generator: torch.Generator) -> torch.Tensor:
    """(B, 1, MELS, FRAMES) float16, as AudioFeature stores them."""
    return torch.randn(B, 1, MELS, FRAMES, generator=generator).half()


def _numbers(generator: torch.Generator) -> torch.Tensor:
    """(B, 3): three stacked numeric columns."""
    return torch.randn(B, 3, generator=generator)


def _categories(generator: torch.Generator) -> torch.Tensor:
    return torch.randint(0, 5, (B,), generator=generator)


@dataclass(frozen=True)
class Case:
    id: str
    make: Callable[[], nn.Module]
    inputs: Callable[[torch.Generator], torch.Tensor]
    text: bool = False
    audio: bool = False


def _rnn_cases() -> list[Case]:
    cases = []
    for cell in ("lstm", "gru"):
        for pooling in ("last", "mean", "max"):
            for bidirectional in (False, True):
                name = f"rnn-{cell}-{pooling}-{'bi' if bidirectional else 'uni'}"
                make = functools.partial(
                    rnn.TextRnn, VOCAB, 6, cell, 5, 2, bidirectional, pooling, 0.0
                )
                cases.append(Case(name, make, _tokens, text=True))
    return cases


def _audio_cases() -> list[Case]:
    bodies = {
        "cnn": lambda: audio.AudioCnn(MELS, FRAMES, [4, 6], 3, True, 5, 0.0),
        "resnet": lambda: audio.AudioResnet([4, 6], [1, 1], 0.0),
        "rnn-gru-mean": lambda: audio.AudioRnn(MELS, "gru", 5, 2, True, 2, "mean", 0.0),
        "rnn-lstm-last": lambda: audio.AudioRnn(MELS, "lstm", 5, 1, False, 1, "last", 0.0),
        "rnn-gru-max": lambda: audio.AudioRnn(MELS, "gru", 5, 1, True, 4, "max", 0.0),
        "transformer-mean": lambda: audio.AudioTransformer(MELS, 8, 2, 2, 2, 4, "mean", 0.0),
        "transformer-max": lambda: audio.AudioTransformer(MELS, 8, 1, 2, 2, 1, "max", 0.0),
    }
    return [
        Case(
            f"audio-{name}",
            lambda body=body: audio.Spectrogram(body()),
            _spectrograms,
            audio=True,
        )
        for name, body in bodies.items()
    ]


CASES = [
    Case("text-mlp", lambda: mlp.TextMlp(VOCAB, 6, [5, 4], 0.0), _tokens, text=True),
    Case("text-mlp-no-hidden", lambda: mlp.TextMlp(VOCAB, 6, [], 0.0), _tokens, text=True),
    Case("text-cnn", lambda: cnn.TextCnn(VOCAB, 6, 4, [2, 3, 4], 0.0), _tokens, text=True),
    *_rnn_cases(),
    *[
        Case(
            f"transformer-{p}",
            lambda p=p: transformer.TextTransformer(VOCAB, L, 8, 2, 2, 2, p, 0.0),
            _tokens,
            text=True,
        )
        for p in ("mean", "cls", "max")
    ],
    Case("text-bow", lambda: bow.TextBow(torch.rand(VOCAB) + 1, 9, 6, [], 0.0), _ngrams),
    Case("text-bow-hidden", lambda: bow.TextBow(torch.rand(VOCAB) + 1, 9, 6, [5], 0.0), _ngrams),
    Case("image-cnn", lambda: cnn.ImageCnn(C, H, W, [4, 6], 3, True, 5, 0.0), _images),
    Case("image-cnn-no-bn", lambda: cnn.ImageCnn(C, H, W, [4], 3, False, 5, 0.0), _images),
    Case("image-resnet", lambda: resnet.ImageResnet(C, [4, 6], [1, 2], 0.0), _images),
    Case("image-mlp", lambda: mlp.ImageMlp(C, H, W, [6, 5], 0.0), _images),
    *_audio_cases(),
    Case("passthrough", lambda: tabular.Passthrough(3), _numbers),
    Case("category-embed", lambda: tabular.CategoryEmbedding(5, 3), _categories),
    Case("onehot", lambda: tabular.OneHot(5), _categories),
]
TEXT_CASES = [c for c in CASES if c.text]
AUDIO_CASES = [c for c in CASES if c.audio]


def _build(case: Case, seed: int = 0) -> tuple[nn.Module, torch.Tensor]:
    torch.manual_seed(seed)
    module = case.make()
    return module, case.inputs(torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_output_shape(case: Case) -> None:
    module, x = _build(case)
    for training in (True, False):
        module.train(training)
        out = module(x)
        assert out.shape == (B, module.output_size)
        assert out.dtype == torch.float32
        assert torch.isfinite(out).all()


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_gradients_reach_every_parameter(case: Case) -> None:
    module, x = _build(case)
    if x.is_floating_point():
        x = x.float().requires_grad_(True)
    out = module(x)
    if not out.requires_grad:  # OneHot: no weights and integer input, nothing to differentiate
        assert not any(True for _ in module.parameters()) and not x.is_floating_point()
        return
    (out * torch.randn(out.shape, generator=torch.Generator().manual_seed(1))).sum().backward()
    for name, p in module.named_parameters():
        assert p.grad is not None, f"{name} got no gradient"
        assert p.grad.abs().sum() > 0, f"{name} got an all-zero gradient"
    embedding = getattr(module, "embedding", None) or getattr(module, "tokens", None)
    if isinstance(embedding, nn.Embedding):
        used = (x[:, 0] if x.ndim == 3 else x).unique()  # bow: (B, 2, L) ids and counts
        assert (
            embedding.weight.grad[used[used != embedding.padding_idx]].abs().sum(dim=1) > 0
        ).all()
        if embedding.padding_idx is not None:
            assert (
                embedding.weight.grad[embedding.padding_idx].abs().sum() == 0
            )  # padding never learns
    if x.is_floating_point():
        assert x.grad is not None and x.grad.abs().sum() > 0


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_safetensors_round_trip(case: Case, tmp_path) -> None:
    module, x = _build(case, seed=0)
    module.train()
    module(x)  # move BatchNorm running statistics away from their initial values
    path = tmp_path / "weights.safetensors"
    save_file({k: v.contiguous() for k, v in module.state_dict().items()}, str(path))
    other, _ = _build(case, seed=1)
    other.load_state_dict(load_file(str(path)))
    module.eval()
    other.eval()
    torch.testing.assert_close(other(x), module(x), rtol=0, atol=0)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_same_seed_same_model(case: Case) -> None:
    a, x = _build(case, seed=3)
    b, _ = _build(case, seed=3)
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(p, q), name
    a.eval()
    b.eval()
    assert torch.equal(a(x), b(x))
    if any(True for _ in a.parameters()):
        c, _ = _build(case, seed=4)
        assert any(
            not torch.equal(p, q) for p, q in zip(a.parameters(), c.parameters(), strict=True)
        )


@pytest.mark.parametrize("case", TEXT_CASES, ids=lambda c: c.id)
def test_padding_does_not_change_text_output(case: Case) -> None:
    module, tokens = _build(case)
    module.eval()
    extra = torch.cat([tokens, torch.zeros(B, 3, dtype=tokens.dtype)], dim=1)
    if isinstance(module, transformer.TextTransformer):
        module.positions = nn.Embedding.from_pretrained(
            torch.cat([module.positions.weight, torch.randn(3, module.positions.weight.shape[1])]),
            freeze=False,
        )  # positions for the longer input; the first rows are unchanged
    torch.testing.assert_close(module(extra), module(tokens), rtol=0, atol=1e-5)


@pytest.mark.parametrize("case", TEXT_CASES, ids=lambda c: c.id)
def test_rows_are_independent(case: Case) -> None:
    """Each row's output depends on that row only (no leakage through padding or pooling)."""
    module, tokens = _build(case)
    module.eval()
    together = module(tokens)
    alone = torch.cat([module(tokens[i : i + 1]) for i in range(B)])
    torch.testing.assert_close(alone, together, rtol=0, atol=1e-5)


SEQUENCE_CASES = [c for c in TEXT_CASES if isinstance(c.make(), TokenStatesEncoder)]


# ---------------------------------------------------------------- what encoders give (protocols)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_every_encoder_is_pooled(case: Case) -> None:
    assert isinstance(case.make(), PooledEncoder)


def test_every_text_encoder_but_mlp_keeps_token_states() -> None:
    pooled_only = [c.id for c in TEXT_CASES if not isinstance(c.make(), TokenStatesEncoder)]
    assert pooled_only == ["text-mlp", "text-mlp-no-hidden"]


@pytest.mark.parametrize("case", TEXT_CASES, ids=lambda c: c.id)
def test_token_embedding_is_the_first_step_of_forward(case: Case) -> None:
    """explain attributes at `token_embedding()`: it must map (B, L) ids to (B, L, E) and be
    the module `forward` embeds the ids with."""
    module, tokens = _build(case)
    assert isinstance(module, TokenEmbedder)
    embedding = module.token_embedding()
    seen = []
    embedding.register_forward_hook(lambda _, args, out: seen.append((args[0], out)))
    module(tokens)
    assert seen and torch.equal(seen[0][0][:, -L:], tokens)  # cls pooling puts one in front
    assert seen[0][1].shape[-1] == embedding(tokens).shape[-1] and embedding(tokens).ndim == 3


@pytest.mark.parametrize("case", AUDIO_CASES, ids=lambda c: c.id)
def test_every_audio_encoder_keeps_frame_states(case: Case) -> None:
    assert isinstance(case.make(), FrameStatesEncoder)


@pytest.mark.parametrize(
    "make, size",
    [
        (lambda: cnn.ImageCnn(C, H, W, [4, 6], 3, True, 5, 0.0), H // 4),
        (lambda: resnet.ImageResnet(C, [4, 6], [1, 2], 0.0), H // 2),
    ],
    ids=["cnn", "resnet"],
)
def test_convolutional_image_encoders_give_feature_maps(make, size) -> None:
    module = make()
    assert isinstance(module, FeatureMapEncoder)
    maps = module.feature_maps(_images(torch.Generator().manual_seed(0)))
    assert maps.shape == (B, module.map_channels, size, size)
    assert not isinstance(mlp.ImageMlp(C, H, W, [6], 0.0), FeatureMapEncoder)


@pytest.mark.parametrize(
    "make",
    [
        lambda: cnn.ImageCnn(C, H, W, [4, 6, 8], 3, True, 5, 0.0),
        lambda: resnet.ImageResnet(C, [4, 6, 8], [1, 2, 1], 0.0),
    ],
    ids=["cnn", "resnet"],
)
def test_feature_pyramid_gives_every_stage_finest_first(make) -> None:
    """Stage i: pyramid_channels[i] channels at stride 2^i; the coarsest map pools to the
    same place as `feature_maps` (cnn: one max-pool further)."""
    module = make().eval()
    assert isinstance(module, FeaturePyramidEncoder)
    images = _images(torch.Generator().manual_seed(0))
    maps = module.feature_pyramid(images)
    assert [m.shape for m in maps] == [
        (B, channels, H // 2**i, W // 2**i) for i, channels in enumerate(module.pyramid_channels)
    ]
    last = (
        maps[-1]
        if isinstance(module, resnet.ImageResnet)
        else nn.functional.max_pool2d(maps[-1], 2)
    )
    assert torch.allclose(last, module.feature_maps(images))


@pytest.mark.parametrize("case", SEQUENCE_CASES, ids=lambda c: c.id)
def test_sequence_gives_a_state_per_token_independent_of_padding(case: Case) -> None:
    """Token-level encoders (for tagging and encoder-decoder models): (B, L, H) and the mask."""
    module, tokens = _build(case)
    module.eval()
    states, mask = module.sequence(tokens)
    assert states.shape[:2] == tokens.shape and states.shape[2] >= 1
    assert torch.equal(mask, tokens != 0)
    short = module.sequence(tokens[1:2, :5])[0]  # row 1 has 5 real tokens
    torch.testing.assert_close(short[0], states[1, :5], rtol=0, atol=1e-5)


# ---------------------------------------------------------------- Pixels


def _uint8_images(seed: int = 0) -> torch.Tensor:
    return torch.randint(
        0, 256, (B, C, H, W), generator=torch.Generator().manual_seed(seed), dtype=torch.uint8
    )


def test_pixels_normalise_alike_in_training_and_eval_mode() -> None:
    """Augmentation is the batch source's (data/augment.py): the module only normalises."""
    mean, std = [0.1, 0.5, 0.9], [0.2, 0.3, 0.4]
    pixels = Pixels(mean, std)
    images = _uint8_images()
    expected = (images.float() / 255 - torch.tensor(mean).view(1, C, 1, 1)) / torch.tensor(
        std
    ).view(1, C, 1, 1)
    torch.testing.assert_close(pixels.eval()(images), expected)
    assert torch.equal(pixels.train()(images), pixels.eval()(images))
    assert (
        pixels.state_dict() == {}
    )  # fitted statistics come from preprocessing, not the weights file


# ---------------------------------------------------------------- audio frames


@pytest.mark.parametrize("case", AUDIO_CASES, ids=lambda c: c.id)
def test_audio_frames_give_a_state_per_subsampled_frame(case: Case) -> None:
    """For CTC: (B, T', frame_size), T' a fixed fraction of the frames; rows independent."""
    module, x = _build(case)
    module.eval()
    states = module.frames(x)
    assert states.shape[0] == B and states.shape[2] == module.frame_size
    assert FRAMES // 4 <= states.shape[1] <= FRAMES
    alone = torch.cat([module.frames(x[i : i + 1]) for i in range(B)])
    torch.testing.assert_close(alone, states, rtol=0, atol=1e-5)

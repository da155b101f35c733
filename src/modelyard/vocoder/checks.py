"""Cross-field rules of `task: vocoder` configs (config/checks.py runs them), and
`modelyard validate`'s reading of its clips."""

from __future__ import annotations

from pathlib import Path


def segment_fits_hop(config) -> list[str]:
    from modelyard.vocoder.model import scale_of

    hop = scale_of(config).hop
    segment = config.trainer.segment
    if segment % hop:
        return [
            f"trainer.segment: {segment} samples is not a multiple of the hop ({hop} samples "
            f"at mel.hop_ms {config.mel.hop_ms}); use {max(hop, segment // hop * hop)}"
        ]
    return []


def early_stopping_metric(config) -> list[str]:
    stopping = config.trainer.early_stopping
    known = ("loss", "mcd")
    if stopping is not None and stopping.metric not in known:
        return [
            f"trainer.early_stopping.metric: a vocoder measures {', '.join(known)} on the "
            f"validation clips, not '{stopping.metric}'"
        ]
    return []


def plain_steps(config) -> list[str]:
    t = config.trainer
    problems = []
    if t.gradient_accumulation != 1:
        problems.append(
            "trainer.gradient_accumulation: a vocoder's GAN step updates both networks every "
            "batch; remove gradient_accumulation (or raise batch_size)"
        )
    if t.strategy != "ddp":
        problems.append("trainer.strategy: a vocoder trains with ddp only; remove strategy")
    if t.l1:
        problems.append("trainer.l1: not used by a vocoder's GAN step; remove it")
    return problems


def has_a_loss(config) -> list[str]:
    losses = config.losses
    if losses.mel == 0 and losses.adversarial == 0:
        return ["losses: mel and adversarial are both 0; the generator would learn nothing"]
    return []


CHECKS = [segment_fits_hop, early_stopping_metric, plain_steps, has_a_loss]


def check_clips(config, base: Path) -> list[str]:
    """Read every clip of every table as training would; a line per table."""
    from modelyard.vocoder.data import read_clips

    d, rate = config.data, config.mel.sample_rate
    lines = []
    for name in ("train", "validation", "test"):
        table = getattr(d, name)
        if table is not None:
            clips = read_clips(base / table, d.audio, rate, where=f"data.{name}")
            minutes = float(clips.lengths.sum()) / rate / 60
            lines.append(f"{name}: {len(clips)} clips, {minutes:.1f} minutes")
    return lines

"""A self-contained HTML report of a training run: metrics, learning curves, per-output plots."""

from modelyard.report.html import write_report

__all__ = ["write_report"]

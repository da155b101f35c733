"""modelyard's log: one `modelyard` logger, a verbosity switch, a bar only on a terminal."""

from __future__ import annotations

import logging

import pytest

from modelyard.train import progress
from modelyard.train.progress import Progress, log, verbosity


@pytest.fixture(autouse=True)
def _restore_level():
    logger = logging.getLogger("modelyard")
    level = logger.level
    yield
    logger.setLevel(level)


def test_log_writes_to_stderr_through_the_modelyard_logger(capsys):
    log("epoch 1/3  train_loss 0.5")
    assert capsys.readouterr().err == "epoch 1/3  train_loss 0.5\n"


def test_quiet_keeps_warnings_only(capsys):
    verbosity("quiet")
    log("a note")
    log("a warning", logging.WARNING)
    assert capsys.readouterr().err == "a warning\n"
    verbosity("normal")
    log("a note")
    assert capsys.readouterr().err == "a note\n"


def test_the_standard_logging_call_quiets_it_too(capsys):
    logging.getLogger("modelyard").setLevel(logging.ERROR)
    log("a note")
    assert capsys.readouterr().err == ""


def test_unknown_verbosity_names_the_known_ones():
    from modelyard.errors import UserError

    with pytest.raises(UserError, match="quiet, normal, verbose"):
        verbosity("loud")


def test_verbose_shows_debug_lines(capsys):
    verbosity("verbose")
    log("detail", logging.DEBUG)
    assert capsys.readouterr().err == "detail\n" and progress.verbose()


class _Terminal:
    def __init__(self, tty: bool):
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass


@pytest.mark.parametrize(
    ("tty", "level", "live"),
    [(True, "normal", True), (False, "normal", False), (True, "quiet", False)],
)
def test_the_bar_is_drawn_only_on_a_terminal_and_not_when_quiet(monkeypatch, tty, level, live):
    monkeypatch.setattr("sys.stderr", _Terminal(tty))
    verbosity(level)
    assert Progress(enabled=True).live is live

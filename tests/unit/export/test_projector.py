"""The projector folder is what TensorBoard's own projector plugin reads back."""

from __future__ import annotations

import numpy as np
import pytest

from modelyard.export.projector import write_projector


def test_tensorboard_reads_back_the_vectors_names_and_shape(tmp_path):
    from google.protobuf import text_format
    from tensorboard.plugins.projector import projector_plugin
    from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig

    vectors = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float64)
    names = ["a", "b\tc", "line\nbreak", "d", "é"]
    written = write_projector(vectors, names, tmp_path / "proj", "entities")
    assert (written["rows"], written["width"]) == (5, 3)

    config = text_format.Parse(
        (tmp_path / "proj" / "projector_config.pbtxt").read_text(), ProjectorConfig()
    )
    (embedding,) = config.embeddings
    assert embedding.tensor_name == "entities" and list(embedding.tensor_shape) == [5, 3]
    read = projector_plugin._read_tensor_binary_file(
        str(tmp_path / "proj" / embedding.tensor_path), embedding.tensor_shape
    )
    np.testing.assert_allclose(read, vectors, rtol=1e-6)
    lines = (tmp_path / "proj" / embedding.metadata_path).read_text(encoding="utf-8").splitlines()
    assert lines == ["a", "b c", "line break", "d", "é"]  # one row per vector, always


def test_vectors_and_names_must_match():
    with pytest.raises(ValueError, match="N names"):
        write_projector(np.zeros((2, 3)), ["only one"], None, "x")

"""Embeddings as TensorBoard Embedding Projector files (`export --format projector`).

The folder holds `tensors.bytes` (the (N, D) vectors, raw little-endian float32, the binary form
TensorBoard's projector plugin reads when `tensor_shape` is given), `metadata.tsv` (one name per
line, in the same order) and `projector_config.pbtxt` tying them together. Open it with
`tensorboard --logdir FOLDER` (Projector tab). Written by hand: TensorBoard's own
`add_embedding` writes the vectors as text, ten times larger and slow to parse for big graphs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

TENSORS_FILE = "tensors.bytes"
METADATA_FILE = "metadata.tsv"
CONFIG_FILE = "projector_config.pbtxt"


def write_projector(vectors: np.ndarray, names: list[str], out: Path, tag: str) -> dict[str, Any]:
    """vectors (N, D) and N names -> the three files in the folder `out`."""
    if vectors.ndim != 2 or len(vectors) != len(names):
        raise ValueError(f"need (N, D) vectors and N names, got {vectors.shape} and {len(names)}")
    out.mkdir(parents=True, exist_ok=True)
    np.ascontiguousarray(vectors, dtype="<f4").tofile(out / TENSORS_FILE)
    lines = [_cell(name) for name in names]
    (out / METADATA_FILE).write_text("\n".join(lines) + "\n", encoding="utf-8")
    rows, width = vectors.shape
    (out / CONFIG_FILE).write_text(
        "embeddings {\n"
        f'  tensor_name: "{tag}"\n'
        f'  tensor_path: "{TENSORS_FILE}"\n'
        f'  metadata_path: "{METADATA_FILE}"\n'
        f"  tensor_shape: {rows}\n"
        f"  tensor_shape: {width}\n"
        "}\n",
        encoding="utf-8",
    )
    return {"folder": str(out), "tensor": tag, "rows": rows, "width": width}


def _cell(name: Any) -> str:
    """A name on one metadata line: tabs and line breaks would shift every later row."""
    return str(name).replace("\t", " ").replace("\r", " ").replace("\n", " ")

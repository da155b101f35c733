"""A European CSV (semicolons, Latin-1, decimal commas) through the CLI: the error names the
setting, the settings train and predict, and integer labels come back as integers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.integration.cli_helpers import modelyard, user_error

pytestmark = pytest.mark.integration


def write_table(path, rows: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    weight = rng.normal(70, 10, size=rows).round(1)
    frame = pd.DataFrame(
        {
            "ville": rng.choice(["Sète", "Nîmes", "Lyon"], size=rows),
            "poids": weight,
            "classe": (weight > 70).astype(int),
        }
    )
    frame.to_csv(path, sep=";", decimal=",", index=False, encoding="latin-1")


def test_semicolon_latin1_decimal_comma_table(tmp_path):
    write_table(tmp_path / "train.csv", 60, 0)
    write_table(tmp_path / "new.csv", 8, 1)
    config = {
        "name": "eu",
        "data": {"train": "train.csv"},
        "inputs": [{"name": "ville", "type": "category"}, {"name": "poids", "type": "number"}],
        "outputs": [{"name": "classe", "type": "category"}],
        "trainer": {"epochs": 1, "batch_size": 16},
    }
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    message = user_error(modelyard("train", "c.yaml", cwd=tmp_path, check=None))
    assert "data.encoding: latin-1" in message
    config["data"].update(separator=";", encoding="latin-1", decimal=",")
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    modelyard("train", "c.yaml", "--output", "run", cwd=tmp_path)
    modelyard("predict", "run", "--data", "new.csv", "--out", "p.csv", cwd=tmp_path)
    predictions = pd.read_csv(tmp_path / "p.csv")
    assert predictions["classe_prediction"].isin([0, 1]).all()
    assert (tmp_path / "p.csv").read_text().splitlines()[1].split(",")[0] in ("0", "1")

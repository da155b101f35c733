"""Reading tables and class-per-subfolder folders."""

from __future__ import annotations

import pandas as pd
import pytest

from modelyard.data.read import read_data, read_table
from modelyard.errors import UserError

FRAME = pd.DataFrame({"x": [1.5, 2.0, None], "name": ["a", "b", "c"], "n": [1, 2, 3]})


@pytest.mark.parametrize(
    ("suffix", "write"),
    [
        (".csv", lambda f, p: f.to_csv(p, index=False)),
        (".tsv", lambda f, p: f.to_csv(p, sep="\t", index=False)),
        (".parquet", lambda f, p: f.to_parquet(p, index=False)),
        (".jsonl", lambda f, p: f.to_json(p, orient="records", lines=True)),
    ],
)
def test_round_trip(tmp_path, suffix, write):
    path = tmp_path / f"table{suffix}"
    write(FRAME, path)
    pd.testing.assert_frame_equal(read_table(path), FRAME, check_dtype=False)


def test_suffix_is_case_insensitive(tmp_path):
    path = tmp_path / "TABLE.CSV"
    FRAME.to_csv(path, index=False)
    assert len(read_table(path)) == 3


def test_unknown_suffix_lists_the_known_ones(tmp_path):
    path = tmp_path / "table.xlsx"
    path.write_text("x")
    with pytest.raises(
        UserError, match=r"unknown format '\.xlsx'; use one of \.csv, .*\.tsv, or a folder"
    ):
        read_table(path)


def test_missing_file(tmp_path):
    with pytest.raises(UserError, match=r"data file '.*nope\.csv' does not exist"):
        read_table(tmp_path / "nope.csv")


@pytest.mark.parametrize(("name", "text"), [("e.csv", ""), ("h.csv", "a,b\n"), ("e.jsonl", "")])
def test_empty_file_has_no_rows(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(UserError, match="has no rows"):
        read_table(path)


def test_unparsable_file_is_the_users_error(tmp_path):
    path = tmp_path / "t.parquet"
    path.write_text("not parquet")
    with pytest.raises(UserError, match=r"t\.parquet' could not be read"):
        read_table(path)


def make_class_folder(root):
    for label, files in {"cat": ["1.png", "2.png"], "dog": ["3.png"]}.items():
        (root / label).mkdir(parents=True)
        for name in files:
            (root / label / name).write_bytes(b"")
    (root / "dog" / ".DS_Store").write_bytes(b"")
    (root / "README.txt").write_text("not a class")


def test_class_per_subfolder(tmp_path):
    make_class_folder(tmp_path)
    frame = read_data(tmp_path, ["image"], ["label"])
    assert list(frame["label"]) == ["cat", "cat", "dog"]
    assert list(frame["image"]) == [
        str(tmp_path / p) for p in ("cat/1.png", "cat/2.png", "dog/3.png")
    ]


def test_class_folder_without_files(tmp_path):
    (tmp_path / "cat").mkdir()
    with pytest.raises(UserError, match="has no image or audio files in class subfolders"):
        read_data(tmp_path, ["image"], ["label"])


def test_folder_skips_files_that_are_not_images_or_audio_with_a_note(tmp_path, capsys):
    for name in ("b.png", "a.JPG", "c.wav", "README.txt", "notes.md", ".DS_Store"):
        (tmp_path / name).write_bytes(b"")
    frame = read_data(tmp_path, ["image"], ["label"])
    assert list(frame["image"]) == [str(tmp_path / n) for n in ("a.JPG", "b.png", "c.wav")]
    note = capsys.readouterr().err
    assert "skipped 3 files that are not images or audio" in note and "'README.txt'" in note


def test_class_subfolders_skip_other_files_too(tmp_path, capsys):
    make_class_folder(tmp_path)
    (tmp_path / "cat" / "Thumbs.db").write_bytes(b"")
    frame = read_data(tmp_path, ["image"], ["label"])
    assert list(frame["label"]) == ["cat", "cat", "dog"]
    assert "skipped 2 files" in capsys.readouterr().err  # Thumbs.db and .DS_Store


def test_folder_with_no_image_or_audio_file(tmp_path):
    (tmp_path / "README.txt").write_text("x")
    with pytest.raises(UserError, match="has no image or audio files"):
        read_data(tmp_path, ["image"], ["label"])


def test_class_folder_needs_one_image_input_and_one_output(tmp_path):
    make_class_folder(tmp_path)
    with pytest.raises(UserError, match="found 1 file inputs and 2 outputs"):
        read_data(tmp_path, ["image"], ["label", "other"])


def test_relative_image_paths_resolve_against_the_tables_folder(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    absolute = str(tmp_path / "elsewhere.png")
    pd.DataFrame({"image": ["imgs/a.png", absolute, None], "y": [1, 2, 3]}).to_csv(
        folder / "t.csv", index=False
    )
    frame = read_data(folder / "t.csv", ["image", "not_a_column"], ["y"])
    assert frame["image"][0] == str(folder / "imgs" / "a.png")
    assert frame["image"][1] == absolute
    assert pd.isna(frame["image"][2])


# --- separator, encoding and decimal mark (data.separator / data.encoding / data.decimal)


def data_section(**settings):
    from modelyard.config.schema import Data

    return Data.model_validate(settings)


def test_a_semicolon_csv_is_detected_and_the_setting_named(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("city;x;y\nLyon;1;2\nNice;3;4\n", encoding="utf-8")
    with pytest.raises(
        UserError, match=r"reads as one column 'city;x;y'.*set data.separator: \";\""
    ):
        read_table(path)
    frame = read_table(path, data_section(separator=";"))
    assert list(frame.columns) == ["city", "x", "y"] and frame["x"].tolist() == [1, 3]


def test_a_latin1_csv_names_file_line_and_the_encoding_setting(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes("city,x\nParis,1\nSète,2\n".encode("latin-1"))
    with pytest.raises(UserError) as error:
        read_table(path)
    message = str(error.value)
    assert str(path) in message and "line 3" in message and "data.encoding: latin-1" in message
    frame = read_table(path, data_section(encoding="latin-1"))
    assert frame["city"].tolist() == ["Paris", "Sète"]


def test_a_decimal_comma_is_read_with_the_decimal_setting(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("city;weight\nLyon;78,5\nNice;3,25\n", encoding="utf-8")
    frame = read_table(path, data_section(separator=";", decimal=","))
    assert frame["weight"].tolist() == [78.5, 3.25]


def test_the_settings_reach_predict_data(tmp_path):
    from modelyard.data.read import read_data

    path = tmp_path / "t.tsv"
    path.write_bytes("a|b\n1,5|x\n".encode("cp1252"))
    frame = read_data(path, [], [], data_section(separator="|", decimal=",", encoding="cp1252"))
    assert frame.to_dict("list") == {"a": [1.5], "b": ["x"]}


def test_unknown_encoding_and_long_separator_are_config_errors():
    from modelyard.config import validate
    from modelyard.errors import ConfigError

    base = {"name": "t", "inputs": [{"name": "x", "type": "number"}]}
    base["outputs"] = [{"name": "y", "type": "number"}]
    with pytest.raises(ConfigError, match="unknown encoding 'latin-9000'") as error:
        validate({**base, "data": {"encoding": "latin-9000", "separator": ";;"}})
    assert "data.separator" in str(error.value)


def test_a_comma_separated_tsv_is_detected(tmp_path):
    path = tmp_path / "t.tsv"
    path.write_text("city,x\nLyon,1\n", encoding="utf-8")
    with pytest.raises(UserError, match=r'comma-separated; set data.separator: ","'):
        read_table(path)


def test_a_damaged_file_is_a_user_error(tmp_path):
    path = tmp_path / "table.parquet"
    path.write_bytes(b"PAR1 this is not parquet PAR1")
    with pytest.raises(UserError, match="could not be read"):
        read_table(path)


@pytest.mark.parametrize("error", [MemoryError, RuntimeError])
def test_out_of_memory_or_a_bug_while_reading_is_not_the_users_file(tmp_path, monkeypatch, error):
    def fail(*args, **kwargs):
        raise error("not the file's fault")

    monkeypatch.setattr(pd, "read_csv", fail)
    path = tmp_path / "table.csv"
    FRAME.to_csv(path, index=False)
    with pytest.raises(error):
        read_table(path)

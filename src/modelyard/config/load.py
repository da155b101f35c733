"""Reading a config: YAML or dict, `--set` overrides, validation with every error at once."""

from __future__ import annotations

import copy
import difflib
import types
import typing
from pathlib import Path
from typing import Any

from modelyard.config.schema.segmentation import read_classes_files
from modelyard.errors import ConfigError, UserError


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Parse a YAML config file into a dict; syntax errors name the line."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise UserError(f"config file '{path}' does not exist")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e)
        raise UserError(f"{path}: YAML syntax error{where}: {problem}") from None
    if not isinstance(data, dict):
        raise UserError(
            f"{path}: a config must be a mapping of keys to values, got {type(data).__name__}"
        )
    return data


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply `KEY=VALUE` overrides; KEY is a dotted path (`inputs.0.encoder.type`), VALUE is YAML."""
    import yaml

    raw = copy.deepcopy(raw)
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise UserError(f"--set '{item}': expected KEY=VALUE, e.g. trainer.epochs=5")
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError:
            value = text
        _set_path(raw, _parts(key), value, item)
    return raw


def with_values(raw: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """A copy of `raw` with each dotted key set to its value, as `--set KEY=VALUE` would
    (the value taken as it is, not as YAML text)."""
    raw = copy.deepcopy(raw)
    for key, value in values.items():
        _set_path(raw, _parts(key), value, key)
    return raw


def _set_path(node: Any, parts: list[str], value: Any, item: str) -> None:
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise UserError(
                    f"--set '{item}': '{part}' is not an index of a list of {len(node)}"
                )
            part_key: Any = int(part)
        elif isinstance(node, dict):
            part_key = part
        else:
            raise UserError(
                f"--set '{item}': cannot go into '{'.'.join(parts[:i])}', it is a value"
            )
        if last:
            node[part_key] = value
        else:
            if isinstance(node, dict) and part_key not in node:
                node[part_key] = {}
            node = node[part_key]


def validate(raw: dict[str, Any], source: str = "config"):
    """Turn a raw dict into a frozen `Config`, or raise ConfigError listing every problem."""
    from pydantic import ValidationError

    from modelyard.config import checks
    from modelyard.config.schema import root_models

    roots = root_models()
    task = raw.get("task", "supervised")
    if task not in roots:
        raise ConfigError([f"task: unknown task '{task}'; known: {', '.join(roots)}"], source)
    root = roots[task]
    try:
        config = root.model_validate(raw)
    except ValidationError as e:
        raise ConfigError(
            _merge([_describe(err, raw, root) for err in e.errors()]), source
        ) from None
    problems = checks.run_all(config)
    if problems:
        raise ConfigError(problems, source)
    return config


def load_config(source: str | Path | dict[str, Any], overrides: list[str] = ()):
    """Read, override and validate. Returns (Config, base_dir for relative data paths)."""
    if isinstance(source, dict):
        raw, base, name = source, Path.cwd(), "config"
    else:
        raw, base, name = read_yaml(source), Path(source).resolve().parent, str(source)
        raw.setdefault("name", Path(source).stem)
    raw = apply_overrides(raw, list(overrides))
    raw = read_classes_files(raw, base, name)
    raw, tune = split_tune(raw, name)
    if tune is not None:
        from modelyard.train.progress import log

        log(f"note: the tune: section of {name} is read by `modelyard tune` only; left out here")
    from modelyard.config import checks

    try:
        config = validate(raw, name)
        problems = checks.backbones_fit(config, base)
        if problems:
            raise ConfigError(problems, name)
    except ConfigError as e:
        raise _blame_overrides(e, list(overrides), name) from None
    return config, base


def split_tune(raw: dict[str, Any], source: str = "config"):
    """(the config without its `tune:` section, that section validated or None). Only
    `modelyard tune` reads the section; every other command trains the config without it."""
    if "tune" not in raw:
        return raw, None
    from pydantic import ValidationError

    from modelyard.config.schema.tune import Tune

    rest = {k: v for k, v in raw.items() if k != "tune"}
    try:
        return rest, Tune.model_validate(raw["tune"])
    except ValidationError as e:
        root, wrapper = _tune_root(), {"tune": raw["tune"]}
        problems = [
            _describe({**err, "loc": ("tune", *err["loc"])}, wrapper, root) for err in e.errors()
        ]
        raise ConfigError(_merge(problems), source) from None


def _tune_root():
    """A model holding `tune` alone, for `_describe`'s paths and suggestions."""
    from pydantic import create_model

    from modelyard.config.schema.tune import Tune

    return create_model("TuneRoot", tune=(Tune, ...))


def _blame_overrides(error: ConfigError, overrides: list[str], source: str) -> ConfigError:
    """Problems at a key given by `--set` name that `--set` argument, not the config file."""
    if not overrides:
        return error
    keys = {tuple(_parts(item.partition("=")[0])): item for item in overrides}
    problems = [_blame(problem, keys) for problem in error.problems]
    from_file = [p for p in problems if not p.startswith("--set ")]
    return ConfigError(problems, source if from_file else "--set overrides")


def _blame(problem: str, keys: dict[tuple[str, ...], str]) -> str:
    """`trainer.epoch: unknown key; ...` -> `--set trainer.epoch=3: unknown key 'epoch'; ...`."""
    path, _, message = problem.partition(": ")
    parts = tuple(_parts(path))
    for key, item in keys.items():
        if parts == key or (key[:-1] == parts and key[-1] == "type"):
            if message.startswith("unknown key"):
                message = f"unknown key '{key[-1]}'" + message.removeprefix("unknown key")
            return f"--set {item}: {message}"
        if parts[: len(key)] == key:
            return f"--set {item}: {path}: {message}"
    return problem


def _parts(path: str) -> list[str]:
    """`inputs[0].encoder` and `inputs.0.encoder` -> ['inputs', '0', 'encoder']."""
    return path.replace("[", ".").replace("]", "").split(".")


# ---------------------------------------------------------------- error messages


def _merge(problems: list[str]) -> list[str]:
    """One line per path: a value failing every member of a union (`8 | 'full'`) gives one error each."""
    by_path: dict[str, list[str]] = {}
    for problem in problems:
        path, _, message = problem.partition(": ")
        by_path.setdefault(path, []).append(message)
    return [f"{path}: {'; or '.join(messages)}" for path, messages in by_path.items()]


def _describe(err: dict[str, Any], raw: dict[str, Any], root: Any) -> str:
    """One pydantic error as `inputs[0].encoder.laers: unknown key; did you mean 'layers'?`."""
    loc, model = _clean_loc(err["loc"], raw, root)
    path = _format_path(loc) or "(top level)"
    kind = err["type"]
    if kind == "extra_forbidden":
        key = str(loc[-1])
        owners = _output_types_with(key, model)
        if owners:
            return (
                f"{path}: unknown key for this output type; '{key}' applies to "
                f"{' and '.join(owners)} outputs: remove it, or change the output's type"
            )
        siblings = _sibling_types_with(key, model)
        if siblings:
            return (
                f"{path}: unknown key for type '{_tag(model)}'; "
                f"'{key}' is a key of type {' and '.join(siblings)}: remove it, or change the type"
            )
        close = difflib.get_close_matches(key, sorted(model.model_fields) if model else [], n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        allowed = ", ".join(sorted(model.model_fields)) if model and not close else ""
        return f"{path}: unknown key{hint}" + (f" (allowed: {allowed})" if allowed else "")
    if kind == "missing":
        return f"{path}: required key is missing"
    if kind == "union_tag_invalid":
        ctx = err.get("ctx", {})
        if len(loc) == 2 and loc[0] == "outputs":  # output types are tasks; plugins add some
            return (
                f"{path}.type: unknown output type '{ctx.get('tag')}'; known: {ctx.get('expected_tags')}; "
                "a task from a plugin needs its module named in MODELYARD_PLUGINS"
            )
        return f"{path}: unknown type '{ctx.get('tag')}'; known: {ctx.get('expected_tags')}"
    if kind == "union_tag_not_found":
        value = err.get("input")
        if not isinstance(value, dict):
            return (
                f"{path}: expected a mapping with a 'type' key (e.g. {{type: ...}}), got {value!r}"
            )
        return f"{path}: 'type' is missing"
    if kind == "literal_error":
        value = err.get("input")
        expected = err.get("ctx", {}).get("expected", "")
        close = difflib.get_close_matches(
            str(value), [s.strip("'") for s in expected.replace(" or ", ", ").split(", ")], n=1
        )
        hint = f"; did you mean '{close[0]}'?" if close else ""
        return f"{path}: '{value}' is not allowed; expected {expected}{hint}"
    return f"{path}: {err['msg']} (got {err.get('input')!r})"


def _tag(model: Any) -> str:
    return model.model_fields["type"].annotation.__args__[0]


def _sibling_types_with(key: str, model: Any) -> list[str]:
    """The other members of a tagged union on `type` whose schema has `key`, when `model` is
    one of them (`latent` on a diffusion model); else []."""
    from modelyard.config.schema.image_generation import MODEL_TYPES

    if model not in MODEL_TYPES:
        return []
    return [_tag(m) for m in MODEL_TYPES if m is not model and key in m.model_fields]


def _output_types_with(key: str, model: Any) -> list[str]:
    """The output types whose schema has `key`, when `model` is another output type's schema
    (`class_weights` on a number output); else []."""
    from modelyard.tasks import registered

    tasks = registered()
    if model not in {t.schema for t in tasks}:
        return []
    return [t.type for t in tasks if key in getattr(t.schema, "model_fields", {})]


def _clean_loc(loc: tuple, raw: Any, root: Any) -> tuple[tuple, Any]:
    """Drop the union tags pydantic puts in `loc`; return the path and the model holding its last key."""
    clean: list[Any] = []
    node: Any = raw
    for i, part in enumerate(loc):
        if isinstance(node, dict) and part not in node and i < len(loc) - 1:
            continue  # a discriminator tag, not a key the user wrote
        if i > 0 and not isinstance(node, (dict, list)):
            continue  # a union member's label (`constrained-int`) under a plain value
        clean.append(part)
        node = node.get(part) if isinstance(node, dict) else _index(node, part)
    return tuple(clean), _model_at(tuple(clean[:-1]), raw, root)


def _model_at(path: tuple, raw: Any, root: Any):
    """The schema model that describes the value at `path` in the raw config."""
    annotation: Any = root
    node: Any = raw
    for part in path:
        annotation = _child_annotation(annotation, part, node)
        node = node.get(part) if isinstance(node, dict) else _index(node, part)
    return _model_of(annotation, node)


def _index(node: Any, part: Any) -> Any:
    if isinstance(node, list) and isinstance(part, int) and part < len(node):
        return node[part]
    return None


def _child_annotation(annotation: Any, part: Any, parent: Any) -> Any:
    model = _model_of(annotation, parent)
    if model is not None and isinstance(part, str) and part in model.model_fields:
        return model.model_fields[part].annotation
    for arg in _flat_args(annotation):
        if typing.get_origin(arg) in (list, tuple) and isinstance(part, int):
            return typing.get_args(arg)[0]
        if typing.get_origin(arg) is dict and isinstance(part, str):
            return typing.get_args(arg)[1]
    return None


def _model_of(annotation: Any, node: Any):
    """The pydantic model class in `annotation`; for a union, the one whose `type` matches `node`."""
    from pydantic import BaseModel

    candidates = [
        a for a in _flat_args(annotation) if isinstance(a, type) and issubclass(a, BaseModel)
    ]
    if len(candidates) <= 1:
        return candidates[0] if candidates else None
    if not isinstance(node, dict) or "type" not in node:
        return candidates[0]  # unions list their default model first
    tag = node["type"]
    for cls in candidates:
        field = cls.model_fields.get("type")
        if field is not None and tag in typing.get_args(field.annotation):
            return cls
    return None


def _flat_args(annotation: Any) -> list[Any]:
    if annotation is None:
        return []
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _flat_args(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return [x for a in typing.get_args(annotation) for x in _flat_args(a)]
    return [annotation]


def _format_path(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out

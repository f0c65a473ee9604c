"""Typed configuration in PaddleOCR's YAML layout, with ``-o Section.key=value`` overrides.

The sections and key names follow PaddleOCR's ``configs/rec/rec_*_tps_bilstm_att.yml`` so a user can read ours
side by side with theirs. Every key is declared in a dataclass (see :mod:`rare.config_schema`); an unknown key or a
value of the wrong type is a :class:`ConfigError` naming the dotted key. No ``eval``: values are parsed with
``yaml.safe_load`` and type-checked against the schema.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, Literal, Union

import yaml

from rare.codec import LabelCodec
from rare.config_schema import Config
from rare.errors import RareError

__all__ = ["Config", "ConfigError", "load_config", "config_from_dict", "config_to_dict", "parse_overrides"]


class ConfigError(RareError, ValueError):
    """A configuration file or override is invalid; the message names the key."""


def load_config(path: str | Path, overrides: list[str] | None = None) -> Config:
    """Read a YAML config, apply ``Section.key=value`` overrides and return the typed, validated config."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: top level must be a mapping of sections")
    for key, value in parse_overrides(overrides or []):
        _set_dotted(raw, key, value)
    return config_from_dict(raw)


def config_from_dict(raw: dict[str, Any]) -> Config:
    """Build a typed :class:`Config` from plain data (e.g. the config stored in a checkpoint)."""
    return _build(Config, raw, "")


def config_to_dict(cfg: Config) -> dict[str, Any]:
    """Plain-data form of a config, suitable for YAML, JSON and checkpoints."""
    return dataclasses.asdict(cfg)


def parse_overrides(items: list[str]) -> list[tuple[str, Any]]:
    """Parse ``["Global.epoch_num=10", ...]`` into ``[("Global.epoch_num", 10), ...]`` (values via YAML)."""
    parsed = []
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"override {item!r}: expected Section.key=value")
        try:
            value = yaml.safe_load(text) if text.strip() else None
        except yaml.YAMLError as exc:
            raise ConfigError(f"override {item!r}: value is not valid YAML: {exc}") from exc
        parsed.append((key.strip(), value))
    return parsed


def _set_dotted(raw: dict[str, Any], key: str, value: Any) -> None:
    node: Any = raw
    parts = key.split(".")
    for i, part in enumerate(parts[:-1]):
        if isinstance(node, list):
            node = node[_list_index(node, part, parts[: i + 1])]
            continue
        if node.get(part) is None:
            node[part] = {}
        node = node[part]
        if not isinstance(node, dict | list):
            raise ConfigError(f"override {key}: {'.'.join(parts[: i + 1])} is a value, not a section")
    if isinstance(node, list):
        node[_list_index(node, parts[-1], parts)] = value
    else:
        node[parts[-1]] = value


def _list_index(node: list[Any], part: str, parts: list[str]) -> int:
    if not part.isdigit() or int(part) >= len(node):
        raise ConfigError(f"override {'.'.join(parts)}: {part!r} is not an index of a {len(node)}-item list")
    return int(part)


def _build(cls: type, data: Any, path: str) -> Any:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path or 'config'}: expected a mapping, got {type(data).__name__} {data!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        where = path or "top level"
        raise ConfigError(f"{where}: unknown key(s) {', '.join(map(repr, unknown))}; known: {', '.join(sorted(names))}")
    kwargs = {name: _coerce(hints[name], value, _join(path, name)) for name, value in data.items()}
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{path or 'config'}: {exc}") from exc


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _coerce(tp: Any, value: Any, path: str) -> Any:  # noqa: PLR0911 - one branch per supported type form
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        return _coerce_union(tp, value, path)
    if origin is Literal:
        if value not in typing.get_args(tp):
            raise ConfigError(f"{path}: {value!r} is not one of {list(typing.get_args(tp))}")
        return value
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{path}: expected a list, got {type(value).__name__} {value!r}")
        (item_tp,) = typing.get_args(tp)
        return [_coerce(item_tp, v, f"{path}.{i}") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: expected a mapping, got {type(value).__name__} {value!r}")
        return dict(value)
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, path)
    return _coerce_scalar(tp, value, path)


def _coerce_union(tp: Any, value: Any, path: str) -> Any:
    args = typing.get_args(tp)
    if value is None and type(None) in args:
        return None
    errors = []
    for arg in args:
        if arg is type(None):
            continue
        try:
            return _coerce(arg, value, path)
        except ConfigError as exc:
            errors.append(str(exc))
    if len(errors) == 1:
        raise ConfigError(errors[0])
    raise ConfigError(
        f"{path}: {value!r} is none of: {', '.join(_describe(arg) for arg in args if arg is not type(None))}"
    )


def _describe(tp: Any) -> str:
    """A type as a config's author reads it: ``bool``, ``'mild'``, ``a list``, ``a mapping``."""
    if typing.get_origin(tp) is Literal:
        return ", ".join(repr(v) for v in typing.get_args(tp))
    if typing.get_origin(tp) in (list, dict):
        return "a list" if typing.get_origin(tp) is list else "a mapping"
    return getattr(tp, "__name__", str(tp))


def _coerce_scalar(tp: Any, value: Any, path: str) -> Any:
    if tp is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if tp is float and isinstance(value, str):  # YAML 1.1 reads "1e-3" (no dot) as a string
        try:
            return float(value)
        except ValueError:
            pass
    if tp is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if tp is bool and isinstance(value, bool):
        return value
    if tp is str and isinstance(value, str):
        return value
    if tp is str and isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise ConfigError(f"{path}: expected {tp.__name__}, got {type(value).__name__} {value!r}")


def codec_from_config(cfg: Config) -> LabelCodec:
    """The label codec that the config's dictionary settings describe."""
    path = cfg.PostProcess.character_dict_path or cfg.Global.character_dict_path
    use_space = cfg.PostProcess.use_space_char
    if use_space is None:
        use_space = cfg.Global.use_space_char
    if path and not Path(path).is_file():
        raise ConfigError(f"{path}: character dictionary not found")
    return LabelCodec.from_dict_file(path, use_space)

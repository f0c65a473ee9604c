"""Import PaddleOCR RARE checkpoints (``.pdparams``) without paddle and without running code from the file.

A ``.pdparams`` is a pickle of ``{parameter name: numpy array}``. It is read with an unpickler that admits only
numpy's array reconstruction and a few plain containers, so a file that tries to call anything else is refused.
Our modules carry PaddleOCR's sub-module names, so the mapping is: BatchNorm ``_mean``/``_variance`` become
``running_mean``/``running_var``, Linear weights are transposed ([in, out] -> [out, in]), and the LSTM's per-cell
alias copies are checked and dropped.
"""

from __future__ import annotations

import io
import pickle
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from rare.errors import RareError
from rare.model.rare import BACKBONES, Backbone

ALLOWED_GLOBALS = {
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.multiarray", "scalar"),
    ("collections", "OrderedDict"),
}
BOOKKEEPING_KEYS = {"StructuredToParameterName@@"}
LSTM_ALIAS = re.compile(r"^(?P<prefix>.*\.lstm)\.(?P<layer>\d+)\.cell_(?P<dir>fw|bw)\.(?P<param>\w+)$")


class PaddleImportError(RareError, ValueError):
    """The file cannot be imported into the configured model; the message says why."""


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in ALLOWED_GLOBALS:
            raise PaddleImportError(f"refusing to load {module}.{name}: a .pdparams holds only numpy arrays")
        return super().find_class(module, name)


def read_pdparams(path: str | Path) -> dict[str, np.ndarray]:
    """Read a ``.pdparams`` into ``{name: array}`` (bookkeeping entries removed)."""
    path = Path(path)
    if not path.is_file():
        raise PaddleImportError(f"{path}: file not found")
    data = path.read_bytes()
    try:
        obj = _RestrictedUnpickler(io.BytesIO(data)).load()
    except PaddleImportError as exc:
        raise PaddleImportError(f"{path}: {exc}") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError) as exc:
        reason = f"{type(exc).__name__}: {exc}"
        raise PaddleImportError(f"{path}: truncated or not a PaddleOCR .pdparams ({reason})") from None
    if not isinstance(obj, dict):
        raise PaddleImportError(f"{path}: expected a dict of arrays, found {type(obj).__name__}")
    params = {k: v for k, v in obj.items() if k not in BOOKKEEPING_KEYS}
    bad = [k for k, v in params.items() if not isinstance(k, str) or not isinstance(v, np.ndarray)]
    if bad:
        raise PaddleImportError(f"{path}: entries that are not named arrays: {bad[:5]}")
    return params


def paddle_to_state_dict(params: dict[str, np.ndarray], model: nn.Module) -> dict[str, torch.Tensor]:
    """Map PaddleOCR parameter names and layouts onto ``model``'s state_dict; raise on any mismatch."""
    params = _drop_lstm_aliases(params)
    target = model.state_dict()
    linear_weights = {f"{name}.weight" for name, m in model.named_modules() if isinstance(m, nn.Linear)}
    _check_architecture(params, target)
    out: dict[str, torch.Tensor] = {}
    problems = []
    for name, array in params.items():
        key = name.replace("._mean", ".running_mean").replace("._variance", ".running_var")
        if key not in target:
            problems.append(f"unused key {name} {list(array.shape)}")
            continue
        value = array.T if key in linear_weights else array
        if tuple(value.shape) != tuple(target[key].shape):
            problems.append(f"shape mismatch for {name}: file {list(array.shape)}, model {list(target[key].shape)}")
            continue
        out[key] = torch.from_numpy(np.ascontiguousarray(value, dtype=np.float32))
    missing = [k for k in target if k not in out and not k.endswith("num_batches_tracked")]
    problems += [f"missing key {k} {list(target[k].shape)}" for k in missing]
    if problems:
        shown = "; ".join(problems[:8]) + (f"; ... {len(problems) - 8} more" if len(problems) > 8 else "")
        raise PaddleImportError(f"the file does not match the configured model: {shown}")
    for key, value in target.items():
        if key.endswith("num_batches_tracked"):
            out[key] = value.clone()
    return out


def convert_pdparams(path: str | Path, model: nn.Module) -> dict[str, torch.Tensor]:
    """Read a ``.pdparams`` and map it onto ``model``; every error names the file."""
    params = read_pdparams(path)
    try:
        return paddle_to_state_dict(params, model)
    except PaddleImportError as exc:
        raise PaddleImportError(f"{path}: {exc}") from None


def _drop_lstm_aliases(params: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """paddle.save stores each LSTM tensor twice (``lstm.0.cell_fw.weight_ih`` is ``lstm.weight_ih_l0``)."""
    kept = {}
    for name, array in params.items():
        match = LSTM_ALIAS.match(name)
        if match is None:
            kept[name] = array
            continue
        suffix = "_reverse" if match["dir"] == "bw" else ""
        canonical = f"{match['prefix']}.{match['param']}_l{match['layer']}{suffix}"
        if canonical not in params:
            raise PaddleImportError(f"LSTM alias {name} has no canonical tensor {canonical}")
        if not np.array_equal(params[canonical], array):
            raise PaddleImportError(f"LSTM alias {name} differs from {canonical}")
    return kept


def _check_architecture(params: dict[str, np.ndarray], target: dict[str, torch.Tensor]) -> None:
    """Turn the most common mistake, a checkpoint of the other config, into a one-line message."""
    file_backbone = _backbone_kind(params)
    model_backbone = _backbone_kind(target)
    if file_backbone and model_backbone and file_backbone != model_backbone:
        raise PaddleImportError(
            f"the file holds a {file_backbone.architecture} model but the config builds "
            f"{model_backbone.architecture}: use configs/{file_backbone.architecture}.yml"
        )


def _backbone_kind(keys: dict[str, Any]) -> Backbone | None:
    """The backbone whose parameter names the keys carry."""
    return next((b for b in BACKBONES.values() if any(k.startswith(b.key_prefix) for k in keys)), None)

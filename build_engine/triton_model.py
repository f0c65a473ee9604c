"""Triton Python-backend model for RARE: ONNX Runtime (or OpenVINO, parameter ``engine``) on CPU, one run per
dynamic batch.

``build_engine --target python`` copies this file to ``<repository>/<name>/1/model.py`` next to ``model.onnx``.
It runs inside Triton's Python-backend stub, so it is self-contained: numpy, onnxruntime (or openvino) and
Triton's ``triton_python_backend_utils`` only, never the ``rare`` package.

Triton's dynamic batcher hands :meth:`TritonPythonModel.execute` every request it merged; we concatenate their
images along the batch axis, run ONNX Runtime once and split the outputs back, which is what makes batching pay.
A request with a bad input gets its own error response; the others in the batch are still served.

Tensors cross the stub boundary through DLPack (``np.from_dlpack`` / ``pb_utils.Tensor.from_dlpack``), never
``as_numpy()`` / ``pb_utils.Tensor(name, array)``: stubs built against NumPy 1.x (tritonserver 2.51 of
nvidia-pytriton 0.7.0) misread the dtype of NumPy 2 arrays there, and inputs arrive as garbage and outputs as
zero bytes without any error. DLPack works with NumPy 1.22+ and 2.x alike.
"""

from __future__ import annotations

import json
import os

import numpy as np
import onnxruntime as ort
import triton_python_backend_utils as pb_utils

THREADS_PARAMETER = "intra_op_threads"
ENGINE_PARAMETER = "engine"  # onnxruntime (default), openvino-fp32 or openvino-bf16


_OPENVINO_CORE = []  # the process's one Core: a second one in the same process can crash it


class OpenVinoSession:
    """The one call of ``ort.InferenceSession`` this model makes, on OpenVINO (one instance, one stream)."""

    def __init__(self, path: str, precision: str, threads: int) -> None:
        import openvino as ov

        if not _OPENVINO_CORE:
            _OPENVINO_CORE.append(ov.Core())
        config = {"INFERENCE_PRECISION_HINT": precision, "NUM_STREAMS": 1, "INFERENCE_NUM_THREADS": threads}
        compiled = _OPENVINO_CORE[0].compile_model(path, "CPU", config)
        self.request = compiled.create_infer_request()
        self.ports = {name: port for port in compiled.outputs for name in port.get_names()}

    def run(self, names: list[str], feed: dict[str, np.ndarray]) -> list[np.ndarray]:
        outputs = self.request.infer({0: next(iter(feed.values()))})
        return [np.array(outputs[self.ports[name]]) for name in names]


def session_options(threads: int) -> ort.SessionOptions:
    """``threads`` intra-op threads per instance (Triton runs one stub process per instance)."""
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = max(1, threads)
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return options


def shape_problem(array: np.ndarray, dims: list[int], dtype: np.dtype) -> str | None:
    """None when ``array`` is [N, *dims] (N >= 1, -1 in ``dims`` matches any size) of ``dtype``, else why not."""
    expected = "[N, " + ", ".join(str(d) for d in dims) + "]"
    if array.dtype != dtype:
        return f"dtype {array.dtype}, expected {np.dtype(dtype)}"
    if array.ndim != len(dims) + 1 or array.shape[0] < 1:
        return f"shape {list(array.shape)}, expected {expected}"
    if any(d >= 0 and s != d for s, d in zip(array.shape[1:], dims, strict=True)):
        return f"shape {list(array.shape)}, expected {expected}"
    return None


class TritonPythonModel:
    """One instance: an ONNX Runtime session on ``model.onnx`` of this version folder."""

    def initialize(self, args: dict[str, str]) -> None:
        config = json.loads(args["model_config"])
        image = config["input"][0]
        self.input_name: str = image["name"]
        self.input_dims = [int(d) for d in image["dims"]]
        self.input_dtype = pb_utils.triton_string_to_numpy(image["data_type"])
        self.output_names: list[str] = [output["name"] for output in config["output"]]
        threads = config.get("parameters", {}).get(THREADS_PARAMETER, {}).get("string_value", "1")
        engine = config.get("parameters", {}).get(ENGINE_PARAMETER, {}).get("string_value", "onnxruntime")
        path = os.path.join(args["model_repository"], args["model_version"], "model.onnx")
        if engine.startswith("openvino-"):
            precision = engine.removeprefix("openvino-").replace("fp", "f")  # f32 or bf16
            self.session = OpenVinoSession(path, precision, int(threads))
        else:
            self.session = ort.InferenceSession(path, session_options(int(threads)), providers=["CPUExecutionProvider"])

    def execute(self, requests: list) -> list:
        """One response per request, in order: outputs for good requests, an INVALID_ARG error for bad ones."""
        responses: list = [None] * len(requests)
        accepted: list[tuple[int, np.ndarray, list[str]]] = []
        for index, request in enumerate(requests):
            images, problem = self.read_images(request)
            if problem is not None:
                responses[index] = error_response(problem, pb_utils.TritonError.INVALID_ARG)
            else:
                accepted.append((index, images, self.wanted_outputs(request)))
        if accepted:
            for index, response in self.run_batch(accepted):
                responses[index] = response
        return responses

    def read_images(self, request: object) -> tuple[np.ndarray | None, str | None]:
        tensor = pb_utils.get_input_tensor_by_name(request, self.input_name)
        if tensor is None:
            return None, f"missing input {self.input_name!r}"
        images = np.from_dlpack(tensor)  # not as_numpy(): see the module docstring
        problem = shape_problem(images, self.input_dims, self.input_dtype)
        return (None, f"input {self.input_name!r}: {problem}") if problem else (images, None)

    def wanted_outputs(self, request: object) -> list[str]:
        """The outputs the client asked for, or all of them when it asked for none."""
        requested = [name for name in request.requested_output_names() if name in self.output_names]
        return requested or self.output_names

    def run_batch(self, accepted: list[tuple[int, np.ndarray, list[str]]]) -> list[tuple[int, object]]:
        """Run ONNX Runtime once on all accepted requests and split the outputs back per request."""
        batch = accepted[0][1] if len(accepted) == 1 else np.concatenate([images for _, images, _ in accepted])
        try:
            results = self.session.run(self.output_names, {self.input_name: batch})
        except Exception as exc:  # noqa: BLE001 - any runtime failure becomes error responses, never a dead model
            return [(index, error_response(f"ONNX Runtime failed: {exc}")) for index, _, _ in accepted]
        outputs = dict(zip(self.output_names, results, strict=True))
        responses, start = [], 0
        for index, images, wanted in accepted:
            stop = start + images.shape[0]
            tensors = [
                pb_utils.Tensor.from_dlpack(name, np.ascontiguousarray(outputs[name][start:stop])) for name in wanted
            ]
            responses.append((index, pb_utils.InferenceResponse(output_tensors=tensors)))
            start = stop
        return responses

    def finalize(self) -> None:
        self.session = None


def error_response(message: str, code: int | None = None) -> object:
    error = pb_utils.TritonError(message) if code is None else pb_utils.TritonError(message, code)
    return pb_utils.InferenceResponse(output_tensors=[], error=error)

#!/usr/bin/env bash
# Entry point of the builder images: write the Triton model repository for the GPU and TensorRT of THIS container.
#
#   build-repository --target tensorrt|onnxruntime [other `python -m build_engine` flags]
#
# The model comes from $RARE_MODEL_DIR and goes to $MODEL_REPOSITORY/$RARE_TRITON_MODEL. A TensorRT engine only
# loads on the TensorRT version and GPU that built it, so the build is keyed by the model files, the TensorRT
# version, the GPU and the flags: when the repository already holds a build with the same key (a restarted
# container, a compose volume), nothing is rebuilt. With $ENGINE_CACHE_DIR set (a volume that outlives the pod),
# every built version is kept there under that key, with the TensorRT timing cache (build_engine.engine_cache): a
# new pod on an empty repository copies its engine instead of building it.
set -euo pipefail

model_dir="${RARE_MODEL_DIR:?RARE_MODEL_DIR: the exported model directory}"
repository="${MODEL_REPOSITORY:?MODEL_REPOSITORY: the model repository root}"
name="${RARE_TRITON_MODEL:-rare}"

trt_version="$(python3 -c 'import tensorrt; print(tensorrt.__version__)' 2>/dev/null || echo none)"
gpu="$(nvidia-smi --query-gpu=name,compute_cap --format=csv,noheader 2>/dev/null | head -n 1 || true)"
gpu="${gpu:-none}"

cache_flags=()
if [[ -n "${ENGINE_CACHE_DIR:-}" ]]; then
  cache_flags=(--engine-cache "$ENGINE_CACHE_DIR")
fi

key="$(
  {
    sha256sum "$model_dir"/*.onnx "$model_dir"/rare.json | cut -d ' ' -f 1
    printf 'tensorrt=%s gpu=%s flags=%s\n' "$trt_version" "$gpu" "$*"
  } | sha256sum | cut -d ' ' -f 1
)"
stamp="$repository/$name/.build-key"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$key" ]]; then
  echo "build-repository: $repository/$name is up to date (TensorRT $trt_version, GPU $gpu)" >&2
  exit 0
fi

echo "build-repository: building $repository/$name from $model_dir (TensorRT $trt_version, GPU $gpu)" >&2
python3 -m build_engine --model-dir "$model_dir" --repository "$repository" --name "$name" "${cache_flags[@]}" "$@"
printf '%s\n' "$key" >"$stamp"

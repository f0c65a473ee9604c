"""The Triton backend: tritonclient's gRPC aio client, one per event loop, created in the app's lifespan.

At start (and again whenever readiness is asked while not validated) the backend checks that Triton serves the
model and that the model is what the gateway expects: the model config's ``rare_spec`` parameter (written by
build_engine) gives charset and tensor names, and Triton's metadata must match it. Until then the gateway is not
ready and says why; it recovers by itself once Triton is back, without a restart.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import tritonclient.grpc.aio as grpcclient
from tritonclient.utils import InferenceServerException

from rare.codec import ids_and_scores
from rare.errors import RareError
from rare.modelspec import ModelSpec, TensorSpec
from service.backends.base import Answer, BackendStatus
from service.errors import BackendFailed, BackendTimeout, BackendUnavailable, GatewayError, Overloaded
from service.settings import Settings

log = logging.getLogger("rare.gateway")
PROBE_TIMEOUT_S = 2.0
# One channel to every address the target names (dns:///a-headless-service:8001 resolves to each replica, and is
# resolved again as they come and go; ipv4:10.0.0.1:8001,10.0.0.2:8001 lists them), each request to the next
# replica: request-level balancing, where a plain host:port through a ClusterIP balances only connections.
CHANNEL_ARGS = [
    ("grpc.lb_policy_name", "round_robin"),
    ("grpc.dns_min_time_between_resolutions_ms", 5000),
    ("grpc.max_send_message_length", 2**31 - 1),
    ("grpc.max_receive_message_length", 2**31 - 1),
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 10_000),
]


class ModelMismatch(RareError):
    """Triton serves a model that is not what the gateway can decode."""


class TritonBackend:
    kind = "triton"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.spec: ModelSpec | None = None
        self.max_batch_size = settings.max_batch_size
        self.parallelism = 1
        self._client: grpcclient.InferenceServerClient | None = None
        self._detail = "not connected"

    async def start(self) -> None:
        self._client = grpcclient.InferenceServerClient(self.settings.triton_url, channel_args=CHANNEL_ARGS)
        await self._validate()

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()

    async def _validate(self) -> bool:
        """Check server, model and its config/metadata; records why not in ``_detail``."""
        model, version = self.settings.triton_model, self.settings.triton_model_version
        try:
            if not await self._client.is_server_ready(client_timeout=PROBE_TIMEOUT_S):
                return self._not_ready(f"Triton at {self.settings.triton_url} is not ready")
            if not await self._client.is_model_ready(model, version, client_timeout=PROBE_TIMEOUT_S):
                return self._not_ready(f"model {model!r} is not ready on Triton at {self.settings.triton_url}")
            config = (
                await self._client.get_model_config(model, version, as_json=True, client_timeout=PROBE_TIMEOUT_S)
            )["config"]
            metadata = await self._client.get_model_metadata(
                model, version, as_json=True, client_timeout=PROBE_TIMEOUT_S
            )
            spec = spec_from_config(config)
            spec.check_io(_tensors(metadata["inputs"]), _tensors(metadata["outputs"]))
        except InferenceServerException as exc:
            return self._not_ready(f"Triton at {self.settings.triton_url} unreachable or failing: {exc.message()}")
        except RareError as exc:
            return self._not_ready(f"model mismatch: {exc}", level=logging.ERROR)
        self.spec = spec
        self.max_batch_size = max(1, int(config.get("max_batch_size", 0)) or self.settings.max_batch_size)
        self.parallelism = max(1, sum(int(g.get("count", 1)) for g in config.get("instance_group", [])))
        self._detail = f"model {model!r} on Triton at {self.settings.triton_url}"
        log.info("triton backend ready: %s (max batch %d)", self._detail, self.max_batch_size)
        return True

    def _not_ready(self, detail: str, level: int = logging.WARNING) -> bool:
        if detail != self._detail:
            log.log(level, "triton backend not ready: %s", detail)
        self.spec, self._detail = None, detail
        return False

    async def status(self) -> BackendStatus:
        if self.spec is None:
            return BackendStatus(await self._validate(), self._detail)
        try:
            ready = await self._client.is_model_ready(
                self.settings.triton_model, self.settings.triton_model_version, client_timeout=PROBE_TIMEOUT_S
            )
        except InferenceServerException as exc:
            return BackendStatus(self._not_ready(f"Triton unreachable: {exc.message()}"), self._detail)
        if not ready:
            return BackendStatus(self._not_ready(f"model {self.settings.triton_model!r} is not ready"), self._detail)
        return BackendStatus(True, self._detail)

    async def infer(self, batch: np.ndarray) -> Answer:
        """One inference; a replica that is unavailable is retried on the next one, within the request's deadline."""
        if self.spec is None and not await self._validate():
            raise BackendUnavailable("the model is not ready", retry_after=self.settings.retry_after_s)
        spec = self.spec
        images = grpcclient.InferInput(spec.input.name, list(batch.shape), "FP32")
        images.set_data_from_numpy(batch)
        roles = spec.fetched_roles()
        wanted = [spec.outputs[role].name for role in roles]
        deadline = time.monotonic() + self.settings.triton_timeout_s
        for attempt in range(self.settings.triton_attempts):
            try:
                result = await self._client.infer(
                    self.settings.triton_model,
                    [images],
                    model_version=self.settings.triton_model_version,
                    outputs=[grpcclient.InferRequestedOutput(name) for name in wanted],
                    client_timeout=max(0.001, deadline - time.monotonic()),
                )
                break
            except InferenceServerException as exc:
                last_try = attempt + 1 == self.settings.triton_attempts or time.monotonic() >= deadline
                if "UNAVAILABLE" not in str(exc.status()) or last_try:
                    raise self._map_error(exc) from None
                log.info("Triton replica unavailable (%s); trying the next one", exc.message())
        outputs = {role: result.as_numpy(name) for role, name in zip(roles, wanted, strict=True)}
        return Answer(*ids_and_scores(outputs), result.get_response().model_version)

    def _map_error(self, exc: InferenceServerException) -> GatewayError:
        status, message = str(exc.status()), exc.message() or str(exc)
        retry = self.settings.retry_after_s
        if "DEADLINE_EXCEEDED" in status:
            return BackendTimeout(f"Triton did not answer within {self.settings.triton_timeout_s:g} s")
        if "Exceeds maximum queue size" in message or "RESOURCE_EXHAUSTED" in status:
            return Overloaded("Triton's queue is full; retry later", retry_after=retry)
        if "UNAVAILABLE" in status or "NOT_FOUND" in status or "CANCELLED" in status:
            self._not_ready(f"Triton unavailable: {message}")  # the details go to the log, not to clients
            return BackendUnavailable("Triton is unavailable; retry later", retry_after=retry)
        log.warning("Triton failed: %s %s", status, message)
        return BackendFailed(f"Triton returned {status}")


def spec_from_config(config: dict) -> ModelSpec:
    """The ``rare_spec`` parameter that build_engine puts into config.pbtxt."""
    raw = config.get("parameters", {}).get("rare_spec", {}).get("string_value")
    if not raw:
        raise ModelMismatch(f"model {config.get('name')!r} has no 'rare_spec' parameter (build it with build_engine)")
    return ModelSpec.from_json(raw, f"{config.get('name')}/config.pbtxt rare_spec")


def _tensors(items: list[dict]) -> list[TensorSpec]:
    return [TensorSpec(t["name"], t["datatype"], [int(d) for d in t["shape"]]) for t in items]

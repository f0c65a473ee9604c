# One command each: `make serve` (set up and run the gateway on the shipped model), `make test` (set up and test).
.PHONY: serve test setup-serve setup-dev lint triton-cpu bench fonts

serve: setup-serve
	.venv/bin/python -m service

test: setup-dev
	.venv/bin/python -m pytest

setup-serve:
	scripts/setup.sh serve

setup-dev:
	scripts/setup.sh dev

# Training only: the 2,600 Google Fonts faces pinned in requirements/fonts.txt, from the npm registry (83 MB), listed in
# .cache/fonts/fonts.txt for the renderer. The gateway never needs them.
fonts: setup-dev
	.venv/bin/rare fonts

lint: setup-dev
	.venv/bin/ruff check . && .venv/bin/ruff format --check .

# Every benchmark with its default sweep (15-20 min on 2 quiet cores), results in benchmarks/results/ (README.md: targets).
# Another model: make bench BENCH_MODEL=DIR; extra flags for every benchmark: make bench BENCH_ARGS="--instances 1 --threads 2".
BENCH_MODEL ?= models/rare_mv3_en
BENCH_ARGS ?=
BENCH = .venv/bin/python -m benchmarks
QUANT = .cache/bench/quant
bench: setup-dev
	$(BENCH).quantize --model-dir $(BENCH_MODEL) --seconds 5 $(BENCH_ARGS)
	$(BENCH).model_throughput --model-dir $(BENCH_MODEL) --seconds 3 $(BENCH_ARGS) \
	  --extra int8-dynamic=$(QUANT)/int8-dynamic/model.onnx --extra int8-static=$(QUANT)/int8-static/model.onnx \
	  --extra int8-static-conv=$(QUANT)/int8-static-conv/model.onnx \
	  --extra paddleocr-export=../shared/fixtures/paddle_rare/rare_mv3_calib_paddle.onnx
	$(BENCH).openvino_int8 --model-dir $(BENCH_MODEL) --seconds 3 $(BENCH_ARGS)
	$(BENCH).ort_profile --model-dir $(BENCH_MODEL) $(BENCH_ARGS)
	$(BENCH).peak --model-dir $(BENCH_MODEL) $(BENCH_ARGS)
	$(BENCH).triton_perf --model-dir $(BENCH_MODEL) --seconds 3 $(BENCH_ARGS)
	$(BENCH).gateway_load --model-dir $(BENCH_MODEL) --seconds 3 $(BENCH_ARGS)
	$(BENCH).gateway_load --model-dir $(BENCH_MODEL) --backend triton --seconds 3 $(BENCH_ARGS)
	$(BENCH).open_loop --model-dir $(BENCH_MODEL) --seconds 5 $(BENCH_ARGS)
	$(BENCH).open_loop --model-dir $(BENCH_MODEL) --backend triton --seconds 5 $(BENCH_ARGS)
	$(BENCH).lexicon --model-dir $(BENCH_MODEL) $(BENCH_ARGS)
	$(BENCH).calibration --model-dir $(BENCH_MODEL) $(BENCH_ARGS)
	$(BENCH).rapidocr_compare --model-dir $(BENCH_MODEL) --seconds 3 $(BENCH_ARGS) \
	  --extra-model int8=$(QUANT)/int8-dynamic
	$(BENCH).report

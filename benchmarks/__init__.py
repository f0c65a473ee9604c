"""Throughput, latency and memory benchmarks of the model, the gateway and Triton (loopback only).

One command per benchmark (``python -m benchmarks.<name> --help``); each writes ``results/<name>.md``,
``results/<name>.json`` and PNG plots, and ``python -m benchmarks.report`` gathers the targets into one table.
"""

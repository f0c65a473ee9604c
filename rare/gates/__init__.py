"""Accuracy gates (torch-free): a derived model (FP16 graph, INT8 model directory) is kept only if it reads the
labelled crops of a validation folder about as well as the FP32 model it came from."""

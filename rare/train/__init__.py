"""Training: ``rare train -c CFG`` on CPU or one GPU, ``torchrun --nproc_per_node N -m rare train -c CFG`` for DDP."""

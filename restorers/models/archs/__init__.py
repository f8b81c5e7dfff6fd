"""archs: one file per network, pure PyTorch, state_dict layouts identical to the published checkpoints
(checked against ../shared/golden). May import only torch, numpy and each other; adding a model is an
architecture file here plus its record in models/registry.py."""

"""dcgan: the lab for the study's first GAN: train one, watch its losses, sample and walk its latent space.

Owns the model wrapper and checkpoints (model.py), training as a generator of progress events (training.py),
image sets from uploads, zips or the Hub (data.py) and the study's and the demo's settings (config.py).
The networks themselves are models/archs/dcgan.py.

May import: restorers.guards, restorers.media, restorers.models, restorers.analysis. Never cli or gradio.
`restorers.dcgan` was one module (now model.py); its names still import from here.
"""
from .._lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(__name__, __path__, {
    "EXAMPLE_DEFAULTS": "config", "STUDY_DEFAULTS": "config", "TrainConfig": "config", "PRECISIONS": "config",
    "HUB_DATASETS": "data", "DatasetError": "data", "example_dataset": "data", "load_hub_dataset": "data",
    "load_images": "data", "count_images": "data",
    "train": "training",
}, legacy="model")

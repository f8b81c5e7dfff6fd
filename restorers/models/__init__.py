"""models: what a network is and where its weights come from.

Owns the registry (one ordered tuple of ModelSpec), the Hub client (hub.py: the only code that downloads),
building networks from weights (networks.py), device and precision choice (runtime.py), your own
checkpoints (checkpoint.py, recognised by detect_arch.py from tensor names and shapes), the safe StyleGAN2
pickle reader (stylegan_pickle.py) and one file per architecture in archs/.

May import: restorers.guards, restorers.media. Never pipelines, analysis, dcgan, cli or gradio.
"""
from .._lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(__name__, __path__, {
    "MODELS": "registry", "ModelSpec": "registry", "get_spec": "registry", "specs": "registry",
    "DEFAULT_THRESHOLD": "registry", "UnknownModelError": "registry", "probe_hub": "registry",
    "MASK_CHOICES": "registry", "PARSENET": "registry",
    "AUTO_BACKGROUND": "registry", "DEFAULT_BACKGROUND": "registry", "FALLBACK_BACKGROUND": "registry",
    "default_background": "registry",
    "WeightsFile": "hub", "WeightsError": "hub", "DownloadProgress": "hub", "WEIGHTS_DIR_ENV": "hub",
    "fetch": "hub", "hub_endpoint": "hub", "hub_offline": "hub", "hub_retry_seconds": "hub",
    "hub_unreachable": "hub", "set_default_download_progress": "hub",
    "cpu_supports_bf16": "runtime", "describe": "runtime", "pick_device": "runtime",
    "resolve_precision": "runtime", "release_freed_memory": "runtime",
    "cached_networks": "networks", "cache_size": "networks", "RETINAFACE": "registry",
    "CheckpointError": "checkpoint", "checkpoint_spec": "checkpoint",
})

"""pipelines: turning a photo or a clip into a restored one with a loaded network.

Owns the restorer (restorer.py: SR, face and baseline models behind one stateless Restorer), the face
pipeline (face.py: detect, align, paste back; face_mask.py: the face-parsing paste-back mask), tiling
(tiling.py: bounded memory for big images), steady landmarks across frames (track.py) and video restoration
(video.py: frames in, frames and sound out).

May import: restorers.guards, restorers.media, restorers.models. Never analysis, dcgan, cli or gradio.
"""
from .._lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(__name__, __path__, {
    "Restorer": "restorer", "RestoreResult": "restorer", "make_restorer": "restorer",
    "DEFAULT_FIDELITY": "restorer", "FACE_MODES": "restorer", "check_fidelity": "restorer",
    "SharedBackground": "restorer", "shared_background": "restorer",
    "mask_preview": "face_mask", "parser_ready": "face_mask", "parser_spec": "face_mask", "resolve_mask": "face_mask",
    "check_restore_options": "restorer", "resolve_background": "restorer", "detect": "face",
    "VideoProgress": "video", "VideoResult": "video", "process_video": "video", "restore_video": "video",
})

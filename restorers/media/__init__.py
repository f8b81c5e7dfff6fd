"""media: reading and writing pixels, and nothing else.

Owns the image contract (images.py: any file, bytes or array in, HxWx3 uint8 RGB out, with alpha and 16-bit
kept), video, GIF and MP4 input and output with sound (video_io.py), contact sheets and frame strips
(layout.py) and batches of uploads (uploads.py: folders and zips, every member checked before it is read).

May import: restorers.guards only (a leaf: nothing here knows about models).
`restorers.media` was one module (now video_io.py); its names still import from here.
"""
from .._lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(__name__, __path__, {
    "ImageError": "images", "ImageTooLargeError": "images", "LoadedImage": "images", "load_image": "images",
    "save_png": "images",
    "MediaError": "video_io", "write_gif": "video_io", "write_mp4": "video_io", "probe": "video_io",
    "contact_sheet": "layout", "frame_strip": "layout",
    "read_batch": "uploads", "unique_labels": "uploads", "batch_sizes": "uploads", "is_zip_upload": "uploads",
    "header_size": "images",
}, legacy="video_io")

"""Every limit in one place: pixels in and out, faces, frames, seconds, file sizes.

Each limit is a setting read from the environment when it is asked for (so tests and a dedicated GPU
host can raise it), with a default that fits a free 2-vCPU / 16 GB Hugging Face Space. The app, the
Python API and the CLI all go through these functions, so a limit gives the same message everywhere.
Add new limits here (a name, a default, one line saying what it bounds) rather than in the modules
that enforce them.
"""
from __future__ import annotations

import math
import os


class LimitError(ValueError):
    """A request asks for more than a configured limit allows."""


def setting(name: str, default: float) -> float:
    """The number in ``$name``, or ``default`` when it is unset or empty; a bad value is a clear error."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise LimitError(f"${name} must be a number, got {raw!r}") from None
    if not math.isfinite(value) or value < 0:
        raise LimitError(f"${name} must be a finite number >= 0, got {raw!r}")
    return value


def int_setting(name: str, default: int) -> int:
    return int(setting(name, default))


# Input images: pixels of one decoded image.
MAX_PIXELS_ENV = "RESTORERS_MAX_PIXELS"
DEFAULT_MAX_PIXELS = 4096 * 4096


def max_pixels() -> int:
    return int_setting(MAX_PIXELS_ENV, DEFAULT_MAX_PIXELS)


# Input images: each side and the aspect ratio, besides the pixel count. A 1x16777216 PNG (65 KB) is within
# the pixel limit yet cost +670 MB downstream (every row or column becomes its own buffer).
MAX_SIDE_ENV = "RESTORERS_MAX_SIDE"
DEFAULT_MAX_SIDE = 16384
MAX_ASPECT_ENV = "RESTORERS_MAX_ASPECT"
DEFAULT_MAX_ASPECT = 64.0  # longer side / shorter side; a phone panorama is about 10


def max_side() -> int:
    return int_setting(MAX_SIDE_ENV, DEFAULT_MAX_SIDE)


def max_aspect() -> float:
    return setting(MAX_ASPECT_ENV, DEFAULT_MAX_ASPECT)


# Output images: pixels of one restored image. Without it a 4096x4096 input at x4 asks for a
# 16384x16384 (268 MP, ~800 MB as uint8) result, which no 16 GB Space survives.
MAX_OUTPUT_PIXELS_ENV = "RESTORERS_MAX_OUTPUT_PIXELS"
DEFAULT_MAX_OUTPUT_PIXELS = 4096 * 4096


def max_output_pixels() -> int:
    return int_setting(MAX_OUTPUT_PIXELS_ENV, DEFAULT_MAX_OUTPUT_PIXELS)


def clamp_output_scale(width: int, height: int, scale: float) -> tuple[float, str | None]:
    """The largest scale <= ``scale`` whose output fits ``max_output_pixels()``, and a note when it was lowered.

    The note is meant for people (the app shows it, the CLI prints it); None when nothing changed.
    """
    limit = max_output_pixels()
    if limit <= 0 or round(width * scale) * round(height * scale) <= limit:
        return scale, None
    # Floor to 1/1000 so rounding in the resize can never push the output over the limit.
    allowed = math.floor(math.sqrt(limit / (width * height)) * 1000) / 1000
    while allowed > 0.001 and round(width * allowed) * round(height * allowed) > limit:
        allowed -= 0.001
    allowed = max(allowed, 0.001)
    out_w, out_h = max(1, round(width * allowed)), max(1, round(height * allowed))
    note = (f"output scale lowered from x{scale:g} to x{allowed:g} ({out_w}x{out_h}): a {width}x{height} input "
            f"at x{scale:g} would be {round(width * scale)}x{round(height * scale)}, over the output limit of "
            f"{limit / 1e6:.1f} MP (${MAX_OUTPUT_PIXELS_ENV})")
    return allowed, note


# Cost per request (restorers/budget.py estimates it; the app refuses a request past the budget and stops
# one past its time limit). 0 turns a limit off, e.g. locally or on a dedicated GPU.
REQUEST_BUDGET_ENV = "RESTORERS_REQUEST_BUDGET_S"
DEFAULT_REQUEST_BUDGET_S = 600.0  # estimated seconds of work one request may cost (10 min on a 2-vCPU Space)
REQUEST_TIME_LIMIT_ENV = "RESTORERS_REQUEST_TIME_LIMIT_S"
DEFAULT_REQUEST_TIME_LIMIT_S = 1200.0  # wall-clock stop; twice the budget, as estimates are rough
MAX_FACES_ENV = "RESTORERS_MAX_FACES"
DEFAULT_MAX_FACES = 32  # faces restored per photo (the largest ones); a crowd photo can hold hundreds
MAX_DEGRADE_STEPS_ENV = "RESTORERS_MAX_DEGRADE_STEPS"
DEFAULT_MAX_DEGRADE_STEPS = 8  # steps in one chained degradation spec ("a+b+c")
DEVICE_FACTOR_ENV = "RESTORERS_DEVICE_FACTOR"  # override: this device's time relative to the measured CPU
GPU_FACTOR_ENV = "RESTORERS_GPU_FACTOR"
DEFAULT_GPU_FACTOR = 0.05  # a CUDA GPU is assumed 20x faster than the 2-core CPU the constants come from
ZEROGPU_MAX_ENV = "RESTORERS_ZEROGPU_MAX_S"
DEFAULT_ZEROGPU_MAX_S = 120.0  # the longest @spaces.GPU duration asked for (ZeroGPU's free tier caps it)
ZEROGPU_MIN_ENV = "RESTORERS_ZEROGPU_MIN_S"
DEFAULT_ZEROGPU_MIN_S = 15.0  # CUDA start-up and moving weights to the GPU come on top of the work


def request_budget_s() -> float:
    return setting(REQUEST_BUDGET_ENV, DEFAULT_REQUEST_BUDGET_S)


def request_time_limit_s() -> float:
    return setting(REQUEST_TIME_LIMIT_ENV, DEFAULT_REQUEST_TIME_LIMIT_S)


def max_faces() -> int:
    return int_setting(MAX_FACES_ENV, DEFAULT_MAX_FACES)


def max_degrade_steps() -> int:
    return int_setting(MAX_DEGRADE_STEPS_ENV, DEFAULT_MAX_DEGRADE_STEPS)


def gpu_factor() -> float:
    return setting(GPU_FACTOR_ENV, DEFAULT_GPU_FACTOR)


def zerogpu_max_s() -> float:
    return setting(ZEROGPU_MAX_ENV, DEFAULT_ZEROGPU_MAX_S)


def zerogpu_min_s() -> float:
    return setting(ZEROGPU_MIN_ENV, DEFAULT_ZEROGPU_MIN_S)


# Video: one clip's length, frame count and frame size (input), and the size of the frames made from
# it. Every frame is restored, so the cost grows with seconds x pixels; the defaults keep a free Space
# answering (raise them on a GPU host).
MAX_VIDEO_SECONDS_ENV = "RESTORERS_MAX_VIDEO_SECONDS"
DEFAULT_MAX_VIDEO_SECONDS = 300.0
MAX_VIDEO_FRAMES_ENV = "RESTORERS_MAX_VIDEO_FRAMES"
DEFAULT_MAX_VIDEO_FRAMES = 9000
MAX_VIDEO_PIXELS_ENV = "RESTORERS_MAX_VIDEO_PIXELS"
DEFAULT_MAX_VIDEO_PIXELS = 1920 * 1080
MAX_VIDEO_OUTPUT_PIXELS_ENV = "RESTORERS_MAX_VIDEO_OUTPUT_PIXELS"
DEFAULT_MAX_VIDEO_OUTPUT_PIXELS = 3840 * 2160


def max_video_frames() -> int:
    return int_setting(MAX_VIDEO_FRAMES_ENV, DEFAULT_MAX_VIDEO_FRAMES)


def check_video(seconds: float, frames: int, width: int, height: int, out_width: int, out_height: int) -> None:
    """Raise LimitError, saying which setting to change, when a clip (or the part asked for) is too big."""
    max_seconds = setting(MAX_VIDEO_SECONDS_ENV, DEFAULT_MAX_VIDEO_SECONDS)
    if seconds > max_seconds:
        raise LimitError(f"the clip is {seconds:.1f} s long; the limit is {max_seconds:g} s. Pick a part of it "
                         f"(start/end) or raise ${MAX_VIDEO_SECONDS_ENV}.")
    max_frames = max_video_frames()
    if frames > max_frames:
        raise LimitError(f"the clip has about {frames} frames; the limit is {max_frames}. Pick a part of it "
                         f"(start/end, max frames) or raise ${MAX_VIDEO_FRAMES_ENV}.")
    max_in = int_setting(MAX_VIDEO_PIXELS_ENV, DEFAULT_MAX_VIDEO_PIXELS)
    if width * height > max_in:
        raise LimitError(f"the frames are {width}x{height} ({width * height / 1e6:.1f} MP); the limit is "
                         f"{max_in / 1e6:.1f} MP per frame. Downscale the clip first or raise ${MAX_VIDEO_PIXELS_ENV}.")
    max_out = int_setting(MAX_VIDEO_OUTPUT_PIXELS_ENV, DEFAULT_MAX_VIDEO_OUTPUT_PIXELS)
    if out_width * out_height > max_out:
        raise LimitError(f"the restored frames would be {out_width}x{out_height} ({out_width * out_height / 1e6:.1f} "
                         f"MP); the limit is {max_out / 1e6:.1f} MP per frame. Choose a lower output scale or raise "
                         f"${MAX_VIDEO_OUTPUT_PIXELS_ENV}.")


# Uploads and files (hostile inputs: see docs/security.md). Sizes are checked before a byte
# is decoded, so a bomb is refused at the cost of a stat() call.
MAX_UPLOAD_MB_ENV = "RESTORERS_MAX_UPLOAD_MB"  # any one uploaded file; also gradio's max_file_size
DEFAULT_MAX_UPLOAD_MB = 400  # NVIDIA's ffhq.pkl is 363 MB
MAX_IMAGE_FILE_MB_ENV = "RESTORERS_MAX_IMAGE_FILE_MB"  # one encoded image (a file or a zip member)
DEFAULT_MAX_IMAGE_FILE_MB = 64
MAX_ZIP_MEMBERS_ENV = "RESTORERS_MAX_ZIP_MEMBERS"  # entries listed in one zip, images or not
DEFAULT_MAX_ZIP_MEMBERS = 256
MAX_ZIP_TOTAL_MB_ENV = "RESTORERS_MAX_ZIP_TOTAL_MB"  # uncompressed bytes of the images taken from one zip
DEFAULT_MAX_ZIP_TOTAL_MB = 512
MAX_ZIP_RATIO_ENV = "RESTORERS_MAX_ZIP_RATIO"  # uncompressed / compressed size of one member
DEFAULT_MAX_ZIP_RATIO = 100


def _megabytes(name: str, default: float) -> int:
    return int(setting(name, default) * 1024 * 1024)


def max_upload_bytes() -> int:
    return _megabytes(MAX_UPLOAD_MB_ENV, DEFAULT_MAX_UPLOAD_MB)


def max_image_file_bytes() -> int:
    return _megabytes(MAX_IMAGE_FILE_MB_ENV, DEFAULT_MAX_IMAGE_FILE_MB)


def max_zip_members() -> int:
    return int_setting(MAX_ZIP_MEMBERS_ENV, DEFAULT_MAX_ZIP_MEMBERS)


def max_zip_total_bytes() -> int:
    return _megabytes(MAX_ZIP_TOTAL_MB_ENV, DEFAULT_MAX_ZIP_TOTAL_MB)


def max_zip_ratio() -> float:
    return setting(MAX_ZIP_RATIO_ENV, DEFAULT_MAX_ZIP_RATIO)


# DCGAN training sets (restorers/dcgan/data.py): a dataset is thousands of small images, so its zips get
# their own, larger member and size limits; each member still obeys the per-image and ratio limits above.
MAX_DCGAN_IMAGES_ENV = "RESTORERS_DCGAN_MAX_IMAGES"  # images kept for one training run
DEFAULT_MAX_DCGAN_IMAGES = 10_000
MAX_DCGAN_ZIP_MEMBERS_ENV = "RESTORERS_DCGAN_ZIP_MEMBERS"  # entries listed in one training zip
DEFAULT_MAX_DCGAN_ZIP_MEMBERS = 20_000
MAX_DCGAN_ZIP_TOTAL_MB_ENV = "RESTORERS_DCGAN_ZIP_TOTAL_MB"  # uncompressed bytes of one training zip
DEFAULT_MAX_DCGAN_ZIP_TOTAL_MB = 2048


def max_dcgan_images() -> int:
    return int_setting(MAX_DCGAN_IMAGES_ENV, DEFAULT_MAX_DCGAN_IMAGES)


def max_dcgan_zip_members() -> int:
    return int_setting(MAX_DCGAN_ZIP_MEMBERS_ENV, DEFAULT_MAX_DCGAN_ZIP_MEMBERS)


def max_dcgan_zip_total_bytes() -> int:
    return _megabytes(MAX_DCGAN_ZIP_TOTAL_MB_ENV, DEFAULT_MAX_DCGAN_ZIP_TOTAL_MB)


# Network pickles / .pt generator files: what the recorded configuration may ask for, checked before
# a single weight is allocated. The defaults admit NVIDIA's FFHQ 1024 generator (about 30 M parameters).
MAX_GENERATOR_RESOLUTION_ENV = "RESTORERS_MAX_GENERATOR_RESOLUTION"
DEFAULT_MAX_GENERATOR_RESOLUTION = 1024
MAX_GENERATOR_PARAMS_ENV = "RESTORERS_MAX_GENERATOR_PARAMS"  # parameters + buffers of the built generator
DEFAULT_MAX_GENERATOR_PARAMS = 100_000_000
# Opcodes in one pickle: a network pickle (FFHQ's has about 60 k) or a checkpoint's data.pkl (RRDBNet x4plus:
# 24 k), walked before unpickling (guards/pickle_scan.py). Under the cap a flood of empty sets costs at most
# ~65 MB while it is refused; 2 M (the old default) let 1.99 M of them cost +470 MB.
MAX_PICKLE_OPS_ENV = "RESTORERS_MAX_PICKLE_OPS"
DEFAULT_MAX_PICKLE_OPS = 300_000


def max_generator_resolution() -> int:
    return int_setting(MAX_GENERATOR_RESOLUTION_ENV, DEFAULT_MAX_GENERATOR_RESOLUTION)


def max_generator_params() -> int:
    return int_setting(MAX_GENERATOR_PARAMS_ENV, DEFAULT_MAX_GENERATOR_PARAMS)


def max_pickle_ops() -> int:
    return int_setting(MAX_PICKLE_OPS_ENV, DEFAULT_MAX_PICKLE_OPS)


# Animation frame rates (GIF and MP4 writers, the app's sliders, the CLI's --fps).
MIN_FPS, MAX_FPS = 0.1, 240.0


# Your own checkpoints (restorers.load_checkpoint, `restore --weights`, the app's upload): the file's size,
# checked before it is read, and the parameters of the network its shapes describe, counted on the meta
# device before anything is allocated. The defaults admit every published model here (CodeFormer's file,
# the largest, is 377 MB and 94 M parameters).
MAX_CHECKPOINT_MB_ENV = "RESTORERS_MAX_CHECKPOINT_MB"
DEFAULT_MAX_CHECKPOINT_MB = 600
MAX_CHECKPOINT_PARAMS_ENV = "RESTORERS_MAX_CHECKPOINT_PARAMS"
DEFAULT_MAX_CHECKPOINT_PARAMS = 150_000_000
# Tensors (storages) in one checkpoint, counted from the zip directory and the pickle before torch.load:
# the published models have 101 (general-x4v3) to 702 (RRDBNet x4plus); a file with 60,000 is a depth bomb,
# torch.load takes about 1 s per 1,500 tensors on the loaded 2-core machine, so the cap also bounds the time
# a file that is refused after reading (too deep for its architecture) can cost. A BasicSR training file with
# both 'params' and 'params_ema' of RRDBNet x4plus has 1,404.
MAX_CHECKPOINT_TENSORS_ENV = "RESTORERS_MAX_CHECKPOINT_TENSORS"
DEFAULT_MAX_CHECKPOINT_TENSORS = 2048
# The object pickle inside a torch zip (data.pkl): RRDBNet x4plus's is 79 KB. Checked as declared, before
# a byte of it is inflated.
MAX_CHECKPOINT_PICKLE_MB_ENV = "RESTORERS_MAX_CHECKPOINT_PICKLE_MB"
DEFAULT_MAX_CHECKPOINT_PICKLE_MB = 16


def max_checkpoint_bytes() -> int:
    return int(setting(MAX_CHECKPOINT_MB_ENV, DEFAULT_MAX_CHECKPOINT_MB) * 1024 * 1024)


def max_checkpoint_params() -> int:
    return int_setting(MAX_CHECKPOINT_PARAMS_ENV, DEFAULT_MAX_CHECKPOINT_PARAMS)


def max_checkpoint_tensors() -> int:
    return int_setting(MAX_CHECKPOINT_TENSORS_ENV, DEFAULT_MAX_CHECKPOINT_TENSORS)


def max_checkpoint_pickle_bytes() -> int:
    return _megabytes(MAX_CHECKPOINT_PICKLE_MB_ENV, DEFAULT_MAX_CHECKPOINT_PICKLE_MB)


# Depth and width of the network a checkpoint describes, per architecture: a small file can describe
# 30,000 thin SRVGG convs or 5,000 RRDB blocks, within the parameter limit yet minutes per image. Each
# bound is a few times the largest published model's value (in the comment), checked before building.
CHECKPOINT_ARCH_BOUNDS: dict[str, dict[str, int]] = {
    "rrdbnet": {"num_block": 64, "num_feat": 256, "num_grow_ch": 256},  # x4plus: 23 blocks, 64, 32
    "srvgg": {"num_conv": 128, "num_feat": 256, "upscale": 8},  # general-x4v3: 32 convs, 64, x4
    "gpen": {"size": 2048, "n_mlp": 16, "style_dim": 1024, "channel_multiplier": 4, "narrow": 2},  # 512/1024, 8, 512, 2, 1
    "gfpgan": {"out_size": 1024, "num_mlp": 16, "num_style_feat": 1024, "channel_multiplier": 4, "narrow": 2},
    "codeformer": {"n_layers": 32, "dim_embd": 2048, "codebook_size": 8192, "latent_size": 1024},  # 9, 512, 1024, 256
}

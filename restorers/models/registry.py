"""Every model the project knows, as one explicit, ordered list of specs.

Architecture factories import their module lazily so that ``import restorers`` stays cheap; there is no
string-to-class lookup and nothing happens at import time.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Callable, Literal

from .hub import WeightsFile, check, probe_hub_in_background

Family = Literal["baseline", "sr", "face", "generator", "detector", "parser"]
FaceTask = Literal["restore", "colorize", "inpaint"]
# How face models take their input (here, not in restorer.py, so the CLI can offer it without importing torch).
FACE_MODES = ("whole", "aligned")
# Face detection score threshold: facexlib's default. At 0.9, parts of a very large face (an eye, a cheek)
# pass as faces of their own (see restorers/face.py).
DEFAULT_THRESHOLD = 0.97


@dataclass(frozen=True)
class ModelSpec:
    name: str  # stable id used by the API, the CLI and the app
    title: str  # what the UI shows
    family: Family
    build: Callable[..., Any] | None = None  # architecture factory; called with **config
    loader: Callable[[Any], Any] | None = None  # instead of build: turns the weights file's path into a network
    config: dict[str, Any] = field(default_factory=dict)
    weights: WeightsFile | None = None
    state_keys: tuple[str, ...] = ("params_ema", "params")
    scale: int = 1  # native upscaling factor of the network (SR models)
    # SR models: peak activation memory per input pixel, fp32, untiled (benchmarks/bench_tiling.py); the
    # tile size follows from it and $RESTORERS_TILE_MEMORY_MB (pipelines.tiling.choose_tile). 0: unknown.
    tile_bytes_per_pixel: int = 0
    input_size: int | None = None  # aligned face size (face models) or output resolution (generators)
    value_range: tuple[float, float] = (0.0, 1.0)
    seeded_noise: bool = False  # forward() accepts randomize_noise/noise_generator (GFPGAN's decoder)
    fidelity: bool = False  # forward() takes a fidelity weight w in [0, 1] and encode()/decode() (CodeFormer)
    # What a face model does to an aligned face: 'restore'; 'colorize' (CodeFormer colourisation: w=0, AdaIN, a
    # grey face in, a coloured one out); 'inpaint' (CodeFormer inpainting: w=1, no AdaIN, fills a painted mask).
    face_task: FaceTask = "restore"
    licence: str = ""
    paper: str = ""
    homepage: str = ""
    description: str = ""

    @property
    def needs_weights(self) -> bool:
        return self.weights is not None


def _rrdbnet(**config: Any) -> Any:
    from .archs.rrdbnet import RRDBNet

    return RRDBNet(**config)


def _srvgg(**config: Any) -> Any:
    from .archs.srvgg import SRVGGNetCompact

    return SRVGGNetCompact(**config)


def _gpen(**config: Any) -> Any:
    from .archs.gpen import FullGenerator

    return FullGenerator(**config)


def _gfpgan(**config: Any) -> Any:
    from .archs.gfpgan import GFPGANv1Clean

    return GFPGANv1Clean(**config)


def _codeformer(**config: Any) -> Any:
    from .archs.codeformer import CodeFormer

    return CodeFormer(**config)


def _stylegan2_ada(**config: Any) -> Any:
    from .archs.stylegan2_ada import Generator

    return Generator(**config)


def _stylegan2_ada_pickle(path: Any) -> Any:
    from .stylegan_pickle import load_stylegan2_ada_pickle

    return load_stylegan2_ada_pickle(path)


def _retinaface(**config: Any) -> Any:
    from .archs.retinaface import RetinaFace

    return RetinaFace(**config)


def _parsenet(**config: Any) -> Any:
    from .archs.parsenet import ParseNet

    return ParseNet(**config)


_REALESRGAN_PAPER = "https://arxiv.org/abs/2107.10833"
_REALESRGAN_HOME = "https://github.com/xinntao/Real-ESRGAN"
# Peak fp32 activation memory per input pixel, untiled (benchmarks/bench_tiling.py, docs/benchmarks.md),
# rounded up: the x4 models' last convolutions run at 16x the input's pixels with 64 channels.
_TILE_BYTES_X4, _TILE_BYTES_X2, _TILE_BYTES_V3 = 12288, 3072, 1024
_RRDB_CONFIG = dict(num_in_ch=3, num_out_ch=3, num_feat=64, num_block=23, num_grow_ch=32)
_GFPGAN_CONFIG = dict(
    out_size=512, num_style_feat=512, channel_multiplier=2, decoder_load_path=None, fix_decoder=False,
    num_mlp=8, input_is_latent=True, different_w=True, narrow=1, sft_half=True,
)
_GPEN_LICENCE = "no licence file (README: academic, non-commercial)"

BICUBIC = ModelSpec(
    name="bicubic", title="Bicubic (baseline)", family="baseline", licence="n/a (Pillow resampling)",
    description="Classical bicubic interpolation at the chosen output scale: the floor every model must beat.",
)
LANCZOS = ModelSpec(
    name="lanczos", title="Lanczos (baseline)", family="baseline", licence="n/a (Pillow resampling)",
    description="Classical Lanczos-3 interpolation at the chosen output scale.",
)
REALESRGAN_X4PLUS = ModelSpec(
    name="realesrgan-x4plus", title="Real-ESRGAN x4plus", family="sr", build=_rrdbnet,
    config=dict(_RRDB_CONFIG, scale=4),
    tile_bytes_per_pixel=_TILE_BYTES_X4,
    weights=WeightsFile(
        "LykosAI/Upscalers", "RealESRGAN/RealESRGAN_x4plus.pth",
        "4fa0d38905f75ac06eb49a7951b426670021be3018265fd191d2125df9d682f1", 67040989,
    ),
    scale=4, licence="BSD-3-Clause", paper=_REALESRGAN_PAPER, homepage=_REALESRGAN_HOME,
    description="RRDBNet (23 blocks) trained with the second-order degradation model; general photos, x4.",
)
REALESRGAN_X2PLUS = ModelSpec(
    name="realesrgan-x2plus", title="Real-ESRGAN x2plus", family="sr", build=_rrdbnet,
    config=dict(_RRDB_CONFIG, scale=2),
    tile_bytes_per_pixel=_TILE_BYTES_X2,
    weights=WeightsFile(
        "nateraw/real-esrgan", "RealESRGAN_x2plus.pth",
        "49fafd45f8fd7aa8d31ab2a22d14d91b536c34494a5cfe31eb5d89c2fa266abb", 67061725,
    ),
    scale=2, licence="BSD-3-Clause", paper=_REALESRGAN_PAPER, homepage=_REALESRGAN_HOME,
    description="RRDBNet x2 (pixel-unshuffled input); the usual background upsampler for face restoration.",
)
REALESR_GENERAL_X4V3 = ModelSpec(
    name="realesr-general-x4v3", title="Real-ESRGAN general-x4v3", family="sr", build=_srvgg,
    config=dict(num_in_ch=3, num_out_ch=3, num_feat=64, num_conv=32, upscale=4, act_type="prelu"),
    tile_bytes_per_pixel=_TILE_BYTES_V3,
    weights=WeightsFile(
        "jhj0517/realesr-general-x4v3", "realesr-general-x4v3.pth",
        "8dc7edb9ac80ccdc30c3a5dca6616509367f05fbc184ad95b731f05bece96292", 4885111,
    ),
    scale=4, licence="BSD-3-Clause", paper=_REALESRGAN_PAPER, homepage=_REALESRGAN_HOME,
    description="SRVGGNetCompact (32 convs): a tiny, fast x4 general model.",
)
GPEN_BFR_512 = ModelSpec(
    name="gpen-bfr-512", title="GPEN-BFR-512", family="face", build=_gpen,
    config=dict(size=512, style_dim=512, n_mlp=8, channel_multiplier=2, narrow=1),
    weights=WeightsFile(
        "akhaliq/GPEN-BFR-512", "GPEN-BFR-512.pth",
        "f1002c41add95b0decad69604d80455576f7187dd99ca16bd611bcfd44c10b51", 284085738,
    ),
    state_keys=(), input_size=512, value_range=(-1.0, 1.0), licence=_GPEN_LICENCE,
    paper="https://arxiv.org/abs/2105.06070", homepage="https://github.com/yangxy/GPEN",
    description="GAN Prior Embedded Network: a U-shaped encoder feeding a StyleGAN2 decoder; 512x512 faces.",
)
GPEN_BFR_256 = ModelSpec(
    name="gpen-bfr-256", title="GPEN-BFR-256", family="face", build=_gpen,
    config=dict(size=256, style_dim=512, n_mlp=8, channel_multiplier=1, narrow=0.5),
    weights=WeightsFile(
        "ygtxr1997/ReliableSwap_Demo", "third_party/GPEN/weights/GPEN-BFR-256.pth",
        "56ba6ed9d19e1e1c2ec36bc63e1ef9d54ed1bc544b4f8f0769222660d255ddc5", 75573183, repo_type="space",
    ),
    state_keys=(), input_size=256, value_range=(-1.0, 1.0), licence=_GPEN_LICENCE,
    paper="https://arxiv.org/abs/2105.06070", homepage="https://github.com/yangxy/GPEN",
    description="GPEN at 256x256 (narrow 0.5): about 4x cheaper than the 512 model.",
)
GFPGAN_V14 = ModelSpec(
    name="gfpgan-v1.4", title="GFPGAN v1.4", family="face", build=_gfpgan, config=_GFPGAN_CONFIG,
    weights=WeightsFile(
        "leonelhs/gfpgan", "GFPGANv1.4.pth",
        "e2cd4703ab14f4d01fd1383a8a8b266f9a5833dacee8e6a79d3bf21a1b6be5ad", 348632874,
    ),
    input_size=512, value_range=(-1.0, 1.0), seeded_noise=True, licence="Apache-2.0",
    paper="https://arxiv.org/abs/2101.04061", homepage="https://github.com/TencentARC/GFPGAN",
    description="GFPGAN v1.4 (clean architecture): generative facial prior with spatial feature transforms.",
)
# v1.3 is the same architecture with other weights.
GFPGAN_V13 = replace(
    GFPGAN_V14, name="gfpgan-v1.3", title="GFPGAN v1.3",
    weights=WeightsFile(
        "leonelhs/gfpgan", "GFPGANv1.3.pth",
        "c953a88f2727c85c3d9ae72e2bd4846bbaf59fe6972ad94130e23e7017524a70", 348632874,
    ),
    description="GFPGAN v1.3 (clean architecture): more natural, less sharp than v1.4.",
)
CODEFORMER = ModelSpec(
    name="codeformer", title="CodeFormer", family="face", build=_codeformer,
    config=dict(dim_embd=512, n_head=8, n_layers=9, codebook_size=1024, connect_list=["32", "64", "128", "256"]),
    # The official v0.1.0 release file (same blob as github.com/sczhou/CodeFormer/releases), {'params_ema': ...}.
    weights=WeightsFile(
        "fofr/comfyui", "facerestore_models/codeformer.pth",
        "1009e537e0c2a07d4cabce6355f53cb66767cd4b4297ec7a4a64ca4b8a5684b7", 376637898,
    ),
    state_keys=("params_ema",), input_size=512, value_range=(-1.0, 1.0), fidelity=True,
    licence="S-Lab License 1.0 (non-commercial use only)",
    paper="https://arxiv.org/abs/2206.11253", homepage="https://github.com/sczhou/CodeFormer",
    description="Codebook lookup transformer over a VQGAN prior; a fidelity weight w trades restoration "
                "strength (w=0) for faithfulness to the input (w=1).",
)
_CODEFORMER_LICENCE = CODEFORMER.licence
# CodeFormer's colourisation network (official release v0.1.0 file; this Hub copy has the same size and layout):
# a 1024-code codebook, fusion at 32/64/128 px only, run with w=0 and AdaIN on a grey aligned face.
CODEFORMER_COLORIZATION = ModelSpec(
    name="codeformer-colorization", title="CodeFormer colourisation (faces)", family="face", build=_codeformer,
    config=dict(dim_embd=512, n_head=8, n_layers=9, codebook_size=1024, connect_list=["32", "64", "128"]),
    weights=WeightsFile(
        "rippertnt/upscale", "codeformer_colorization.pth",
        "4f041f194fe17cc128d7c76526fe45689079ce5f5811e1441ccfd3d5aec4693d", 372359475,
    ),
    state_keys=("params_ema",), input_size=512, value_range=(-1.0, 1.0), face_task="colorize",
    licence=_CODEFORMER_LICENCE, paper=CODEFORMER.paper, homepage=CODEFORMER.homepage,
    description="CodeFormer trained to colour grey faces (w=0, AdaIN): only the faces are coloured, the rest "
                "of a whole photo keeps its own colours (grey stays grey).",
)
# CodeFormer's inpainting network: no Hub copy was found, so it is 'bring your own checkpoint': the official
# file is read from $RESTORERS_WEIGHTS_DIR (or loaded as your own checkpoint, which detect_arch recognises).
CODEFORMER_INPAINTING_URL = "https://github.com/sczhou/CodeFormer/releases/download/v0.1.0/codeformer_inpainting.pth"
CODEFORMER_INPAINTING = ModelSpec(
    name="codeformer-inpainting", title="CodeFormer inpainting (faces)", family="face", build=_codeformer,
    config=dict(dim_embd=512, n_head=8, n_layers=9, codebook_size=512, connect_list=["32", "64", "128"]),
    weights=WeightsFile("sczhou/CodeFormer", "codeformer_inpainting.pth", None, local_only=CODEFORMER_INPAINTING_URL),
    state_keys=("params_ema",), input_size=512, value_range=(-1.0, 1.0), face_task="inpaint",
    licence=_CODEFORMER_LICENCE, paper=CODEFORMER.paper, homepage=CODEFORMER.homepage,
    description="CodeFormer trained to fill damaged face regions (w=1, no AdaIN): what you paint white is "
                "redrawn, every other pixel is kept. Bring the official file (sczhou/CodeFormer release v0.1.0).",
)
STYLEGAN2_ADA_FFHQ = ModelSpec(
    name="stylegan2-ada-ffhq", title="StyleGAN2-ADA FFHQ 1024", family="generator", loader=_stylegan2_ada_pickle,
    # NVIDIA's ffhq.pkl from stylegan2-ada-pytorch; no published sha256 could be verified offline, so it is
    # pinned by the repo commit instead (which fixes the file's content).
    weights=WeightsFile("ZeqiangLai/StyleGAN2-pkl", "ada/ffhq.pkl", None, None,
                        revision="7d9a80d433e2a63592e73622d3606d600f1fd46e"),
    input_size=1024, value_range=(-1.0, 1.0), licence="NVIDIA Source Code License (non-commercial)",
    paper="https://arxiv.org/abs/2006.06676", homepage="https://github.com/NVlabs/stylegan2-ada-pytorch",
    description="StyleGAN2-ADA trained on FFHQ at 1024 px: faces of people who do not exist.",
)
RETINAFACE = ModelSpec(
    name="retinaface-mobilenet0.25", title="RetinaFace (MobileNet-0.25)", family="detector", build=_retinaface,
    weights=WeightsFile(
        "fofr/comfyui", "facedetection/detection_mobilenet0.25_Final.pth",
        "2979b33ffafda5d74b6948cd7a5b9a7a62f62b949cef24e95fd15d2883a65220", 1789735,
    ),
    state_keys=(), licence="MIT", paper="https://arxiv.org/abs/1905.00641",
    homepage="https://github.com/xinntao/facexlib",
    description="Face detector with 5 landmarks, used to find and align faces in whole photos.",
)
# facexlib's face parser (release v0.2.2 file), beside the detector in the same Hub repo; a bare state_dict.
PARSENET = ModelSpec(
    name="parsenet", title="ParseNet face parsing", family="parser", build=_parsenet,
    config=dict(in_size=512, out_size=512, parsing_ch=19),
    weights=WeightsFile(
        "fofr/comfyui", "facedetection/parsing_parsenet.pth",
        "3d558d8d0e42c20224f13cf5a29c79eba2d59913419f945545d8cf7b72920de2", 85331193,
    ),
    state_keys=(), input_size=512, value_range=(-1.0, 1.0), licence="MIT",
    homepage="https://github.com/xinntao/facexlib",
    description="19-class face parser: its face region (not hair, hat, neck, cloth or background) is the "
                "'parse' paste-back mask of whole-photo face restoration.",
)
# How restored faces are blended back into a whole photo (here so the CLI can offer it without torch):
# 'parse' = the face region ParseNet finds, 'square' = the whole aligned crop with soft edges.
MASK_CHOICES = ("parse", "square")

MODELS: tuple[ModelSpec, ...] = (
    BICUBIC,
    LANCZOS,
    REALESRGAN_X4PLUS,
    REALESRGAN_X2PLUS,
    REALESR_GENERAL_X4V3,
    GPEN_BFR_512,
    GPEN_BFR_256,
    GFPGAN_V14,
    GFPGAN_V13,
    CODEFORMER,
    CODEFORMER_COLORIZATION,
    CODEFORMER_INPAINTING,
    STYLEGAN2_ADA_FFHQ,
    RETINAFACE,
    PARSENET,
)


class UnknownModelError(KeyError):
    def __str__(self) -> str:  # KeyError quotes its message; this one reads as a sentence
        return str(self.args[0])


def get_spec(name: str, models: tuple[ModelSpec, ...] | None = None) -> ModelSpec:
    for spec in models if models is not None else MODELS:
        if spec.name == name:
            return spec
    known = ", ".join(s.name for s in (models if models is not None else MODELS))
    raise UnknownModelError(f"unknown model '{name}'; known models: {known}")


def specs(*families: Family) -> list[ModelSpec]:
    """Registered specs, in registry order, optionally filtered by family."""
    return [s for s in MODELS if not families or s.family in families]


# Whole-photo mode's background upsampler when the caller names none ("auto"): the fastest one that visibly
# beats Lanczos (benchmarks/bench_background.py, docs/app.md), and GFPGAN's own Space's choice. Where its
# weights cannot be had (offline and not cached, the Hub unreachable, a bad local file) "auto" is Lanczos.
AUTO_BACKGROUND = "auto"
DEFAULT_BACKGROUND = "realesr-general-x4v3"
FALLBACK_BACKGROUND = "lanczos"
# Weights states in which a model can run (now, or after its first download).
RUNNABLE_STATES = frozenset({"override", "cached", "downloadable"})


def default_background() -> str:
    """What background="auto" means here and now: DEFAULT_BACKGROUND when its weights are cached, a verified
    local override or downloadable, else FALLBACK_BACKGROUND. Reads only what is known (no network)."""
    weights = get_spec(DEFAULT_BACKGROUND).weights
    return DEFAULT_BACKGROUND if weights is None or check(weights).state in RUNNABLE_STATES else FALLBACK_BACKGROUND


def probe_hub():
    """Find out in the background whether the Hub answers, asking for the first registered file that is not
    cached (hub.probe_hub_in_background); returns the thread, or None when there is nothing to ask."""
    return probe_hub_in_background(spec.weights for spec in MODELS)

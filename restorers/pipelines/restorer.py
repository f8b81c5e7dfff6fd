"""Restorers: what turns one RGB uint8 image into a restored one, for each model family.

A restorer holds a shared, eval-mode network and its settings (device, precision); everything about a
request lives in the call, so one instance can serve concurrent requests.
"""
from __future__ import annotations

import dataclasses
import hashlib
import os
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator

import numpy as np
import torch

from ..guards import cancel, limits
from ..media import images
from ..models.networks import get_network
from ..models.registry import (AUTO_BACKGROUND, DEFAULT_THRESHOLD, FACE_MODES,  # noqa: F401 (FACE_MODES re-exported)
                               MASK_CHOICES, ModelSpec, default_background, get_spec)
from ..models.runtime import inference, keep_freed_memory, pick_device, resolve_precision
from . import inpaint
from .tiling import choose_tile, network_context, pad_to_multiple, tile_memory_budget, tiled_apply
from ..guards.validate import ParameterError, check_choice, check_flag, check_int, check_number, check_optional_int

TILE_ENV = "RESTORERS_TILE"
# Inputs up to this many pixels run in one piece; larger ones are tiled to bound memory.
UNTILED_MAX_PIXELS = 512 * 512
DEFAULT_TILE = 256
TILE_OVERLAP = 16
PRE_PAD = 10  # reflect border added before SR (as Real-ESRGAN does) so edges are not darkened
FACE_BATCH_ENV = "RESTORERS_FACE_BATCH"
# Faces per network call in whole-photo mode. On CPU a batch is no faster than one face at a time (the
# modulated convs become grouped convs; see the benchmark), on a GPU batching fills the device.
FACE_BATCH = {"cpu": 1, "cuda": 8}


# CodeFormer's fidelity weight w: 0 = strongest restoration, 1 = most faithful to the input.
DEFAULT_FIDELITY = 0.5  # the official demo's default


class NonFiniteOutputError(ValueError):
    """A network produced NaN or infinite values: there is no honest image to return."""


def finite_pixels(tensor: torch.Tensor, model: str, value_range: tuple[float, float] = (0.0, 1.0)) -> np.ndarray:
    """``images.from_tensor``, after checking every value is finite: NaN would otherwise become black pixels
    that look like a result."""
    if not bool(torch.isfinite(tensor).all()):
        raise NonFiniteOutputError(
            f"{model}: the output is not finite (NaN or infinite values), so no image was made; the network's "
            "weights or its arithmetic broke down (fp32 precision may help with an overflow)")
    return images.from_tensor(tensor, value_range)


def check_fidelity(value: object) -> float:
    """A fidelity weight as a float in [0, 1], or a ValueError that says what is allowed."""
    try:
        w = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"fidelity must be a number between 0 and 1, got '{value}'") from None
    if not 0.0 <= w <= 1.0:  # also rejects NaN
        raise ValueError(f"fidelity must be between 0 and 1 (0 = strongest restoration, 1 = most faithful), got {value}")
    return w


def fidelity_label(model: str, w: float) -> str:
    """The column name of one fidelity weight in a sweep, e.g. 'codeformer (w=0.5)'."""
    return f"{model} (w={w:g})"


@dataclass
class RestoreResult:
    image: np.ndarray  # HxWx3 uint8
    model: str
    seconds: float
    alpha: np.ndarray | None = None
    grayscale: bool = False
    faces: list = field(default_factory=list)
    crops_before: list[np.ndarray] = field(default_factory=list)
    crops_after: list[np.ndarray] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    mask: str | None = None  # whole-photo face restores: the paste-back mask used, 'parse' or 'square'
    masks: list[np.ndarray] = field(default_factory=list)  # each face's paste-back weights over its restored crop
    # True for an intermediate result of restore_steps() (e.g. restored faces on a Lanczos background while
    # the background upsampler still runs); the final result replaces it.
    provisional: bool = False
    colorized: bool = False  # faces were coloured (CodeFormer colourisation): not saved back as grayscale

    @property
    def size(self) -> tuple[int, int]:
        return self.image.shape[1], self.image.shape[0]


def face_batch_size(device: torch.device) -> int:
    if os.environ.get(FACE_BATCH_ENV):
        return max(1, int(os.environ[FACE_BATCH_ENV]))
    return FACE_BATCH.get(device.type, 1)


def _tile_size(height: int, width: int, tile: int | None, spec: ModelSpec | None = None, context: int = 0) -> int:
    """The tile side: the caller's, else $RESTORERS_TILE, else from the spec's measured memory per pixel and
    $RESTORERS_TILE_MEMORY_MB (tiling.choose_tile), else the fixed pixel-count rule for unmeasured networks."""
    if tile is not None:
        return tile
    if os.environ.get(TILE_ENV):
        return int(os.environ[TILE_ENV])
    if spec is not None and spec.tile_bytes_per_pixel > 0:
        return choose_tile(height, width, spec.tile_bytes_per_pixel, tile_memory_budget(), TILE_OVERLAP, context)
    return 0 if height * width <= UNTILED_MAX_PIXELS else DEFAULT_TILE


class Restorer:
    """Base class: spec + device + precision, and the timing wrapper."""

    def __init__(self, spec: ModelSpec, device: torch.device, precision: str) -> None:
        self.spec = spec
        self.device = device
        self.precision = precision

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def network(self) -> torch.nn.Module:
        """The shared, cached network (loaded on first use); baselines have none."""
        return get_network(self.spec, self.device)

    def output_scale(self, options: dict) -> float | None:
        """The output/input size ratio these options ask for (None: the output size does not grow with it)."""
        outscale = options.get("outscale")
        return None if outscale is None else float(outscale)

    def run(self, rgb: np.ndarray, **options) -> RestoreResult:  # pragma: no cover - abstract
        raise NotImplementedError

    def check_options(self, **options) -> dict:
        """The options, checked and normalised (ParameterError names the bad one); callers with a batch
        check once up front, and restore() checks again, so every path gives the same message."""
        checked = check_restore_options(options)
        if checked.get("inpaint_mask") is not None and self.spec.face_task != "inpaint":
            raise ParameterError(f"inpaint_mask is for an inpainting model (codeformer-inpainting or your own "
                                 f"CodeFormer inpainting checkpoint); {self.name} does not take one")
        return checked

    def _begin(self, image, options: dict) -> tuple[images.LoadedImage, dict, str | None]:
        """Check the options, load the input and apply the output-size limit to them (with the note it produced)."""
        options = self.check_options(**options)
        loaded = images.load_image(image)
        note = None
        scale = self.output_scale(options)
        if scale is not None:
            height, width = loaded.rgb.shape[:2]
            allowed, note = limits.clamp_output_scale(width, height, scale)
            if note:
                options = {**options, "outscale": allowed}
        cancel.check()
        return loaded, options, note

    @staticmethod
    def _finish(result: RestoreResult, loaded: images.LoadedImage, note: str | None) -> RestoreResult:
        if note:
            result.warnings.insert(0, note)
        if loaded.alpha is not None:
            result.alpha = images.resize(loaded.alpha, result.size, "lanczos")
        result.grayscale = loaded.grayscale and not result.colorized
        return result

    def restore(self, image, **options) -> RestoreResult:
        """Restore any accepted image input; alpha and grayscale-ness come back on the result."""
        loaded, options, note = self._begin(image, options)
        start = time.perf_counter()
        result = self.run(loaded.rgb, **options)
        result.seconds = time.perf_counter() - start
        return self._finish(result, loaded, note)

    def restore_steps(self, image, **options) -> Iterator[list[RestoreResult]]:
        """restore() as it progresses: lists of results, provisional ones (``result.provisional``) while work
        remains, the final list last. Here the final one only; a face model in whole mode with a learned
        background first yields its restored faces on a Lanczos background (FaceRestorer.restore_steps)."""
        yield [self.restore(image, **options)]


MAX_OUTSCALE = 16.0


def check_restore_options(options: dict) -> dict:
    """Range and type checks for restore() options, at the engine's boundary (see validate.py)."""
    out = dict(options)
    if out.get("outscale") is not None:
        out["outscale"] = float(check_number("outscale", out["outscale"], 0.05, MAX_OUTSCALE))
    if "mode" in out:
        out["mode"] = check_choice("mode", out["mode"], FACE_MODES)
    if "blend" in out:
        out["blend"] = float(check_number("blend", out["blend"], 0.0, 1.0))
    if "threshold" in out:
        out["threshold"] = float(check_number("face detection threshold", out["threshold"], 0.0, 1.0))
    if "min_face" in out:
        out["min_face"] = check_int("minimum face size", out["min_face"], 0, 100_000)
    if out.get("mask") is not None:
        out["mask"] = check_choice("mask", out["mask"], MASK_CHOICES)
    if "only_center_face" in out:
        out["only_center_face"] = check_flag("only_center_face", out["only_center_face"])
    if "seed" in out:
        out["seed"] = check_optional_int("seed", out["seed"], 0, 2**63 - 1)
    if out.get("tile") is not None:
        out["tile"] = check_int("tile", out["tile"], 0, 16384)
    if out.get("inpaint_mask") is not None:
        out["inpaint_mask"] = inpaint.load_mask(out["inpaint_mask"])
    background = out.get("background")
    if background is not None and not callable(background) and not isinstance(background, str):
        raise ParameterError(f"background must be a model name, got a {type(background).__name__}")
    return out


class ResizeRestorer(Restorer):
    """Classical interpolation baselines (bicubic, Lanczos)."""

    def upscale(self, rgb: np.ndarray, outscale: float = 4.0) -> np.ndarray:
        return images.resize(rgb, images.scaled_size(rgb.shape[1], rgb.shape[0], outscale), self.spec.name)

    def output_scale(self, options: dict) -> float | None:
        return 4.0 if options.get("outscale") is None else float(options["outscale"])

    def run(self, rgb: np.ndarray, outscale: float | None = None, **_: object) -> RestoreResult:
        return RestoreResult(self.upscale(rgb, 4.0 if outscale is None else outscale), self.name, 0.0)


class SRRestorer(Restorer):
    """Real-ESRGAN family: whole-image super-resolution, tiled when large, resized to any output scale."""

    def upscale(self, rgb: np.ndarray, outscale: float | None = None, tile: int | None = None) -> np.ndarray:
        net = self.network
        scale = self.spec.scale
        multiple = int(getattr(net, "input_multiple", 1))  # RRDBNet x2/x1 pixel-unshuffle their input
        height, width = rgb.shape[:2]
        x = images.to_tensor(rgb).to(self.device)
        pre_pad = min(PRE_PAD, height - 1, width - 1)
        if pre_pad > 0:
            x = torch.nn.functional.pad(x, (0, pre_pad, 0, pre_pad), mode="reflect")
        x, _, _ = pad_to_multiple(x, multiple)
        x = x.contiguous(memory_format=torch.channels_last)
        with inference(self.device, self.precision):
            context = network_context(net)
            tile_side = _tile_size(height, width, tile, self.spec, context)
            y = tiled_apply(net, x, scale, tile_side, TILE_OVERLAP, multiple, context)
        out = finite_pixels(y[:, :, : height * scale, : width * scale], self.name)[0]
        if outscale is not None and outscale != scale:
            out = images.resize(out, images.scaled_size(width, height, outscale), "lanczos")
        return out

    def output_scale(self, options: dict) -> float | None:
        return float(self.spec.scale if options.get("outscale") is None else options["outscale"])

    def run(self, rgb: np.ndarray, outscale: float | None = None, tile: int | None = None, **_: object) -> RestoreResult:
        return RestoreResult(self.upscale(rgb, outscale, tile), self.name, 0.0)


BackgroundFn = Callable[[np.ndarray, float], np.ndarray]


class FaceRestorer(Restorer):
    """GPEN / GFPGAN: aligned crops in, restored crops out; whole photos go through detect-align-paste."""

    @property
    def face_size(self) -> int:
        assert self.spec.input_size is not None
        return self.spec.input_size

    def output_scale(self, options: dict) -> float | None:
        if options.get("mode", "whole") == "aligned":
            return super().output_scale(options)  # None: the face size (inpainting: the input's size)
        if self.spec.face_task == "inpaint" and options.get("outscale") is None:
            return None  # inpainting keeps the photo's size unless asked otherwise
        if resolve_background(options.get("background", AUTO_BACKGROUND)) in (None, "none"):
            return None  # pasted back into the input itself: the input's size
        return 2.0 if options.get("outscale") is None else float(options["outscale"])

    def _forward(self, net: torch.nn.Module, x: torch.Tensor, seed: int | None, fidelity: float) -> torch.Tensor:
        # CodeFormer's colourisation and inpainting networks are called as the official scripts call them.
        if self.spec.face_task == "colorize":
            out = net(x, w=0.0, adain=True)
        elif self.spec.face_task == "inpaint":
            out = net(x, w=1.0, adain=False)
        elif self.spec.seeded_noise:
            # Deterministic by default (fixed noise buffers); a seed asks for fresh, reproducible noise.
            generator = None if seed is None else torch.Generator(device=x.device).manual_seed(int(seed))
            out = net(x, return_rgb=False, randomize_noise=seed is not None, noise_generator=generator)
        elif self.spec.fidelity:
            out = net(x, w=fidelity, adain=True)  # adain=True as the official demo calls it
        else:
            out = net(x)
        return out[0] if isinstance(out, (tuple, list)) else out

    def _fidelities(self, fidelity: float | list[float] | tuple[float, ...] | None) -> list[float]:
        """The checked fidelity weights of a call (one value unless a sweep); models without one ignore it."""
        values = fidelity if isinstance(fidelity, (list, tuple)) else [DEFAULT_FIDELITY if fidelity is None else fidelity]
        if not values:
            raise ValueError("give at least one fidelity weight")
        checked = [check_fidelity(w) for w in values]
        return checked if self.spec.fidelity else checked[:1]

    def restore_crops_sweep(
        self, crops: np.ndarray, fidelities: list[float], blend: float = 1.0, seed: int | None = None,
        regions: np.ndarray | None = None,
    ) -> tuple[list[np.ndarray], list[float]]:
        """N aligned crops -> one array of N restored crops per fidelity weight, plus each weight's decode seconds.

        A fidelity model encodes every face once and decodes it once per weight; other models run once.
        regions (inpainting, (N, S, S) bool): painted white for the network, and only they change in the output.
        A colouriser sees the crops in grey (what it was trained on).
        """
        if not 0.0 <= blend <= 1.0:
            raise ValueError(f"blend must be in [0, 1], got {blend}")
        kept = crops
        if self.spec.face_task == "inpaint":
            if regions is None or regions.shape != crops.shape[:3]:
                raise ValueError(f"inpainting needs one {crops.shape[1]}x{crops.shape[2]} region per crop")
            crops = inpaint.paint_white(crops, regions)
        elif self.spec.face_task == "colorize":
            crops = inpaint.to_gray3(crops)
        fidelities = self._fidelities(list(fidelities))
        net = self.network
        outputs: list[list[np.ndarray]] = [[] for _ in fidelities]
        decode_s = [0.0 for _ in fidelities]
        batch = face_batch_size(self.device)
        for start in range(0, len(crops), batch):
            cancel.check()
            chunk = crops[start : start + batch]
            x = images.to_tensor(chunk, self.spec.value_range).to(self.device)
            x = x.contiguous(memory_format=torch.channels_last)
            with inference(self.device, self.precision):
                if self.spec.fidelity and len(fidelities) > 1:
                    encoding = net.encode(x, adain=True)
                    for i, w in enumerate(fidelities):
                        begin = time.perf_counter()
                        outputs[i].append(finite_pixels(net.decode(encoding, w), self.name, self.spec.value_range))
                        decode_s[i] += time.perf_counter() - begin
                else:
                    outputs[0].append(finite_pixels(self._forward(net, x, seed, fidelities[0]), self.name,
                                                    self.spec.value_range))
        results = []
        for parts in outputs:
            restored = np.concatenate(parts, axis=0)
            if blend < 1.0:
                mixed = blend * restored.astype(np.float32) + (1.0 - blend) * kept.astype(np.float32)
                restored = np.clip(np.round(mixed), 0, 255).astype(np.uint8)
            if self.spec.face_task == "inpaint" and regions is not None and restored.shape == kept.shape:
                restored = inpaint.composite(kept, restored, regions)
            results.append(restored)
        return results, decode_s

    def restore_crops(self, crops: np.ndarray, blend: float = 1.0, seed: int | None = None,
                      fidelity: float | None = None) -> np.ndarray:
        """N aligned SxS crops (uint8) -> N restored crops, mixed with the input by ``blend`` (1 = fully restored)."""
        return self.restore_crops_sweep(crops, self._fidelities(fidelity), blend, seed)[0][0]

    def run(
        self,
        rgb: np.ndarray,
        mode: str = "whole",
        outscale: float | None = None,
        blend: float = 1.0,
        background: str | BackgroundFn | None = AUTO_BACKGROUND,
        only_center_face: bool = False,
        min_face: int = 0,
        threshold: float = DEFAULT_THRESHOLD,
        seed: int | None = None,
        faces: list | None = None,
        fidelity: float | None = None,
        mask: str | None = None,
        inpaint_mask: np.ndarray | None = None,
        **_: object,
    ) -> RestoreResult:
        """`faces` (whole mode): face.Face records to restore instead of detecting (video passes tracked,
        smoothed landmarks). `fidelity`: CodeFormer's weight w in [0, 1] (default 0.5); ignored by other models.
        `mask` (whole mode): the paste-back mask, 'parse' or 'square'; None: 'parse' when the face-parsing
        weights are here, else 'square' with a note. `inpaint_mask` (inpainting models): HxW bool, True where
        the face is redrawn; None: the pure white pixels of the input."""
        return self.run_sweep(rgb, [DEFAULT_FIDELITY if fidelity is None else fidelity], mode, outscale, blend,
                              background, only_center_face, min_face, threshold, seed, faces, mask, inpaint_mask)[0]

    def run_sweep(
        self,
        rgb: np.ndarray,
        fidelities: list[float],
        mode: str = "whole",
        outscale: float | None = None,
        blend: float = 1.0,
        background: str | BackgroundFn | None = AUTO_BACKGROUND,
        only_center_face: bool = False,
        min_face: int = 0,
        threshold: float = DEFAULT_THRESHOLD,
        seed: int | None = None,
        faces: list | None = None,
        mask: str | None = None,
        inpaint_mask: np.ndarray | None = None,
        **_: object,
    ) -> list[RestoreResult]:
        """One result per fidelity weight; the background, detection and encoder run once for all of them.

        Each result's `seconds` is the shared work plus that weight's own decoding and paste-back.
        """
        *_ignored, final = self.sweep_steps(rgb, fidelities, mode, outscale, blend, background, only_center_face,
                                            min_face, threshold, seed, faces, mask, provisional=False,
                                            inpaint_mask=inpaint_mask)
        return final

    def sweep_steps(
        self,
        rgb: np.ndarray,
        fidelities: list[float],
        mode: str = "whole",
        outscale: float | None = None,
        blend: float = 1.0,
        background: str | BackgroundFn | None = AUTO_BACKGROUND,
        only_center_face: bool = False,
        min_face: int = 0,
        threshold: float = DEFAULT_THRESHOLD,
        seed: int | None = None,
        faces: list | None = None,
        mask: str | None = None,
        provisional: bool = True,
        inpaint_mask: np.ndarray | None = None,
        **_: object,
    ) -> Iterator[list[RestoreResult]]:
        """run_sweep() as it progresses. With ``provisional`` and a background that takes real work (an SR
        model or a callable) in whole mode, the restored faces come first, pasted on a Lanczos background
        (results with ``provisional=True``), then the final results on the upsampled background; the faces
        are detected and restored once either way. Otherwise the final results only."""
        start = time.perf_counter()
        size = self.face_size
        if mode not in FACE_MODES:
            raise ValueError(f"mode must be one of {FACE_MODES}, got '{mode}'")
        fidelities = self._fidelities(list(fidelities))
        sweep = self.spec.fidelity and len(fidelities) > 1
        names = [fidelity_label(self.name, w) if sweep else self.name for w in fidelities]
        region = self._inpaint_region(rgb, inpaint_mask)
        colorize = self.spec.face_task == "colorize"
        if mode == "aligned":
            crop = images.resize(rgb, (size, size), "lanczos" if min(rgb.shape[:2]) > size else "bicubic")
            crop_region = None if region is None else inpaint.fit_mask(region, size, size)[None]
            restored, decode_s = self.restore_crops_sweep(crop[None], fidelities, blend, seed, crop_region)
            shared = time.perf_counter() - start - sum(decode_s)
            results = []
            for name, crops_out, own in zip(names, restored, decode_s):
                out = crops_out[0]
                if region is not None:
                    out = self._inpaint_at_input_size(rgb, out, region, outscale)
                elif outscale is not None:
                    out = images.resize(out, images.scaled_size(rgb.shape[1], rgb.shape[0], outscale), "lanczos")
                results.append(RestoreResult(out, name, shared + own, faces=[], crops_before=[crop],
                                             crops_after=[crops_out[0]], colorized=colorize,
                                             warnings=[inpaint.COLORIZE_ALIGNED_NOTE] if colorize else []))
            yield results
            return

        from . import face, face_mask

        mask, mask_note = face_mask.resolve_mask(mask)
        # The parser loads only when a face is found (no face, no download or missing-weights error).
        mask_fn = (lambda crops: face_mask.load_parser(self.device).weights(crops)) if mask == "parse" else None
        background = resolve_background(background)
        scale = 2.0 if outscale is None else float(outscale)
        if region is not None and outscale is None:
            background = "none"  # inpainting keeps the photo's size unless asked otherwise
        bg_fn = background_upsampler(background, self.device, self.precision)
        early = provisional and bg_fn is not None and not _is_resize(background)
        swept: list[np.ndarray] = []
        decode_s: list[float] = [0.0 for _ in fidelities]

        def restore_all(crops: np.ndarray, regions: np.ndarray | None = None) -> np.ndarray:
            restored, seconds = self.restore_crops_sweep(crops, fidelities, blend, seed, regions)
            swept.extend(restored)
            decode_s[:] = seconds
            return restored[0]

        def paste_all(bg: np.ndarray, bg_scale: float, first: face.FaceRestoreResult) -> tuple[list, list[float]]:
            """Every weight's faces pasted on ``bg`` (the first already is, in ``first``), with each paste's seconds."""
            pasted, paste_s = [first], [0.0]
            for i in range(1, len(fidelities)):
                begin = time.perf_counter()
                # The same faces, aligned the same way; only their restored crops differ.
                pasted.append(face.restore_faces(rgb, lambda _crops, i=i: swept[i], size, bg, bg_scale,
                                                 faces=first.faces, mask_fn=mask_fn) if first.faces else first)
                paste_s.append(time.perf_counter() - begin)
            return pasted, paste_s

        def results(pasted: list, paste_s: list[float], bg_scale: float, first: face.FaceRestoreResult,
                    is_provisional: bool) -> list[RestoreResult]:
            shared = time.perf_counter() - start - sum(decode_s) - sum(paste_s)
            warnings = [] if first.faces else [no_face_message(background, bg_scale)]
            if mask_note and first.faces:
                warnings.append(mask_note)
            if colorize and first.faces:
                warnings.append(inpaint.COLORIZE_NOTE)
            if first.skipped:
                warnings.append(f"{len(first.faces) + first.skipped} faces found: restored the largest "
                                f"{len(first.faces)} (at most {len(first.faces)} per photo here; "
                                "RESTORERS_MAX_FACES raises it)")
            return [
                RestoreResult(
                    result.image, name, shared + own + paste, faces=list(result.faces),
                    crops_before=list(result.crops_before), crops_after=list(result.crops_after),
                    warnings=list(warnings), mask=mask, masks=list(result.masks), provisional=is_provisional,
                    colorized=colorize and bool(result.faces),
                )
                for name, result, own, paste in zip(names, pasted, decode_s, paste_s)
            ]

        detect = dict(only_center_face=only_center_face, min_size=min_face, threshold=threshold, faces=faces,
                      mask_fn=mask_fn, region=region)
        if early:
            quick = images.resize(rgb, images.scaled_size(rgb.shape[1], rgb.shape[0], scale), "lanczos")
            first = face.restore_faces(rgb, restore_all, size, quick, scale, **detect)
            if first.faces:  # no face: nothing to show before the background itself
                pasted, paste_s = paste_all(quick, scale, first)
                yield results(pasted, paste_s, scale, first, True)
            cancel.check()
            bg = bg_fn(rgb, scale)  # type: ignore[misc]
            # The same faces and restored crops, pasted on the final background.
            again = face.restore_faces(rgb, lambda _crops: swept[0], size, bg, scale, faces=first.faces,
                                       mask_fn=mask_fn) \
                if first.faces else face.FaceRestoreResult(bg, [])
            first = dataclasses.replace(again, skipped=first.skipped)
        else:
            bg = bg_fn(rgb, scale) if bg_fn is not None else None
            if bg is None:
                scale = 1.0
                bg = rgb
            first = face.restore_faces(rgb, restore_all, size, bg, scale, **detect)
            if region is not None and first.faces:
                # Only what was painted changes: the paste-back's soft edge never reaches past the mask.
                bg_region = inpaint.fit_mask(region, bg.shape[1], bg.shape[0])
                first = dataclasses.replace(first, image=inpaint.composite(bg, first.image, bg_region))
        pasted, paste_s = paste_all(bg, scale, first)
        yield results(pasted, paste_s, scale, first, False)

    def _inpaint_region(self, rgb: np.ndarray, inpaint_mask: np.ndarray | None) -> np.ndarray | None:
        """The checked HxW region an inpainting model redraws (None for other models)."""
        if self.spec.face_task != "inpaint":
            return None
        region = inpaint.white_pixels(rgb) if inpaint_mask is None else inpaint_mask
        inpaint.check_mask_size(region, rgb)
        if not region.any():
            raise ParameterError("nothing to inpaint: paint the damaged area white (in the image, or in a mask "
                                 "given as inpaint_mask / --inpaint-mask)")
        return region

    @staticmethod
    def _inpaint_at_input_size(rgb: np.ndarray, face: np.ndarray, region: np.ndarray,
                               outscale: float | None) -> np.ndarray:
        """An aligned inpainted face back at the input's size (or outscale): the input outside the mask, bit for bit."""
        height, width = rgb.shape[:2]
        size = (width, height) if outscale is None else images.scaled_size(width, height, outscale)
        kept = rgb if size == (width, height) else images.resize(rgb, size, "lanczos")
        drawn = face if face.shape[:2] == (size[1], size[0]) else images.resize(face, size, "lanczos")
        return inpaint.composite(kept, drawn, inpaint.fit_mask(region, *size))

    def restore_sweep(self, image, fidelities: list[float], **options) -> list[RestoreResult]:
        """Like restore(), once per fidelity weight (CodeFormer), sharing detection and encoding; results are
        named e.g. 'codeformer (w=0.5)'. A model without a fidelity weight gives one result."""
        *_ignored, final = self.restore_steps(image, fidelities=list(fidelities), provisional=False, **options)
        return final

    def restore_steps(self, image, fidelities: list[float] | None = None, provisional: bool = True,
                      **options) -> Iterator[list[RestoreResult]]:
        """restore_sweep() as it progresses (see sweep_steps): in whole mode with a learned background, the
        restored faces on a Lanczos background first (``result.provisional``), then the final results.
        ``fidelities`` None: the one weight of ``options['fidelity']`` (default 0.5), named like restore()."""
        loaded, options, note = self._begin(image, options)
        fidelity = options.pop("fidelity", None)
        weights = list(fidelities) if fidelities is not None else [DEFAULT_FIDELITY if fidelity is None else fidelity]
        for step in self.sweep_steps(loaded.rgb, weights, provisional=provisional, **options):
            yield [self._finish(result, loaded, note) for result in step]


def _is_resize(background: str | BackgroundFn | None) -> bool:
    """Whether a background choice is a plain resize (no network): nothing worth showing before it."""
    return isinstance(background, str) and background in ("lanczos", "bicubic", "none")


def resolve_background(choice: str | BackgroundFn | None) -> str | BackgroundFn | None:
    """'auto' -> this machine's default background upsampler (registry.default_background); others unchanged."""
    return default_background() if choice == AUTO_BACKGROUND else choice


def no_face_message(background: str | BackgroundFn | None, scale: float) -> str:
    """What a whole-photo restore returns when it finds no face, in words that fit the background choice."""
    if scale == 1.0:
        return "no face found: the photo is returned unchanged"
    name = getattr(background, "name", None) if callable(background) else background
    how = f"the background upsampler '{name}'" if name else "a custom upsampler"
    return f"no face found: the photo is returned upscaled x{scale:g} by {how}, with no face restored"


def background_upsampler(choice: str | BackgroundFn | None, device: torch.device, precision: str) -> BackgroundFn | None:
    """'none' -> None (keep the original size); 'lanczos'/'bicubic'; 'auto' (default_background()); or any SR
    model name."""
    choice = resolve_background(choice)
    if choice is None or callable(choice):
        return choice
    if choice == "none":
        return None
    spec = get_spec(choice)
    if spec.family == "baseline":
        return lambda rgb, s: images.resize(rgb, images.scaled_size(rgb.shape[1], rgb.shape[0], s), choice)
    if spec.family != "sr":
        raise ValueError(f"'{choice}' cannot upsample a background; use 'none', 'lanczos' or an SR model")
    upsampler = SRRestorer(spec, device, precision)
    return lambda rgb, s: upsampler.upscale(rgb, s)


class SharedBackground:
    """One background upsampler for all the face models of one run: the (often costly: Real-ESRGAN) background
    of an image is computed once and each model pastes its faces onto a copy of it.

    Keyed by the image's content and the scale (each restorer may hand over its own copy of the photo);
    keeps only the latest result. Pass it as ``background=`` to every FaceRestorer.restore of the run.
    """

    def __init__(self, choice: str, device: torch.device, precision: str) -> None:
        self.name = choice
        self._upsample = background_upsampler(choice, device, precision)
        self._key: tuple | None = None
        self._image: np.ndarray | None = None
        self.computed = 0  # how many backgrounds were actually upsampled (tests check the sharing)

    def __call__(self, rgb: np.ndarray, scale: float) -> np.ndarray:
        assert self._upsample is not None
        digest = hashlib.blake2b(np.ascontiguousarray(rgb).data, digest_size=16).digest()
        key = (rgb.shape, rgb.dtype.str, float(scale), digest)
        if key != self._key or self._image is None:
            self._image, self._key = self._upsample(rgb, scale), key
            self.computed += 1
        return self._image.copy()  # the caller pastes faces into it


def shared_background(choice: str | BackgroundFn | None, device: torch.device, precision: str) -> str | BackgroundFn | None:
    """``choice`` as a SharedBackground when it names an SR model (worth sharing; 'auto' resolved first), else
    ``choice`` unchanged."""
    choice = resolve_background(choice)
    if isinstance(choice, str) and choice not in ("none", "") and get_spec(choice).family == "sr":
        return SharedBackground(choice, device, precision)
    return choice


_FAMILIES: dict[str, type[Restorer]] = {"baseline": ResizeRestorer, "sr": SRRestorer, "face": FaceRestorer}


def make_restorer(spec: ModelSpec | str, device: str | torch.device | None = None, precision: str | None = None) -> Restorer:
    """A restorer for ``spec`` (weights load lazily, on first use, into the shared network cache)."""
    spec = get_spec(spec) if isinstance(spec, str) else spec
    if spec.family not in _FAMILIES:
        raise ValueError(f"{spec.name} is a {spec.family}, not a restorer")
    resolved = pick_device(device)
    keep_freed_memory()  # once per process: no page-fault storm on every call (see runtime.py)
    return _FAMILIES[spec.family](spec, resolved, resolve_precision(resolved, precision))

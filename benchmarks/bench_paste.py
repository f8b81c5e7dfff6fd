"""Paste-back masks compared: 'square' (a soft-edged crop) vs 'parse' (the face-parsing region).

For every face found in the whole photos of ../shared/faces (gfpgan-whole, gpen-group), the same
restored 512 px crops are pasted back once with each mask, at the input's size (no background
upscale), and two numbers are taken per photo:

- seam: along each mask's own edge (the band where its weight is between 0.1 and 0.9, in photo
  pixels), the mean gradient magnitude of the result minus that of the input, in grey levels per
  pixel. A paste that adds an edge (a rectangle, a halo) raises it; 0 means no new edge.
- outside: the mean absolute change (grey levels) over the pixels that the parse labels call
  background, neck, cloth, hair or hat (the classes the parse rule keeps), inside the faces' crops.
  What the square mask changes in hair and background shows here.
- inside: the same over the face classes: both masks should change the face alike.

What stands in for what is said in each row, and must be read with the numbers:
- the parser: ParseNet with the published weights (facedetection/parsing_parsenet.pth) when they are
  present; otherwise a STAND-IN label map, an ellipse fitted to the FFHQ template's landmarks (skin
  inside, hair outside), which is not a parse of the photo.
- the restoration: a learned face model when its weights are here (--model, default gfpgan-v1.4);
  otherwise a STAND-IN "restoration", an unsharp mask plus a 6 % brightening of the aligned crop, which
  changes every pixel of the crop the way a restorer's tone shift does, so that seams can show.

    python -m benchmarks.bench_paste [--model gfpgan-v1.4] [--max-side 1024]
    python -m benchmarks --only paste
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("RESTORERS_SHARED_DIR", REPO_ROOT.parent / "shared"))
PHOTOS = ("gfpgan-whole/00.jpg", "gfpgan-whole/10045.png", "gfpgan-whole/Blake_Lively.jpg",
          "gpen-group/Solvay_conference_1927.png")
FACE_SIZE = 512
BAND = (0.1, 0.9)


def load_photo(relative: str, max_side: int | None) -> np.ndarray:
    from restorers.media import images

    rgb = images.load_image(SHARED / "faces" / relative).rgb
    height, width = rgb.shape[:2]
    if max_side and max(height, width) > max_side:
        ratio = max_side / max(height, width)
        rgb = images.resize(rgb, (round(width * ratio), round(height * ratio)), "area")
    return rgb


def ellipse_labels(size: int = FACE_SIZE) -> torch.Tensor:
    """STAND-IN parse of an FFHQ-aligned face: skin (1) inside an ellipse around the template's
    landmarks, hair (17) outside. Eyes at y=240, mouth at y=371 of 512: the ellipse runs from the
    forehead (y~130) to the chin (y~450), cheek to cheek (x~120..392)."""
    yy, xx = torch.meshgrid(torch.arange(size, dtype=torch.float32), torch.arange(size, dtype=torch.float32),
                            indexing="ij")
    s = size / 512
    inside = ((xx - 256 * s) / (136 * s)) ** 2 + ((yy - 290 * s) / (160 * s)) ** 2 <= 1
    return torch.where(inside, 1, 17)[None].long()


def standin_restore(crops: np.ndarray) -> np.ndarray:
    """STAND-IN restoration: unsharp mask (radius ~2 px, amount 1) and 6 % brighter."""
    x = torch.from_numpy(crops).permute(0, 3, 1, 2).float()
    from restorers.pipelines.face_mask import gaussian_blur

    blurred = gaussian_blur(x.reshape(-1, *x.shape[-2:]), 13, 2.0).reshape(x.shape)
    out = (x + (x - blurred)) * 1.06
    return out.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()


def _grey(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(image.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32))


def gradient_magnitude(image: np.ndarray) -> torch.Tensor:
    """|grad| of the luminance by central differences (grey levels per pixel), same size as the image."""
    g = _grey(image)[None, None]
    g = F.pad(g, (1, 1, 1, 1), mode="replicate")
    gx = (g[..., 1:-1, 2:] - g[..., 1:-1, :-2]) / 2
    gy = (g[..., 2:, 1:-1] - g[..., :-2, 1:-1]) / 2
    return torch.sqrt(gx**2 + gy**2)[0, 0]


def to_photo(crop_values: torch.Tensor, affine: np.ndarray, shape: tuple[int, int]) -> torch.Tensor:
    """Warp a (S, S) crop-space map into photo coordinates (0 outside the crop)."""
    from restorers.pipelines.face import crop_to_background, warp_affine

    warped = warp_affine(crop_values[..., None].float(), crop_to_background(affine, 1.0), shape)
    return warped[0]


def measure(rgb: np.ndarray, pasted: dict[str, np.ndarray], weights: dict[str, list[torch.Tensor]],
            labels: torch.Tensor, affines: list[np.ndarray]) -> dict[str, Any]:
    """Seam and outside/inside change of each mask's result against the input photo.

    labels: (N, P, P) the parse of each restored face; affines: each face's photo -> crop map."""
    from restorers.pipelines.face_mask import EXCLUDED_CLASSES, resize_weights

    shape = rgb.shape[:2]
    keep = torch.zeros(shape)
    face = torch.zeros(shape)
    for face_labels, affine in zip(labels, affines):
        excluded = torch.zeros(face_labels.shape)
        for cls in EXCLUDED_CLASSES:
            excluded = torch.maximum(excluded, (face_labels == cls).float())
        excluded = resize_weights(excluded[None], FACE_SIZE)[0]
        footprint = to_photo(torch.ones(FACE_SIZE, FACE_SIZE), affine, shape) > 0.99
        kept = to_photo(excluded, affine, shape) > 0.5
        keep = torch.maximum(keep, (footprint & kept).float())
        face = torch.maximum(face, (footprint & ~kept).float())
    keep = keep * (1 - face)  # a pixel another face restores is not "outside"
    grad_in = gradient_magnitude(rgb)
    out: dict[str, Any] = {"faces": len(affines)}
    for name, result in pasted.items():
        weight = torch.zeros(shape)
        for w, affine in zip(weights[name], affines):
            weight = torch.maximum(weight, to_photo(w, affine, shape).clamp(0, 1))
        band = (weight > BAND[0]) & (weight < BAND[1])
        diff = (torch.from_numpy(result.astype(np.float32)) - torch.from_numpy(rgb.astype(np.float32))).abs().mean(-1)
        seam = (gradient_magnitude(result) - grad_in)[band]
        out[name] = {
            "seam": round(seam.mean().item(), 3) if seam.numel() else None,
            "band_px": int(band.sum()),
            "outside": round(diff[keep > 0].mean().item(), 3) if keep.any() else None,
            "inside": round(diff[face > 0].mean().item(), 3) if face.any() else None,
        }
    return out


def _parser() -> tuple[Callable[[np.ndarray], torch.Tensor], str]:
    """The real ParseNet when its weights are present, else the stand-in ellipse (and what it is)."""
    from restorers.models.registry import PARSENET
    from restorers.pipelines.face_mask import load_parser
    import restorers

    if restorers.weights_status(PARSENET) in ("cached", "override"):
        parser = load_parser("cpu")
        return parser.labels, "ParseNet (published weights)"
    return (lambda crops: ellipse_labels(FACE_SIZE).expand(len(crops), -1, -1),
            "STAND-IN ellipse labels (ParseNet weights not here)")


def _restorer(model: str) -> tuple[Callable[[np.ndarray], np.ndarray], str]:
    import restorers

    if restorers.weights_status(model) in ("cached", "override"):
        restorer = restorers.load(model, device="cpu")
        return restorer.restore_crops, model
    return standin_restore, f"STAND-IN restoration (unsharp + 6 % brighter; {model} weights not here)"


def run(photos: tuple[str, ...] = PHOTOS, model: str = "gfpgan-v1.4", max_side: int | None = 1024) -> list[dict[str, Any]]:
    from restorers.pipelines import face
    from restorers.pipelines.face_mask import parse_weights, resize_weights

    parse_labels, parser_name = _parser()
    restore, restorer_name = _restorer(model)
    detector = face.default_detector()
    rows = []
    for relative in photos:
        if not (SHARED / "faces" / relative).exists():
            rows.append({"photo": relative, "error": "missing"})
            continue
        rgb = load_photo(relative, max_side)
        start = time.perf_counter()
        faces = detector.detect(rgb)
        aligned = [face.align_face(rgb, f.landmarks, FACE_SIZE) for f in faces]
        if not aligned:
            rows.append({"photo": relative, "faces": 0})
            continue
        restored = np.asarray(restore(np.stack([a.crop for a in aligned])))
        labels = parse_labels(restored)
        parse_w = resize_weights(parse_weights(labels), restored.shape[1]).clamp(0, 1)
        square_w = face.square_weights(restored.shape[1], restored.shape[2])
        pairs = [(crop, a.affine) for crop, a in zip(restored, aligned)]
        pasted = {
            "square": face.paste_faces(rgb, pairs, 1.0),
            "parse": face.paste_faces(rgb, pairs, 1.0, masks=list(parse_w.numpy())),
        }
        weights = {"square": [square_w] * len(pairs),
                   "parse": [torch.minimum(square_w, w) for w in parse_w]}
        row = {"photo": relative, "size": f"{rgb.shape[1]}x{rgb.shape[0]}", "parser": parser_name,
               "restorer": restorer_name}
        row.update(measure(rgb, pasted, weights, labels, [a.affine for a in aligned]))
        row["seconds"] = round(time.perf_counter() - start, 2)
        rows.append(row)
    rows.append(parser_seconds())
    return rows


def parser_seconds(repeats: int = 2) -> dict[str, Any]:
    """What the 'parse' mask costs per face: ParseNet at 512 px (its real configuration, random weights:
    speed does not depend on them), fp32 channels_last as face_mask.FaceParser runs it; median seconds."""
    from restorers.models.archs.parsenet import ParseNet
    from restorers.models.networks import prepare

    net = prepare(ParseNet().eval().requires_grad_(False), torch.device("cpu"))
    x = torch.zeros(1, 3, FACE_SIZE, FACE_SIZE).contiguous(memory_format=torch.channels_last)
    times = []
    with torch.inference_mode():
        net(x)  # warm-up
        for _ in range(repeats):
            start = time.perf_counter()
            net(x)
            times.append(time.perf_counter() - start)
    macs = _conv_macs(net, x)
    return {"photo": "(ParseNet 512 px, one face)", "parser_s": round(sorted(times)[len(times) // 2], 2),
            "gmacs": round(macs / 1e9, 1), "threads": torch.get_num_threads()}


def _conv_macs(net: torch.nn.Module, x: torch.Tensor) -> int:
    """Multiply-accumulates of every conv in one forward pass (hooks on the real call)."""
    total = [0]

    def hook(module: torch.nn.Conv2d, _inputs, output: torch.Tensor) -> None:
        kernel = module.kernel_size[0] * module.kernel_size[1] * module.in_channels // module.groups
        total[0] += output.numel() * kernel

    handles = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    try:
        with torch.inference_mode():
            net(x)
    finally:
        for handle in handles:
            handle.remove()
    return total[0]


def to_markdown(rows: list[dict[str, Any]]) -> str:
    lines = ["| photo | faces | mask | seam (grad. +) | outside change | inside change |",
             "| --- | ---: | --- | ---: | ---: | ---: |"]
    for row in rows:
        if "parser_s" in row:
            continue
        if "square" not in row:
            lines.append(f"| {row['photo']} | {row.get('faces', 0)} | - | - | - | - |")
            continue
        for name in ("square", "parse"):
            m = row[name]
            lines.append(f"| {row['photo']} | {row['faces']} | {name} | {m['seam']} | {m['outside']} | {m['inside']} |")
    notes = sorted({f"parser: {r['parser']}; restorer: {r['restorer']}" for r in rows if "parser" in r})
    notes += [f"the parse mask's own cost: ParseNet at 512 px, {r['gmacs']} GMAC, {r['parser_s']} s per face "
              f"({r['threads']} threads, fp32 channels_last)" for r in rows if "parser_s" in r]
    return "\n".join(lines + [""] + notes)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="gfpgan-v1.4", help="face model used when its weights are here")
    parser.add_argument("--max-side", type=int, default=1024, help="photos are shrunk to this longest side (0: as is)")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args(argv)
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    rows = run(model=args.model, max_side=args.max_side or None)
    print(to_markdown(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()

"""Command line: ``python -m restorers <command> ...``.

Every command prints one line per input it could not process and exits non-zero if there was any.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Iterable, Sequence

from ..media import images
from ..media.atomic import write_text
from .outputs import OutputNames
from ..models.hub import WeightsError
from ..models.registry import DEFAULT_THRESHOLD, FACE_MODES, MASK_CHOICES, get_spec, specs

# Only light modules above (numpy and Pillow through images): torch, scipy and the rest are imported by
# the command that needs them, so `--help`, `models` and argument errors answer at once.
from ..media.uploads import unique_stems
from ..guards.limits import MAX_FPS, MIN_FPS
from ..guards.validate import check_int, check_number

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif"}


def iter_inputs(paths: Iterable[str]) -> list[Path]:
    """Files as given, and the image files inside given folders (sorted)."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found.extend(sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES))
        else:
            found.append(path)
    return found


def _progress(items: list, desc: str):
    if len(items) < 2:
        return items
    from tqdm import tqdm

    return tqdm(items, desc=desc, unit="img", file=sys.stderr)


def _fail(path: Path | str, exc: BaseException | str) -> None:
    from tqdm import tqdm

    from ..guards.validate import shorten

    message = shorten(str(exc), 2000)  # however much of a file's data the error quotes
    # tqdm.write keeps the line whole while a progress bar is drawn on stderr.
    tqdm.write(f"error: {message if message.startswith(str(path)) else f'{path}: {message}'}", file=sys.stderr)


def _done(line: str) -> None:
    from tqdm import tqdm

    tqdm.write(line, file=sys.stdout)  # keeps the line whole while a progress bar is drawn on stderr


def _weights_owner(exc: WeightsError, fallback: str) -> str:
    """The model whose weights file ``exc`` is about, e.g. 'realesrgan-x2plus' when it is the background."""
    weights = getattr(exc, "weights", None)
    owners = [spec.name for spec in specs() if weights is not None and spec.weights == weights]
    if not owners or owners[0] == fallback:
        return fallback
    return f"{owners[0]} (needed by {fallback})"


def _fidelities(values: list[float] | None) -> list[float] | None:
    """--fidelity values checked (None after printing the error); the default is 0.5."""
    from ..pipelines.restorer import DEFAULT_FIDELITY, check_fidelity

    try:
        return [check_fidelity(w) for w in (values or [DEFAULT_FIDELITY])]
    except ValueError as exc:
        print(f"error: --fidelity: {exc}", file=sys.stderr)
        return None


def _claim(names: OutputNames, path: Path) -> Path:
    """A free output path for ``path`` (see cli/outputs.py); a changed name is said on stderr."""
    seen = len(names.notes)
    free = names.claim(path)
    for note in names.notes[seen:]:
        _note(note)
    return free


def _note(line: str) -> None:
    from tqdm import tqdm

    tqdm.write(f"note: {line}", file=sys.stderr)


def _save_restored(args: argparse.Namespace, path: Path, out_dir: Path, stem: str, result,
                   names: OutputNames) -> None:
    """Write one restored image (and its face crops with --save-faces) and report it."""
    target = images.save_png(_claim(names, out_dir / f"{stem}.png"), result.image, result.alpha, result.grayscale)
    faces = []
    if args.save_faces:
        for i, (before, after) in enumerate(zip(result.crops_before, result.crops_after)):
            faces.append(images.save_png(_claim(names, out_dir / "faces" / f"{stem}_face{i:02d}_before.png"), before))
            faces.append(images.save_png(_claim(names, out_dir / "faces" / f"{stem}_face{i:02d}_after.png"), after))
        if getattr(result, "mask", None) == "parse":
            from ..pipelines.face_mask import mask_preview

            for i, weights in enumerate(result.masks):  # white = the restored face that was pasted back
                faces.append(images.save_png(_claim(names, out_dir / "faces" / f"{stem}_face{i:02d}_mask.png"),
                                             mask_preview(weights)))
    for warning in result.warnings:
        print(f"warning: {path}: {warning}", file=sys.stderr)
    _done(f"{path} -> {target} ({result.size[0]}x{result.size[1]}, {result.seconds:.2f} s)")
    if faces:
        _done(f"{path} -> {out_dir / 'faces'}/{stem}_face*_before.png, _after.png "
              f"({len(result.crops_after)} face(s))")


def cmd_restore(args: argparse.Namespace) -> int:
    from ..pipelines.restorer import make_restorer

    if not args.model and not args.weights:
        print("error: give --model NAME, --weights CHECKPOINT, or both", file=sys.stderr)
        return 2
    restorers_ = [make_restorer(args.model, args.device, args.precision)] if args.model else []
    if args.weights:
        from ..models.checkpoint import checkpoint_spec

        spec = checkpoint_spec(args.weights)  # CheckpointError (a ValueError): one line from main()
        print(f"{Path(args.weights).name}: {spec.description}", file=sys.stderr)
        restorers_.append(make_restorer(spec, args.device, args.precision))
    # Every input is known before anything is written, so no output can replace an input not yet read.
    names = OutputNames(iter_inputs(args.inputs), overwrite=args.overwrite)
    status = 0
    for restorer in restorers_:  # a built-in model and your checkpoint run one after the other, same options
        status = max(status, _restore_with(args, restorer, names))
    return status


def _restore_with(args: argparse.Namespace, restorer, names: OutputNames) -> int:
    if restorer.spec.family == "face" and args.mode == "whole" and args.bg_upsampler not in ("none", "auto"):
        sr = [s.name for s in specs("baseline", "sr")]
        if args.bg_upsampler not in sr:
            print(f"error: --bg-upsampler '{args.bg_upsampler}' is not one of: auto, none, {', '.join(sr)}",
                  file=sys.stderr)
            return 2
    fidelities = _fidelities(args.fidelity)
    if fidelities is None:
        return 2
    out_dir = Path(args.out)
    inputs = iter_inputs(args.inputs)
    if not inputs:
        print("error: no input images found", file=sys.stderr)
        return 2
    options = dict(outscale=args.scale)
    if restorer.spec.family == "face":
        options.update(
            mode=args.mode, blend=args.blend, background=args.bg_upsampler,
            only_center_face=args.only_center_face, min_face=args.min_face, threshold=args.threshold,
            seed=args.seed, mask=args.mask,
        )
    if args.inpaint_mask:
        if restorer.spec.face_task != "inpaint":
            print(f"error: --inpaint-mask is for an inpainting model (codeformer-inpainting or your CodeFormer "
                  f"inpainting checkpoint); {restorer.name} does not take one", file=sys.stderr)
            return 2
        options["inpaint_mask"] = args.inpaint_mask
    options = restorer.check_options(**options)  # one message for a bad option, not one per input
    # Inputs that share a stem (a.jpg, a.png, x/a.png) get distinct outputs: a, a-2, a-3.
    failures = 0
    for path, unique in _progress(list(zip(inputs, unique_stems(p.name for p in inputs))), restorer.name):
        try:
            # Several fidelity weights (CodeFormer): one output file per w, each face encoded once.
            sweep = restorer.spec.fidelity and len(fidelities) > 1
            results = restorer.restore_sweep(path, fidelities, **options) if sweep else \
                [restorer.restore(path, **options, fidelity=fidelities[0])]
            for w, result in zip(fidelities, results):
                stem = f"{unique}_{restorer.name}" + (f"_w{w:g}" if sweep else "")
                _save_restored(args, path, out_dir, stem, result, names)
        except WeightsError as exc:
            # Missing weights fail every input the same way: the full message once, then one line per input.
            # The file may belong to the detector or the background upsampler rather than to --model.
            _fail(path, exc)
            owner = _weights_owner(exc, restorer.name)
            for rest in inputs[inputs.index(path) + 1 :]:
                _fail(rest, f"skipped: the weights of {owner} are unavailable")
            return 1
        except (images.ImageError, ValueError, RuntimeError, OSError) as exc:
            _fail(path, exc)
            failures += 1
    return 1 if failures else 0


def cmd_models(args: argparse.Namespace) -> int:
    from .. import weights_check

    del args
    width = max(len(spec.licence) for spec in specs())  # never cut a licence: "non-commercial" is the point
    for spec in specs():
        check = weights_check(spec)
        where = spec.weights.url if spec.weights else "-"
        print(f"{spec.name:26s} {spec.family:9s} {check.state:12s} {spec.licence:{width}s} {where}")
        if check.state.endswith("-bad"):  # a file is there but will not load: say why
            print(f"{'':26s} {'':9s} ^ {check.path}: {check.reason}")
    return 0


def cmd_download(args: argparse.Namespace) -> int:
    from ..models.hub import WeightsError, fetch

    failures = 0
    # Files not on the Hub (bring your own, e.g. codeformer-inpainting) only when named: they say where to get them.
    for name in args.models or [s.name for s in specs() if s.weights and not s.weights.local_only]:
        spec = get_spec(name)
        if spec.weights is None:
            continue
        try:
            print(f"{name}: {fetch(spec.weights)}")
        except WeightsError as exc:
            _fail(name, exc)
            failures += 1
    return 1 if failures else 0


CLI_MAX_BATCH = 10_000  # images per evaluation from the command line (a zip is still judged by its limits)


def _load_folder(paths: Sequence[str]) -> tuple[list[tuple[str, object]], int]:
    """Images from files, folders and .zip archives (read as the app reads them), and how many could not be."""
    loaded: list[tuple[str, object]] = []
    failures = 0
    for path in iter_inputs(paths):
        if path.suffix.lower() == ".zip":
            from ..media.uploads import read_batch

            batch = read_batch([path], CLI_MAX_BATCH - len(loaded))
            loaded.extend(batch.images)
            for note in batch.skipped:
                _fail(path, note)
            failures += len(batch.skipped)
            continue
        try:
            loaded.append((path.name, images.load_image(path).rgb))
        except images.ImageError as exc:
            _fail(path, exc)
            failures += 1
    return loaded, failures


def cmd_degrade(args: argparse.Namespace) -> int:
    from ..analysis.degrade import parse_degradation

    spec = parse_degradation(args.degradation)
    check_int("seed", args.seed, 0, 2**63 - 1)
    inputs = iter_inputs(args.inputs)
    names = OutputNames(inputs, overwrite=args.overwrite)  # see cmd_restore: no input is replaced
    tag = _short(str(spec).replace(":", "").replace("+", "_"), 60)
    failures = 0
    for path, stem in _progress(list(zip(inputs, unique_stems(p.name for p in inputs))), str(spec)):
        try:
            out = spec.apply(images.load_image(path).rgb, args.seed)
            target = images.save_png(_claim(names, Path(args.out) / f"{_short(stem, 120)}_{tag}.png"), out)
            _done(f"{path} -> {target} ({out.shape[1]}x{out.shape[0]})")  # as restore does: where it went
        except (images.ImageError, ValueError, OSError) as exc:  # one bad file never loses the rest
            _fail(path, exc)
            failures += 1
    return 1 if failures else 0


def _short(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters with a short hash, so file names stay under the OS limit."""
    if len(text) <= limit:
        return text
    import hashlib

    return f"{text[: limit - 9]}-{hashlib.sha1(text.encode()).hexdigest()[:8]}"


def cmd_evaluate(args: argparse.Namespace) -> int:
    from ..analysis.evaluate import evaluate

    fidelities = _fidelities(args.fidelity)
    if fidelities is None:
        return 2
    truths, unreadable = _load_folder([args.gt])  # each unreadable one already reported on its own line
    if not truths:
        print("error: no readable ground-truth images", file=sys.stderr)
        return 2
    bar = None
    if len(truths) > 1:
        from tqdm import tqdm

        bar = tqdm(total=100, desc="evaluate", file=sys.stderr, bar_format="{l_bar}{bar}| {elapsed}")
    result = evaluate(
        truths, args.degrade, args.models, seed=args.seed, metrics=args.metrics, face_mode=args.mode,
        device=args.device, precision=args.precision, fidelities=fidelities, mask=args.mask,
        progress=(lambda f, _: bar.update(round(f * 100) - bar.n)) if bar else None,
    )
    if bar:
        bar.close()
    print(f"{len(truths)} image(s), degradation {result.degradation}, seed {result.seed}\n")
    print(result.markdown())
    if args.csv:
        write_text(args.csv, result.csv())
        print(f"\nper-image scores: {args.csv}")
    for note in result.skipped:
        print(f"warning: {note}", file=sys.stderr)
    for model, message in result.failures.items():
        _fail(model, message)
    return 1 if result.failures or result.skipped or unreadable else 0


def cmd_loop(args: argparse.Namespace) -> int:
    from ..analysis.animate import timeline_frames
    from ..media.video_io import write_gif, write_mp4
    from ..analysis.loop import run_loop

    check_number("fps", args.fps, MIN_FPS, MAX_FPS)
    fidelity = _fidelities(None if args.fidelity is None else [args.fidelity])
    if fidelity is None:
        return 2
    image = images.load_image(args.image).rgb
    truth = images.load_image(args.gt).rgb if args.gt else None
    result = run_loop(args.model, image, args.runs, args.scale, ground_truth=truth, device=args.device,
                      precision=args.precision, fidelity=fidelity[0], metrics=args.metrics)
    frames = timeline_frames(result.frames)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    (write_mp4 if out.suffix.lower() == ".mp4" else write_gif)(frames, out, args.fps)
    rows = [{**paired, **alone} for paired, alone in zip(result.scores_vs_input, result.scores_of_frame)]
    print("run  size        " + "  ".join(f"{m:>8s}" for m in rows[0]))
    for k, (size, scores) in enumerate(zip(result.sizes, rows)):
        print(f"{k:3d}  {size[1]:4d}x{size[0]:<6d} " + "  ".join(f"{v:8.4f}" for v in scores.values()))
    print(f"timeline: {out}")
    return 0


def cmd_interpolate(args: argparse.Namespace) -> int:
    from ..media.layout import contact_sheet
    from ..media.video_io import write_gif, write_mp4
    from ..analysis.generate import INTERPOLATIONS, check_walk, latent_walk, load_generator, parse_seeds

    interpolation = f"{args.space}-{args.method or ('cubic' if args.space == 'w' else 'slerp')}"
    if interpolation not in INTERPOLATIONS:
        print(f"error: {args.space} space offers: {', '.join(k for k in INTERPOLATIONS if k.startswith(args.space))}",
              file=sys.stderr)
        return 2
    seeds = parse_seeds(args.seeds)  # cheap checks first: a bad value is reported before the generator loads
    check_number("fps", args.fps, MIN_FPS, MAX_FPS)
    check_walk(len(seeds), args.frames, interpolation, args.psi, args.loop, args.size)
    generator = load_generator(args.pickle or args.model, args.device)
    from tqdm import tqdm

    with tqdm(total=100, desc="frames", file=sys.stderr, bar_format="{l_bar}{bar}| {elapsed}") as bar:
        walk = latent_walk(generator, seeds, args.frames, interpolation, args.psi, args.loop,
                           args.size, args.precision, progress=lambda f, _: bar.update(round(f * 100) - bar.n))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".mp4":
        write_mp4(walk.frames, out, args.fps)
    else:
        write_gif(walk.frames, out, args.fps, loop=walk.loop)  # the file's loop flag follows --loop
    if args.sheet:
        images.save_png(args.sheet, contact_sheet(walk.keyframes, [f"seed {s}" for s in walk.seeds]))
    print(f"{out}: {len(walk.frames)} frames at {args.fps:g} fps, loop={walk.loop}, {walk.seconds:.1f} s")
    return 0


def cmd_video(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ..pipelines.video import process_video

    fidelity = _fidelities(None if args.fidelity is None else [args.fidelity])
    if fidelity is None:
        return 2
    options = dict(scale=args.scale, side_by_side=args.side_by_side, audio=not args.no_audio, start=args.start,
                   end=args.end, max_frames=args.max_frames, smooth=not args.no_smooth, background=args.bg_upsampler,
                   only_center_face=args.only_center_face, min_face=args.min_face, threshold=args.threshold,
                   blend=args.blend, device=args.device, precision=args.precision, fidelity=fidelity[0],
                   mask=args.mask)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    bar = None
    result = None
    try:
        for event in process_video(args.input, out, args.model, **options):
            if event.stage == "start":
                print(event.message, file=sys.stderr)
                bar = tqdm(total=event.total or None, desc="frames", unit="frame", file=sys.stderr)
            elif event.stage == "frame" and bar is not None:
                if event.total != bar.total:
                    bar.total = event.total
                bar.update(event.done - bar.n)  # tqdm shows the rate and the time left
            elif event.stage == "audio" and bar is not None:
                bar.set_postfix_str(event.message)
            result = event.result or result
    finally:
        if bar is not None:
            bar.close()
    assert result is not None
    for warning in result.warnings:
        print(f"warning: {args.input}: {warning}", file=sys.stderr)
    sound = {"copied": "sound copied", "aac": "sound re-encoded to AAC", "none": "no sound in the clip",
             "dropped": "sound left out", "failed": "sound could not be kept (see the warning)"}[result.audio]
    print(f"{result.path}: {result.frames} frames, {result.size[0]}x{result.size[1]}, {result.fps:g} fps, "
          f"{result.duration:.2f} s, {sound}; {result.seconds:.1f} s ({result.frames / result.seconds:.2f} fps)")
    if result.side_by_side:
        print(f"side by side: {result.side_by_side}")
    if args.strip:
        images.save_png(args.strip, result.strip)
        print(f"frame strip: {args.strip}")
    return 0


def _add_fidelity_option(parser: argparse.ArgumentParser) -> None:
    """One fidelity weight (loop, video); restore and evaluate take several, for a sweep."""
    parser.add_argument("--fidelity", "-w", type=float, default=None, metavar="W",
                        help="CodeFormer's fidelity weight w in [0, 1] (0 = strongest restoration, 1 = most faithful; "
                             "default 0.5); other models ignore it")


def _add_video_parser(sub) -> None:
    video = sub.add_parser("video", help="restore a video clip frame by frame, keeping its sound")
    video.add_argument("input", help="a clip: mp4, mov, webm, mkv, avi or an animated GIF")
    video.add_argument("--model", "-m", required=True,
                       help="one of: " + ", ".join(s.name for s in specs("baseline", "sr", "face")))
    video.add_argument("--out", "-o", required=True, help="the restored video: .mp4 (H.264), .mov or .mkv")
    video.add_argument("--scale", "-s", type=float, default=None,
                       help="output scale; default: the model's (4 for baselines, 2 for face models)")
    video.add_argument("--side-by-side", default=None, metavar="PATH",
                       help="also write a before | after comparison video here")
    video.add_argument("--strip", default=None, metavar="PNG", help="also save a strip of before/after frames")
    video.add_argument("--no-audio", action="store_true", help="leave the sound out")
    video.add_argument("--max-frames", type=int, default=None, help="stop after this many frames")
    video.add_argument("--start", type=float, default=None, help="start at this second of the clip")
    video.add_argument("--end", type=float, default=None, help="stop at this second of the clip")
    video.add_argument("--no-smooth", action="store_true",
                       help="face models: no tracking-based landmark smoothing (each frame on its own)")
    video.add_argument("--bg-upsampler", default="lanczos",
                       help="face models: none, lanczos, bicubic or an SR model name")
    video.add_argument("--only-center-face", action="store_true", help="restore only the face nearest the centre")
    video.add_argument("--min-face", type=int, default=0, help="ignore faces smaller than this many pixels")
    video.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD, help="face detection score threshold")
    video.add_argument("--blend", type=float, default=1.0, help="1 = fully restored face, 0 = original crop")
    _add_fidelity_option(video)
    _add_mask_option(video)
    _add_runtime_options(video)
    video.set_defaults(func=cmd_video)


def _add_overwrite_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--overwrite", action="store_true",
                        help="replace existing files of the same name (default: write NAME-2.png beside them); "
                             "an input is never replaced")


def _add_mask_option(parser: argparse.ArgumentParser) -> None:
    """How whole-photo face restoration pastes faces back (restore, video, evaluate)."""
    parser.add_argument("--mask", choices=MASK_CHOICES, default=None,
                        help="face models, whole mode: paste back the parsed face region ('parse': hair, hats and "
                             "background keep the original) or the whole aligned crop ('square'); default: parse "
                             "when the face-parsing weights (parsenet) are here, else square with a note")


def _add_runtime_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: CUDA if present)")
    parser.add_argument("--precision", default=None, choices=["auto", "fp32", "bf16", "fp16"],
                        help="auto = bf16 autocast on CPUs that support it, fp16 on CUDA")


class _OneLineErrors(argparse.ArgumentParser):
    """argparse, but a bad argument is one line (``error: ...``) instead of the whole usage block."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    # `python -m restorers` runs __main__.py; the installed console script is called `restorers`.
    prog = "python -m restorers" if Path(sys.argv[0]).name == "__main__.py" else "restorers"
    parser = _OneLineErrors(prog=prog, description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    restore = sub.add_parser("restore", help="restore images (files and folders) with one model")
    restore.add_argument("inputs", nargs="+", help="image files or folders")
    restore.add_argument("--model", "-m", default=None,
                         help="one of: " + ", ".join(s.name for s in specs("baseline", "sr", "face")))
    restore.add_argument("--weights", default=None, metavar="CHECKPOINT",
                         help="your own .pth/.safetensors (RRDBNet/ESRGAN, SRVGGNetCompact, GPEN, GFPGAN, CodeFormer; "
                              "recognised from its tensors); with --model, both run")
    restore.add_argument("--scale", "-s", type=float, default=None,
                         help="output scale (any float, e.g. 1.1); default: the model's native scale "
                              "(4 for baselines, 2 for whole-photo face restoration)")
    restore.add_argument("--out", "-o", default="outputs", help="output folder (default: outputs)")
    restore.add_argument("--mode", choices=FACE_MODES, default="whole",
                         help="face models: 'whole' photo (detect, align, paste back) or 'aligned' face crop")
    restore.add_argument("--bg-upsampler", default="auto",
                         help="face models, whole mode: auto, none, lanczos, bicubic or an SR model name (default "
                              "auto: realesr-general-x4v3 when its weights are cached or downloadable, else lanczos)")
    restore.add_argument("--only-center-face", action="store_true", help="restore only the face nearest the centre")
    restore.add_argument("--min-face", type=int, default=0, help="ignore faces smaller than this many pixels")
    restore.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD,
                         help=f"face detection score threshold (default {DEFAULT_THRESHOLD}, as facexlib)")
    restore.add_argument("--blend", type=float, default=1.0, help="1 = fully restored face, 0 = original crop")
    restore.add_argument("--seed", type=int, default=None, help="GFPGAN: random decoder noise with this seed")
    restore.add_argument("--fidelity", "-w", type=float, nargs="+", metavar="W",
                         help="CodeFormer's fidelity weight w in [0, 1] (0 = strongest restoration, 1 = most faithful; "
                              "default 0.5); several values write one file per w (NAME_codeformer_w0.5.png)")
    restore.add_argument("--save-faces", action="store_true", help="also save each face crop before and after")
    _add_overwrite_option(restore)
    restore.add_argument("--verbose", "-v", action="store_true", help="(kept for compatibility: every output is printed)")
    _add_mask_option(restore)
    restore.add_argument("--inpaint-mask", default=None, metavar="PNG",
                         help="codeformer-inpainting: a mask the size of the input, white where the face is damaged "
                              "(redrawn), black where it is kept (default: the input's pure white pixels)")
    _add_runtime_options(restore)
    restore.set_defaults(func=cmd_restore)

    models = sub.add_parser("models", help="list models, licences and whether their weights are available")
    models.set_defaults(func=cmd_models)

    download = sub.add_parser("download", help="download (and verify) weights into the Hugging Face cache")
    download.add_argument("models", nargs="*", help="model names (default: all)")
    download.set_defaults(func=cmd_download)
    degrade = sub.add_parser("degrade", help="degrade clean images on purpose (seeded, reproducible)")
    degrade.add_argument("inputs", nargs="+", help="image files or folders")
    degrade.add_argument("--degradation", "-d", required=True,
                         help="e.g. stackblur:8, gaussian:2, downscale:4, noise:10, poisson:1, jpeg:30, realesrgan; "
                              "chain with '+', e.g. downscale:2+jpeg:40")
    degrade.add_argument("--seed", type=int, default=0)
    degrade.add_argument("--out", "-o", default="outputs")
    _add_overwrite_option(degrade)
    degrade.set_defaults(func=cmd_degrade)

    evaluate = sub.add_parser("evaluate", help="degrade ground truths, restore, and score every model")
    evaluate.add_argument("gt", help="folder, image file or .zip of clean ground-truth images")
    evaluate.add_argument("--degrade", required=True, help="degradation spec, e.g. stackblur:8")
    evaluate.add_argument("--models", nargs="+", default=["bicubic"], help="model names")
    evaluate.add_argument("--metrics", nargs="+", default=["ssim", "psnr", "uqi", "uqi_sewar", "ms_ssim"],
                          help="any of psnr ssim ssim_gaussian ms_ssim uqi uqi_sewar vifp lpips identity niqe "
                               "(lpips and identity download pinned weights; see docs/metrics.md)")
    evaluate.add_argument("--mode", choices=FACE_MODES, default="aligned", help="face models' input mode")
    evaluate.add_argument("--seed", type=int, default=0)
    evaluate.add_argument("--fidelity", "-w", type=float, nargs="+", metavar="W",
                          help="CodeFormer's fidelity weight w in [0, 1] (0 = strongest restoration, 1 = most faithful; "
                               "default 0.5); several values give one column per w")
    evaluate.add_argument("--csv", help="write per-image scores to this CSV file")
    _add_mask_option(evaluate)
    _add_runtime_options(evaluate)
    evaluate.set_defaults(func=cmd_evaluate)

    loop = sub.add_parser("loop", help="feed a model's output back to it N times; write the timeline")
    loop.add_argument("image")
    loop.add_argument("--model", "-m", required=True)
    loop.add_argument("--runs", type=int, default=10, help="1-30")
    loop.add_argument("--scale", type=float, default=1.0, help="output scale per run, e.g. 1.1")
    loop.add_argument("--gt", help="optional ground truth to score every run against")
    loop.add_argument("--metrics", nargs="+", default=["ssim", "psnr", "uqi"],
                      help="scores per run, e.g. add niqe (no reference: each frame alone), lpips, identity")
    loop.add_argument("--fps", type=float, default=2.0)
    loop.add_argument("--out", "-o", default="timeline.gif", help=".gif or .mp4")
    _add_fidelity_option(loop)
    _add_runtime_options(loop)
    loop.set_defaults(func=cmd_loop)

    walk = sub.add_parser("interpolate", help="StyleGAN2-ADA latent walk through seeds, as GIF or MP4")
    walk.add_argument("--seeds", required=True, help="keyframe seeds, e.g. 1,2,3 or 1-4")
    walk.add_argument("--frames", type=int, default=24, help="frames between keyframes")
    walk.add_argument("--space", choices=["z", "w"], default="w")
    walk.add_argument("--method", choices=["linear", "slerp", "cubic"], default=None,
                      help="z: linear or slerp (default); w: linear or cubic (default)")
    walk.add_argument("--psi", type=float, default=0.7, help="truncation psi")
    walk.add_argument("--loop", action=argparse.BooleanOptionalAction, default=True,
                      help="return to the first keyframe seamlessly (default: on)")
    walk.add_argument("--fps", type=float, default=24.0)
    walk.add_argument("--size", type=int, default=None, help="output side in pixels (default: the model's)")
    walk.add_argument("--model", default="stylegan2-ada-ffhq", help="registered generator")
    walk.add_argument("--pickle", default=None, help="a local StyleGAN2-ADA network pickle instead (loaded safely)")
    walk.add_argument("--sheet", default=None, help="also write a contact sheet of the keyframes (PNG)")
    walk.add_argument("--out", "-o", default="walk.gif", help=".gif or .mp4")
    _add_runtime_options(walk)
    walk.set_defaults(func=cmd_interpolate)
    _add_video_parser(sub)

    from .dcgan import add_parser as add_dcgan_parser  # its own module; imports torch only when run

    add_dcgan_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (KeyError, ValueError, WeightsError, images.ImageError, OSError) as exc:  # names, values, weights, files
        message = " ".join(str(exc.args[0] if isinstance(exc, KeyError) and exc.args else exc).split())
        print(f"error: {message[:500]}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        # Files appear only when complete (media/atomic.py): what is on disk now is whole.
        print("interrupted: the outputs listed above are complete; the one in progress was not written",
              file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `restorers models | head`: the reader left; no traceback
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the exit flush cannot fail again
        return 0
    except MemoryError:
        print("error: not enough memory for this request (try a smaller image or fewer models)", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - the last resort: one line, never a traceback
        print(f"error: unexpected {type(exc).__name__}: {' '.join(str(exc).split())[:300]} "
              "(please report it with the command line)", file=sys.stderr)
        return 3

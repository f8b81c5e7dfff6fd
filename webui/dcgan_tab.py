"""DCGAN tab: the study's first GAN, trained in the browser. Pick data (the bundled example crops, an
upload of images or a zip, or flowers-102 from the Hub), train with the study's settings while the loss
curves and the fixed-noise samples update live, stop any time, then download the checkpoint, the loss
curves (PNG, CSV) and the epoch-by-epoch GIF; sample a checkpoint and walk its latent space with the same
interpolation code and options as the StyleGAN2-ADA Interpolate tab, so the two walks can be compared.

All the work is restorers.dcgan.training.train (a generator of events) and restorers.dcgan; this file only
turns events into component updates."""
from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import gradio as gr
import pandas as pd

from restorers.analysis import budget
from restorers.guards import cancel
from restorers.guards import check_flag, check_int, check_number
from restorers.dcgan import CheckpointError, generate, latent_walk, load_checkpoint, loss_chart, losses_csv, \
    sample_grid, save_checkpoint
from restorers.dcgan import EXAMPLE_DEFAULTS as E
from restorers.dcgan import STUDY_DEFAULTS as D
from restorers.dcgan import TrainConfig
from restorers.dcgan import HUB_DATASETS, DatasetError, count_images, example_dataset, load_hub_dataset, load_images
from restorers.analysis import MAX_FRAMES, parse_seeds
from restorers.media import write_gif, write_mp4

from . import costs
from .common import USER_ERRORS, plain_message, request_dir, save_result_png
from .jobs import job, ui

SOURCES = [("Example photos (bundled crops)", "example"), ("Upload images or a zip", "upload"),
           ("Hugging Face Hub dataset", "hub")]
HUB_CHOICES = [(d.title, d.name) for d in HUB_DATASETS.values()]
WALK_CHOICES = [("z spherical (slerp)", "z-slerp"), ("z linear", "z-linear"), ("z cubic (smooth)", "z-cubic")]
SIZE_CHOICES = [("64 px", 64), ("128 px", 128), ("256 px", 256), ("512 px", 512), ("model size", 0)]
UPDATE_EVERY_S = 0.5  # live chart refresh: at most twice a second (every epoch end is always shown)
# Training cost for the budget: seconds per training image at 32 px, fp32 (64 px costs 4x). The benchmark
# (benchmarks/bench_dcgan.py) could only run on the loaded machine (10-16 images/s with load average 15-20,
# i.e. about a ninth of it); an idle 2-core CPU is estimated at 120 images/s. flowers-102's test split
# holds about 1,000 images, its train split about 7,000.
TRAIN_S_PER_IMAGE_32 = 1 / 120
HUB_IMAGES = {"flowers-102": 1020, "flowers-102-train": 7169}
EXAMPLE_IMAGES = 32


STOP_MARGIN_S = 15.0  # stop this long before the request's time limit, so the results still come back
_stops: dict[str, threading.Event] = {}  # per training run: set by the Stop button
_stops_lock = threading.Lock()


def _deadline_near() -> bool:
    """True when this request's time limit is close or its client has gone (so training ends cleanly)."""
    deadline = cancel.current()
    if deadline is None:
        return False
    remaining = deadline.remaining()
    if remaining is not None and remaining < STOP_MARGIN_S:
        return True
    return bool(deadline.is_cancelled and deadline.is_cancelled())


@ui
def stop_training(token: str | None) -> str:
    """The Stop button: training finishes its current iteration and hands back everything so far."""
    with _stops_lock:
        flag = _stops.get(token or "")
    if flag is None:
        return _status("Nothing is training.")
    flag.set()
    return _status("Stopping after this iteration...")


def train_cost(source: str, files: Any, hub_name: str, size: Any, epochs: Any, *_: Any, **__: Any) -> budget.Estimate:
    try:
        if source == "upload":  # every member the loader would decode, not a sample of them
            count = count_images([str(getattr(f, "name", f)) for f in ([files] if isinstance(files, str) else files or [])])
        else:
            count = HUB_IMAGES.get(hub_name, 8189) if source == "hub" else EXAMPLE_IMAGES
        pixels = (float(size) / 32) ** 2
        seconds = count * float(epochs) * TRAIN_S_PER_IMAGE_32 * pixels
        what = f"training {count} images for {int(float(epochs))} epochs"
    except (TypeError, ValueError, OverflowError):  # NaN, Infinity, text: the handler names the parameter
        return budget.Estimate()
    return budget.part(what, seconds).scaled(costs.factor())


def _load_data(source: str, files: list[str] | None, hub_name: str, size: int):
    if source == "upload":
        if not files:
            raise DatasetError("Upload training images (several files or a zip) first, or pick another data source.")
        return load_images(files, size)
    if source == "hub":
        return load_hub_dataset(hub_name, size)
    return example_dataset(size)


def _losses_frame(rows: list[dict]) -> pd.DataFrame | None:
    """Long format for gr.LinePlot: one row per (iteration, series); None (an empty plot) before any row.

    Not an empty DataFrame: gradio 6.31's plot, once given one (as its first value or an update), never
    drew a line again, however many losses came in afterwards."""
    if not rows:
        return None
    frame = pd.DataFrame(rows)
    parts = [pd.DataFrame({"iteration": frame["iteration"], "loss": frame[column], "series": label})
             for column, label in (("loss_d", "D"), ("loss_g", "G"), ("loss_d_smooth", "D (smoothed)"),
                                   ("loss_g_smooth", "G (smoothed)"))]
    return pd.concat(parts, ignore_index=True)


def _status(text: str, kind: str = "info") -> str:
    return f'<div class="studio-status studio-{kind}"><p>{text}</p></div>'


@job(train_cost, what="DCGAN training")
def run_dcgan_train(source: str = "example", files: list[str] | None = None, hub_name: str = "flowers-102",
                    size: float = D.image_size, epochs: float = E.epochs, batch_size: float = E.batch_size,
                    lr_g: float = E.lr_g, lr_d: float = E.lr_d, beta1: float = D.beta1, beta2: float = D.beta2,
                    latent: float = D.nz, seed: float = D.seed, stabilise: bool = False,
                    features: float = D.ngf, precision: str = D.precision):
    """Train a DCGAN (32 or 64 px) with live loss curves and fixed-noise samples after every epoch.

    Args:
        source: 'example' (bundled crops of the example photos), 'upload' (the files) or 'hub' (hub_name).
        files: training images, or zips of images (non-images are skipped with a note).
        hub_name: 'flowers-102' (test split, 43 MB) or 'flowers-102-train' (303 MB), pinned by commit.
        size: 32 or 64 pixels.
        epochs: passes over the data.
        batch_size: images per iteration; one larger than the data is cut to give about 4 iterations per
            epoch, and the status says so. The defaults (batch 8, 50 epochs, lr 0.001) suit the bundled
            example crops; the study's for flowers-102 are batch 256, 20 epochs, lr 0.005.
        lr_g: generator learning rate (Adam).
        lr_d: discriminator learning rate (Adam).
        beta1: Adam beta1.
        beta2: Adam beta2.
        latent: latent size (nz).
        seed: random seed (weights, data order, noise): the same seed gives the same run on CPU.
        stabilise: one-sided label smoothing (real = 0.9) and decaying instance noise against collapse.
        features: feature maps of both networks (64 in the paper).
        precision: 'fp32', 'channels_last' (fp32) or 'bf16' (channels_last + bfloat16 autocast).
    Returns:
        status, note, loss curves, sample grid, epoch GIF, checkpoint, result files.
    """
    # Each value checked by name first (an API call can send NaN or text): "epochs must be a finite number",
    # not "cannot convert float NaN to integer"; TrainConfig.check then holds them to their ranges.
    size = check_int("image size", size)
    config = TrainConfig(image_size=size, epochs=check_int("epochs", epochs),
                         batch_size=check_int("batch size", batch_size), lr_g=float(check_number("learning rate G", lr_g)),
                         lr_d=float(check_number("learning rate D", lr_d)), beta1=float(check_number("Adam beta1", beta1)),
                         beta2=float(check_number("Adam beta2", beta2)), nz=check_int("latent size", latent),
                         ngf=check_int("feature maps", features), ndf=check_int("feature maps", features),
                         seed=check_int("seed", seed, 0, 2**63 - 1), stabilise=check_flag("stabilise", stabilise),
                         precision=precision or D.precision)
    try:
        config.check()
        yield (_status("loading the images..."), "", _losses_frame([]), None, None, None, None, None, None)
        data = _load_data(source, files, hub_name, size)
    except (DatasetError,) + USER_ERRORS as exc:
        raise gr.Error(plain_message(str(exc)), duration=None) from exc
    notes = list(data.notes)
    token = uuid.uuid4().hex
    flag = threading.Event()
    with _stops_lock:
        _stops[token] = flag
    try:
        yield from _train_updates(data, config, notes, flag, token, size)
    finally:
        with _stops_lock:
            _stops.pop(token, None)


def _train_updates(data, config: TrainConfig, notes: list[str], flag: threading.Event, token: str, size: int):
    folder = request_dir("dcgan")
    grids: list = []
    rows: list[dict] = []
    checkpoint = gif = grid = None
    files_out: list[str] = []
    last = 0.0
    header = f"{len(data)} images of {size}x{size} from {data.source}"

    def note_html() -> str:
        return "".join(_status(n, "warn" if "discriminator" in n else "info") for n in notes)

    for event in _events(data, config, lambda: flag.is_set() or _deadline_near()):
        kind = type(event).__name__
        if kind == "Started":
            if event.batch_note:  # e.g. "batch 256 is larger than the 32 images: using 8"
                header += f"; {event.batch_note}"
            header += f"; {event.iterations_per_epoch} iteration(s) per epoch, {event.total_iterations} in all"
            continue
        if kind == "Iteration":
            rows.append(event.row())
            now = time.monotonic()
            if now - last < UPDATE_EVERY_S:
                continue
            last = now
            status = (f"{header}<br>epoch {event.epoch}/{config.epochs}, iteration {event.iteration}: loss D "
                      f"{event.loss_d:.3f}, G {event.loss_g:.3f} · {event.images_per_second:.0f} images/s · "
                      f"about {budget.describe_seconds(event.seconds_left)} left")
            yield (_status(status), note_html(), _losses_frame(rows), grid, gif, checkpoint, files_out or None, checkpoint, token)
        elif kind == "Note":
            notes.append(event.text)
            yield (gr.skip(), note_html(), _losses_frame(rows), grid, gif, checkpoint, files_out or None, checkpoint, token)
        elif kind == "EpochEnd":
            grid = event.grid
            grids.append(event.grid)
            gif = str(write_gif(grids, folder / "samples_by_epoch.gif", fps=2))
            status = (f"{header}<br>epoch {event.epoch}/{event.epochs} done: mean loss D {event.loss_d:.3f}, "
                      f"G {event.loss_g:.3f} · about {budget.describe_seconds(event.seconds_left)} left")
            yield (_status(status), note_html(), _losses_frame(rows), grid, gif, checkpoint, files_out or None, checkpoint, token)
        elif kind == "Done":
            checkpoint = str(save_checkpoint(folder / "dcgan.pt", event.model))
            csv_path = folder / "losses.csv"
            csv_path.write_text(losses_csv(event.rows))
            png = save_result_png(folder, "losses", loss_chart(event.rows))
            files_out = [checkpoint, png, str(csv_path)] + ([gif] if gif else [])
            ended = "stopped" if event.stopped else "done"
            status = f"{header}<br>{ended} after {len(event.rows)} iterations in {event.seconds:.1f} s"
            yield (_status(status), note_html(), _losses_frame(event.rows), grid, gif, checkpoint, files_out, checkpoint, token)


def _events(data, config: TrainConfig, stop):
    from restorers.dcgan import train

    try:
        yield from train(data, config, stop=stop)
    except (DatasetError, ValueError) as exc:
        raise gr.Error(plain_message(str(exc)), duration=None) from exc


def _model(checkpoint_file: str | None, trained: str | None):
    path = checkpoint_file or trained
    if not path:
        raise gr.Error("Train a model first, or upload a checkpoint (.pt/.pth).")
    try:
        return load_checkpoint(path)
    except CheckpointError as exc:
        raise gr.Error(plain_message(str(exc), path), duration=None) from exc


@job(None, what="DCGAN sampling")
def run_dcgan_sample(checkpoint_file: str | None = None, seeds: str = "0-15", trained: str | None = None):
    """Samples from a DCGAN checkpoint, one per seed, on a grid.

    Args:
        checkpoint_file: a checkpoint: this app's, or the PyTorch DCGAN tutorial's (netG_state_dict or bare main.N.* keys).
        seeds: one sample per seed, e.g. '0-15' or '1,5,9'.
        trained: the checkpoint just trained in this tab (used when no file is given).
    Returns:
        the grid of samples, and a line describing the model.
    """
    model = _model(checkpoint_file, trained)
    try:
        seed_list = parse_seeds(seeds)
    except ValueError as exc:
        raise gr.Error(str(exc)) from exc
    grid = sample_grid(generate(model, seed_list), cell=max(64, model.image_size))
    return grid, _status(f"{len(seed_list)} samples of {model.image_size}x{model.image_size}, latent size {model.nz} "
                         f"({model.source} checkpoint)")


@job(None, what="DCGAN walk")
def run_dcgan_interpolate(checkpoint_file: str | None = None, seeds: str = "1,2,3", frames_between: float = 24,
                          interpolation: str = "z-slerp", loop: bool = True, fps: float = 24, size: float = 256,
                          trained: str | None = None, progress: gr.Progress = gr.Progress()):
    """A latent walk of a DCGAN through the samples of several seeds, as MP4 and GIF (the StyleGAN2-ADA walk's code).

    Args:
        checkpoint_file: a DCGAN checkpoint (this app's or the PyTorch tutorial's layout).
        seeds: keyframe seeds, e.g. '1,2,3' or '1-4'.
        frames_between: frames between two keyframes.
        interpolation: 'z-slerp', 'z-linear' or 'z-cubic' (a DCGAN has no w space).
        loop: return to the first keyframe seamlessly.
        fps: frames per second.
        size: output side in pixels (0 = the model's own).
        trained: the checkpoint just trained in this tab (used when no file is given).
    Returns:
        the walk as MP4 and GIF, and the GIF file.
    """
    model = _model(checkpoint_file, trained)
    try:
        walk = latent_walk(model, parse_seeds(seeds), check_int("frames between keyframes", frames_between),
                           interpolation, check_flag("loop", loop), check_int("output size", size, 0, 4096) or None,
                           max_frames=MAX_FRAMES, progress=lambda f, d: progress(f, desc=d))
    except ValueError as exc:
        raise gr.Error(str(exc), duration=None) from exc
    folder = request_dir("dcgan-walk")
    gif = write_gif(walk.frames, folder / "dcgan_walk.gif", fps, loop=walk.loop)
    mp4 = write_mp4(walk.frames, folder / "dcgan_walk.mp4", fps)
    return str(mp4), str(gif), str(gif)


def source_defaults(source: str) -> tuple:
    """Epochs, batch and learning rates for a data source: the demo's for the 32 bundled crops (the study's
    batch 256 would be one iteration per epoch there), the study's for uploads and flowers-102."""
    chosen = E if source == "example" else D
    return (gr.update(value=chosen.epochs), gr.update(value=chosen.batch_size), gr.update(value=chosen.lr_g),
            gr.update(value=chosen.lr_d))


def build_dcgan_tab() -> dict:
    gr.Markdown("Train the study's first GAN: a DCGAN (strided convolutions, batch norm, 32 or 64 px). "
                "The defaults are the study's (the d2l.ai chapter's settings at 32 px) for uploads and flowers-102; "
                "the bundled example crops start with a small batch (8), 50 epochs and lr 0.001 so they learn in "
                "about a minute. Watch the discriminator's "
                "loss: when it falls towards 0 while the generator's rises, the discriminator has won.")
    trained = gr.State(None)
    token = gr.State(None)  # the running training's stop token
    with gr.Row():
        with gr.Column(scale=1):
            source = gr.Radio(SOURCES, value="example", label="Data", elem_id="dcgan-source")
            files = gr.File(label="Training images (several files or a .zip)", file_count="multiple",
                            file_types=["image", ".zip"], elem_id="dcgan-files")
            hub_name = gr.Dropdown(HUB_CHOICES, value="flowers-102", label="Hub dataset (pinned by commit)",
                                   info="Oxford flowers-102 as in the study; licence: none stated (research use)")
            size = gr.Radio([32, 64], value=D.image_size, label="Resolution (pixels)", elem_id="dcgan-size")
            epochs = gr.Slider(1, 200, value=E.epochs, step=1, label="Epochs", elem_id="dcgan-epochs")
            batch = gr.Slider(2, 512, value=E.batch_size, step=1, label="Batch size", elem_id="dcgan-batch")
            with gr.Row():
                lr_g = gr.Number(E.lr_g, label="Learning rate G", minimum=1e-6, maximum=1.0)
                lr_d = gr.Number(E.lr_d, label="Learning rate D", minimum=1e-6, maximum=1.0)
            with gr.Row():
                beta1 = gr.Number(D.beta1, label="Adam beta1", minimum=0.0, maximum=0.999)
                beta2 = gr.Number(D.beta2, label="Adam beta2", minimum=0.0, maximum=0.9999)
            with gr.Row():
                latent = gr.Number(D.nz, label="Latent size", precision=0, minimum=1, maximum=1024)
                seed = gr.Number(D.seed, label="Seed", precision=0, elem_id="dcgan-seed")
            stabilise = gr.Checkbox(False, label="Stabilise (one-sided label smoothing + instance noise)",
                                    elem_id="dcgan-stabilise")
            with gr.Accordion("Network and speed", open=False):
                features = gr.Slider(8, 128, value=D.ngf, step=8, label="Feature maps (ngf = ndf)",
                                     elem_id="dcgan-features")
                precision = gr.Radio([("fp32", "fp32"), ("fp32 + channels_last", "channels_last"),
                                      ("bf16 autocast + channels_last (slower on CPU)", "bf16")],
                                     value=D.precision, label="Precision")
            with gr.Row():
                run = gr.Button("Train", variant="primary", elem_id="dcgan-train")
                stop = gr.Button("Stop", variant="stop", elem_id="dcgan-stop")
        with gr.Column(scale=2):
            status = gr.HTML(elem_id="dcgan-status")
            note = gr.HTML(elem_id="dcgan-note")
            # No fixed height: 300 px cut the legend below the axis down to its title ("series").
            chart = gr.LinePlot(_losses_frame([]), x="iteration", y="loss", color="series", label="Losses",
                                x_title="iteration", y_title="loss", elem_id="dcgan-losses",
                                color_map={"D": "#fca5a5", "G": "#93c5fd", "D (smoothed)": "#dc2626",
                                           "G (smoothed)": "#2563eb"})
            with gr.Row():
                samples = gr.Image(label="Samples from fixed noise (latest epoch)", type="numpy",
                                   elem_id="dcgan-samples", height=320)
                epoch_gif = gr.Image(label="Samples epoch by epoch (GIF)", type="filepath", elem_id="dcgan-gif",
                                     height=320)
            checkpoint = gr.File(label="Checkpoint", elem_id="dcgan-checkpoint")
            results = gr.File(label="Checkpoint, loss curves (PNG, CSV), epoch GIF", file_count="multiple")
    inputs = [source, files, hub_name, size, epochs, batch, lr_g, lr_d, beta1, beta2, latent, seed, stabilise,
              features, precision]
    run.click(run_dcgan_train, inputs,
                         [status, note, chart, samples, epoch_gif, checkpoint, results, trained, token],
                         api_name="dcgan_train")
    stop.click(stop_training, token, status, api_visibility="private")
    source.change(source_defaults, source, [epochs, batch, lr_g, lr_d], api_visibility="private", queue=False)

    gr.Markdown("### Sample and walk the latent space\nUse the model just trained, or load a checkpoint (this app's, "
                "or the PyTorch DCGAN tutorial's `main.N.*` layout with or without `netG_state_dict`). The walk "
                "uses the Interpolate tab's code and options, so it can be set beside a StyleGAN2-ADA walk.")
    with gr.Row():
        with gr.Column(scale=1):
            ckpt = gr.File(label="...or a checkpoint (.pt/.pth, loaded with weights_only)", file_types=[".pt", ".pth"],
                           elem_id="dcgan-ckpt")
            seeds = gr.Textbox("1,2,3", label="Seeds", info="e.g. 1,2,3 or 10-14", elem_id="dcgan-seeds")
            frames_between = gr.Slider(0, 120, value=24, step=1, label="Frames between keyframes")
            interpolation = gr.Dropdown(WALK_CHOICES, value="z-slerp", label="Space and method")
            loop = gr.Checkbox(True, label="Loop back to the first keyframe seamlessly")
            fps = gr.Slider(1, 60, value=24, step=1, label="Frames per second")
            out_size = gr.Dropdown(SIZE_CHOICES, value=256, label="Output size")
            sample_seeds = gr.Textbox("0-15", label="Sample seeds (one sample each)")
            with gr.Row():
                sample_btn = gr.Button("Sample grid", elem_id="dcgan-sample")
                walk_btn = gr.Button("Render walk", variant="primary", elem_id="dcgan-walk")
        with gr.Column(scale=2):
            sample_status = gr.HTML()
            grid = gr.Image(label="Samples (one per seed)", type="numpy", elem_id="dcgan-grid")
            video = gr.Video(label="Walk (MP4)", autoplay=True, loop=True, height=320)
            walk_gif = gr.Image(label="Walk (GIF)", type="filepath", elem_id="dcgan-walk-gif")
            download = gr.File(label="Download GIF")
    sample_btn.click(run_dcgan_sample, [ckpt, sample_seeds, trained], [grid, sample_status], api_name="dcgan_sample")
    walk_btn.click(run_dcgan_interpolate, [ckpt, seeds, frames_between, interpolation, loop, fps, out_size, trained],
                   [video, walk_gif, download], api_name="dcgan_interpolate")
    return {"trained": trained}

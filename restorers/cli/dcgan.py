"""``python -m restorers dcgan train|sample|interpolate``: the DCGAN lab on the command line.

    python -m restorers dcgan train DATA... --size 32 --epochs 20 --out RUN_DIR
    python -m restorers dcgan train --hub flowers-102 --epochs 20 --out RUN_DIR
    python -m restorers dcgan sample RUN_DIR/dcgan.pt --seeds 0-15 --out samples.png
    python -m restorers dcgan interpolate RUN_DIR/dcgan.pt --seeds 1,2,3 --frames 24 --out walk.gif

`train` writes into RUN_DIR: dcgan.pt (the checkpoint), losses.csv, losses.png, samples.gif (the fixed-noise
grid after every epoch) and samples_final.png. Ctrl-C stops after the current iteration and still writes them.
"""
from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from ..media import images


def add_parser(sub: argparse._SubParsersAction) -> None:
    from ..dcgan.config import STUDY_DEFAULTS as D

    dcgan = sub.add_parser("dcgan", help="train a DCGAN, sample it, walk its latent space")
    commands = dcgan.add_subparsers(dest="dcgan_command", required=True)

    train = commands.add_parser("train", help="train on images (files, folders, zips) or a pinned Hub dataset")
    train.add_argument("data", nargs="*", help="image files, folders or .zip files")
    train.add_argument("--hub", default=None, help="a pinned Hub dataset instead: flowers-102 or flowers-102-train")
    train.add_argument("--size", type=int, choices=[32, 64], default=D.image_size)
    train.add_argument("--epochs", type=int, default=D.epochs)
    train.add_argument("--batch-size", type=int, default=D.batch_size)
    train.add_argument("--lr-g", type=float, default=D.lr_g, help="generator learning rate")
    train.add_argument("--lr-d", type=float, default=D.lr_d, help="discriminator learning rate")
    train.add_argument("--beta1", type=float, default=D.beta1)
    train.add_argument("--beta2", type=float, default=D.beta2)
    train.add_argument("--latent", type=int, default=D.nz, help="latent size (nz)")
    train.add_argument("--features", type=int, default=D.ngf, help="feature maps of both networks (ngf = ndf)")
    train.add_argument("--seed", type=int, default=D.seed)
    train.add_argument("--stabilise", action="store_true",
                       help="one-sided label smoothing (real = 0.9) and decaying instance noise")
    train.add_argument("--precision", choices=["fp32", "channels_last", "bf16"], default=D.precision,
                       help="channels_last = fp32 in channels_last layout; bf16 = channels_last + bfloat16 autocast "
                            "(slower for training on CPU: see docs/dcgan.md)")
    train.add_argument("--max-images", type=int, default=None, help="use at most this many images")
    train.add_argument("--device", default=None)
    train.add_argument("--out", "-o", default="dcgan-run", help="run folder (created)")
    train.set_defaults(func=cmd_train)

    sample = commands.add_parser("sample", help="a grid of samples from a checkpoint")
    sample.add_argument("checkpoint", help="ours, or the PyTorch tutorial's (netG_state_dict or bare main.N.*)")
    sample.add_argument("--seeds", default="0-15", help="one sample per seed, e.g. 0-15 or 1,5,9")
    sample.add_argument("--cell", type=int, default=64, help="pixels per sample on the grid")
    sample.add_argument("--out", "-o", default="samples.png")
    sample.set_defaults(func=cmd_sample)

    walk = commands.add_parser("interpolate", help="a latent walk through seeds (as the StyleGAN2-ADA walk), GIF/MP4")
    walk.add_argument("checkpoint")
    walk.add_argument("--seeds", default="1,2,3", help="keyframe seeds, e.g. 1,2,3 or 1-4")
    walk.add_argument("--frames", type=int, default=24, help="frames between keyframes")
    walk.add_argument("--method", choices=["slerp", "linear", "cubic"], default="slerp")
    walk.add_argument("--loop", action=argparse.BooleanOptionalAction, default=True)
    walk.add_argument("--fps", type=float, default=24.0)
    walk.add_argument("--size", type=int, default=256, help="output side in pixels (0 = the model's)")
    walk.add_argument("--sheet", default=None, help="also write a contact sheet of the keyframes (PNG)")
    walk.add_argument("--out", "-o", default="walk.gif", help=".gif or .mp4")
    walk.set_defaults(func=cmd_interpolate)


def cmd_train(args: argparse.Namespace) -> int:
    from ..media.atomic import write_text
    from ..media.video_io import write_gif
    from ..dcgan.model import loss_chart, losses_csv, save_checkpoint
    from ..dcgan.data import load_hub_dataset, load_images
    from ..dcgan.training import Done, EpochEnd, Iteration, Note, Started, TrainConfig, train

    if bool(args.data) == bool(args.hub):
        print("error: give training images (files, folders, zips) or --hub NAME, not both or neither", file=sys.stderr)
        return 2
    config = TrainConfig(image_size=args.size, epochs=args.epochs, batch_size=args.batch_size, lr_g=args.lr_g,
                         lr_d=args.lr_d, beta1=args.beta1, beta2=args.beta2, nz=args.latent, ngf=args.features,
                         ndf=args.features, seed=args.seed, stabilise=args.stabilise, precision=args.precision,
                         device=args.device)
    config.check()
    data = (load_hub_dataset(args.hub, args.size, args.max_images) if args.hub
            else load_images(args.data, args.size, args.max_images))
    for note in data.notes:
        print(f"note: {note}", file=sys.stderr)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    grids = []
    done = None
    stop = threading.Event()

    def interrupt(*_: object) -> None:
        if stop.is_set():
            raise KeyboardInterrupt  # a second Ctrl-C: give up at once
        print("stopping after this iteration (Ctrl-C again to abort)...", file=sys.stderr)
        stop.set()

    previous = signal.signal(signal.SIGINT, interrupt)
    try:
        for event in train(data, config, stop=stop):
            if isinstance(event, Started):
                if event.batch_note:
                    print(event.batch_note)
                print(f"{event.images} images of {args.size}x{args.size} from {data.source}; {event.iterations_per_epoch} "
                      f"iterations per epoch, {event.total_iterations} in all, on {event.device}")
            elif isinstance(event, Iteration) and (event.iteration == 1 or event.iteration % 10 == 0):
                print(f"epoch {event.epoch} it {event.iteration}: loss D {event.loss_d:.4f} (smoothed "
                      f"{event.loss_d_smooth:.4f}) G {event.loss_g:.4f} ({event.loss_g_smooth:.4f}) "
                      f"D(x) {event.d_real:.3f} D(G(z)) {event.d_fake:.3f}  {event.images_per_second:.0f} img/s, "
                      f"{event.seconds_left:.0f} s left", flush=True)
            elif isinstance(event, Note):
                print(f"note (iteration {event.iteration}): {event.text}", file=sys.stderr)
            elif isinstance(event, EpochEnd):
                grids.append(event.grid)
                print(f"epoch {event.epoch}/{event.epochs}: mean loss D {event.loss_d:.4f} G {event.loss_g:.4f}, "
                      f"{event.seconds:.1f} s", flush=True)
            elif isinstance(event, Done):
                done = event
    finally:
        signal.signal(signal.SIGINT, previous)
    if done is None:  # pragma: no cover - train() always ends with Done unless aborted
        print("error: training ended without a model", file=sys.stderr)
        return 1
    checkpoint = save_checkpoint(out / "dcgan.pt", done.model)
    write_text(out / "losses.csv", losses_csv(done.rows))
    images.save_png(out / "losses.png", loss_chart(done.rows))
    if grids:
        write_gif(grids, out / "samples.gif", fps=2)
        images.save_png(out / "samples_final.png", grids[-1])
    state = "stopped" if done.stopped else "done"
    print(f"{state} in {done.seconds:.1f} s: {checkpoint}, {out / 'losses.csv'}, {out / 'losses.png'}, "
          f"{out / 'samples.gif'}")
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    from ..dcgan.model import generate, load_checkpoint, sample_grid
    from ..analysis.generate import parse_seeds

    model = load_checkpoint(args.checkpoint)
    seeds = parse_seeds(args.seeds)
    grid = sample_grid(generate(model, seeds), cell=args.cell)
    images.save_png(args.out, grid)
    print(f"{args.out}: {len(seeds)} samples of {model.image_size}x{model.image_size} ({model.source} checkpoint)")
    return 0


def cmd_interpolate(args: argparse.Namespace) -> int:
    from ..media.layout import contact_sheet
    from ..media.video_io import write_gif, write_mp4
    from ..dcgan.model import latent_walk, load_checkpoint
    from ..analysis.generate import MAX_FRAMES, parse_seeds

    model = load_checkpoint(args.checkpoint)
    walk = latent_walk(model, parse_seeds(args.seeds), args.frames, f"z-{args.method}", args.loop, args.size or None,
                       max_frames=MAX_FRAMES)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".mp4":
        write_mp4(walk.frames, out, args.fps)
    else:
        write_gif(walk.frames, out, args.fps, loop=walk.loop)
    if args.sheet:
        images.save_png(args.sheet, contact_sheet(walk.keyframes, [f"seed {s}" for s in walk.seeds]))
    print(f"{out}: {len(walk.frames)} frames at {args.fps:g} fps, loop={walk.loop}, {walk.seconds:.1f} s")
    return 0

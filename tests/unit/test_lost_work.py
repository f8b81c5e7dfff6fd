"""Nothing lost (issue 22, items 9-10): files appear whole or not at all, no input is overwritten before it
is read, no existing output is replaced silently, and a clip whose sound cannot be muxed keeps its
restored picture. Every input is generated here."""
from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from restorers.cli.commands import main
from restorers.cli.outputs import OutputNames
from restorers.media import atomic, images, video_io as media
from restorers.pipelines import video


def _png(path: Path, colour: tuple[int, int, int], size: tuple[int, int] = (24, 20)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path)
    return path


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.is_file())


# --- complete files or none ------------------------------------------------------------------------------


def test_atomic_output_keeps_the_old_file_when_the_write_fails(tmp_path: Path) -> None:
    final = tmp_path / "a.txt"
    final.write_text("old")
    with pytest.raises(KeyboardInterrupt):
        with atomic.atomic_output(final) as partial:
            partial.write_text("half")
            raise KeyboardInterrupt
    assert final.read_text() == "old" and _files(tmp_path) == ["a.txt"]
    atomic.write_text(final, "new")
    assert final.read_text() == "new" and _files(tmp_path) == ["a.txt"]


def test_published_files_get_the_users_permissions(tmp_path: Path) -> None:
    import os

    umask = os.umask(0o022)
    try:
        images.save_png(tmp_path / "a.png", np.zeros((4, 4, 3), np.uint8))
    finally:
        os.umask(umask)
    assert (tmp_path / "a.png").stat().st_mode & 0o777 == 0o644


def _interrupt_png_writes(monkeypatch: pytest.MonkeyPatch, after: int) -> None:
    """Let ``after`` PNG writes finish; the next one writes half a file and gets Ctrl-C."""
    real = Image.SAVE["PNG"]
    calls = [0]

    def save(image, fp, filename, *args):  # noqa: ANN001, ANN202 - Pillow's save-handler signature
        calls[0] += 1
        if calls[0] > after:
            fp.write(b"\x89PNG\r\n\x1a\n" + b"\0" * 100)  # the start of a file, then the key press
            fp.flush()
            raise KeyboardInterrupt
        return real(image, fp, filename, *args)

    monkeypatch.setitem(Image.SAVE, "PNG", save)


def test_ctrl_c_during_restore_leaves_no_truncated_png(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture) -> None:
    folder = tmp_path / "in"
    for name, colour in (("a.png", (200, 10, 10)), ("b.png", (10, 200, 10)), ("c.png", (10, 10, 200))):
        _png(folder / name, colour)
    out = tmp_path / "out"
    _interrupt_png_writes(monkeypatch, after=1)
    assert main(["restore", str(folder), "-o", str(out), "--model", "lanczos", "--scale", "2"]) == 130
    assert "interrupted" in capsys.readouterr().err
    assert _files(out) == ["a_lanczos.png"]  # no b_lanczos.png, no hidden partial file
    with Image.open(out / "a_lanczos.png") as done:
        done.load()  # complete: decodes to the end
        assert done.size == (48, 40)


def test_interrupted_gif_and_mp4_leave_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    frames = [np.full((16, 16, 3), 40 * i, np.uint8) for i in range(4)]
    def gif_interrupted(image, fp, filename):  # noqa: ANN001, ANN202
        fp.write(b"GIF89a")
        raise KeyboardInterrupt

    with monkeypatch.context() as patched:
        patched.setitem(Image.SAVE_ALL, "GIF", gif_interrupted)  # animated GIFs go through save_all
        with pytest.raises(KeyboardInterrupt):
            media.write_gif(frames, tmp_path / "w.gif", fps=4)

    def bad_frames():
        yield from frames[:2]
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        with atomic.atomic_output(tmp_path / "w.mp4") as partial, media.VideoWriter(partial, 4) as writer:
            for frame in bad_frames():
                writer.write(frame)
    assert _files(tmp_path) == []


# --- no input overwritten, no output replaced silently ---------------------------------------------------


def test_restore_into_its_own_folder_reads_every_input_first(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    same = tmp_path / "same"
    a = _png(same / "a.png", (200, 10, 10))
    a_lanczos = _png(same / "a_lanczos.png", (10, 200, 10))  # the name a.png's output would take
    before = {p: p.read_bytes() for p in (a, a_lanczos)}
    assert main(["restore", str(same), "-o", str(same), "--model", "lanczos", "--scale", "1"]) == 0
    captured = capsys.readouterr()
    assert {p: p.read_bytes() for p in (a, a_lanczos)} == before  # both inputs untouched
    assert _files(same) == ["a.png", "a_lanczos-2.png", "a_lanczos.png", "a_lanczos_lanczos.png"]
    # Each output holds its own input's pixels: a red a.png -> a_lanczos-2.png, the green one -> a_lanczos_lanczos.png.
    assert images.load_image(same / "a_lanczos-2.png").rgb[0, 0].tolist() == [200, 10, 10]
    assert images.load_image(same / "a_lanczos_lanczos.png").rgb[0, 0].tolist() == [10, 200, 10]
    assert f"note: {same / 'a_lanczos.png'} is one of the inputs: writing a_lanczos-2.png instead" in captured.err
    assert f"-> {same / 'a_lanczos-2.png'}" in captured.out


def test_existing_outputs_are_kept_unless_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    a = _png(tmp_path / "a.png", (200, 10, 10))
    out = tmp_path / "out"
    old = _png(out / "a_lanczos.png", (1, 2, 3))
    kept = old.read_bytes()
    assert main(["restore", str(a), "-o", str(out), "--model", "lanczos", "--scale", "1"]) == 0
    assert old.read_bytes() == kept and (out / "a_lanczos-2.png").is_file()
    assert "exists (--overwrite replaces existing files): writing a_lanczos-2.png instead" in capsys.readouterr().err
    assert main(["restore", str(a), "-o", str(out), "--model", "lanczos", "--scale", "1", "--overwrite"]) == 0
    assert images.load_image(old).rgb[0, 0].tolist() == [200, 10, 10]
    assert _files(out) == ["a_lanczos-2.png", "a_lanczos.png"]


def test_degrade_never_replaces_an_input(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    a = _png(tmp_path / "a.png", (200, 10, 10))
    clash = _png(tmp_path / "a_downscale2.png", (10, 200, 10))
    kept = clash.read_bytes()
    assert main(["degrade", str(tmp_path), "-d", "downscale:2", "-o", str(tmp_path), "--overwrite"]) == 0
    assert clash.read_bytes() == kept and a.is_file()
    assert (tmp_path / "a_downscale2-2.png").is_file()
    assert "is one of the inputs" in capsys.readouterr().err


def test_output_names_count_up_and_ignore_case(tmp_path: Path) -> None:
    names = OutputNames([tmp_path / "A.png"])
    assert names.claim(tmp_path / "a.png") == tmp_path / "a-2.png"
    assert names.claim(tmp_path / "a.png") == tmp_path / "a-3.png"
    assert names.claim(tmp_path / "b.png") == tmp_path / "b.png"
    assert len(names.notes) == 2


# --- a sound track that cannot be muxed ------------------------------------------------------------------


def test_ffmpeg_reason_drops_component_addresses() -> None:
    stderr = ('[aac @ 0x55649795d900] Unsupported channel layout "9.1.6"\n'
              "[aost#0:1/aac @ 0x556497964bc0] [enc:aac @ 0x55649795d6c0] Error while opening encoder\n"
              "[out#0/mp4 @ 0x5564979c4000] Nothing was written into output file\n")
    assert media.ffmpeg_reason(stderr) == 'Unsupported channel layout "9.1.6"'
    assert "0x" not in media.ffmpeg_reason("[x @ 0xdeadbeef] " + "y" * 500) and len(media.ffmpeg_reason("z" * 500)) == 200


@pytest.fixture(scope="module")
def unmuxable_clip(tmp_path_factory) -> Path:
    """8 frames of picture and a 16-channel 384 kHz PCM track (MKV holds it; AAC and MP4 cannot)."""
    path = tmp_path_factory.mktemp("clip") / "sixteen.mkv"
    pan = "pan=16c|" + "|".join(f"c{i}=c0" for i in range(16))
    subprocess.run([media.ffmpeg_exe(), "-y", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=32x24:rate=10",
                    "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=384000", "-t", "0.8",
                    "-filter_complex", f"[1:a]{pan}[a]", "-map", "0:v", "-map", "[a]", "-c:v", "libx264",
                    "-pix_fmt", "yuv420p", "-c:a", "pcm_s16le", str(path)], check=True)
    return path


def test_video_whose_sound_cannot_be_muxed_keeps_its_frames(unmuxable_clip: Path, tmp_path: Path) -> None:
    info = media.probe(unmuxable_clip)
    assert info.audio_codec == "pcm_s16le"
    out, sbs = tmp_path / "restored.mp4", tmp_path / "sbs.mp4"
    result = video.restore_video(unmuxable_clip, out, "lanczos", scale=1, side_by_side=sbs)
    assert result.audio == "failed" and result.frames == 8
    for made in (out, sbs):
        assert media.count_frames(made)[0] == 8 and media.has_audio_stream(made) is None
    note = next(w for w in result.warnings if "sound" in w)
    assert "has no sound" in note and "channel layout" in note and "0x" not in note
    assert _files(tmp_path) == ["restored.mp4", "sbs.mp4"]  # no partial files left


def test_cli_video_says_the_sound_was_not_kept(unmuxable_clip: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture) -> None:
    assert main(["video", str(unmuxable_clip), "-m", "lanczos", "-s", "1", "-o", str(tmp_path / "o.mp4")]) == 0
    captured = capsys.readouterr()
    assert "sound could not be kept" in captured.out and "the restored video has no sound" in captured.err
    assert "@ 0x" not in captured.out + captured.err

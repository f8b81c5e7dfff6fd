"""Issue 22, items 1-8: memory and time paid before a refusal, and budget bypasses.

Every payload is generated here (nothing hostile is stored in the repository). The bombs are measured in a
child interpreter that imports the engine once and then forks one process per bomb: each fork reads its own
peak RSS (``ru_maxrss``) before and after, under an address-space cap (``RLIMIT_AS``) so a regression ends in
a MemoryError instead of taking the machine down. Each bomb must be refused within ``BOMB_SECONDS`` with its
peak RSS grown by less than ``BOMB_RSS_MB``.
"""
from __future__ import annotations

import io
import json
import os
import pickle
import struct
import subprocess
import sys
import time
import zipfile
import zlib
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parents[2]
BOMB_SECONDS = 2.0
BOMB_RSS_MB = 50.0

# ---------------------------------------------------------------------------------------------------------
# Builders
# ---------------------------------------------------------------------------------------------------------

FLOOD = {"set": b"\x8f", "dict": b"}", "tuple": b"\x85"}  # EMPTY_SET, EMPTY_DICT, TUPLE1 (nests the top)


def flood_pickle(count: int, op: str = "set") -> bytes:
    """PROTO 2, MARK, ``count`` x the op, LIST, STOP (TUPLE1 nests a NONE ``count`` deep instead)."""
    if op == "tuple":
        return b"\x80\x02N" + FLOOD[op] * count + b"."
    return b"\x80\x02(" + FLOOD[op] * count + b"l."


def torch_zip(path: Path, pickle_bytes: bytes | None = None, *, stream_flood: int = 0,
              compression: int = zipfile.ZIP_DEFLATED, storages: dict[str, bytes] | None = None) -> Path:
    """A torch.save-shaped zip: archive/data.pkl (given, or a flood of ``stream_flood`` EMPTY_SETs written in
    chunks, so the test never holds it), archive/byteorder, archive/version and archive/data/<key>."""
    with zipfile.ZipFile(path, "w", compression, compresslevel=9 if compression == zipfile.ZIP_DEFLATED else None) as z:
        if stream_flood:
            with z.open("archive/data.pkl", "w", force_zip64=True) as fh:
                fh.write(b"\x80\x02(")
                chunk = FLOOD["set"] * (1 << 22)
                left = stream_flood
                while left > 0:
                    fh.write(chunk[:min(left, len(chunk))])
                    left -= len(chunk)
                fh.write(b"l.")
        else:
            z.writestr("archive/data.pkl", pickle_bytes or b"\x80\x02}.")
        z.writestr("archive/byteorder", "little")
        z.writestr("archive/version", "3\n")
        for key, data in (storages or {}).items():
            z.writestr(f"archive/data/{key}", data)
    return path


class _Storage:
    """Pickled as torch.save's persistent id of one float32 storage of ``numel`` elements under key '0'."""


class _View:
    """Pickled as torch._utils._rebuild_tensor_v2 over the shared storage, with zero strides (any shape)."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = shape

    def __reduce__(self):  # noqa: ANN204 - pickle protocol
        return (torch._utils._rebuild_tensor_v2, (_STORAGE, 0, self.shape, (0,) * len(self.shape), False, OrderedDict()))


_STORAGE = _Storage()


class _TorchPickler(pickle.Pickler):
    def persistent_id(self, obj):  # noqa: ANN001, ANN201 - pickle protocol
        return ("storage", torch.FloatStorage, "0", "cpu", 1) if obj is _STORAGE else None


def fast_state_dict_pth(path: Path, shapes: dict[str, tuple[int, ...]]) -> Path:
    """A loadable torch checkpoint of many tensors, written in milliseconds (torch.save takes ~10 s for 60 k):
    every tensor is a zero-stride view of one 4-byte storage, as torch.save would write it."""
    buffer = io.BytesIO()
    _TorchPickler(buffer, protocol=2).dump(OrderedDict((k, _View(v)) for k, v in shapes.items()))
    return torch_zip(path, buffer.getvalue(), compression=zipfile.ZIP_STORED, storages={"0": b"\x00" * 4})


def srvgg_shapes(convs: int, feat: int = 4) -> dict[str, tuple[int, ...]]:
    """SRVGGNetCompact x1 keys: body.0 (conv in), PReLUs and convs alternating, the last conv out."""
    shapes: dict[str, tuple[int, ...]] = {"body.0.weight": (feat, 3, 3, 3), "body.0.bias": (feat,), "body.1.weight": (feat,)}
    index = 2
    for _ in range(convs):
        shapes[f"body.{index}.weight"], shapes[f"body.{index}.bias"] = (feat, feat, 3, 3), (feat,)
        shapes[f"body.{index + 1}.weight"] = (feat,)
        index += 2
    shapes[f"body.{index}.weight"], shapes[f"body.{index}.bias"] = (3, feat, 3, 3), (3,)
    return shapes


def rrdb_shapes(blocks: int, feat: int = 4, grow: int = 4) -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {"conv_first.weight": (feat, 3, 3, 3), "conv_first.bias": (feat,)}
    for b in range(blocks):
        for r in (1, 2, 3):
            for c in range(1, 6):
                cin = feat + (c - 1) * grow
                cout = grow if c < 5 else feat
                shapes[f"body.{b}.rdb{r}.conv{c}.weight"] = (cout, cin, 3, 3)
                shapes[f"body.{b}.rdb{r}.conv{c}.bias"] = (cout,)
    for name, cin in (("conv_body", feat), ("conv_up1", feat), ("conv_up2", feat), ("conv_hr", feat)):
        shapes[f"{name}.weight"], shapes[f"{name}.bias"] = (feat, cin, 3, 3), (feat,)
    shapes["conv_last.weight"], shapes["conv_last.bias"] = (3, feat, 3, 3), (3,)
    return shapes


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bytes(width: int, height: int, bit_depth: int = 8, colour: int = 6) -> bytes:
    """A complete, valid PNG of zeros (streamed through zlib: a 28000x28000 1-bit one is ~95 KB)."""
    channels = {0: 1, 2: 3, 6: 4}[colour]
    row = b"\x00" + b"\x00" * ((width * channels * bit_depth + 7) // 8)
    packer = zlib.compressobj(9)
    parts = [packer.compress(row * min(height, 64)) for _ in range(height // 64)]
    parts += [packer.compress(row * (height % 64)), packer.flush()]
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", b"".join(parts)) + _chunk(b"IEND", b"")


def ico_bytes(embedded: bytes, said: int = 256) -> bytes:
    """An ICO whose directory says ``said`` x ``said`` (0 means 256) around one embedded PNG."""
    entry = struct.pack("<BBBBHHII", said % 256, said % 256, 0, 0, 1, 32, len(embedded), 6 + 16)
    return struct.pack("<HHH", 0, 1, 1) + entry + embedded


def many_entries_zip(entries: int) -> bytes:
    """A real zip of ``entries`` empty stored members named by number (written by hand: zipfile would
    take seconds and the same memory the guard refuses)."""
    local, central = [], []
    offset = 0
    for k in range(entries):
        name = b"%x" % k
        header = struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 0, 0, 0, 0, 0, 0, len(name), 0) + name
        central.append(struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 0, 0, 0, 0, 0, 0, len(name), 0, 0, 0,
                                   0, 0, offset) + name)
        local.append(header)
        offset += len(header)
    directory = b"".join(central)
    if entries < 0xFFFF:
        end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, entries, entries, len(directory), offset, 0)
    else:  # ZIP64 end record and locator, as zipfile writes them past 65535 entries
        end = (struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, entries, entries, len(directory), offset)
               + struct.pack("<4sLQL", b"PK\x06\x07", 0, offset + len(directory), 1)
               + struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0))
    return b"".join(local) + directory + end


def overlapping_zip(entries: int, member: bytes, name: str = "m{k}.png") -> bytes:
    """One stored member, and ``entries`` central-directory entries that all point at it."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as z:
        z.writestr("m0.png", member)
    data = buffer.getvalue()
    cd_at = data.index(b"PK\x01\x02")
    end_at = data.index(b"PK\x05\x06")
    one = data[cd_at:end_at]
    name_len = struct.unpack_from("<H", one, 28)[0]
    head, tail = one[:46], one[46 + name_len:]
    central = []
    for k in range(entries):
        new = name.format(k=k).encode()
        central.append(head[:28] + struct.pack("<H", len(new)) + head[30:] + new + tail)
    directory = b"".join(central)
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, entries, entries, len(directory), cd_at, 0)
    return data[:cd_at] + directory + end


def png_file(width: int, height: int, mode: str = "L") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, (width, height)).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def image_zip(names_and_data: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as z:
        for name, data in names_and_data:
            z.writestr(name, data)
    return buffer.getvalue()


# ---------------------------------------------------------------------------------------------------------
# The bombs, one fork each, in a child interpreter
# ---------------------------------------------------------------------------------------------------------


def bomb_files(folder: Path) -> dict[str, tuple[str, str]]:
    """name -> (loader, file). Written into ``folder``."""
    cases: dict[str, tuple[str, str]] = {}

    def put(name: str, data: bytes | None, *loaders: str) -> None:
        if data is not None:
            (folder / name).write_bytes(data)
        for loader in loaders:
            cases[f"{name} as {loader}"] = (loader, str(folder / name))

    # 1: the 195 KB deflated data.pkl (200 M EMPTY_SET), its 20 MB stored variant, plain pickle floods.
    torch_zip(folder / "deflated.pth", stream_flood=200_000_000)
    put("deflated.pth", None, "own", "dcgan", "stylegan", "cli")
    torch_zip(folder / "stored.pth", flood_pickle(20_000_000), compression=zipfile.ZIP_STORED)
    put("stored.pth", None, "own", "dcgan", "stylegan")
    for op in FLOOD:
        put(f"plain_{op}.pth", flood_pickle(1_990_000, op), "own", "dcgan")
        put(f"plain_{op}.pkl", flood_pickle(1_990_000, op), "stylegan")
    # 2: ICOs that say 256x256 around a 20000x20000 RGBA and a 28000x28000 1-bit PNG.
    put("rgba.ico", ico_bytes(png_bytes(20000, 20000, 8, 6)), "image")
    put("onebit.ico", ico_bytes(png_bytes(28000, 28000, 1, 0)), "image")
    # 3: a 1x16777216 PNG: within the pixel limit, past the side and aspect limits.
    put("line.png", png_bytes(1, 16_777_216, 1, 0), "image")
    # 4: a zip of 200,000 empty entries (zipfile alone would take ~100 MB to list them).
    put("entries.zip", many_entries_zip(200_000), "batch", "dcgan_data", "estimate")
    # 5: thin networks of many layers: refused by tensor count (before torch.load) or by depth.
    fast_state_dict_pth(folder / "srvgg_30000.pth", srvgg_shapes(30_000))
    put("srvgg_30000.pth", None, "own")
    fast_state_dict_pth(folder / "rrdb_5000.pth", rrdb_shapes(5_000))
    put("rrdb_5000.pth", None, "own")
    fast_state_dict_pth(folder / "srvgg_129.pth", srvgg_shapes(129))
    put("srvgg_129.pth", None, "own")
    fast_state_dict_pth(folder / "rrdb_wide.pth", rrdb_shapes(2, feat=320))
    put("rrdb_wide.pth", None, "own")
    # 8: 1,500 entries that all point at one 1-bit 4096x4096 PNG (and 200, within the upload's entry limit).
    put("overlap.zip", overlapping_zip(1500, png_bytes(4096, 4096, 1, 0)), "dcgan_data")
    put("overlap_200.zip", overlapping_zip(200, png_bytes(4096, 4096, 1, 0)), "batch", "estimate")
    return cases


REFUSALS = {
    "deflated.pth": "compressed 1,029:1, more than the 100:1 allowed",
    "stored.pth": "data.pkl is 19 MB; a checkpoint's object pickle may have 16 MB",
    "plain_set.pth": "more than 300,000 pickle opcodes",
    "plain_dict.pth": "more than 300,000 pickle opcodes",
    "plain_tuple.pth": "more than 300,000 pickle opcodes",
    "plain_set.pkl": "more than 300,000 pickle opcodes",
    "plain_dict.pkl": "more than 300,000 pickle opcodes",
    "plain_tuple.pkl": "more than 300,000 pickle opcodes",
    "rgba.ico": "it is an ICO icon, a format not accepted here",
    "onebit.ico": "it is an ICO icon, a format not accepted here",
    "line.png": "image is 1x16777216; each side may have at most 16384 pixels",
    "entries.zip": "lists 200000 entries; at most",
    "srvgg_30000.pth": "holds more than 2,048 tensors; up to 2,048 are accepted",
    "rrdb_5000.pth": "holds more than 2,048 tensors; up to 2,048 are accepted",
    "srvgg_129.pth": "SRVGGNetCompact with num_conv = 129; at most 128",
    "rrdb_wide.pth": "RRDBNet with num_feat = 320; at most 256",
    "overlap.zip": "its entries overlap",
    "overlap_200.zip": "its entries overlap",
}

_RUNNER = r"""
import gc, json, os, resource, sys, time
sys.path[:0] = [sys.argv[1], sys.argv[1] + "/tests/unit"]
import torch
torch.set_num_threads(1)  # no thread pool to trip over in the forks
from restorers.cli import commands as cli
from restorers.dcgan.data import load_images
from restorers.dcgan.model import load_checkpoint
from restorers.media import images
from restorers.media.uploads import read_batch
from restorers.models.checkpoint import checkpoint_spec
from restorers.models.stylegan_pickle import load_stylegan2_ada_pickle
import test_hostile_bombs as t
from webui import costs
from pathlib import Path

def run_cli(path):
    import contextlib, io
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = cli.main(["restore", path + ".png", "--weights", path, "-o", path + ".out"])
    if code == 0:
        return
    raise RuntimeError(err.getvalue().strip().splitlines()[-1])

def estimate(path):
    sizes = costs.upload_sizes([path])
    if sizes:
        raise AssertionError(f"estimated {len(sizes)} images")
    raise ValueError("no images estimated")

calls = {
    "own": checkpoint_spec, "dcgan": load_checkpoint, "stylegan": load_stylegan2_ada_pickle, "cli": run_cli,
    "image": images.load_image, "batch": lambda p: read_batch([p], 24), "dcgan_data": lambda p: load_images([p], 32),
    "estimate": estimate,
}
cases = t.bomb_files(Path(sys.argv[2]))
for name, (kind, path) in cases.items():
    if kind == "cli":
        images.save_png(path + ".png", __import__("numpy").zeros((8, 8, 3), "uint8"))
images.load_image(t.png_file(8, 8))  # Pillow's plugins loaded before any fork
gc.collect()
gc.freeze()
report = {}
for name, (kind, path) in cases.items():
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        vm = int(next(l.split()[1] for l in open("/proc/self/status") if l.startswith("VmSize:"))) * 1024
        resource.setrlimit(resource.RLIMIT_AS, (vm + 2 * 2**30, resource.RLIM_INFINITY))
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        start = time.perf_counter()
        try:
            calls[kind](path)
            outcome, message = "accepted", ""
        except BaseException as exc:
            outcome, message = type(exc).__name__, str(exc)
        seconds = time.perf_counter() - start
        grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
        os.write(write, json.dumps({"outcome": outcome, "message": message[:500], "seconds": seconds,
                                    "rss_mb": grown}).encode())
        os._exit(0)
    os.close(write)
    chunks = []
    while chunk := os.read(read, 65536):
        chunks.append(chunk)
    os.close(read)
    os.waitpid(pid, 0)
    report[name] = json.loads(b"".join(chunks) or b'{"outcome": "crashed", "message": "", "seconds": 0, "rss_mb": 0}')
print(json.dumps(report))
"""


@pytest.fixture(scope="module")
def bomb_report(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("bombs")
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), HF_HUB_OFFLINE="1")
    result = subprocess.run([sys.executable, "-c", _RUNNER, str(REPO_ROOT), str(folder)],
                            capture_output=True, text=True, env=env, cwd=REPO_ROOT, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


_CASE_NAMES = [
    *(f"deflated.pth as {k}" for k in ("own", "dcgan", "stylegan", "cli")),
    *(f"stored.pth as {k}" for k in ("own", "dcgan", "stylegan")),
    *(f"plain_{op}.pth as {k}" for op in FLOOD for k in ("own", "dcgan")),
    *(f"plain_{op}.pkl as stylegan" for op in FLOOD),
    "rgba.ico as image", "onebit.ico as image", "line.png as image",
    "entries.zip as batch", "entries.zip as dcgan_data", "entries.zip as estimate",
    "srvgg_30000.pth as own", "rrdb_5000.pth as own", "srvgg_129.pth as own", "rrdb_wide.pth as own",
    "overlap.zip as dcgan_data", "overlap_200.zip as batch", "overlap_200.zip as estimate",
]


@pytest.mark.parametrize("case", _CASE_NAMES)
def test_bomb_is_refused_within_2_s_and_50_mb(bomb_report: dict, case: str) -> None:
    entry = bomb_report[case]
    expected = REFUSALS[case.split(" as ")[0]]
    assert entry["outcome"] != "accepted", f"{case} was accepted"
    if case.endswith("as estimate"):  # the estimate does not refuse: it counts nothing the reader refuses
        assert entry["message"] == "no images estimated", entry["message"]
    else:
        assert expected in entry["message"], entry["message"]
    assert "Traceback" not in entry["message"] and "/tmp/" not in entry["message"], entry["message"]
    assert entry["seconds"] < BOMB_SECONDS, f"{case}: {entry['seconds']:.2f} s"
    assert entry["rss_mb"] < BOMB_RSS_MB, f"{case}: peak RSS grew by {entry['rss_mb']:.0f} MB"

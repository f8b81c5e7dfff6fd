"""Steady faces in video: follow each face from frame to frame and smooth its landmarks over time.

A detector run on each frame on its own gives landmarks that wobble by a pixel or two even on a still
face; the aligned crops then shift and the restored faces shake and flicker. Here detections of
consecutive frames are matched into tracks (box overlap), each track's 5 landmarks go through a
One-Euro filter (Casiez et al., CHI 2012: a low-pass filter whose cut-off rises with speed, so a still
face is held steady and a moving one is followed closely) with its lag compensated along the filtered
velocity, and every track is dropped at a shot
cut (a jump in the colour histogram), so a new shot never inherits the last shot's faces.

Pure numpy, no model: `FaceTracker` holds the state of one clip and is made per clip.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from .face import Face

# One-Euro defaults, tuned on the steadiness benchmark (a face moving on a known path; docs/benchmarks.md, Video).
# Speeds are measured in face sizes (inter-ocular distances) per second, so the filter behaves the
# same for a small and a large face.
MIN_CUTOFF_HZ = 1.0
BETA = 1.0
D_CUTOFF_HZ = 0.5
IOU_MATCH = 0.3  # boxes of one face in consecutive frames overlap at least this much
CUT_THRESHOLD = 0.5  # L1 distance of the normalised colour histograms (0 = same, 2 = disjoint)
_HIST_BINS = 16
_THUMB_SIDE = 64


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two (x1, y1, x2, y2) boxes."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def _alpha(cutoff_hz: float, dt: float) -> float:
    """Smoothing factor of a first-order low-pass filter with this cut-off, sampled every dt seconds."""
    tau = 1.0 / (2 * math.pi * cutoff_hz)
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    """One-Euro filter of a point set (any array shape), with one cut-off for all its points.

    One cut-off for the whole face (driven by the speed of its centre) keeps the filtered landmarks a
    rigid copy of the raw ones up to lag: filtering each point on its own would bend the face shape.
    `scale` converts pixels to the unit the speed is measured in (here: the face's eye distance).

    A first-order low-pass trails a steady motion by v (1 - a) / a dt; with `predict` the output is moved
    ahead along the filtered velocity by that much, so a face moving at constant speed is followed
    without lag while its jitter is still smoothed (the steadiness benchmark in docs/benchmarks.md measures both).
    """

    def __init__(self, dt: float, min_cutoff: float = MIN_CUTOFF_HZ, beta: float = BETA,
                 d_cutoff: float = D_CUTOFF_HZ, predict: bool = True) -> None:
        if not dt > 0:
            raise ValueError(f"dt must be positive, got {dt}")
        self.dt, self.min_cutoff, self.beta, self.d_cutoff, self.predict = dt, min_cutoff, beta, d_cutoff, predict
        self.value: np.ndarray | None = None
        self.raw: np.ndarray | None = None
        self.velocity = np.zeros(2)  # filtered velocity of the centre, pixels per second
        self.speed = 0.0  # |velocity| in `scale` units per second

    def __call__(self, x: np.ndarray, scale: float = 1.0) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if self.value is None:
            self.value, self.raw = x.copy(), x.copy()
            return self.value.copy()
        # The derivative from raw to raw, as in the paper (from the lagging filtered value it would
        # overstate the speed of a steady motion).
        raw_velocity = (x - self.raw).reshape(-1, 2).mean(0) / self.dt
        self.raw = x.copy()
        a_d = _alpha(self.d_cutoff, self.dt)
        self.velocity = a_d * raw_velocity + (1 - a_d) * self.velocity
        self.speed = float(np.linalg.norm(self.velocity)) / max(scale, 1e-6)
        a = _alpha(self.min_cutoff + self.beta * self.speed, self.dt)
        self.value = a * x + (1 - a) * self.value
        if not self.predict:
            return self.value.copy()
        lag_s = (1 - a) / a * self.dt
        return self.value + (self.velocity * lag_s).reshape((1,) * (x.ndim - 1) + (2,))


def histogram(frame: np.ndarray) -> np.ndarray:
    """Normalised per-channel colour histogram of a small copy of the frame (for cut detection)."""
    step = max(1, max(frame.shape[:2]) // _THUMB_SIDE)
    small = frame[::step, ::step].reshape(-1, 3)
    hist = np.concatenate([np.bincount(small[:, c] // (256 // _HIST_BINS), minlength=_HIST_BINS) for c in range(3)])
    return hist / max(1, small.shape[0]) / 3.0


def is_cut(previous: np.ndarray | None, current: np.ndarray, threshold: float = CUT_THRESHOLD) -> bool:
    """Whether two consecutive frames' histograms differ like two shots (L1 distance > threshold)."""
    return previous is not None and float(np.abs(previous - current).sum()) > threshold


def _eye_distance(landmarks: np.ndarray) -> float:
    return float(np.linalg.norm(landmarks[1] - landmarks[0])) or 1.0


@dataclass
class Track:
    ident: int
    box: tuple[float, float, float, float]
    filter: OneEuroFilter
    landmarks: np.ndarray  # smoothed
    length: int = 1


@dataclass
class FaceTracker:
    """Per-clip tracker: feed every frame's detections, get faces with steady landmarks back.

    Each detection is matched to the track whose last box overlaps it most (IoU >= `iou_match`,
    greedy, best pairs first); unmatched detections start tracks, unmatched tracks end. With
    `smooth=False` the detections come back unchanged (tracking and cut detection still run, so the
    counts can be compared).
    """

    fps: float
    smooth: bool = True
    min_cutoff: float = MIN_CUTOFF_HZ
    beta: float = BETA
    iou_match: float = IOU_MATCH
    cut_threshold: float = CUT_THRESHOLD
    tracks: list[Track] = field(default_factory=list)
    cuts: int = 0
    _next_id: int = 0
    _histogram: np.ndarray | None = None

    def update(self, frame: np.ndarray, detections: Sequence[Face]) -> list[Face]:
        current = histogram(frame)
        if is_cut(self._histogram, current, self.cut_threshold):
            self.tracks = []  # a new shot: nothing carries over
            self.cuts += 1
        self._histogram = current

        pairs = sorted(((iou(t.box, d.box), ti, di) for ti, t in enumerate(self.tracks)
                        for di, d in enumerate(detections)), reverse=True)
        track_of: dict[int, Track] = {}
        used: set[int] = set()
        for overlap, ti, di in pairs:
            if overlap < self.iou_match:
                break
            if ti in used or di in track_of:
                continue
            used.add(ti)
            track_of[di] = self.tracks[ti]

        out: list[Face] = []
        tracks: list[Track] = []
        for di, det in enumerate(detections):
            track = track_of.get(di)
            if track is None:
                track = Track(self._next_id, det.box, OneEuroFilter(1.0 / self.fps, self.min_cutoff, self.beta),
                              np.array(det.landmarks))
                self._next_id += 1
                track.landmarks = track.filter(det.landmarks)
            else:
                track.length += 1
                track.landmarks = track.filter(det.landmarks, _eye_distance(det.landmarks))
                track.box = det.box
            tracks.append(track)
            if self.smooth:
                # Move the box with the landmarks so "centre face" and size filters see the same face.
                dx, dy = (track.landmarks - det.landmarks).mean(0)
                box = (det.box[0] + dx, det.box[1] + dy, det.box[2] + dx, det.box[3] + dy)
                out.append(Face(box, track.landmarks, det.score))
            else:
                out.append(det)
        self.tracks = tracks
        return out

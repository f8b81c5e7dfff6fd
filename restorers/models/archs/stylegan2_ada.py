"""StyleGAN2-ADA generator (NVlabs/stylegan2-ada-pytorch ``training/networks.py``) in plain PyTorch.

Module names, parameters and buffers match the official ``G_ema`` exactly, so its ``state_dict``
loads with ``strict=True``. The maths follows the official *reference* ops (``bias_act`` and
``upfirdn2d`` with ``impl='ref'``, ``conv2d_resample``), written with depthwise / transposed
convolutions instead of explicit zero insertion; outputs match the official ones to ~1e-6.

Precision: everything runs in float32 by default (``num_fp16_res`` / ``fp16_channels_last`` are
accepted and ignored, as with the official ``force_fp32=True``). Under ``torch.autocast`` the
convolutions run in the autocast dtype while the precision-sensitive small parts (mapping
network, style affines, demodulation, skip-image accumulation) stay in float32. ``conv_clamp`` is
honoured exactly: each SynthesisLayer clamps to ``+-conv_clamp * gain`` after bias, activation
and gain; ToRGB clamps to ``+-conv_clamp``.

Speed (CPU): convert with ``.to(memory_format=torch.channels_last)`` and the synthesis
activations follow that format; ``fused_modconv=None`` (default) picks per layer the cheaper of
the two exact modulation orders; weight-derived tensors are cached while autograd is off.
"""
from __future__ import annotations

import math
import weakref
from typing import Any, Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

# name -> (function(x, alpha), default alpha, default gain), as in torch_utils/ops/bias_act.py.
_ACTIVATIONS: dict[str, tuple[Callable[[torch.Tensor, float], torch.Tensor], float, float]] = {
    "linear": (lambda x, a: x, 0.0, 1.0),
    "relu": (lambda x, a: F.relu(x), 0.0, math.sqrt(2)),
    "lrelu": (lambda x, a: F.leaky_relu(x, a), 0.2, math.sqrt(2)),
    "tanh": (lambda x, a: torch.tanh(x), 0.0, 1.0),
    "sigmoid": (lambda x, a: torch.sigmoid(x), 0.0, 1.0),
    "elu": (lambda x, a: F.elu(x), 0.0, 1.0),
    "selu": (lambda x, a: F.selu(x), 0.0, 1.0),
    "softplus": (lambda x, a: F.softplus(x), 0.0, 1.0),
    "swish": (lambda x, a: torch.sigmoid(x) * x, 0.0, math.sqrt(2)),
}


def _activation(name: str) -> tuple[Callable[[torch.Tensor, float], torch.Tensor], float, float]:
    if name not in _ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose one of {sorted(_ACTIVATIONS)}")
    return _ACTIVATIONS[name]


def bias_act(
    x: torch.Tensor,
    b: torch.Tensor | None = None,
    act: str = "linear",
    gain: float | None = None,
    clamp: float | None = None,
) -> torch.Tensor:
    """x + b (over dim 1), activation, times gain, then clamp to [-clamp, clamp] when clamp >= 0."""
    func, alpha, default_gain = _activation(act)
    gain = default_gain if gain is None else float(gain)
    if b is not None:
        x = x + b.to(x.dtype).reshape([1, -1] + [1] * (x.ndim - 2))
    x = func(x, alpha)
    if gain != 1:
        x = x * gain
    if clamp is not None and clamp >= 0:
        x = x.clamp(-clamp, clamp)
    return x


_HOMOGENEOUS = ("linear", "relu", "lrelu")  # act(g * x) == g * act(x) for g > 0


def _activate(x: torch.Tensor, act: str, gain: float) -> torch.Tensor:
    """act(x) * gain, in place when no autograd graph is being recorded (x is a fresh tensor)."""
    inplace = not torch.is_grad_enabled()
    if act == "lrelu":
        x = F.leaky_relu_(x, 0.2) if inplace else F.leaky_relu(x, 0.2)
    elif act == "relu":
        x = F.relu_(x) if inplace else F.relu(x)
    else:
        func, alpha, _ = _activation(act)
        x = func(x, alpha)
    if gain != 1:
        x = x.mul_(gain) if inplace else x * gain
    return x


def _clamp(x: torch.Tensor, limit: float) -> torch.Tensor:
    """Clamp to [-limit, limit] (bias_act's `clamp`; a negative limit means no clamping)."""
    if limit < 0:
        return x
    return x.clamp_(-limit, limit) if not torch.is_grad_enabled() else x.clamp(-limit, limit)


def setup_filter(taps: Sequence[float]) -> torch.Tensor:
    """The 2-D low-pass filter of upfirdn2d.setup_filter: outer product of the taps, sum 1."""
    f = torch.as_tensor(taps, dtype=torch.float32)
    if f.ndim == 0:
        f = f[None]
    if f.ndim == 1:
        f = torch.outer(f, f)
    return f / f.sum()


def _depthwise(f: torch.Tensor, channels: int, dtype: torch.dtype, gain: float) -> torch.Tensor:
    """A [C,1,fh,fw] weight that applies f (times gain) to every channel."""
    return (f * gain).to(dtype)[None, None].expand(channels, 1, *f.shape).contiguous()


def upfirdn2d_up(
    x: torch.Tensor,
    f: torch.Tensor,
    up: int,
    padding: Sequence[int],
    gain: float,
    bias: torch.Tensor | None = None,
) -> torch.Tensor:
    """upfirdn2d (reference semantics, down=1): zero-stuff by `up`, pad [x0,x1,y0,y1], convolve with f.

    Zero stuffing followed by a convolution is one transposed convolution with stride `up`; the
    official padding then becomes a crop (or pad) of that full output. `bias` (per channel) is
    added to the result, inside the convolution where that is exact.
    """
    channels = x.shape[1]
    fh, fw = f.shape
    px0, px1, py0, py1 = padding
    bias = bias.to(x.dtype) if bias is not None else None
    if up == 1:
        # conv2d correlates; the reference convolves (flips f) unless flip_filter is set.
        weight = _depthwise(f.flip([0, 1]), channels, x.dtype, gain)
        if px0 == px1 == py0 == py1 and px0 >= 0:  # conv2d's own padding keeps channels_last
            return F.conv2d(x, weight, bias=bias, padding=px0, groups=channels)
        return F.conv2d(F.pad(x, [px0, px1, py0, py1]), weight, bias=bias, groups=channels)
    weight = _depthwise(f, channels, x.dtype, gain)
    # Full transposed-conv output index o corresponds to reference index o - (f - 1 - p0).
    cx0, cx1 = fw - 1 - px0, fw - up - px1
    cy0, cy1 = fh - 1 - py0, fh - up - py1
    if cx0 == cx1 == cy0 == cy1 and cx0 >= 0:
        return F.conv_transpose2d(x, weight, bias=bias, stride=up, padding=cx0, groups=channels)
    x = F.pad(F.conv_transpose2d(x, weight, stride=up, groups=channels), [-cx0, -cx1, -cy0, -cy1])
    return x if bias is None else x + bias.reshape(1, -1, 1, 1)


def upsample2d(x: torch.Tensor, f: torch.Tensor, up: int = 2) -> torch.Tensor:
    """upfirdn2d.upsample2d: upsample by `up` with filter f, keeping the DC gain."""
    fh, fw = f.shape
    padding = [(fw + up - 1) // 2, (fw - up) // 2, (fh + up - 1) // 2, (fh - up) // 2]
    return upfirdn2d_up(x, f, up, padding, gain=up * up)


def conv2d_resample(
    x: torch.Tensor,
    w: torch.Tensor,
    f: torch.Tensor | None,
    up: int = 1,
    padding: int = 0,
    groups: int = 1,
    flip_weight: bool = True,
    bias: torch.Tensor | None = None,
) -> torch.Tensor:
    """conv2d_resample.conv2d_resample for down=1 (a convolution, optionally upsampled by `up`), plus bias."""
    out_channels, in_per_group, kh, kw = w.shape
    bias = bias.to(x.dtype) if bias is not None else None
    if up == 1:
        if not flip_weight:
            w = w.flip([2, 3])
        return F.conv2d(x, w, bias=bias, padding=padding, groups=groups)
    if f is None:
        raise ValueError("upsampling needs a resample filter")
    fh, fw = f.shape
    px0 = padding + (fw + up - 1) // 2
    px1 = padding + (fw - up) // 2
    py0 = padding + (fh + up - 1) // 2
    py1 = padding + (fh - up) // 2
    if kh == 1 and kw == 1:
        # 1x1 kernel: convolve at low resolution, then upsample.
        x = F.conv2d(x, w, groups=groups)
        return upfirdn2d_up(x, f, up, [px0, px1, py0, py1], gain=up * up, bias=bias)
    # Transposed convolution with stride `up`, then the low-pass filter.
    # A channels_last input needs a channels_last transposed weight, else oneDNN round-trips
    # the activations through NCHW (two full copies).
    to_channels_last = _is_channels_last(x)
    if groups == 1:
        w = w.transpose(0, 1)
    else:
        w = w.reshape(groups, out_channels // groups, in_per_group, kh, kw).transpose(1, 2)
        w = w.reshape(groups * in_per_group, out_channels // groups, kh, kw)
    if flip_weight:  # conv_transpose2d already performs the flipped (true) convolution
        w = w.flip([2, 3])
    if to_channels_last and not _is_channels_last(w):
        w = w.contiguous(memory_format=torch.channels_last)
    px0 -= kw - 1
    px1 -= kw - up
    py0 -= kh - 1
    py1 -= kh - up
    pxt = max(min(-px0, -px1), 0)
    pyt = max(min(-py0, -py1), 0)
    x = F.conv_transpose2d(x, w, stride=up, padding=[pyt, pxt], groups=groups)
    return upfirdn2d_up(x, f, 1, [px0 + pxt, px1 + pxt, py0 + pyt, py1 + pyt], gain=up * up, bias=bias)


def _is_channels_last(t: torch.Tensor) -> bool:
    """True for a 4-D tensor stored channels_last (e.g. a weight after .to(memory_format=...))."""
    return t.is_contiguous(memory_format=torch.channels_last) and not t.is_contiguous()


def _float32_region(x: torch.Tensor) -> torch.autocast:
    """Disable autocast for the small ops that need float32 (styles, demodulation, skip image)."""
    return torch.autocast(device_type=x.device.type, enabled=False)


def _compute_dtype(x: torch.Tensor) -> torch.dtype:
    """The dtype a convolution on x runs in: the autocast dtype when autocast is on for x's device."""
    if torch.is_autocast_enabled(x.device.type):
        return torch.get_autocast_dtype(x.device.type)
    return x.dtype


def normalize_2nd_moment(x: torch.Tensor, dim: int = 1, eps: float = 1e-8) -> torch.Tensor:
    return x * (x.square().mean(dim=dim, keepdim=True) + eps).rsqrt()


class WeightCache:
    """Tensors derived from a weight (squared norms, low-precision copies), reused while the
    weight is unchanged.

    Only used when autograd is off; keyed on the weight's storage, version counter, device and
    the requested dtype, so load_state_dict / .to() / in-place edits invalidate it. Holds no
    per-request state: two threads at worst compute the same entry twice.
    """

    def __init__(self) -> None:
        self._entries: dict[tuple[str, torch.dtype], tuple[Any, tuple[Any, ...], torch.Tensor]] = {}

    def get(
        self, weight: torch.Tensor, name: str, dtype: torch.dtype, make: Callable[[torch.Tensor], torch.Tensor]
    ) -> torch.Tensor:
        if torch.is_grad_enabled():
            return make(weight)
        key = (weight.device, weight.data_ptr(), weight._version, weight.dtype, weight.stride())
        hit = self._entries.get((name, dtype))
        if hit is not None and hit[0]() is weight and hit[1] == key:
            return hit[2]
        value = make(weight)
        self._entries[(name, dtype)] = (weakref.ref(weight), key, value)
        return value

    def __deepcopy__(self, memo: dict[int, Any]) -> WeightCache:
        return WeightCache()  # copies start empty (weak references cannot be deep-copied)

    def __getstate__(self) -> dict[str, Any]:
        return {"_entries": {}}


def _weight_sq(weight: torch.Tensor) -> torch.Tensor:
    """[O, I]: sum over the kernel of weight^2, in float32."""
    return weight.float().square().sum(dim=[2, 3])


def modulated_conv2d(
    x: torch.Tensor,
    weight: torch.Tensor,
    styles: torch.Tensor,
    noise: torch.Tensor | None = None,
    bias: torch.Tensor | None = None,
    scale: float = 1.0,
    up: int = 1,
    padding: int = 0,
    resample_filter: torch.Tensor | None = None,
    demodulate: bool = True,
    flip_weight: bool = True,
    fused_modconv: bool = True,
    cache: WeightCache | None = None,
) -> torch.Tensor:
    """scale * (modulated conv(x) + noise + bias); styles [N, in_channels] are float32.

    The official code adds bias (and applies the activation gain) after this; folding them in
    here is exact up to float rounding and saves passes over the activations: the bias rides
    in the convolution, `scale` in the per-sample weights.
    """
    batch = x.shape[0]
    out_channels, in_channels, kh, kw = weight.shape
    if styles.shape != (batch, in_channels):
        raise ValueError(f"styles must be [{batch}, {in_channels}], got {list(styles.shape)}")

    with _float32_region(x):
        weight32 = weight.float()
        out_scale = styles.new_full([batch, out_channels], float(scale))
        if demodulate:
            # sum over (in, kh, kw) of (weight * style)^2, without materialising the product.
            wsq = cache.get(weight, "sq", torch.float32, _weight_sq) if cache is not None else _weight_sq(weight)
            out_scale = out_scale * (styles.square() @ wsq.t() + 1e-8).rsqrt()  # [N, O]
        scaled_bias = bias.float() * scale if bias is not None else None
        scaled_noise = noise * scale if noise is not None else None
        if fused_modconv:
            factor = styles.unsqueeze(1) * out_scale.unsqueeze(2)  # [N, O, I]
            w = weight32.unsqueeze(0) * factor[..., None, None]  # [N, O, I, kh, kw]

    if not fused_modconv:
        x = x * styles.to(x.dtype).reshape(batch, -1, 1, 1)
        dtype = _compute_dtype(x)
        if up > 1 and _is_channels_last(x):
            # Lay the weight out so that its (in, out) transpose, which the transposed convolution
            # takes, is channels_last: then conv2d_resample needs no copy.
            def cast(t: torch.Tensor) -> torch.Tensor:
                return t.to(dtype).transpose(0, 1).contiguous(memory_format=torch.channels_last).transpose(0, 1)
            name = "cast_up_cl"
        else:
            def cast(t: torch.Tensor) -> torch.Tensor:
                return t.to(dtype)
            name = "cast"
        w_shared = cache.get(weight, name, dtype, cast) if cache is not None else cast(weight)
        x = conv2d_resample(x, w_shared, resample_filter, up=up, padding=padding, flip_weight=flip_weight)
        out_scale = out_scale.to(x.dtype).reshape(batch, -1, 1, 1)
        if scaled_bias is None:
            x = x * out_scale
        else:
            x = torch.addcmul(scaled_bias.to(x.dtype).reshape(1, -1, 1, 1), x, out_scale)
    else:
        w = w.to(x.dtype)
        if _is_channels_last(x) and batch > 1:
            # A grouped conv would need [1, N*C, H, W], which channels_last cannot view without two
            # full copies; one convolution per sample (a loop over the batch, not pixels) needs none.
            outs = [
                conv2d_resample(x[i : i + 1], w[i], resample_filter, up=up, padding=padding,
                                flip_weight=flip_weight, bias=scaled_bias)
                for i in range(batch)
            ]
            x = torch.cat(outs).contiguous(memory_format=torch.channels_last)
        else:
            # One grouped convolution with a per-sample weight (one group per sample).
            group_bias = scaled_bias.repeat(batch) if scaled_bias is not None else None
            x = x.reshape(1, -1, *x.shape[2:])
            x = conv2d_resample(x, w.reshape(-1, in_channels, kh, kw), resample_filter, up=up, padding=padding,
                                groups=batch, flip_weight=flip_weight, bias=group_bias)
            x = x.reshape(batch, -1, *x.shape[2:])
    if scaled_noise is not None:
        x = _add(x, scaled_noise.to(x.dtype))
    return x


def _add(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """x + y, in place when no autograd graph is being recorded (x is always a fresh tensor here)."""
    return x.add_(y) if not torch.is_grad_enabled() else x + y


class FullyConnectedLayer(nn.Module):
    """Equalised-learning-rate linear layer (always computed in float32)."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        activation: str = "linear",
        lr_multiplier: float = 1.0,
        bias_init: float = 0.0,
    ) -> None:
        super().__init__()
        _activation(activation)
        self.activation = activation
        self.weight = nn.Parameter(torch.randn([out_features, in_features]) / lr_multiplier)
        self.bias = nn.Parameter(torch.full([out_features], float(bias_init))) if bias else None
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with _float32_region(x):
            x = x.float()
            w = self.weight.float() * self.weight_gain
            b = self.bias
            if b is not None:
                b = b.float()
                if self.bias_gain != 1:
                    b = b * self.bias_gain
            if self.activation == "linear" and b is not None:
                return torch.addmm(b.unsqueeze(0), x, w.t())
            return bias_act(x.matmul(w.t()), b, act=self.activation)


class Conv2dLayer(nn.Module):
    """Plain equalised convolution (only what the resnet generator's skip path needs: down=1)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        bias: bool = True,
        activation: str = "linear",
        up: int = 1,
        resample_filter: Sequence[float] = (1, 3, 3, 1),
        conv_clamp: float | None = None,
        channels_last: bool = False,
    ) -> None:
        super().__init__()
        _activation(activation)
        self.activation = activation
        self.up = up
        self.conv_clamp = conv_clamp
        self.register_buffer("resample_filter", setup_filter(resample_filter))
        self.padding = kernel_size // 2
        self.weight_gain = 1 / math.sqrt(in_channels * kernel_size**2)
        self.act_gain = _activation(activation)[2]
        self.weight = nn.Parameter(torch.randn([out_channels, in_channels, kernel_size, kernel_size]))
        self.bias = nn.Parameter(torch.zeros([out_channels])) if bias else None

    def forward(self, x: torch.Tensor, gain: float = 1) -> torch.Tensor:
        w = (self.weight * self.weight_gain).to(x.dtype)
        x = conv2d_resample(x, w, self.resample_filter, up=self.up, padding=self.padding, flip_weight=self.up == 1)
        clamp = self.conv_clamp * gain if self.conv_clamp is not None else None
        return bias_act(x, self.bias, act=self.activation, gain=self.act_gain * gain, clamp=clamp)


class MappingNetwork(nn.Module):
    """z (and optional label c) -> w, broadcast to num_ws, with optional truncation."""

    def __init__(
        self,
        z_dim: int,
        c_dim: int,
        w_dim: int,
        num_ws: int | None,
        num_layers: int = 8,
        embed_features: int | None = None,
        layer_features: int | None = None,
        activation: str = "lrelu",
        lr_multiplier: float = 0.01,
        w_avg_beta: float | None = 0.995,
    ) -> None:
        super().__init__()
        self.z_dim = z_dim
        self.c_dim = c_dim
        self.w_dim = w_dim
        self.num_ws = num_ws
        self.num_layers = num_layers
        self.w_avg_beta = w_avg_beta
        if embed_features is None:
            embed_features = w_dim
        if c_dim == 0:
            embed_features = 0
        if layer_features is None:
            layer_features = w_dim
        features = [z_dim + embed_features] + [layer_features] * (num_layers - 1) + [w_dim]
        if c_dim > 0:
            self.embed = FullyConnectedLayer(c_dim, embed_features)
        for idx in range(num_layers):
            layer = FullyConnectedLayer(
                features[idx], features[idx + 1], activation=activation, lr_multiplier=lr_multiplier
            )
            setattr(self, f"fc{idx}", layer)
        if num_ws is not None and w_avg_beta is not None:
            self.register_buffer("w_avg", torch.zeros([w_dim]))

    def forward(
        self,
        z: torch.Tensor | None,
        c: torch.Tensor | None,
        truncation_psi: float = 1,
        truncation_cutoff: int | None = None,
        skip_w_avg_update: bool = False,
    ) -> torch.Tensor:
        ref = z if z is not None else c
        with _float32_region(ref):
            x = None
            if self.z_dim > 0:
                if z is None or z.ndim != 2 or z.shape[1] != self.z_dim:
                    raise ValueError(f"z must be [N, {self.z_dim}], got {None if z is None else list(z.shape)}")
                x = normalize_2nd_moment(z.float())
            if self.c_dim > 0:
                if c is None or c.ndim != 2 or c.shape[1] != self.c_dim:
                    raise ValueError(f"c must be [N, {self.c_dim}] for this conditional generator")
                y = normalize_2nd_moment(self.embed(c.float()))
                x = torch.cat([x, y], dim=1) if x is not None else y
            for idx in range(self.num_layers):
                x = getattr(self, f"fc{idx}")(x)
            if self.w_avg_beta is not None and self.training and not skip_w_avg_update:
                self.w_avg.copy_(x.detach().mean(dim=0).lerp(self.w_avg.float(), self.w_avg_beta))
            if self.num_ws is not None:
                x = x.unsqueeze(1).repeat([1, self.num_ws, 1])
            if truncation_psi != 1:
                if self.w_avg_beta is None:
                    raise ValueError("truncation needs w_avg, which this mapping network does not track")
                w_avg = self.w_avg.float()
                if self.num_ws is None or truncation_cutoff is None:
                    x = w_avg.lerp(x, truncation_psi)
                else:
                    x[:, :truncation_cutoff] = w_avg.lerp(x[:, :truncation_cutoff], truncation_psi)
        return x


class SynthesisLayer(nn.Module):
    """Modulated 3x3 convolution (optionally upsampling x2), noise, bias, activation, clamp."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        w_dim: int,
        resolution: int,
        kernel_size: int = 3,
        up: int = 1,
        use_noise: bool = True,
        activation: str = "lrelu",
        resample_filter: Sequence[float] = (1, 3, 3, 1),
        conv_clamp: float | None = None,
        channels_last: bool = False,
    ) -> None:
        super().__init__()
        self.resolution = resolution
        self.up = up
        self.use_noise = use_noise
        self.activation = activation
        self.conv_clamp = conv_clamp
        self.register_buffer("resample_filter", setup_filter(resample_filter))
        self.padding = kernel_size // 2
        self.act_gain = _activation(activation)[2]
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.randn([out_channels, in_channels, kernel_size, kernel_size]))
        if use_noise:
            self.register_buffer("noise_const", torch.randn([resolution, resolution]))
            self.noise_strength = nn.Parameter(torch.zeros([]))
        self.bias = nn.Parameter(torch.zeros([out_channels]))
        self.weight_cache = WeightCache()

    def forward(
        self,
        x: torch.Tensor,
        w: torch.Tensor,
        noise_mode: str = "const",
        fused_modconv: bool | None = None,
        gain: float = 1,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """fused_modconv=None picks, in eval mode, the cheaper of the two exact formulations:
        per-sample weights (grouped conv) when they are no larger than the input activations,
        else scaling the activations before and after a shared-weight conv. Training mode uses
        the latter, like the official code."""
        if noise_mode not in ("random", "const", "none"):
            raise ValueError(f"noise_mode must be 'random', 'const' or 'none', got {noise_mode!r}")
        in_res = self.resolution // self.up
        if x.shape[1:] != (self.weight.shape[1], in_res, in_res):
            raise ValueError(f"expected input [N, {self.weight.shape[1]}, {in_res}, {in_res}], got {list(x.shape)}")
        styles = self.affine(w)
        if fused_modconv is None:
            out_channels, _, kh, kw = self.weight.shape
            fused_modconv = not self.training and out_channels * kh * kw <= x.shape[2] * x.shape[3]

        noise = None
        if self.use_noise and noise_mode == "random":
            shape = [x.shape[0], 1, self.resolution, self.resolution]
            if generator is None:
                draw = torch.randn(shape, device=x.device)
            else:
                draw = torch.randn(shape, generator=generator, device=generator.device).to(x.device)
            noise = draw * self.noise_strength
        elif self.use_noise and noise_mode == "const":
            noise = self.noise_const * self.noise_strength

        # leaky ReLU / ReLU / linear commute with a positive gain, so the gain can ride in the weights.
        total_gain = self.act_gain * gain
        folded = self.activation in _HOMOGENEOUS
        x = modulated_conv2d(
            x, self.weight, styles, noise=noise, bias=self.bias, scale=total_gain if folded else 1.0,
            up=self.up, padding=self.padding, resample_filter=self.resample_filter,
            flip_weight=self.up == 1, fused_modconv=fused_modconv, cache=self.weight_cache,
        )
        x = _activate(x, self.activation, 1.0 if folded else total_gain)
        if self.conv_clamp is not None:
            x = _clamp(x, self.conv_clamp * gain)
        return x


class ToRGBLayer(nn.Module):
    """Modulated 1x1 convolution to image channels (no demodulation), bias, clamp to +-conv_clamp."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        w_dim: int,
        kernel_size: int = 1,
        conv_clamp: float | None = None,
        channels_last: bool = False,
    ) -> None:
        super().__init__()
        self.conv_clamp = conv_clamp
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.randn([out_channels, in_channels, kernel_size, kernel_size]))
        self.bias = nn.Parameter(torch.zeros([out_channels]))
        self.weight_gain = 1 / math.sqrt(in_channels * kernel_size**2)

    def forward(self, x: torch.Tensor, w: torch.Tensor, fused_modconv: bool | None = None) -> torch.Tensor:
        styles = self.affine(w) * self.weight_gain
        if self.weight.shape[2:] != (1, 1):
            fused = not self.training if fused_modconv is None else fused_modconv
            x = modulated_conv2d(x, self.weight, styles, bias=self.bias, demodulate=False, fused_modconv=fused)
        else:
            # A modulated 1x1 convolution to 3 channels is a batched matmul (much faster than conv2d).
            with _float32_region(x):
                w_eff = self.weight.float().flatten(1).unsqueeze(0) * styles.unsqueeze(1)  # [N, O, I]
            batch, channels, height, width = x.shape
            if _is_channels_last(x):
                y = torch.matmul(x.permute(0, 2, 3, 1).reshape(batch, -1, channels), w_eff.to(x.dtype).transpose(1, 2))
                y = y.reshape(batch, height, width, -1).permute(0, 3, 1, 2)
            else:
                y = torch.matmul(w_eff.to(x.dtype), x.reshape(batch, channels, -1)).reshape(batch, -1, height, width)
            x = y + self.bias.to(y.dtype).reshape(1, -1, 1, 1)
        if self.conv_clamp is not None:
            x = _clamp(x, self.conv_clamp)
        return x


class SynthesisBlock(nn.Module):
    """One resolution of the synthesis network: (const or conv0 up x2), conv1, ToRGB / skip image."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        w_dim: int,
        resolution: int,
        img_channels: int,
        is_last: bool,
        architecture: str = "skip",
        resample_filter: Sequence[float] = (1, 3, 3, 1),
        conv_clamp: float | None = None,
        use_fp16: bool = False,
        fp16_channels_last: bool = False,
        **layer_kwargs: Any,
    ) -> None:
        if architecture not in ("orig", "skip", "resnet"):
            raise ValueError(f"architecture must be 'orig', 'skip' or 'resnet', got {architecture!r}")
        super().__init__()
        self.in_channels = in_channels
        self.w_dim = w_dim
        self.resolution = resolution
        self.img_channels = img_channels
        self.is_last = is_last
        self.architecture = architecture
        self.use_fp16 = use_fp16  # recorded only: this implementation computes in float32 / autocast
        self.register_buffer("resample_filter", setup_filter(resample_filter))
        self.num_conv = 0
        self.num_torgb = 0
        if in_channels == 0:
            self.const = nn.Parameter(torch.randn([out_channels, resolution, resolution]))
        else:
            self.conv0 = SynthesisLayer(
                in_channels, out_channels, w_dim=w_dim, resolution=resolution, up=2,
                resample_filter=resample_filter, conv_clamp=conv_clamp, **layer_kwargs,
            )
            self.num_conv += 1
        self.conv1 = SynthesisLayer(
            out_channels, out_channels, w_dim=w_dim, resolution=resolution, conv_clamp=conv_clamp, **layer_kwargs
        )
        self.num_conv += 1
        if is_last or architecture == "skip":
            self.torgb = ToRGBLayer(out_channels, img_channels, w_dim=w_dim, conv_clamp=conv_clamp)
            self.num_torgb += 1
        if in_channels != 0 and architecture == "resnet":
            self.skip = Conv2dLayer(
                in_channels, out_channels, kernel_size=1, bias=False, up=2, resample_filter=resample_filter
            )

    def forward(
        self,
        x: torch.Tensor | None,
        img: torch.Tensor | None,
        ws: torch.Tensor,
        fused_modconv: bool | None = None,
        **layer_kwargs: Any,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        if ws.shape[1:] != (self.num_conv + self.num_torgb, self.w_dim):
            expected = f"[N, {self.num_conv + self.num_torgb}, {self.w_dim}]"
            raise ValueError(f"block ws must be {expected}, got {list(ws.shape)}")
        w_iter = iter(ws.unbind(dim=1))
        memory_format = torch.channels_last if _is_channels_last(self.conv1.weight) else torch.contiguous_format

        if self.in_channels == 0:
            x = self.const.unsqueeze(0).repeat([ws.shape[0], 1, 1, 1])
        elif x is None or x.shape[1:] != (self.in_channels, self.resolution // 2, self.resolution // 2):
            raise ValueError(f"block {self.resolution}: unexpected input {None if x is None else list(x.shape)}")
        x = x.contiguous(memory_format=memory_format)

        if self.in_channels == 0:
            x = self.conv1(x, next(w_iter), fused_modconv=fused_modconv, **layer_kwargs)
        elif self.architecture == "resnet":
            y = self.skip(x, gain=math.sqrt(0.5))
            x = self.conv0(x, next(w_iter), fused_modconv=fused_modconv, **layer_kwargs)
            x = self.conv1(x, next(w_iter), fused_modconv=fused_modconv, gain=math.sqrt(0.5), **layer_kwargs)
            x = y.to(x.dtype) + x
        else:
            x = self.conv0(x, next(w_iter), fused_modconv=fused_modconv, **layer_kwargs)
            x = self.conv1(x, next(w_iter), fused_modconv=fused_modconv, **layer_kwargs)

        # The skip image is accumulated in float32, NCHW, as in the official code.
        if img is not None:
            with _float32_region(img):
                img = upsample2d(img.float(), self.resample_filter)
        if self.is_last or self.architecture == "skip":
            y = self.torgb(x, next(w_iter), fused_modconv=fused_modconv)
            y = y.to(dtype=torch.float32, memory_format=torch.contiguous_format)
            img = img + y if img is not None else y
        return x, img


class SynthesisNetwork(nn.Module):
    """ws [N, num_ws, w_dim] -> image [N, img_channels, R, R] in about [-1, 1]."""

    def __init__(
        self,
        w_dim: int,
        img_resolution: int,
        img_channels: int,
        channel_base: int = 32768,
        channel_max: int = 512,
        num_fp16_res: int = 0,
        **block_kwargs: Any,
    ) -> None:
        if img_resolution < 4 or img_resolution & (img_resolution - 1) != 0:
            raise ValueError(f"img_resolution must be a power of two >= 4, got {img_resolution}")
        super().__init__()
        self.w_dim = w_dim
        self.img_resolution = img_resolution
        self.img_resolution_log2 = int(math.log2(img_resolution))
        self.img_channels = img_channels
        self.block_resolutions = [2**i for i in range(2, self.img_resolution_log2 + 1)]
        channels = {res: min(channel_base // res, channel_max) for res in self.block_resolutions}
        fp16_resolution = max(2 ** (self.img_resolution_log2 + 1 - num_fp16_res), 8)
        self.num_ws = 0
        for res in self.block_resolutions:
            is_last = res == img_resolution
            block = SynthesisBlock(
                channels[res // 2] if res > 4 else 0, channels[res], w_dim=w_dim, resolution=res,
                img_channels=img_channels, is_last=is_last, use_fp16=res >= fp16_resolution, **block_kwargs,
            )
            self.num_ws += block.num_conv + (block.num_torgb if is_last else 0)
            setattr(self, f"b{res}", block)

    def forward(
        self,
        ws: torch.Tensor,
        noise_mode: str = "const",
        fused_modconv: bool | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """ws [N, num_ws, w_dim] -> image [N, C, R, R] (float32, nominally [-1, 1], unbounded).

        noise_mode: 'const' (the stored noise_const buffers), 'none', or 'random' (torch.randn
        per layer in forward order b4.conv1, b8.conv0, b8.conv1, ..., from `generator` if given,
        else the global RNG, as the official code does). fused_modconv: True / False force one
        official execution order for every layer; None chooses per layer (see SynthesisLayer).
        """
        if ws.ndim != 3 or ws.shape[1:] != (self.num_ws, self.w_dim):
            raise ValueError(f"ws must be [N, {self.num_ws}, {self.w_dim}], got {list(ws.shape)}")
        ws = ws.float()
        x = img = None
        w_idx = 0
        for res in self.block_resolutions:
            block = getattr(self, f"b{res}")
            block_ws = ws.narrow(1, w_idx, block.num_conv + block.num_torgb)
            w_idx += block.num_conv
            x, img = block(x, img, block_ws, fused_modconv=fused_modconv, noise_mode=noise_mode, generator=generator)
        return img


class Generator(nn.Module):
    """StyleGAN2-ADA generator: mapping network z -> ws, synthesis network ws -> image.

    Same constructor and call signatures as the official class, except that ``forward`` and
    ``synthesis`` default to ``noise_mode='const'`` (deterministic, what generate.py uses) and
    take an optional ``torch.Generator`` for 'random' noise.
    """

    def __init__(
        self,
        z_dim: int,
        c_dim: int,
        w_dim: int,
        img_resolution: int,
        img_channels: int,
        mapping_kwargs: dict[str, Any] | None = None,
        synthesis_kwargs: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.z_dim = z_dim
        self.c_dim = c_dim
        self.w_dim = w_dim
        self.img_resolution = img_resolution
        self.img_channels = img_channels
        self.synthesis = SynthesisNetwork(
            w_dim=w_dim, img_resolution=img_resolution, img_channels=img_channels, **(synthesis_kwargs or {})
        )
        self.num_ws = self.synthesis.num_ws
        self.mapping = MappingNetwork(
            z_dim=z_dim, c_dim=c_dim, w_dim=w_dim, num_ws=self.num_ws, **(mapping_kwargs or {})
        )

    def forward(
        self,
        z: torch.Tensor,
        c: torch.Tensor | None,
        truncation_psi: float = 1,
        truncation_cutoff: int | None = None,
        noise_mode: str = "const",
        fused_modconv: bool | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        ws = self.mapping(z, c, truncation_psi=truncation_psi, truncation_cutoff=truncation_cutoff)
        return self.synthesis(ws, noise_mode=noise_mode, fused_modconv=fused_modconv, generator=generator)

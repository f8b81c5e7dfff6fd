"""GPEN FullGenerator (GAN Prior Embedded Network, Yang et al., CVPR 2021) in pure PyTorch.

A re-implementation of the network in yangxy/GPEN `face_model/gpen_model.py` whose `state_dict`
keys and shapes match the published GPEN-BFR-256/512 checkpoints (strict load). The maths is the
official CPU path: `fused_leaky_relu(x, b) = sqrt(2) * leaky_relu(x + b, 0.2)` and `upfirdn2d` =
zero-insertion upsampling, padding, correlation with the flipped FIR kernel, subsampling.

Structure: a conv encoder (`ecd0..ecdN`, full resolution down to 4x4) whose 4x4 output goes through
`final_linear` and the generator's mapping MLP to give one style vector; a StyleGAN2 decoder
(`generator`) whose "noise" inputs are the encoder's feature maps, concatenated as extra channels
(not added), so the forward pass is deterministic.

Speed notes (CPU bf16 autocast + channels_last, CUDA fp16/bf16):
- sqrt(2) and the activation biases are folded into the conv weights/biases, so each layer is a
  conv (or conv_transpose + depthwise blur) followed by one in-place leaky_relu.
- upfirdn2d is a depthwise conv2d (blur) or a depthwise stride-2 conv_transpose2d (upsample).
- styles and demodulation factors are computed with autocast off in the parameters' dtype.
  Where a modulated weight would be larger than the activations (low resolutions), the
  activations are scaled instead and the conv uses a cached plain weight; elsewhere the small
  modulated weight is written once, directly in the conv's dtype and memory format.
- with autograd off, parameter-derived tensors (scaled / bf16 / channels_last weights, per-tap
  norms, folded biases, blur kernels) are cached per module, keyed on each source tensor's
  storage, version counter, dtype and strides, so load_state_dict, in-place edits and .to()
  invalidate them. The big convs follow the input's dtype / autocast and memory format.
- the RGB skip sum is kept in float32 (3 channels, negligible cost).
- for channels_last, convert the INPUT only: `model.to(memory_format=torch.channels_last)` fails
  on the official 5-D modulated-conv weights, and is not needed here.
"""
from __future__ import annotations

import math
import weakref
from typing import Any, Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

SQRT2 = math.sqrt(2.0)
LRELU_SLOPE = 0.2


def _channel_table(channel_multiplier: int, narrow: float) -> dict[int, int]:
    """GPEN's channels per resolution; int() truncates exactly as the official code does."""
    return {
        4: int(512 * narrow),
        8: int(512 * narrow),
        16: int(512 * narrow),
        32: int(512 * narrow),
        64: int(256 * channel_multiplier * narrow),
        128: int(128 * channel_multiplier * narrow),
        256: int(64 * channel_multiplier * narrow),
        512: int(32 * channel_multiplier * narrow),
        1024: int(16 * channel_multiplier * narrow),
    }


def _make_kernel(k: Sequence[float]) -> torch.Tensor:
    """2-D FIR kernel (outer product of a 1-D kernel), normalised to sum 1."""
    kernel = torch.tensor(k, dtype=torch.float32)
    if kernel.ndim == 1:
        kernel = kernel[None, :] * kernel[:, None]
    return kernel / kernel.sum()


def _no_autocast(device: torch.device) -> torch.autocast:
    """Context that disables autocast for the small style / weight computations."""
    return torch.autocast(device_type=device.type, enabled=False)


def _compute_dtype(x: torch.Tensor) -> torch.dtype:
    """Dtype a conv on `x` runs in: the autocast dtype when autocast is on, else x's dtype."""
    device_type = x.device.type
    if x.is_floating_point() and torch.is_autocast_enabled(device_type):
        return torch.get_autocast_dtype(device_type)
    return x.dtype


def _memory_format(x: torch.Tensor) -> torch.memory_format:
    """channels_last when x is laid out so (and not also plain-contiguous), else contiguous."""
    channels_last = x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last)
    if channels_last and not x.is_contiguous():
        return torch.channels_last
    return torch.contiguous_format


class _DerivedCache:
    """Tensors derived from parameters (scaled bf16 weights, per-tap norms), reused while the
    parameters are unchanged.

    Used only while autograd is off. An entry is keyed on the identity, storage pointer, version
    counter, device, dtype and strides of every source tensor, so load_state_dict (in-place copy),
    in-place edits, `.to()` and `tensor.data = ...` all invalidate it. Inference tensors have no
    version counter and are never cached. No per-request state: two threads racing on a miss
    compute the same value twice.
    """

    def __init__(self) -> None:
        self._entries: dict[Any, tuple[tuple[Any, ...], tuple[Any, ...], torch.Tensor]] = {}

    @staticmethod
    def _key(t: torch.Tensor) -> tuple[Any, ...]:
        return (t.device, t.data_ptr(), t._version, t.dtype, t.stride())

    def get(
        self, name: Any, sources: Sequence[torch.Tensor], make: Callable[[], torch.Tensor]
    ) -> torch.Tensor:
        if torch.is_grad_enabled() or any(t.is_inference() for t in sources):
            return make()
        key = tuple(self._key(t) for t in sources)
        hit = self._entries.get(name)
        if (
            hit is not None
            and hit[1] == key
            and len(hit[0]) == len(sources)
            and all(ref() is t for ref, t in zip(hit[0], sources))
        ):
            return hit[2]
        value = make()
        self._entries[name] = (tuple(weakref.ref(t) for t in sources), key, value)
        return value

    def __deepcopy__(self, memo: dict[int, Any]) -> _DerivedCache:
        return _DerivedCache()  # weak references cannot be deep-copied; copies start empty

    def __getstate__(self) -> dict[str, Any]:
        return {"_entries": {}}


def _scaled(
    weight: torch.Tensor,
    factor: torch.Tensor | float,
    dtype: torch.dtype,
    memory_format: torch.memory_format = torch.contiguous_format,
    swap01: bool = False,
) -> torch.Tensor:
    """weight * factor (in the parameters' precision), written straight in `dtype` and in the
    layout the conv kernel wants, so neither autocast nor mkldnn has to copy the big weight again.

    swap01=True returns the result with dims 0 and 1 swapped (conv_transpose2d's [in, out, k, k]),
    laid out contiguously in that order.
    """
    if torch.is_grad_enabled() and (
        weight.requires_grad or (isinstance(factor, torch.Tensor) and factor.requires_grad)
    ):
        # out= does not support autograd: same values, through differentiable ops.
        scaled = (weight * factor).to(dtype)
        scaled = scaled.transpose(0, 1) if swap01 else scaled
        return scaled.contiguous(memory_format=memory_format)
    shape = list(torch.broadcast_shapes(weight.shape, torch.as_tensor(factor).shape))
    if swap01:
        shape[0], shape[1] = shape[1], shape[0]
    out = torch.empty(shape, dtype=dtype, device=weight.device, memory_format=memory_format)
    torch.mul(weight, factor, out=out.transpose(0, 1) if swap01 else out)
    return out


def _depthwise(kernel: torch.Tensor, channels: int, dtype: torch.dtype) -> torch.Tensor:
    """[kh, kw] kernel -> [channels, 1, kh, kw] weight for a depthwise (groups=channels) conv."""
    return kernel.to(dtype)[None, None].expand(channels, 1, -1, -1)


def _blur_weight(kernel: torch.Tensor, channels: int, dtype: torch.dtype) -> torch.Tensor:
    """Depthwise conv2d weight for upfirdn2d's blur: upfirdn2d correlates with the flipped
    kernel and conv2d correlates, so flip here."""
    return _depthwise(kernel.flip(0, 1), channels, dtype).contiguous()


def blur2d(
    x: torch.Tensor,
    kernel: torch.Tensor,
    pad: tuple[int, int],
    bias: torch.Tensor | None = None,
    weight: torch.Tensor | None = None,
) -> torch.Tensor:
    """upfirdn2d(x, kernel, up=1, down=1, pad) as a depthwise conv2d, plus an optional bias.

    `weight` is an optional precomputed `_blur_weight(kernel, channels, x.dtype)`.
    """
    pad0, pad1 = pad
    channels = x.shape[1]
    if weight is None:
        weight = _blur_weight(kernel, channels, x.dtype)
    if pad0 == pad1 and pad0 >= 0:
        return F.conv2d(x, weight, bias, padding=pad0, groups=channels)
    x = F.pad(x, (pad0, pad1, pad0, pad1))  # negative pads crop, as in upfirdn2d
    return F.conv2d(x, weight, bias, groups=channels)


def upsample2d(
    x: torch.Tensor,
    kernel: torch.Tensor,
    pad: tuple[int, int],
    weight: torch.Tensor | None = None,
) -> torch.Tensor:
    """upfirdn2d(x, kernel, up=2, down=1, pad) as a depthwise stride-2 conv_transpose2d.

    Zero insertion followed by correlation with the flipped kernel is a transposed convolution
    with the kernel itself and padding kh-1-pad0; its output matches upfirdn2d's size when
    pad1 == pad0 - 1 (+1 via output_padding), which holds for every even-length blur kernel.
    """
    pad0, pad1 = pad
    kh = kernel.shape[0]
    padding = kh - 1 - pad0
    extra = pad1 - (pad0 - 1)
    if padding < 0 or extra not in (0, 1):
        raise ValueError(f"upsample2d: unsupported pad {pad} for a {kh}-tap kernel")
    channels = x.shape[1]
    if weight is None:
        weight = _depthwise(kernel, channels, x.dtype)
    return F.conv_transpose2d(
        x, weight, stride=2, padding=padding, output_padding=extra, groups=channels
    )


class PixelNorm(nn.Module):
    """Normalise each latent vector to unit root-mean-square."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(torch.mean(x * x, dim=1, keepdim=True) + 1e-8)


class EqualLinear(nn.Module):
    """Linear layer with equalised learning rate; optional fused leaky ReLU ('fused_lrelu')."""

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        bias_init: float = 0.0,
        lr_mul: float = 1.0,
        activation: bool = False,
    ) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_dim, in_dim).div_(lr_mul))
        self.bias = nn.Parameter(torch.full((out_dim,), float(bias_init)))
        self.scale = lr_mul / math.sqrt(in_dim)
        self.lr_mul = lr_mul
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # bias*lr_mul + scale * x @ W^T in one addmm: no scaled copy of the weight.
        out = torch.addmm(self.bias * self.lr_mul, x, self.weight.t(), alpha=self.scale)
        if self.activation:
            out = F.leaky_relu(out, LRELU_SLOPE) * SQRT2
        return out


class EqualConv2d(nn.Module):
    """Conv2d with equalised learning rate (weight scaled by 1/sqrt(fan_in) at run time)."""

    def __init__(
        self, in_channel: int, out_channel: int, kernel_size: int, stride: int = 1, padding: int = 0
    ) -> None:
        super().__init__()
        # GPEN's ConvLayer always pairs this conv with a FusedLeakyReLU that owns the bias.
        self.weight = nn.Parameter(torch.randn(out_channel, in_channel, kernel_size, kernel_size))
        self.scale = 1.0 / math.sqrt(in_channel * kernel_size**2)
        self.stride = stride
        self.padding = padding
        self._cache = _DerivedCache()

    def forward(
        self, x: torch.Tensor, gain: float = 1.0, bias: torch.Tensor | None = None
    ) -> torch.Tensor:
        """conv(x, gain * scale * W) + bias * bias_gain; bias_gain scales the (raw) bias."""
        return self.forward_scaled_bias(x, gain, bias, 1.0)

    def forward_scaled_bias(
        self, x: torch.Tensor, gain: float, bias: torch.Tensor | None, bias_gain: float
    ) -> torch.Tensor:
        dtype = _compute_dtype(x)
        fmt = _memory_format(x)
        weight = self._cache.get(
            ("w", gain, dtype, fmt), [self.weight],
            lambda: _scaled(self.weight, self.scale * gain, dtype, fmt),
        )
        if bias is not None:
            raw = bias
            bias = self._cache.get(
                ("b", bias_gain, dtype), [raw], lambda: (raw * bias_gain).to(dtype)
            )
        return F.conv2d(x, weight, bias, stride=self.stride, padding=self.padding)


class FusedLeakyReLU(nn.Module):
    """Bias of sqrt(2) * leaky_relu(x + bias, 0.2); callers usually fold it into the conv."""

    def __init__(self, channel: int) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channel))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bias = self.bias.to(x.dtype).view(1, -1, *([1] * (x.ndim - 2)))
        return F.leaky_relu(x + bias, LRELU_SLOPE) * SQRT2


class Blur(nn.Module):
    """upfirdn2d blur with a stored (persistent) kernel buffer."""

    def __init__(self, kernel: Sequence[float], pad: tuple[int, int], upsample_factor: int = 1):
        super().__init__()
        self.register_buffer("kernel", _make_kernel(kernel) * (upsample_factor**2))
        self.pad = pad
        self._cache = _DerivedCache()

    def forward(self, x: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
        channels, dtype, kernel = x.shape[1], x.dtype, self.kernel
        weight = self._cache.get(
            (channels, dtype), [kernel], lambda: _blur_weight(kernel, channels, dtype)
        )
        return blur2d(x, kernel, self.pad, bias, weight)


class Upsample(nn.Module):
    """2x FIR upsampling (upfirdn2d up=2) with a stored kernel buffer."""

    def __init__(self, kernel: Sequence[float], factor: int = 2) -> None:
        super().__init__()
        if factor != 2:
            raise ValueError("only 2x upsampling is supported")
        self.register_buffer("kernel", _make_kernel(kernel) * (factor**2))
        p = self.kernel.shape[0] - factor
        self.pad = ((p + 1) // 2 + factor - 1, p // 2)
        self._cache = _DerivedCache()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        channels, dtype, kernel = x.shape[1], x.dtype, self.kernel
        weight = self._cache.get(
            (channels, dtype), [kernel], lambda: _depthwise(kernel, channels, dtype).contiguous()
        )
        return upsample2d(x, kernel, self.pad, weight)


class ConvLayer(nn.Sequential):
    """[Blur] -> EqualConv2d -> FusedLeakyReLU, as GPEN's encoder ConvLayer (keys 0,1[,2])."""

    def __init__(
        self,
        in_channel: int,
        out_channel: int,
        kernel_size: int,
        downsample: bool = False,
        blur_kernel: Sequence[float] = (1, 3, 3, 1),
    ) -> None:
        layers: list[nn.Module] = []
        if downsample:
            p = (len(blur_kernel) - 2) + (kernel_size - 1)
            layers.append(Blur(blur_kernel, pad=((p + 1) // 2, p // 2)))
            layers.append(EqualConv2d(in_channel, out_channel, kernel_size, stride=2, padding=0))
        else:
            layers.append(
                EqualConv2d(in_channel, out_channel, kernel_size, padding=kernel_size // 2)
            )
        layers.append(FusedLeakyReLU(out_channel))
        super().__init__(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        *pre, conv, act = self
        for module in pre:
            x = module(x)
        # sqrt(2) * lrelu(conv(x) + b) == lrelu(conv_{sqrt2 w}(x) + sqrt2 b): one conv, one lrelu.
        out = conv.forward_scaled_bias(x, SQRT2, act.bias, SQRT2)
        return F.leaky_relu_(out, LRELU_SLOPE)


class ModulatedConv2d(nn.Module):
    """StyleGAN2 modulated conv (optionally 2x upsampling) with GPEN's key layout."""

    def __init__(
        self,
        in_channel: int,
        out_channel: int,
        kernel_size: int,
        style_dim: int,
        demodulate: bool = True,
        upsample: bool = False,
        blur_kernel: Sequence[float] = (1, 3, 3, 1),
    ) -> None:
        super().__init__()
        self.in_channel = in_channel
        self.out_channel = out_channel
        self.kernel_size = kernel_size
        self.upsample = upsample
        self.demodulate = demodulate
        if upsample:
            factor = 2
            p = (len(blur_kernel) - factor) - (kernel_size - 1)
            self.blur = Blur(
                blur_kernel, pad=((p + 1) // 2 + factor - 1, p // 2 + 1), upsample_factor=factor
            )
        self.scale = 1.0 / math.sqrt(in_channel * kernel_size**2)
        self.padding = kernel_size // 2
        self.weight = nn.Parameter(
            torch.randn(1, out_channel, in_channel, kernel_size, kernel_size)
        )
        self.modulation = EqualLinear(style_dim, in_channel, bias_init=1.0)
        self._cache = _DerivedCache()

    def _styles(self, style: torch.Tensor, gain: float) -> tuple[torch.Tensor, torch.Tensor]:
        """(s [B, in], out_scale [B, out]) with the modulated weight = W[0] * out_scale[:, :, None]
        * s[:, None, :], i.e. s = scale * modulation(style) and out_scale = gain * demod.

        The demodulation norm comes from the per-tap squared norms of W (cached) and the squared
        styles (a small matmul), so the big 5-D modulated weight never has to be squared.
        Computed with autocast off, in the parameters' dtype.
        """
        with _no_autocast(style.device):
            weight = self.weight
            s = self.modulation(style.to(weight.dtype)) * self.scale  # [B, in]
            if not self.demodulate:
                return s, s.new_full((s.shape[0], self.out_channel), gain)
            tap_sq = self._cache.get(
                "tap_sq", [weight], lambda: weight[0].square().sum(dim=(2, 3))
            )  # [out, in]
            demod = torch.rsqrt(s.square() @ tap_sq.t() + 1e-8)  # [B, out]
            return s, demod * gain

    def _plain_weight(self, dtype: torch.dtype, fmt: torch.memory_format) -> torch.Tensor:
        """scale-free W[0] in the conv's dtype and layout (conv_transpose2d's [in, out] order
        when upsampling), cached: the modulation then scales activations instead."""
        weight = self.weight
        plain = weight[0]
        if not self.upsample and plain.dtype == dtype and plain.is_contiguous(memory_format=fmt):
            return plain  # already usable as is: no duplicate in memory
        return self._cache.get(
            ("plain", dtype, fmt), [weight],
            lambda: _scaled(weight[0], 1.0, dtype, fmt, swap01=self.upsample),
        )

    def forward_parts(
        self, x: torch.Tensor, style: torch.Tensor, gain: float = 1.0
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(y, out_scale) with gain * modconv(x, style) == y * out_scale (out_scale [B, out, 1, 1]
        in y's dtype, or None when y is already the result). No bias.

        Two exact orders of the same maths: modulate the weight (one [out, in, k, k] pass per
        call), or, when the weight is larger than the activations, scale the input channels by
        s, convolve with the cached plain weight and leave the per-output scale to the caller's
        next elementwise pass (folded into the concat write in StyledConv).
        """
        batch, in_channel, height, width = x.shape
        k = self.kernel_size
        dtype = _compute_dtype(x)
        fmt = _memory_format(x)
        s, out_scale = self._styles(style, gain)
        w_elems = self.out_channel * in_channel * k * k
        if w_elems * batch > x.numel():
            xs = x * s.to(x.dtype).view(batch, in_channel, 1, 1)
            weight = self._plain_weight(dtype, fmt)
            if self.upsample:
                y = self.blur(F.conv_transpose2d(xs, weight, stride=2))
            else:
                y = F.conv2d(xs, weight, padding=self.padding)
            return y, out_scale.to(y.dtype).view(batch, self.out_channel, 1, 1)
        factor = (out_scale[:, :, None] * s[:, None, :])[..., None, None]  # [B, out, in, 1, 1]
        if batch == 1:
            # One sample: a plain conv (transpose) with the modulated weight, in x's layout.
            if self.upsample:
                w = _scaled(self.weight[0], factor[0], dtype, fmt, swap01=True)
                return self.blur(F.conv_transpose2d(x, w, stride=2)), None
            w = _scaled(self.weight[0], factor[0], dtype, fmt)
            return F.conv2d(x, w, padding=self.padding), None
        # Batch N: fold the batch into groups (one weight set per sample).
        x = x.reshape(1, batch * in_channel, height, width)
        if self.upsample:
            w = _scaled(self.weight, factor, dtype).transpose(1, 2)
            w = w.reshape(batch * in_channel, self.out_channel, k, k)
            out = F.conv_transpose2d(x, w, stride=2, groups=batch)
            return self.blur(out.view(batch, self.out_channel, *out.shape[2:])), None
        w = _scaled(self.weight, factor, dtype).view(batch * self.out_channel, in_channel, k, k)
        out = F.conv2d(x, w, padding=self.padding, groups=batch)
        return out.view(batch, self.out_channel, *out.shape[2:]), None

    def forward(
        self,
        x: torch.Tensor,
        style: torch.Tensor,
        gain: float = 1.0,
        bias: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """gain * modconv(x, style) + bias (bias per output channel, added after the blur)."""
        y, out_scale = self.forward_parts(x, style, gain)
        bias_view = None if bias is None else bias.to(y.dtype).view(1, -1, 1, 1)
        if out_scale is not None:
            if bias_view is None:
                return y * out_scale
            return torch.addcmul(bias_view, y, out_scale)
        return y if bias_view is None else y + bias_view


class NoiseInjection(nn.Module):
    """Scalar weight for the encoder feature that GPEN concatenates as extra 'noise' channels."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))


class ConstantInput(nn.Module):
    """Learned 4x4 constant that starts the decoder."""

    def __init__(self, channel: int, size: int = 4) -> None:
        super().__init__()
        self.input = nn.Parameter(torch.randn(1, channel, size, size))


class StyledConv(nn.Module):
    """Modulated conv, concat(out, w * feature), sqrt(2) * leaky_relu(. + bias) (isconcat=True)."""

    def __init__(
        self,
        in_channel: int,
        out_channel: int,
        kernel_size: int,
        style_dim: int,
        upsample: bool = False,
        blur_kernel: Sequence[float] = (1, 3, 3, 1),
        isconcat: bool = True,
    ) -> None:
        super().__init__()
        self.conv = ModulatedConv2d(
            in_channel, out_channel, kernel_size, style_dim, upsample=upsample,
            blur_kernel=blur_kernel,
        )
        self.noise = NoiseInjection()
        self.isconcat = isconcat
        self.activate = FusedLeakyReLU(out_channel * (2 if isconcat else 1))
        self._cache = _DerivedCache()

    def forward(self, x: torch.Tensor, style: torch.Tensor, feature: torch.Tensor) -> torch.Tensor:
        c = self.conv.out_channel
        if not self.isconcat:
            out = self.conv(x, style)
            out = out + self.noise.weight.to(out.dtype) * feature
            return self.activate(out)
        # Both halves get sqrt(2) * lrelu(. + b). sqrt(2) goes into the modulation; the conv
        # half's output scale and bias are applied while writing it into the concatenated
        # buffer, the feature half is one addcmul into the same buffer; then one in-place
        # leaky_relu over both halves.
        y, out_scale = self.conv.forward_parts(x, style, gain=SQRT2)
        dtype = y.dtype
        raw_bias, noise_weight = self.activate.bias, self.noise.weight
        bias = self._cache.get(
            ("bias", dtype), [raw_bias], lambda: (raw_bias * SQRT2).to(dtype).view(1, -1, 1, 1)
        )
        noise_gain = self._cache.get(
            ("noise", dtype), [noise_weight],
            lambda: (noise_weight * SQRT2).to(dtype).view(1, 1, 1, 1),
        )
        feature = feature.to(dtype)
        tensors = (y, bias, noise_gain, feature, out_scale)
        if torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors):
            # Training: the same maths through differentiable (non out=) ops.
            if out_scale is None:
                first = y + bias[:, :c]
            else:
                first = torch.addcmul(bias[:, :c], y, out_scale)
            second = torch.addcmul(bias[:, c:], feature, noise_gain)
            return F.leaky_relu(torch.cat([first, second], dim=1), LRELU_SLOPE)
        batch, _, height, width = y.shape
        cat = torch.empty(
            (batch, 2 * c, height, width), dtype=dtype, device=y.device,
            memory_format=_memory_format(y),
        )
        if out_scale is None:
            torch.add(y, bias[:, :c], out=cat[:, :c])
        else:
            torch.addcmul(bias[:, :c], y, out_scale, out=cat[:, :c])
        torch.addcmul(bias[:, c:], feature, noise_gain, out=cat[:, c:])
        return F.leaky_relu_(cat, LRELU_SLOPE)


class ToRGB(nn.Module):
    """1x1 modulated conv to RGB (no demodulation) + bias, plus the upsampled previous RGB."""

    def __init__(
        self,
        in_channel: int,
        style_dim: int,
        upsample: bool = True,
        blur_kernel: Sequence[float] = (1, 3, 3, 1),
    ) -> None:
        super().__init__()
        if upsample:
            self.upsample = Upsample(blur_kernel)
        self.conv = ModulatedConv2d(in_channel, 3, 1, style_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(1, 3, 1, 1))

    def forward(
        self, x: torch.Tensor, style: torch.Tensor, skip: torch.Tensor | None = None
    ) -> torch.Tensor:
        out = self.conv(x, style, bias=self.bias.view(3))
        # The RGB running sum stays float32: it is the output, and 3 channels cost nothing.
        if skip is None:
            return out.float()
        with _no_autocast(out.device):
            rgb = self.upsample(skip)
            return rgb.add_(out)  # float32 += (bf16 or float32) conv output, no extra copy


class Generator(nn.Module):
    """GPEN's StyleGAN2 decoder whose per-layer 'noise' are the encoder features."""

    def __init__(
        self,
        size: int,
        style_dim: int,
        n_mlp: int,
        channel_multiplier: int = 2,
        blur_kernel: Sequence[float] = (1, 3, 3, 1),
        lr_mlp: float = 0.01,
        isconcat: bool = True,
        narrow: float = 1,
    ) -> None:
        super().__init__()
        self.size = size
        self.style_dim = style_dim
        self.n_mlp = n_mlp
        mult = 2 if isconcat else 1
        self.style = nn.Sequential(
            PixelNorm(),
            *[
                EqualLinear(style_dim, style_dim, lr_mul=lr_mlp, activation=True)
                for _ in range(n_mlp)
            ],
        )
        self.channels = _channel_table(channel_multiplier, narrow)
        self.log_size = int(math.log(size, 2))
        self.n_latent = self.log_size * 2 - 2

        ch4 = self.channels[4]
        self.input = ConstantInput(ch4)
        self.conv1 = StyledConv(ch4, ch4, 3, style_dim, blur_kernel=blur_kernel, isconcat=isconcat)
        self.to_rgb1 = ToRGB(ch4 * mult, style_dim, upsample=False)
        self.convs = nn.ModuleList()
        self.to_rgbs = nn.ModuleList()
        in_channel = ch4
        for i in range(3, self.log_size + 1):
            out_channel = self.channels[2**i]
            self.convs.append(
                StyledConv(
                    in_channel * mult, out_channel, 3, style_dim, upsample=True,
                    blur_kernel=blur_kernel, isconcat=isconcat,
                )
            )
            self.convs.append(
                StyledConv(
                    out_channel * mult, out_channel, 3, style_dim, blur_kernel=blur_kernel,
                    isconcat=isconcat,
                )
            )
            self.to_rgbs.append(ToRGB(out_channel * mult, style_dim, blur_kernel=blur_kernel))
            in_channel = out_channel

    def forward(self, w: torch.Tensor, features: Sequence[torch.Tensor]) -> torch.Tensor:
        """Decode one latent `w` [B, style_dim] (after the mapping MLP) with the encoder
        `features` ordered from 4x4 to full resolution (one per resolution)."""
        first = features[0]
        batch = w.shape[0]
        out = self.input.input.to(first.dtype).expand(batch, -1, -1, -1)
        out = out.contiguous(memory_format=_memory_format(first))
        out = self.conv1(out, w, first)
        skip = self.to_rgb1(out, w)
        for level, (conv_up, conv, to_rgb) in enumerate(
            zip(self.convs[::2], self.convs[1::2], self.to_rgbs), start=1
        ):
            feature = features[level]
            out = conv_up(out, w, feature)
            out = conv(out, w, feature)
            skip = to_rgb(out, w, skip)
        return skip


class FullGenerator(nn.Module):
    """GPEN-BFR generator: degraded face in [-1, 1] -> restored face in [-1, 1], same size.

    Constructor arguments are the official ones (`device` is accepted and ignored). forward(x)
    returns `(image, None)`, or `(image, latent)` with `return_latents=True`, where latent is the
    official [B, n_latent, style_dim] tensor (the single style repeated for every layer).

    Fast path: `torch.inference_mode()`, a channels_last input and `torch.autocast` (bf16 on CPU,
    fp16/bf16 on CUDA); the output is float32 either way. Batches > 1 use grouped convs; on CPU
    one face per call is slightly faster.
    """

    def __init__(
        self,
        size: int,
        style_dim: int,
        n_mlp: int,
        channel_multiplier: int = 2,
        blur_kernel: Sequence[float] = (1, 3, 3, 1),
        lr_mlp: float = 0.01,
        isconcat: bool = True,
        narrow: float = 1,
        device: str | torch.device = "cpu",
    ) -> None:
        super().__init__()
        del device  # official signature; placement is the caller's .to(...)
        channels = _channel_table(channel_multiplier, narrow)
        self.size = size
        self.log_size = int(math.log(size, 2))
        if 2**self.log_size != size or size < 8:
            raise ValueError(f"size must be a power of two >= 8, got {size}")
        self.generator = Generator(
            size, style_dim, n_mlp, channel_multiplier=channel_multiplier,
            blur_kernel=blur_kernel, lr_mlp=lr_mlp, isconcat=isconcat, narrow=narrow,
        )
        self.ecd0 = nn.Sequential(ConvLayer(3, channels[size], 1))
        in_channel = channels[size]
        for idx, i in enumerate(range(self.log_size, 2, -1), start=1):
            out_channel = channels[2 ** (i - 1)]
            layer = ConvLayer(in_channel, out_channel, 3, downsample=True, blur_kernel=blur_kernel)
            self.add_module(f"ecd{idx}", nn.Sequential(layer))
            in_channel = out_channel
        self.final_linear = nn.Sequential(
            EqualLinear(channels[4] * 4 * 4, style_dim, activation=True)
        )

    def forward(
        self, x: torch.Tensor, return_latents: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        if x.ndim != 4 or x.shape[1] != 3 or x.shape[2] != self.size or x.shape[3] != self.size:
            raise ValueError(
                f"GPEN expects [B, 3, {self.size}, {self.size}] input, got {list(x.shape)}"
            )
        features = []
        for i in range(self.log_size - 1):
            x = getattr(self, f"ecd{i}")(x)
            features.append(x)
        with _no_autocast(x.device):
            linear = self.final_linear[0]
            code = self.final_linear(x.reshape(x.shape[0], -1).to(linear.weight.dtype))
            w = self.generator.style(code)
        image = self.generator(w, features[::-1])
        if return_latents:
            return image, w[:, None, :].expand(-1, self.generator.n_latent, -1)
        return image, None

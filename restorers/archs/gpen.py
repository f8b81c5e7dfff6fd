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
- styles and demodulation factors are computed with autocast off in the parameters' dtype; conv
  weights are then written once, directly in the conv's dtype and memory format (no later copies
  by autocast or mkldnn). The big convs follow the input's dtype / autocast and memory format.
- the RGB skip sum is kept in float32 (3 channels, negligible cost).
- for channels_last, convert the INPUT only: `model.to(memory_format=torch.channels_last)` fails
  on the official 5-D modulated-conv weights, and is not needed here.
"""
from __future__ import annotations

import math
from typing import Sequence

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
    shape = list(torch.broadcast_shapes(weight.shape, torch.as_tensor(factor).shape))
    if swap01:
        shape[0], shape[1] = shape[1], shape[0]
    out = torch.empty(shape, dtype=dtype, device=weight.device, memory_format=memory_format)
    torch.mul(weight, factor, out=out.transpose(0, 1) if swap01 else out)
    return out


def _depthwise(kernel: torch.Tensor, channels: int, dtype: torch.dtype) -> torch.Tensor:
    """[kh, kw] kernel -> [channels, 1, kh, kw] weight for a depthwise (groups=channels) conv."""
    return kernel.to(dtype)[None, None].expand(channels, 1, -1, -1)


def blur2d(
    x: torch.Tensor, kernel: torch.Tensor, pad: tuple[int, int], bias: torch.Tensor | None = None
) -> torch.Tensor:
    """upfirdn2d(x, kernel, up=1, down=1, pad) as a depthwise conv2d, plus an optional bias."""
    pad0, pad1 = pad
    channels = x.shape[1]
    # upfirdn2d correlates with the flipped kernel; conv2d correlates, so flip here.
    weight = _depthwise(kernel.flip(0, 1), channels, x.dtype)
    if pad0 == pad1 and pad0 >= 0:
        return F.conv2d(x, weight, bias, padding=pad0, groups=channels)
    x = F.pad(x, (pad0, pad1, pad0, pad1))  # negative pads crop, as in upfirdn2d
    return F.conv2d(x, weight, bias, groups=channels)


def upsample2d(x: torch.Tensor, kernel: torch.Tensor, pad: tuple[int, int]) -> torch.Tensor:
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

    def forward(
        self, x: torch.Tensor, gain: float = 1.0, bias: torch.Tensor | None = None
    ) -> torch.Tensor:
        dtype = _compute_dtype(x)
        weight = _scaled(self.weight, self.scale * gain, dtype, _memory_format(x))
        if bias is not None:
            bias = bias.to(dtype)
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

    def forward(self, x: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
        return blur2d(x, self.kernel, self.pad, bias)


class Upsample(nn.Module):
    """2x FIR upsampling (upfirdn2d up=2) with a stored kernel buffer."""

    def __init__(self, kernel: Sequence[float], factor: int = 2) -> None:
        super().__init__()
        if factor != 2:
            raise ValueError("only 2x upsampling is supported")
        self.register_buffer("kernel", _make_kernel(kernel) * (factor**2))
        p = self.kernel.shape[0] - factor
        self.pad = ((p + 1) // 2 + factor - 1, p // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return upsample2d(x, self.kernel, self.pad)


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
        out = conv(x, gain=SQRT2, bias=act.bias * SQRT2)
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

    def _modulation_factor(self, style: torch.Tensor, gain: float) -> torch.Tensor:
        """[B, out, in] factor such that the modulated weight is W[0] * factor (per tap).

        That is gain * demod * scale * modulation(style). The demodulation norm comes from the
        per-tap squared norms of W and the squared styles (a small matmul), so the big 5-D
        modulated weight never has to be squared and summed.
        """
        with _no_autocast(style.device):
            weight = self.weight[0]  # [out, in, k, k]
            s = self.modulation(style.to(weight.dtype)) * self.scale  # [B, in]
            if not self.demodulate:
                return (s * gain)[:, None, :].expand(-1, self.out_channel, -1)
            tap_sq = torch.linalg.vector_norm(weight, dim=(2, 3)).square_()  # [out, in]
            demod = torch.rsqrt(s.square() @ tap_sq.t() + 1e-8)  # [B, out]
            return (demod * gain)[:, :, None] * s[:, None, :]

    def forward(
        self,
        x: torch.Tensor,
        style: torch.Tensor,
        gain: float = 1.0,
        bias: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """gain * modconv(x, style) + bias (bias per output channel, added after the blur)."""
        batch, in_channel, height, width = x.shape
        k = self.kernel_size
        dtype = _compute_dtype(x)
        factor = self._modulation_factor(style, gain)[..., None, None]  # [B, out, in, 1, 1]
        if bias is not None:
            bias = bias.to(dtype)
        if batch == 1:
            # One sample: a plain conv (transpose) with the modulated weight, in x's layout.
            fmt = _memory_format(x)
            if self.upsample:
                w = _scaled(self.weight[0], factor[0], dtype, fmt, swap01=True)
                out = F.conv_transpose2d(x, w, stride=2)
                return self.blur(out, bias)
            w = _scaled(self.weight[0], factor[0], dtype, fmt)
            return F.conv2d(x, w, bias, padding=self.padding)
        # Batch N: fold the batch into groups (one weight set per sample).
        x = x.reshape(1, batch * in_channel, height, width)
        if self.upsample:
            w = _scaled(self.weight, factor, dtype).transpose(1, 2)
            w = w.reshape(batch * in_channel, self.out_channel, k, k)
            out = F.conv_transpose2d(x, w, stride=2, groups=batch)
            out = out.view(batch, self.out_channel, *out.shape[2:])
            return self.blur(out, bias)
        w = _scaled(self.weight, factor, dtype).view(batch * self.out_channel, in_channel, k, k)
        out = F.conv2d(x, w, padding=self.padding, groups=batch)
        out = out.view(batch, self.out_channel, *out.shape[2:])
        if bias is not None:
            out = out + bias.view(1, -1, 1, 1)
        return out


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

    def forward(self, x: torch.Tensor, style: torch.Tensor, feature: torch.Tensor) -> torch.Tensor:
        c = self.conv.out_channel
        bias = self.activate.bias * SQRT2
        if not self.isconcat:
            out = self.conv(x, style)
            out = out + self.noise.weight.to(out.dtype) * feature
            return self.activate(out)
        # Both halves get sqrt(2) * lrelu(. + b). sqrt(2) and b are folded into the conv for the
        # first half and into one addcmul for the feature half, which is written straight into
        # the concatenated buffer; then one in-place leaky_relu over both halves.
        out = self.conv(x, style, gain=SQRT2, bias=bias[:c])
        batch, _, height, width = out.shape
        dtype = out.dtype
        cat = torch.empty(
            (batch, 2 * c, height, width), dtype=dtype, device=out.device,
            memory_format=_memory_format(out),
        )
        cat[:, :c].copy_(out)
        torch.addcmul(
            bias[c:].to(dtype).view(1, -1, 1, 1),
            feature.to(dtype),
            (self.noise.weight * SQRT2).to(dtype).view(1, 1, 1, 1),
            out=cat[:, c:],
        )
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
        out = out.float()
        if skip is not None:
            with _no_autocast(out.device):
                out = out + self.upsample(skip)
        return out


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

"""GFPGANv1Clean (GFPGAN v1.3 / v1.4): a U-Net encoder feeding a StyleGAN2 decoder through SFT.

Re-implemented from the description of TencentARC/GFPGAN `gfpgan/archs/gfpganv1_clean_arch.py` and
`stylegan2_clean_arch.py` (the "clean" variant: no compiled ops, bilinear resampling). Module and
parameter names match the official ones, so published `params_ema` state_dicts load with strict=True.

Noise: the official forward defaults to `randomize_noise=True` (fresh N(0, 1) noise from the global
RNG at every call). Here the default is `randomize_noise=False`, i.e. the stored noise buffers, so a
call is deterministic. Random noise is still available, from the global RNG (drawn in the same order
and shape as the official code, so a `torch.manual_seed` run matches it) or from an explicit
`torch.Generator`.

Input and output are RGB in [-1, 1], NCHW, at `out_size` x `out_size` (an aligned face crop).
"""
from __future__ import annotations

import contextlib
import math

import torch
import torch.nn.functional as F
from torch import nn

_LRELU_SLOPE = 0.2


def _autocast_off(x: torch.Tensor) -> contextlib.AbstractContextManager:
    """A context that disables autocast for x's device if it is on (a no-op otherwise)."""
    if x.device.type in ("cpu", "cuda") and torch.is_autocast_enabled(x.device.type):
        return torch.autocast(x.device.type, enabled=False)
    return contextlib.nullcontext()


def _resample(x: torch.Tensor, scale_factor: float) -> torch.Tensor:
    """Bilinear x2 / x0.5 resampling exactly as the clean arch does it (align_corners=False).

    Runs in x's own dtype: CPU autocast would promote upsample_bilinear2d to float32, i.e. write
    a 4x larger fp32 tensor that the next conv immediately casts back to bf16.
    """
    with _autocast_off(x):
        return F.interpolate(x, scale_factor=scale_factor, mode="bilinear", align_corners=False)


def _linear_full_precision(linear: nn.Linear, x: torch.Tensor) -> torch.Tensor:
    """A Linear on the style path, run in its parameters' dtype even under autocast.

    These are matrix-vector products at batch 1, bound by reading the weight: autocast would
    first cast the whole weight to bf16 (more memory traffic than the fp32 product itself) and
    lose precision in the style codes that scale every decoder weight.
    """
    with _autocast_off(x):
        return linear(x.to(linear.weight.dtype))


def _draw_noise(
    like: torch.Tensor, generator: torch.Generator | None
) -> torch.Tensor:
    """N(0, 1) noise of shape [b, 1, h, w] for a StyleConv output `like`.

    Drawn in float32 (as the official fp32 code does) so that a seed gives the same noise under
    any autocast dtype; with a generator, drawn on the generator's device and then moved.
    """
    b, _, h, w = like.shape
    device = like.device if generator is None else generator.device
    noise = torch.randn((b, 1, h, w), generator=generator, device=device, dtype=torch.float32)
    return noise.to(like.device)


class NormStyleCode(nn.Module):
    """Pixel-norm of style codes over dim 1 (first layer of the style MLP; no parameters)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(torch.mean(x**2, dim=1, keepdim=True) + 1e-8)


def _weight_to_official(module: nn.Module, state_dict: dict, prefix: str, local_metadata: dict) -> None:
    """state_dict post-hook: export the modulated-conv weight as the official [1, c_out, c_in, k, k]."""
    key = prefix + "weight"
    if key in state_dict:
        state_dict[key] = state_dict[key].unsqueeze(0)


def _weight_from_official(
    module: nn.Module, state_dict: dict, prefix: str, *args: object
) -> None:
    """load_state_dict pre-hook: accept the official 5-D weight for the 4-D parameter."""
    key = prefix + "weight"
    tensor = state_dict.get(key)
    if tensor is not None and tensor.ndim == 5 and tensor.shape[0] == 1:
        state_dict[key] = tensor[0]


class ModulatedConv2d(nn.Module):
    """StyleGAN2 modulated conv (no bias), optional demodulation and bilinear x2 upsampling.

    Batch 1 runs as one plain conv2d with the modulated weight; batch N as a grouped conv with
    one group per sample. `gain` multiplies the (demodulated) weight, which lets StyleConv fold
    its constant sqrt(2) into the weight instead of a full pass over the activations.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        num_style_feat: int,
        demodulate: bool = True,
        upsample: bool = False,
        eps: float = 1e-8,
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.demodulate = demodulate
        self.upsample = upsample
        self.eps = eps
        self.padding = kernel_size // 2
        self.modulation = nn.Linear(num_style_feat, in_channels, bias=True)
        # Held as a 4-D [c_out, c_in, k, k] parameter so that model.to(memory_format=
        # torch.channels_last) works (it rejects 5-D tensors); the state_dict hooks below keep the
        # official 5-D [1, c_out, c_in, k, k] layout on save and load.
        self.weight = nn.Parameter(
            torch.randn(out_channels, in_channels, kernel_size, kernel_size) / math.sqrt(in_channels * kernel_size**2)
        )
        self.register_state_dict_post_hook(_weight_to_official)
        self.register_load_state_dict_pre_hook(_weight_from_official)

    def modulated_weight(self, style: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
        """Per-sample weights [b, c_out, c_in, k, k] for styles [b, num_style_feat].

        Same maths as the official weight * style, then * rsqrt(sum(weight**2) + eps), but the
        demodulation factor comes from sum_k(W**2) @ style**2, so the big per-sample weight is
        written once instead of three times.
        """
        b = style.shape[0]
        scale = _linear_full_precision(self.modulation, style)  # [b, c_in]
        factor = scale.view(b, 1, self.in_channels)
        if self.demodulate:
            w_sq = self.weight.square().sum(dim=(2, 3))  # [c_out, c_in]
            demod = torch.rsqrt(scale.square() @ w_sq.t() + self.eps)  # [b, c_out]
            factor = factor * demod.view(b, self.out_channels, 1)
        if gain != 1.0:
            factor = factor * gain
        return self.weight.unsqueeze(0) * factor.unsqueeze(-1).unsqueeze(-1)

    def forward(
        self,
        x: torch.Tensor,
        style: torch.Tensor,
        bias: torch.Tensor | None = None,
        gain: float = 1.0,
    ) -> torch.Tensor:
        """Modulated conv of x [b, c_in, h, w]; `bias` ([c_out]) is fused into the conv."""
        b = x.shape[0]
        weight = self.modulated_weight(style, gain)
        if self.upsample:
            x = _resample(x, 2.0)
        if b == 1:
            return F.conv2d(x, weight[0], bias, padding=self.padding)
        # One group per sample. reshape (not view): a channels_last x cannot be viewed this way.
        h, w = x.shape[2:]
        weight = weight.reshape(b * self.out_channels, *weight.shape[2:])
        if bias is not None:
            bias = bias.repeat(b)
        out = F.conv2d(x.reshape(1, b * self.in_channels, h, w), weight, bias, padding=self.padding, groups=b)
        return out.reshape(b, self.out_channels, *out.shape[2:])

    def extra_repr(self) -> str:
        return (
            f"in_channels={self.in_channels}, out_channels={self.out_channels}, kernel_size={self.kernel_size}, "
            f"demodulate={self.demodulate}, upsample={self.upsample}"
        )


class StyleConv(nn.Module):
    """Modulated 3x3 conv * sqrt(2), plus scaled noise, plus bias, then LeakyReLU(0.2)."""

    def __init__(
        self, in_channels: int, out_channels: int, num_style_feat: int, upsample: bool = False
    ) -> None:
        super().__init__()
        self.modulated_conv = ModulatedConv2d(
            in_channels, out_channels, 3, num_style_feat, demodulate=True, upsample=upsample
        )
        self.weight = nn.Parameter(torch.zeros(1))  # noise strength
        self.bias = nn.Parameter(torch.zeros(1, out_channels, 1, 1))

    def forward(
        self,
        x: torch.Tensor,
        style: torch.Tensor,
        noise: torch.Tensor | None = None,
        noise_generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """`noise` None: draw fresh [b, 1, h, w] noise (global RNG, or `noise_generator`)."""
        # Official order is (conv * sqrt2 + w * noise) + bias; the sqrt2 is folded into the weight
        # and the bias into the conv, which only reorders fp32 rounding (~1e-7 relative).
        out = self.modulated_conv(x, style, bias=self.bias.view(-1), gain=math.sqrt(2.0))
        if noise is None:
            noise = _draw_noise(out, noise_generator)
        # In place keeps the conv's dtype (bf16 under autocast) and is autograd-safe: conv2d does
        # not need its output for backward, and the official code uses an in-place LeakyReLU too.
        # The small [b|1, 1, h, w] noise term is cast first: a mixed-dtype broadcast add_ is slow.
        out.add_((self.weight * noise).to(out.dtype))
        return F.leaky_relu_(out, _LRELU_SLOPE)


class ToRGB(nn.Module):
    """Modulated 1x1 conv to RGB (no demodulation) + bias, plus the bilinearly upsampled skip."""

    def __init__(self, in_channels: int, num_style_feat: int, upsample: bool = True) -> None:
        super().__init__()
        self.upsample = upsample
        self.modulated_conv = ModulatedConv2d(in_channels, 3, 1, num_style_feat, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(1, 3, 1, 1))

    def forward(self, x: torch.Tensor, style: torch.Tensor, skip: torch.Tensor | None = None) -> torch.Tensor:
        out = self.modulated_conv(x, style, bias=self.bias.view(-1))
        if skip is None:
            # The RGB image is accumulated in at least float32, also under bf16/fp16 autocast.
            return out.to(torch.promote_types(out.dtype, torch.float32))
        if self.upsample:
            skip = _resample(skip, 2.0)
        return skip + out


class ConstantInput(nn.Module):
    """Learned constant [1, c, size, size] start tensor of the StyleGAN2 decoder."""

    def __init__(self, num_channel: int, size: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(1, num_channel, size, size))

    def forward(self, batch: int) -> torch.Tensor:
        return self.weight.expand(batch, -1, -1, -1)


def _stylegan_channels(channel_multiplier: int, narrow: float) -> dict[int, int]:
    """Channel count per resolution of the StyleGAN2 decoder (the U-Net uses narrow * 0.5)."""
    base = {4: 512, 8: 512, 16: 512, 32: 512, 64: 256, 128: 128, 256: 64, 512: 32, 1024: 16}
    return {res: int(c * (channel_multiplier if res >= 64 else 1) * narrow) for res, c in base.items()}


class StyleGAN2GeneratorCSFT(nn.Module):
    """The clean StyleGAN2 generator, with SFT conditions applied after each level's first conv."""

    def __init__(
        self,
        out_size: int,
        num_style_feat: int = 512,
        num_mlp: int = 8,
        channel_multiplier: int = 2,
        narrow: float = 1,
        sft_half: bool = False,
    ) -> None:
        super().__init__()
        self.num_style_feat = num_style_feat
        self.sft_half = sft_half
        # Sequential indices matter for the state_dict: Linear layers sit at 1, 3, 5, ...
        mlp: list[nn.Module] = [NormStyleCode()]
        for _ in range(num_mlp):
            mlp += [nn.Linear(num_style_feat, num_style_feat), nn.LeakyReLU(_LRELU_SLOPE, inplace=True)]
        self.style_mlp = nn.Sequential(*mlp)

        channels = _stylegan_channels(channel_multiplier, narrow)
        self.log_size = int(math.log(out_size, 2))
        self.num_layers = (self.log_size - 2) * 2 + 1
        self.num_latent = self.log_size * 2 - 2

        self.constant_input = ConstantInput(channels[4], size=4)
        self.style_conv1 = StyleConv(channels[4], channels[4], num_style_feat)
        self.to_rgb1 = ToRGB(channels[4], num_style_feat, upsample=False)

        self.style_convs = nn.ModuleList()
        self.to_rgbs = nn.ModuleList()
        in_channels = channels[4]
        for i in range(3, self.log_size + 1):
            out_channels = channels[2**i]
            self.style_convs.append(StyleConv(in_channels, out_channels, num_style_feat, upsample=True))
            self.style_convs.append(StyleConv(out_channels, out_channels, num_style_feat))
            self.to_rgbs.append(ToRGB(out_channels, num_style_feat, upsample=True))
            in_channels = out_channels

        # Fixed noise, one map per StyleConv: 4, 8, 8, 16, 16, ... (part of the state_dict).
        self.noises = nn.Module()
        for layer_idx in range(self.num_layers):
            res = 2 ** ((layer_idx + 5) // 2)
            self.noises.register_buffer(f"noise{layer_idx}", torch.randn(1, 1, res, res))

    def forward(
        self,
        styles: torch.Tensor,
        conditions: list[torch.Tensor],
        input_is_latent: bool = False,
        randomize_noise: bool = False,
        noise_generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Image from style codes [b, f] (one w for all layers) or [b, num_latent, f], and SFT conditions.

        `conditions` alternates scale and shift maps, one pair per level from 8x8 upwards.
        """
        if not input_is_latent:
            styles = self.style_mlp(styles)
        latent = styles.unsqueeze(1).expand(-1, self.num_latent, -1) if styles.ndim < 3 else styles

        noises: list[torch.Tensor | None] = (
            [None] * self.num_layers
            if randomize_noise
            else [getattr(self.noises, f"noise{i}") for i in range(self.num_layers)]
        )
        gen = noise_generator  # only used where a noise entry is None

        out = self.constant_input(latent.shape[0])
        out = self.style_conv1(out, latent[:, 0], noises[0], gen)
        skip = self.to_rgb1(out, latent[:, 1])

        i = 1
        for level, to_rgb in enumerate(self.to_rgbs):
            conv1, conv2 = self.style_convs[2 * level], self.style_convs[2 * level + 1]
            out = conv1(out, latent[:, i], noises[i], gen)
            if i < len(conditions):  # the conditions may cover fewer levels than the decoder
                out = self._sft(out, conditions[i - 1], conditions[i])
            out = conv2(out, latent[:, i + 1], noises[i + 1], gen)
            skip = to_rgb(out, latent[:, i + 2], skip)
            i += 2
        return skip

    def _sft(self, out: torch.Tensor, scale: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
        """Spatial feature transform: out * scale + shift, on the second channel half if sft_half."""
        if not self.sft_half:
            return out * scale + shift
        half = out.shape[1] // 2
        if torch.is_grad_enabled():  # keep autograd's saved tensors intact
            return torch.cat([out[:, :half], out[:, half:] * scale + shift], dim=1)
        # Inference: update the second half in place instead of building and copying a new tensor
        # (out is the fresh output of a StyleConv, owned by this forward).
        out[:, half:].mul_(scale).add_(shift)
        return out


class ResBlock(nn.Module):
    """U-Net residual block: conv3x3, bilinear x2 or x0.5, conv3x3, plus a resampled 1x1 skip."""

    def __init__(self, in_channels: int, out_channels: int, mode: str = "down") -> None:
        super().__init__()
        if mode not in ("down", "up"):
            raise ValueError(f"ResBlock mode must be 'down' or 'up', got {mode!r}")
        self.conv1 = nn.Conv2d(in_channels, in_channels, 3, 1, 1)
        self.conv2 = nn.Conv2d(in_channels, out_channels, 3, 1, 1)
        self.skip = nn.Conv2d(in_channels, out_channels, 1, bias=False)
        self.scale_factor = 0.5 if mode == "down" else 2.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.leaky_relu_(self.conv1(x), _LRELU_SLOPE)
        out = _resample(out, self.scale_factor)
        out = F.leaky_relu_(self.conv2(out), _LRELU_SLOPE)
        # The bias-free 1x1 skip conv and the per-channel bilinear resampling commute, so run the
        # conv on the smaller side: after downsampling, before upsampling (same maths as the
        # official resample-then-conv, up to float rounding).
        if self.scale_factor < 1:
            return out + self.skip(_resample(x, self.scale_factor))
        return out + _resample(self.skip(x), self.scale_factor)


def _sft_branch(channels: int, out_channels: int) -> nn.Sequential:
    """conv3x3 -> LeakyReLU -> conv3x3 producing one SFT scale or shift map."""
    return nn.Sequential(
        nn.Conv2d(channels, channels, 3, 1, 1),
        nn.LeakyReLU(_LRELU_SLOPE, inplace=True),
        nn.Conv2d(channels, out_channels, 3, 1, 1),
    )


class GFPGANv1Clean(nn.Module):
    """GFPGAN v1.3 / v1.4 generator: U-Net encoder -> style codes + SFT maps -> StyleGAN2 decoder.

    Constructor arguments are the official ones; the published v1.3/v1.4 checkpoints use
    out_size=512, channel_multiplier=2, fix_decoder=False, input_is_latent=True, different_w=True,
    sft_half=True. `decoder_load_path` must be None (load a full checkpoint instead: this module
    never touches files). `fix_decoder` only freezes the decoder's parameters.
    """

    def __init__(
        self,
        out_size: int,
        num_style_feat: int = 512,
        channel_multiplier: int = 1,
        decoder_load_path: str | None = None,
        fix_decoder: bool = True,
        num_mlp: int = 8,
        input_is_latent: bool = False,
        different_w: bool = False,
        narrow: float = 1,
        sft_half: bool = False,
    ) -> None:
        super().__init__()
        if decoder_load_path is not None:
            raise ValueError(
                "GFPGANv1Clean(decoder_load_path=...) is not supported: build the model with "
                "decoder_load_path=None and load the full checkpoint's state_dict instead"
            )
        if out_size < 4 or out_size & (out_size - 1):
            raise ValueError(f"out_size must be a power of two >= 4, got {out_size}")
        self.out_size = out_size
        self.input_is_latent = input_is_latent
        self.different_w = different_w
        self.num_style_feat = num_style_feat
        self.log_size = int(math.log2(out_size))

        channels = _stylegan_channels(channel_multiplier, narrow * 0.5)  # U-Net: half the decoder

        self.conv_body_first = nn.Conv2d(3, channels[out_size], 1)
        in_channels = channels[out_size]
        self.conv_body_down = nn.ModuleList()
        for i in range(self.log_size, 2, -1):
            out_channels = channels[2 ** (i - 1)]
            self.conv_body_down.append(ResBlock(in_channels, out_channels, mode="down"))
            in_channels = out_channels
        self.final_conv = nn.Conv2d(in_channels, channels[4], 3, 1, 1)

        in_channels = channels[4]
        self.conv_body_up = nn.ModuleList()
        for i in range(3, self.log_size + 1):
            out_channels = channels[2**i]
            self.conv_body_up.append(ResBlock(in_channels, out_channels, mode="up"))
            in_channels = out_channels

        # Intermediate RGB heads; they only feed the `out_rgbs` list, never the image.
        self.toRGB = nn.ModuleList(nn.Conv2d(channels[2**i], 3, 1) for i in range(3, self.log_size + 1))

        num_latent = self.log_size * 2 - 2
        linear_out = num_latent * num_style_feat if different_w else num_style_feat
        self.final_linear = nn.Linear(channels[4] * 4 * 4, linear_out)

        self.stylegan_decoder = StyleGAN2GeneratorCSFT(
            out_size=out_size,
            num_style_feat=num_style_feat,
            num_mlp=num_mlp,
            channel_multiplier=channel_multiplier,
            narrow=narrow,
            sft_half=sft_half,
        )
        if fix_decoder:
            self.stylegan_decoder.requires_grad_(False)

        self.condition_scale = nn.ModuleList()
        self.condition_shift = nn.ModuleList()
        for i in range(3, self.log_size + 1):
            c = channels[2**i]
            sft_out = c if sft_half else c * 2
            self.condition_scale.append(_sft_branch(c, sft_out))
            self.condition_shift.append(_sft_branch(c, sft_out))

    def forward(
        self,
        x: torch.Tensor,
        return_latents: bool = False,
        return_rgb: bool = True,
        randomize_noise: bool = False,
        noise_generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Restore faces x [b, 3, out_size, out_size] in [-1, 1]; returns (image, out_rgbs).

        image: [b, 3, out_size, out_size], unbounded (clamp to [-1, 1] afterwards).
        out_rgbs: the U-Net's intermediate RGB images (8x8 .. out_size), [] if not return_rgb.
        randomize_noise: False (default) uses the stored noise buffers, so the output is
            deterministic. True draws fresh N(0, 1) noise per StyleConv, from `noise_generator`
            if given, else from the global RNG (then `torch.manual_seed(s)` reproduces the
            official GFPGAN call with randomize_noise=True bit for bit in fp32).
        return_latents: accepted for signature compatibility; like the official model, the
            latents are not returned.
        """
        del return_latents  # the official model computes and then discards them
        if noise_generator is not None and not randomize_noise:
            raise ValueError("noise_generator is only used with randomize_noise=True")
        if x.ndim != 4 or x.shape[1] != 3 or x.shape[2] != self.out_size or x.shape[3] != self.out_size:
            raise ValueError(f"expected input [b, 3, {self.out_size}, {self.out_size}], got {list(x.shape)}")

        feat = F.leaky_relu_(self.conv_body_first(x), _LRELU_SLOPE)
        unet_skips = []
        for block in self.conv_body_down:
            feat = block(feat)
            unet_skips.append(feat)
        feat = F.leaky_relu_(self.final_conv(feat), _LRELU_SLOPE)

        # flatten (not view): the logical NCHW order is what final_linear was trained on,
        # and a channels_last tensor needs a copy to get it.
        style_code = _linear_full_precision(self.final_linear, feat.flatten(1))
        if self.different_w:
            style_code = style_code.view(style_code.shape[0], -1, self.num_style_feat)

        conditions: list[torch.Tensor] = []
        out_rgbs: list[torch.Tensor] = []
        for i, block in enumerate(self.conv_body_up):
            feat = block(feat + unet_skips[-1 - i])
            conditions.append(self.condition_scale[i](feat))
            conditions.append(self.condition_shift[i](feat))
            if return_rgb:
                out_rgbs.append(self.toRGB[i](feat))

        image = self.stylegan_decoder(
            style_code,
            conditions,
            input_is_latent=self.input_is_latent,
            randomize_noise=randomize_noise,
            noise_generator=noise_generator,
        )
        return image, out_rgbs

"""Audio features in plain torch: resampling, fixed-length windows and log-mel spectrograms.

torchaudio is not a dependency, so the mel filter bank is built here (HTK mel scale, triangular filters)
and the spectrogram comes from `torch.stft`.

>>> wave = torch.sin(2 * torch.pi * 1000 * torch.arange(8000) / 8000)
>>> log_mel(wave, 8000, n_mels=40).shape
torch.Size([40, 63])
"""

from __future__ import annotations

import torch

from nasforge.errors import DataError

__all__ = ["fix_length", "hz_to_mel", "log_mel", "mel_filterbank", "mel_to_hz", "num_frames", "resample"]


def hz_to_mel(hz: torch.Tensor | float) -> torch.Tensor:
    """The HTK mel scale: ``2595 * log10(1 + hz / 700)``."""
    return 2595.0 * torch.log10(1.0 + torch.as_tensor(hz, dtype=torch.float64) / 700.0)


def mel_to_hz(mel: torch.Tensor | float) -> torch.Tensor:
    return 700.0 * (10.0 ** (torch.as_tensor(mel, dtype=torch.float64) / 2595.0) - 1.0)


def mel_filterbank(
    sample_rate: int, n_fft: int, n_mels: int, f_min: float = 0.0, f_max: float | None = None
) -> torch.Tensor:
    """Triangular filters of shape (n_mels, n_fft // 2 + 1), equally spaced on the mel scale, peak 1."""
    f_max = sample_rate / 2 if f_max is None else f_max
    if not 0 <= f_min < f_max <= sample_rate / 2:
        raise DataError(
            f"The mel filter bank needs 0 <= f_min < f_max <= sample_rate / 2 = {sample_rate / 2}, "
            f"but got f_min={f_min} and f_max={f_max}."
        )
    bins = torch.linspace(0, sample_rate / 2, n_fft // 2 + 1, dtype=torch.float64)
    edges = mel_to_hz(torch.linspace(float(hz_to_mel(f_min)), float(hz_to_mel(f_max)), n_mels + 2))
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (bins - lower) / (centre - lower)
    falling = (upper - bins) / (upper - centre)
    return torch.clamp(torch.minimum(rising, falling), min=0.0).float()


def num_frames(n_samples: int, hop_length: int) -> int:
    """Frames `log_mel` gives for `n_samples` samples (centred frames, as `torch.stft(center=True)`)."""
    return 1 + n_samples // hop_length


def log_mel(
    wave: torch.Tensor,
    sample_rate: int,
    n_mels: int = 40,
    n_fft: int = 256,
    hop_length: int = 128,
    f_min: float = 0.0,
    f_max: float | None = None,
    eps: float = 1e-6,
) -> torch.Tensor:
    """Log mel power spectrogram of `wave` (..., samples) -> (..., n_mels, frames), Hann window."""
    if wave.shape[-1] < n_fft // 2 + 1:
        raise DataError(f"log_mel needs at least {n_fft // 2 + 1} samples per wave, but got {wave.shape[-1]}.")
    lead = wave.shape[:-1]
    flat = wave.reshape(-1, wave.shape[-1]).float()
    spec = torch.stft(
        flat,
        n_fft=n_fft,
        hop_length=hop_length,
        window=torch.hann_window(n_fft, dtype=flat.dtype),
        center=True,
        pad_mode="constant",
        return_complex=True,
    )
    power = spec.real.square() + spec.imag.square()
    mel = mel_filterbank(sample_rate, n_fft, n_mels, f_min, f_max) @ power
    return torch.log(mel + eps).reshape(*lead, n_mels, mel.shape[-1])


def resample(wave: torch.Tensor, orig_rate: int, new_rate: int) -> torch.Tensor:
    """Band-limited resampling of `wave` (..., samples) by zero-padding or truncating its spectrum.

    Frequencies above the lower Nyquist frequency are dropped, so downsampling does not alias.
    """
    if orig_rate <= 0 or new_rate <= 0:
        raise DataError(f"Sample rates must be > 0, but got {orig_rate} and {new_rate}.")
    if orig_rate == new_rate:
        return wave
    n = wave.shape[-1]
    m = max(1, round(n * new_rate / orig_rate))
    spec = torch.fft.rfft(wave.double(), dim=-1)
    keep = min(spec.shape[-1], m // 2 + 1)
    out = torch.zeros(*spec.shape[:-1], m // 2 + 1, dtype=spec.dtype)
    out[..., :keep] = spec[..., :keep]
    return (torch.fft.irfft(out, n=m, dim=-1) * (m / n)).to(wave.dtype if wave.is_floating_point() else torch.float32)


def fix_length(wave: torch.Tensor, length: int, offset: int = 0) -> torch.Tensor:
    """Place `wave` (samples,) in a window of `length` samples starting at `offset` (negative: crop the start).

    What falls outside the window is cut off; the rest of the window is zeros.
    """
    out = torch.zeros(length, dtype=wave.dtype)
    src_start = max(0, -offset)
    dst_start = max(0, offset)
    count = min(wave.shape[-1] - src_start, length - dst_start)
    if count > 0:
        out[dst_start : dst_start + count] = wave[src_start : src_start + count]
    return out

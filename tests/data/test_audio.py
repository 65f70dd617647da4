"""Log-mel features, resampling and fixed-length windows in plain torch."""

from __future__ import annotations

import math

import pytest
import torch

from nasforge.data.audio import fix_length, hz_to_mel, log_mel, mel_filterbank, mel_to_hz, num_frames, resample
from nasforge.errors import DataError

RATE = 8000


def tone(hz: float, n: int = RATE, rate: int = RATE) -> torch.Tensor:
    return torch.sin(2 * math.pi * hz * torch.arange(n, dtype=torch.float64) / rate).float()


def test_mel_scale_round_trips_and_matches_htk() -> None:
    assert float(hz_to_mel(1000.0)) == pytest.approx(999.99, abs=0.01)  # HTK: 1000 Hz is about 1000 mel
    hz = torch.tensor([0.0, 440.0, 4000.0])
    assert torch.allclose(mel_to_hz(hz_to_mel(hz)), hz.double(), atol=1e-6)


def test_filterbank_is_triangles_with_unit_peaks_covering_the_band() -> None:
    bank = mel_filterbank(RATE, 256, 20)
    assert bank.shape == (20, 129)
    assert (bank >= 0).all() and bank.max() <= 1.0 + 1e-6
    centres = bank.argmax(1)
    assert (centres[1:] > centres[:-1]).all()  # filters rise in frequency
    with pytest.raises(DataError, match="f_max"):
        mel_filterbank(RATE, 256, 20, f_max=5000)


def test_log_mel_matches_a_direct_computation() -> None:
    wave = torch.randn(2, 1000)
    n_fft, hop = 256, 128
    got = log_mel(wave, RATE, n_mels=16, n_fft=n_fft, hop_length=hop)
    assert got.shape == (2, 16, num_frames(1000, hop))
    # frame 3 by hand: a Hann-windowed slice of the zero-padded signal, |FFT|^2, filter bank, log
    padded = torch.nn.functional.pad(wave, (n_fft // 2, n_fft // 2))
    window = 0.5 - 0.5 * torch.cos(2 * math.pi * torch.arange(n_fft) / n_fft)
    frame = padded[:, 3 * hop : 3 * hop + n_fft] * window
    power = torch.fft.rfft(frame.double()).abs().square()
    direct = torch.log(power @ mel_filterbank(RATE, n_fft, 16).double().T + 1e-6)
    assert torch.allclose(got[:, :, 3], direct.float(), atol=1e-3)


@pytest.mark.parametrize("hz", [300.0, 1000.0, 2500.0])
def test_a_tone_peaks_in_the_mel_band_of_its_frequency(hz: float) -> None:
    feats = log_mel(tone(hz), RATE, n_mels=40)
    band = int(feats.mean(1).argmax())
    bank = mel_filterbank(RATE, 256, 40)
    bin_of_tone = round(hz / (RATE / 2) * 128)
    assert band == int(bank[:, bin_of_tone].argmax())


def test_resample_keeps_a_tone_and_its_duration() -> None:
    wave = tone(440.0, 22050, 22050)
    out = resample(wave, 22050, RATE)
    assert out.shape == (RATE,)
    assert torch.allclose(out[100:-100], tone(440.0)[100:-100], atol=2e-3)
    assert resample(wave, 100, 100) is wave


def test_resample_drops_what_the_new_rate_cannot_hold() -> None:
    out = resample(tone(6000.0, 22050, 22050), 22050, RATE)  # above 4 kHz: no aliasing back in
    assert out.abs().max() < 1e-3


def test_fix_length_pads_crops_and_shifts() -> None:
    wave = torch.arange(1.0, 6.0)
    assert fix_length(wave, 8).tolist() == [1, 2, 3, 4, 5, 0, 0, 0]
    assert fix_length(wave, 8, offset=2).tolist() == [0, 0, 1, 2, 3, 4, 5, 0]
    assert fix_length(wave, 3, offset=-1).tolist() == [2, 3, 4]
    assert fix_length(wave, 3, offset=9).tolist() == [0, 0, 0]

"""The raw-input readers of an export, one per preprocessing kind (no training: they are checked directly)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from nasforge.errors import DataError, UnknownNameError
from nasforge.export.inputs import INPUT_KINDS, inputs_for

IMAGE = {"kind": "image", "pixel_max": 255, "scale": 1 / 255, "shift": 0.5, "classes": ["a", "b"], "shape": [3, 4, 4]}


def test_images_come_one_or_many_as_arrays_or_tensors() -> None:
    rgb = inputs_for(IMAGE, (3, 4, 4))
    one = np.arange(48, dtype=np.float32).reshape(3, 4, 4)
    torch.testing.assert_close(rgb.encode(one), torch.from_numpy(one / 255 - 0.5)[None])
    for batch in (np.stack([one, one]), [one, one], torch.from_numpy(np.stack([one, one]))):
        assert rgb.encode(batch).shape == (2, 3, 4, 4)
    grey = inputs_for({**IMAGE, "shape": [1, 4, 4]}, (1, 4, 4))
    assert grey.encode(np.zeros((4, 4))).shape == (1, 1, 4, 4)  # (H, W): one image
    assert grey.encode(np.zeros((5, 4, 4))).shape == (5, 1, 4, 4)  # (N, H, W)
    with pytest.raises(DataError, match=r"Inputs must be images of 4 x 4 pixels in 0..255 .* got arrays of shape"):
        rgb.encode([one, np.zeros((3, 5, 5))])


def test_lpc_frames_are_normalised_padded_and_masked() -> None:
    prep = {"kind": "lpc_frames", "mean": [1.0, 2.0], "std": [2.0, 4.0], "max_frames": 4}
    reader = inputs_for(prep, (3, 4))
    x = reader.encode([np.array([[3.0, 6.0], [1.0, 2.0]]), np.ones((6, 2))])
    assert x.shape == (2, 3, 4)
    torch.testing.assert_close(x[0], torch.tensor([[1.0, 0, 0, 0], [1.0, 0, 0, 0], [1.0, 1, 0, 0]]))
    assert x[1, 2].tolist() == [1.0] * 4  # six frames cut to four
    with pytest.raises(DataError, match=r"utterances as \(frames, 2\) arrays"):
        reader.encode([np.ones((3, 5))])


def test_waveforms_are_centred_in_the_window_and_files_resampled(tmp_path: Path) -> None:
    import wave

    from nasforge.data.audio import fix_length, log_mel

    prep = {"kind": "log_mel", "sample_rate": 8000, "window_samples": 4000, "n_fft": 256, "hop_length": 128}
    prep |= {"n_mels": 8, "mean": [0.0] * 8, "std": [1.0] * 8, "classes": ["x", "y"]}
    reader = inputs_for(prep, (8, 32))
    clip = np.sin(np.arange(1000) / 5).astype(np.float32)
    want = log_mel(fix_length(torch.from_numpy(clip), 4000, 1500), 8000, 8, 256, 128)
    torch.testing.assert_close(reader.encode(clip)[0], want)
    with wave.open(str(tmp_path / "c.wav"), "wb") as f:  # 16 kHz stereo: averaged and resampled
        f.setnchannels(2)
        f.setsampwidth(2)
        f.setframerate(16000)
        f.writeframes(np.zeros((2000, 2), dtype="<i2").tobytes())
    (wave_read,) = reader.read(tmp_path / "c.wav")
    assert wave_read.shape == (1000,)
    with pytest.raises(DataError, match=r"waveforms \(1-D arrays at 8000 Hz, or WAV files\)"):
        reader.encode([np.zeros((2, 10))])
    with pytest.raises(DataError, match=r"Cannot read .* as a WAV file"):
        reader.read(tmp_path / "missing.wav")


def test_an_unknown_kind_names_the_known_ones() -> None:
    assert {"image", "text", "table", "log_mel", "lpc_frames", "tensor"} <= set(INPUT_KINDS)
    with pytest.raises(UnknownNameError, match=r"Unknown input kind 'imag'. Did you mean 'image'"):
        inputs_for({"kind": "imag"}, (1,))

"""Raw inputs -> the exported network's input batch, one class per kind of `preprocessing.json`.

A dataset writes what its raw data needs into `DataSplits.info["preprocessing"]` (exported as
`preprocessing.json`), with a `kind`: `image` (pixels scaled and shifted), `text` (a fitted tokenizer),
`table` (a table's column encoding), `log_mel` (waveforms to normalised log-mel spectrograms), `lpc_frames`
(frames of LPC cepstra, normalised and padded). An export without one (the user's own tensors) reads
arrays of the input shape as they are (`tensor`). Each kind is found through `INPUT_KINDS`, so a new
dataset adds its own by registering a `BaseInputs` subclass (`translation`, source texts for a translation
model, lives in `nasforge.export.translator`). `encode` accepts what a Python user holds (strings, dicts,
arrays, file paths); `read` turns one file (as the `predict` command and the server get it) into such
inputs; `from_json` turns a JSON request's `inputs` into them.
"""

from __future__ import annotations

import csv
import wave
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from nasforge.errors import DataError
from nasforge.registry import Registry

__all__ = ["INPUT_KINDS", "BaseInputs", "inputs_for", "read_wav"]


class BaseInputs(ABC):
    """How raw inputs of one kind become a float32 batch of `input_shape` for the exported network."""

    #: what `encode` accepts, for error messages and the export's README
    accepts = "arrays"
    #: the JSON Schema of one input of a served request (`nasforge serve`, `GET /schema`)
    json_item: ClassVar[dict[str, Any]] = {"type": "array", "description": "nested lists of numbers"}
    #: whether a string is itself one input (a text), so that `nasforge predict` takes texts besides files
    takes_strings: ClassVar[bool] = False

    def __init__(self, preprocessing: Mapping[str, Any], input_shape: Sequence[int]) -> None:
        self.preprocessing = dict(preprocessing)
        self.input_shape = tuple(int(d) for d in input_shape)

    @property
    def classes(self) -> list[str] | None:
        """The class names, in the order of the network's outputs, when the data named them."""
        classes = self.preprocessing.get("classes")
        return [str(c) for c in classes] if classes is not None else None

    def encode(self, inputs: Any) -> torch.Tensor:
        """`inputs` (raw, many) as a float32 batch (N, *input_shape); a `DataError` says what was expected."""
        x = self._encode(inputs)
        if tuple(x.shape[1:]) != self.input_shape:
            raise DataError(
                f"The inputs encode to shape {tuple(x.shape[1:])} per sample, but the model reads "
                f"{self.input_shape}; give {self.accepts}."
            )
        return x.float()

    @abstractmethod
    def _encode(self, inputs: Any) -> torch.Tensor:
        """The batch for `inputs`."""

    def read(self, path: Path) -> list[Any]:
        """The raw inputs in the file `path`: by default a .npy array, one input per first-axis row."""
        if path.suffix.lower() != ".npy":
            raise DataError(f"{str(path)!r} must be a .npy array of inputs for this model ({self.accepts}).")
        return list(_load_npy(path))

    def request_schema(self) -> dict[str, Any]:
        """The JSON Schema (draft 2020-12) of a `POST /predict` body for this model."""
        return {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": "nasforge predict request",
            "type": "object",
            "required": ["inputs"],
            "properties": {
                "inputs": {"type": "array", "minItems": 1, "items": self.json_item, "description": self.accepts}
            },
            "additionalProperties": False,
        }

    def from_json(self, value: list[Any]) -> Any:
        """A JSON request's `inputs` (a list) as what `encode` accepts: by default nested number lists."""
        try:
            return [np.asarray(v, dtype=np.float32) for v in value]
        except (TypeError, ValueError) as exc:
            raise DataError(f"Each input must be a nested list of numbers ({self.accepts}): {exc}") from exc


INPUT_KINDS: Registry[BaseInputs] = Registry("input kind")


def inputs_for(preprocessing: Mapping[str, Any] | None, input_shape: Sequence[int]) -> BaseInputs:
    """The `BaseInputs` for an export's preprocessing (None: arrays as they are)."""
    kind = str((preprocessing or {}).get("kind", "tensor"))
    return INPUT_KINDS.get(kind)(preprocessing or {}, input_shape)


def _stack(inputs: Any, ndim: int, what: str) -> np.ndarray:
    """Many arrays of `ndim` dimensions (a list of them, or one array with a batch axis in front)."""
    if isinstance(inputs, torch.Tensor):
        inputs = inputs.detach().cpu().numpy()
    if isinstance(inputs, np.ndarray):
        arrays = list(inputs) if inputs.ndim == ndim + 1 else [inputs]
    elif isinstance(inputs, (list, tuple)):
        arrays = [np.asarray(a.detach().cpu() if isinstance(a, torch.Tensor) else a) for a in inputs]
    else:
        raise DataError(
            f"Inputs must be {what} (a list of them or one array with a batch axis), but got {inputs!r:.80}."
        )
    if not arrays:
        raise DataError(f"No inputs were given; give {what}.")
    shapes = {a.shape for a in arrays}
    if len(shapes) != 1 or arrays[0].ndim != ndim:
        raise DataError(f"Inputs must be {what}, but got arrays of shape {sorted(shapes)[:3]}.")
    return np.stack(arrays).astype(np.float32)


def _load_npy(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise DataError(f"Cannot read {str(path)!r} as a .npy array: {exc}") from exc


@INPUT_KINDS.register("tensor")
class TensorInputs(BaseInputs):
    """Arrays of the network's input shape, read as they are (data without preprocessing)."""

    @property
    def accepts(self) -> str:  # type: ignore[override]
        return f"arrays of shape {self.input_shape}"

    def _encode(self, inputs: Any) -> torch.Tensor:
        return torch.from_numpy(_stack(inputs, len(self.input_shape), self.accepts))


@INPUT_KINDS.register("image")
class ImageInputs(BaseInputs):
    """Images as raw pixels (0..`pixel_max`), arrays (H, W) or (C, H, W) or image files; scaled as in
    training (`x * scale - shift`)."""

    @property
    def accepts(self) -> str:  # type: ignore[override]
        c, h, w = self.input_shape
        return f"images of {h} x {w} pixels in 0..{self.preprocessing['pixel_max']:g} ((H, W) or ({c}, H, W) arrays)"

    def _encode(self, inputs: Any) -> torch.Tensor:
        if isinstance(inputs, (str, Path)) or (
            isinstance(inputs, list) and inputs and isinstance(inputs[0], (str, Path))
        ):
            paths = [inputs] if isinstance(inputs, (str, Path)) else inputs
            inputs = [image for p in paths for image in self.read(Path(p))]
        if isinstance(inputs, torch.Tensor):
            inputs = inputs.detach().cpu().numpy()
        if isinstance(inputs, np.ndarray) and (inputs.ndim == 2 or inputs.shape == self.input_shape):
            inputs = [inputs]  # one image
        channels = self.input_shape[0]
        arrays = [np.asarray(a) for a in (list(inputs) if isinstance(inputs, (np.ndarray, list, tuple)) else [inputs])]
        arrays = [a[None] if a.ndim == 2 and channels == 1 else a for a in arrays]
        x = _stack(arrays, 3, self.accepts)
        scale, shift = np.float32(self.preprocessing["scale"]), np.float32(self.preprocessing["shift"])
        x *= scale
        x -= shift
        return torch.from_numpy(x)

    def read(self, path: Path) -> list[Any]:
        if path.suffix.lower() == ".npy":
            array = _load_npy(path)
            return list(array) if array.ndim in (3, 4) and array.shape[-2:] == self.input_shape[-2:] else [array]
        try:
            from PIL import Image
        except ImportError as exc:
            raise DataError(
                f"Reading the image {str(path)!r} needs Pillow (pip install pillow); or give .npy."
            ) from exc
        try:
            with Image.open(path) as image:
                mode = "L" if self.input_shape[0] == 1 else "RGB"
                array = np.asarray(image.convert(mode), dtype=np.float32)
        except OSError as exc:
            raise DataError(f"Cannot read {str(path)!r} as an image: {exc}") from exc
        array = array * (float(self.preprocessing["pixel_max"]) / 255.0)
        return [array if array.ndim == 2 else array.transpose(2, 0, 1)]


@INPUT_KINDS.register("text")
class TextInputs(BaseInputs):
    """Texts (strings), tokenized by the exported tokenizer into `max_length` ids."""

    accepts = "texts (strings)"
    json_item: ClassVar[dict[str, Any]] = {"type": "string", "minLength": 0}
    takes_strings = True
    #: the column of a CSV file that holds the texts (else its only column)
    column = "text"

    def __init__(self, preprocessing: Mapping[str, Any], input_shape: Sequence[int]) -> None:
        super().__init__(preprocessing, input_shape)
        self._tokenizer: Any = None

    def texts(self, inputs: Any) -> list[str]:
        """`inputs` (one string, or many) as a non-empty list of strings; a `DataError` names the first other."""
        texts = [inputs] if isinstance(inputs, str) else list(inputs)
        bad = [i for i, t in enumerate(texts) if not isinstance(t, str)]
        if bad or not texts:
            got = type(texts[bad[0]]).__name__ if bad else "nothing"
            raise DataError(f"Inputs must be {self.accepts}, but input {bad[0] if bad else 0} is {got}.")
        return texts

    def _encode(self, inputs: Any) -> torch.Tensor:
        texts = self.texts(inputs)
        if self._tokenizer is None:
            from nasforge.data.tokenizer import tokenizer_from_dict

            self._tokenizer = tokenizer_from_dict(self.preprocessing["tokenizer"])
        ids = self._tokenizer.encode_batch(texts, int(self.preprocessing["max_length"]))
        return torch.from_numpy(ids.astype(np.float32))

    def read(self, path: Path) -> list[Any]:
        """One text per line (blank lines skipped); a .csv's `column` (or its only column)."""
        if path.suffix.lower() == ".csv":
            rows = _read_csv(path)
            columns = list(rows[0]) if rows else []
            column = self.column if self.column in columns else columns[0] if len(columns) == 1 else None
            if column is None:
                raise DataError(
                    f"{str(path)!r} must have a {self.column!r} column (or only one column), but has {columns}."
                )
            return [row[column] for row in rows]
        try:
            return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        except (OSError, UnicodeDecodeError) as exc:
            raise DataError(f"Cannot read {str(path)!r} as UTF-8 text, one input per line: {exc}") from exc

    def from_json(self, value: list[Any]) -> Any:
        return value


@INPUT_KINDS.register("table")
class TableInputs(BaseInputs):
    """Table rows (mappings from column name to raw value, a pandas DataFrame, or a CSV file), encoded by the
    exported column encoding."""

    json_item: ClassVar[dict[str, Any]] = {
        "type": "object",
        "description": "a row: column name to raw value",
        "additionalProperties": {"type": ["string", "number", "boolean", "null"]},
    }

    @property
    def accepts(self) -> str:  # type: ignore[override]
        names = [s["name"] for s in self.preprocessing["columns"]]
        return f"rows with the columns {names[:12]}{' ...' if len(names) > 12 else ''}"

    def _encode(self, inputs: Any) -> torch.Tensor:
        from nasforge.data.table_encoding import encode_rows

        if isinstance(inputs, (str, Path)):
            inputs = self.read(Path(inputs))
        elif hasattr(inputs, "to_dict") and hasattr(inputs, "columns"):  # a pandas DataFrame
            inputs = inputs.to_dict("records")
        elif isinstance(inputs, Mapping):
            inputs = [inputs]
        return torch.from_numpy(encode_rows(self.preprocessing, list(inputs)))

    def read(self, path: Path) -> list[Any]:
        return list(_read_csv(path))

    def from_json(self, value: list[Any]) -> Any:
        return value


def _read_csv(path: Path) -> list[dict[str, str]]:
    try:
        with path.open(newline="", encoding="utf-8") as f:
            return [dict(row) for row in csv.DictReader(f)]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"Cannot read {str(path)!r} as a CSV file with a header row: {exc}") from exc


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """A 16-bit PCM WAV file as mono float32 samples in [-1, 1] (channels averaged) and its sample rate."""
    try:
        with wave.open(str(path)) as f:
            rate, width, channels = f.getframerate(), f.getsampwidth(), f.getnchannels()
            frames = f.readframes(f.getnframes())
    except (OSError, wave.Error, EOFError) as exc:
        raise DataError(f"Cannot read {str(path)!r} as a WAV file: {exc}") from exc
    if width != 2:
        raise DataError(f"{str(path)!r} must hold 16-bit PCM samples, but holds {8 * width}-bit ones; convert it.")
    samples = np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32768.0
    return samples.reshape(-1, channels).mean(axis=1), rate


@INPUT_KINDS.register("log_mel")
class LogMelInputs(BaseInputs):
    """Waveforms (1-D arrays at `sample_rate`, or WAV files, resampled if needed), centred in the training
    window, turned into log-mel spectrograms and normalised as in training."""

    @property
    def accepts(self) -> str:  # type: ignore[override]
        return f"waveforms (1-D arrays at {self.preprocessing['sample_rate']} Hz, or WAV files)"

    def _encode(self, inputs: Any) -> torch.Tensor:
        from nasforge.data.audio import fix_length, log_mel

        p = self.preprocessing
        if isinstance(inputs, (str, Path)):
            inputs = self.read(Path(inputs))
        elif isinstance(inputs, np.ndarray) and inputs.ndim == 1:
            inputs = [inputs]
        waves = [np.asarray(w, dtype=np.float32) for w in inputs]
        if not waves or any(w.ndim != 1 or len(w) == 0 for w in waves):
            raise DataError(f"Inputs must be {self.accepts}, but got arrays of shape {[w.shape for w in waves][:3]}.")
        window = int(p["window_samples"])
        batch = torch.stack(
            [fix_length(torch.from_numpy(w), window, (window - len(w)) // 2) for w in waves]  # centred
        )
        feats = log_mel(batch, int(p["sample_rate"]), int(p["n_mels"]), int(p["n_fft"]), int(p["hop_length"]))
        mean = torch.tensor(p["mean"], dtype=torch.float32)[:, None]
        std = torch.tensor(p["std"], dtype=torch.float32)[:, None]
        feats = (feats - mean) / std
        return feats.reshape(len(waves), *self.input_shape)

    def read(self, path: Path) -> list[Any]:
        if path.suffix.lower() == ".npy":
            array = _load_npy(path)
            return list(array) if array.ndim == 2 else [array]
        samples, rate = read_wav(path)
        want = int(self.preprocessing["sample_rate"])
        if rate != want:
            from nasforge.data.audio import resample

            samples = resample(torch.from_numpy(samples), rate, want).numpy()
        return [samples]


@INPUT_KINDS.register("lpc_frames")
class LPCFrameInputs(BaseInputs):
    """Utterances as (frames, coefficients) arrays of LPC cepstra, normalised with the training frames'
    mean and std and zero-padded (or cut) to `max_frames`, a mask channel marking the real frames."""

    @property
    def accepts(self) -> str:  # type: ignore[override]
        return f"utterances as (frames, {len(self.preprocessing['mean'])}) arrays of LPC cepstra"

    def _encode(self, inputs: Any) -> torch.Tensor:
        p = self.preprocessing
        mean, std = np.asarray(p["mean"], dtype=np.float64), np.asarray(p["std"], dtype=np.float64)
        n_coeffs, max_frames = len(mean), int(p["max_frames"])
        if isinstance(inputs, np.ndarray) and inputs.ndim == 2:
            inputs = [inputs]
        utterances = [np.asarray(u, dtype=np.float64) for u in inputs]
        if not utterances or any(u.ndim != 2 or u.shape[1] != n_coeffs for u in utterances):
            raise DataError(f"Inputs must be {self.accepts}, but got shapes {[u.shape for u in utterances][:3]}.")
        out = np.zeros((len(utterances), n_coeffs + 1, max_frames), dtype=np.float32)
        for i, u in enumerate(utterances):
            t = min(len(u), max_frames)
            out[i, :n_coeffs, :t] = ((u - mean) / std)[:t].T
            out[i, n_coeffs, :t] = 1.0
        return torch.from_numpy(out)

    def read(self, path: Path) -> list[Any]:
        """A .npy of one utterance (frames, coefficients), or a text file of rows of coefficients with utterances
        separated by blank lines (the UCI layout)."""
        if path.suffix.lower() == ".npy":
            array = _load_npy(path)
            return list(array) if array.ndim == 3 else [array]
        try:
            blocks = path.read_text().strip().split("\n\n")
            return [np.array([[float(v) for v in line.split()] for line in b.strip().splitlines()]) for b in blocks]
        except (OSError, ValueError) as exc:
            raise DataError(
                f"Cannot read {str(path)!r} as rows of numbers (utterances apart by blank lines): {exc}"
            ) from exc

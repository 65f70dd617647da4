"""`Predictor`: an exported model that reads raw inputs and answers with class names and probabilities.

`load(path)` (also `nasforge.load`) rebuilds the network of an export folder (a single network or an
ensemble, which answers as one) and the preprocessing its data needed (`preprocessing.json`, through
`nasforge.export.inputs`): texts are tokenized, table rows encoded, images scaled, waveforms turned into
spectrograms, exactly as the training data was.

>>> model = load("nasforge-out/rotten-tomatoes")  # doctest: +SKIP
>>> model.predict(["a triumph", "dull and far too long"])  # doctest: +SKIP
['fresh', 'rotten']
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from nasforge.errors import DataError, NasforgeError
from nasforge.export.inputs import BaseInputs, inputs_for

__all__ = ["Predictor", "load"]


class Predictor:
    """`network` with the `inputs` that turn raw inputs into its batches, and its `classes` (names in the
    order of its outputs)."""

    def __init__(self, network: nn.Module, inputs: BaseInputs, classes: Sequence[str] | None = None) -> None:
        self.network = network.eval()
        self.inputs = inputs
        given = classes if classes is not None else inputs.classes
        self.classes = [str(c) for c in given] if given is not None else None

    def __repr__(self) -> str:
        kind = type(self.inputs).__name__
        return f"Predictor({type(self.network).__name__}, {kind}, classes={self.classes!r:.80})"

    def predict_proba(self, inputs: Any, batch_size: int = 256) -> np.ndarray:
        """Class probabilities (N, classes) for raw `inputs` (see `inputs.accepts` for what they may be)."""
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise DataError(f"`batch_size` of Predictor.predict_proba must be an int >= 1, but got {batch_size!r}.")
        x = self.inputs.encode(inputs)
        out = []
        with torch.no_grad():
            for start in range(0, len(x), batch_size):
                out.append(torch.softmax(self.network(x[start : start + batch_size]), dim=-1))
        probs = torch.cat(out).numpy()
        if self.classes is not None and probs.shape[1] != len(self.classes):
            raise NasforgeError(
                f"The network gives {probs.shape[1]} outputs but the export names {len(self.classes)} classes; "
                "the folder mixes files of two exports, export again."
            )
        return probs

    def predict(self, inputs: Any, batch_size: int = 256) -> list[str]:
        """The most probable class name of each raw input (its index as a string when the data named none)."""
        probs = self.predict_proba(inputs, batch_size)
        names = self.class_names(probs.shape[1])
        return [names[i] for i in probs.argmax(axis=1)]

    def class_names(self, count: int) -> list[str]:
        """`classes`, or "0", "1", ... for `count` unnamed outputs."""
        return self.classes if self.classes is not None else [str(i) for i in range(count)]

    def read(self, path: str | os.PathLike[str]) -> list[Any]:
        """The raw inputs stored in a file (a CSV, text lines, .npy, an image or a WAV, by the model's kind)."""
        file = Path(path)
        if not file.is_file():
            raise DataError(f"{str(file)!r} is not a file; give a file of inputs ({self.inputs.accepts}).")
        return self.inputs.read(file)


def load(path: str | os.PathLike[str]) -> Predictor:
    """The model exported to the folder `path` (by `nasforge run` / `nasforge export`), ready to `predict`."""
    from nasforge.export.exporter import load_model

    folder = Path(path)
    network = load_model(folder)
    prep_file, manifest_file = folder / "preprocessing.json", folder / "export.json"
    preprocessing = json.loads(prep_file.read_text()) if prep_file.is_file() else None
    manifest = json.loads(manifest_file.read_text()) if manifest_file.is_file() else {}
    shape = manifest.get("input_shape")
    if shape is None:
        raise NasforgeError(
            f"{str(manifest_file)!r} does not give the model's input shape; export it again with nasforge >= this "
            "version (or a format other than pt alone), so that raw inputs can be checked."
        )
    return Predictor(network, inputs_for(preprocessing, shape))

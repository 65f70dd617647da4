"""`Predictor`: an exported model that reads raw inputs and answers: class names and probabilities, or
translations.

`load(path)` (also `nasforge.load`) rebuilds the network of an export folder (a single network or an
ensemble, which answers as one), the preprocessing its data needed (`preprocessing.json`, through
`nasforge.export.inputs`): texts are tokenized, table rows encoded, images scaled, waveforms turned into
spectrograms, exactly as the training data was; and what its outputs mean (`nasforge.export.outputs`, by
the data's task): class names, or translated strings with their placeholders put back.

>>> model = load("nasforge-out/rotten-tomatoes")  # doctest: +SKIP
>>> model.predict(["a triumph", "dull and far too long"])  # doctest: +SKIP
['fresh', 'rotten']
>>> load("nasforge-out/translation").predict(["Cannot open %s"])  # doctest: +SKIP
["Impossible d'ouvrir %s"]
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from nasforge.errors import DataError, NasforgeError
from nasforge.export.inputs import BaseInputs, inputs_for
from nasforge.export.outputs import BaseOutputs, ClassOutputs, outputs_for

__all__ = ["Predictor", "load"]


class Predictor:
    """`network` with the `inputs` that turn raw inputs into its batches and the `outputs` that turn its outputs
    into answers (default: classes, named `classes` in the order of its outputs when given)."""

    def __init__(
        self,
        network: nn.Module,
        inputs: BaseInputs,
        classes: Sequence[str] | None = None,
        outputs: BaseOutputs | None = None,
    ) -> None:
        self.network = network.eval()
        self.inputs = inputs
        self.outputs = outputs if outputs is not None else ClassOutputs(inputs.preprocessing, classes)

    @property
    def classes(self) -> list[str] | None:
        """The class names, in the order of the network's outputs (None: unnamed, or a task without classes)."""
        return self.outputs.classes

    def __repr__(self) -> str:
        kind, task = type(self.inputs).__name__, type(self.outputs).__name__
        return f"Predictor({type(self.network).__name__}, {kind}, {task}, classes={self.classes!r:.80})"

    def answer(self, inputs: Any, batch_size: int = 256) -> dict[str, Any]:
        """The answer for raw `inputs` as `nasforge serve` returns it: `predictions` (one string per input), with
        `probabilities` and `classes` for a classifier."""
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise DataError(f"`batch_size` of Predictor must be an int >= 1, but got {batch_size!r}.")
        return self.outputs.answer(self.network, self.inputs, inputs, batch_size)

    def predict_proba(self, inputs: Any, batch_size: int = 256) -> np.ndarray:
        """Class probabilities (N, classes) for raw `inputs` (see `inputs.accepts` for what they may be)."""
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise DataError(f"`batch_size` of Predictor.predict_proba must be an int >= 1, but got {batch_size!r}.")
        return self.outputs.probabilities(self.network, self.inputs, inputs, batch_size)

    def predict(self, inputs: Any, batch_size: int = 256) -> list[str]:
        """One answer per raw input: the most probable class name (its index as a string when the data named
        none), or the translation."""
        return list(self.answer(inputs, batch_size)["predictions"])

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
    return Predictor(network, inputs_for(preprocessing, shape), outputs=outputs_for(preprocessing))

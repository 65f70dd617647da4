"""What an exported network answers, one class per task of `preprocessing.json`.

A dataset names its task in `DataSplits.info["preprocessing"]["task"]`: `classification` (the default: class
names and probabilities) or `translation` (translated strings, registered by `nasforge.export.translator`).
Each is found through `OUTPUT_KINDS`, so a new task adds its own by registering a `BaseOutputs` subclass.
`answer` runs the network on raw inputs (through the export's `BaseInputs`) and gives the JSON answer that
`Predictor.answer` and `nasforge serve` return; `table` gives the CSV that `nasforge predict` writes.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from nasforge.errors import NasforgeError
from nasforge.export.inputs import BaseInputs
from nasforge.registry import Registry

__all__ = ["OUTPUT_KINDS", "BaseOutputs", "ClassOutputs", "outputs_for"]


class BaseOutputs(ABC):
    """How a network's outputs for raw inputs become answers: one string per input (`predictions`), and
    whatever else the task gives."""

    #: what the model answers, for error messages
    answers = "predictions"
    #: the class names, in the order of the network's outputs (None: the task has no classes)
    classes: list[str] | None = None

    def __init__(self, preprocessing: Mapping[str, Any]) -> None:
        self.preprocessing = dict(preprocessing)

    @abstractmethod
    def answer(self, network: nn.Module, inputs: BaseInputs, raw: Any, batch_size: int) -> dict[str, Any]:
        """The JSON-serialisable answer for the raw inputs `raw`, read through `inputs`, `batch_size` at a time:
        `predictions` (one string per input) first."""

    @abstractmethod
    def table(self, names: Sequence[str], raw: Sequence[Any], answer: Mapping[str, Any]) -> list[list[str]]:
        """The CSV rows of `nasforge predict`: a header, then one row per input (`names`: the file each came
        from, `raw`: the input as read, `answer`: what `answer` gave for them)."""

    def probabilities(self, network: nn.Module, inputs: BaseInputs, raw: Any, batch_size: int) -> np.ndarray:
        """Class probabilities (N, classes), for a task that has classes."""
        raise NasforgeError(
            f"This model answers {self.answers}, not classes, so it has no class probabilities; call predict."
        )


OUTPUT_KINDS: Registry[BaseOutputs] = Registry("output kind")


def outputs_for(preprocessing: Mapping[str, Any] | None) -> BaseOutputs:
    """The `BaseOutputs` for an export's preprocessing (its `task`; none: classification)."""
    task = str((preprocessing or {}).get("task", "classification"))
    return OUTPUT_KINDS.get(task)(preprocessing or {})


@OUTPUT_KINDS.register("classification")
class ClassOutputs(BaseOutputs):
    """Class probabilities (the softmax of the network's logits) and the most probable class's name (its index
    as a string when the data named no classes)."""

    answers = "classes"

    def __init__(self, preprocessing: Mapping[str, Any], classes: Sequence[str] | None = None) -> None:
        super().__init__(preprocessing)
        given = classes if classes is not None else self.preprocessing.get("classes")
        self.classes = [str(c) for c in given] if given is not None else None

    def class_names(self, count: int) -> list[str]:
        """`classes`, or "0", "1", ... for `count` unnamed outputs."""
        return self.classes if self.classes is not None else [str(i) for i in range(count)]

    def probabilities(self, network: nn.Module, inputs: BaseInputs, raw: Any, batch_size: int) -> np.ndarray:
        x = inputs.encode(raw)
        out = []
        with torch.no_grad():
            for start in range(0, len(x), batch_size):
                out.append(torch.softmax(network(x[start : start + batch_size]), dim=-1))
        probs = torch.cat(out).numpy()
        if self.classes is not None and probs.shape[1] != len(self.classes):
            raise NasforgeError(
                f"The network gives {probs.shape[1]} outputs but the export names {len(self.classes)} classes; "
                "the folder mixes files of two exports, export again."
            )
        return probs

    def answer(self, network: nn.Module, inputs: BaseInputs, raw: Any, batch_size: int) -> dict[str, Any]:
        probs = self.probabilities(network, inputs, raw, batch_size)
        names = self.class_names(probs.shape[1])
        return {
            "predictions": [names[i] for i in probs.argmax(axis=1)],
            "probabilities": probs.round(6).tolist(),
            "classes": names,
        }

    def table(self, names: Sequence[str], raw: Sequence[Any], answer: Mapping[str, Any]) -> list[list[str]]:
        rows = [["input", "prediction", *(f"p_{c}" for c in answer["classes"])]]
        for name, label, probs in zip(names, answer["predictions"], answer["probabilities"], strict=True):
            rows.append([name, label, *(f"{p:.6f}" for p in probs)])
        return rows

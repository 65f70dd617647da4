"""The README.md written into every export folder: what each file is and how to use the model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["write_readme"]

#: what each file of an export folder is (those present are listed)
FILES = {
    "weights.pt": "the trained weights, a plain state dict (`torch.load(..., weights_only=True)`)",
    "model.torchscript.pt": "the network as TorchScript: `torch.jit.load` runs it without nasforge",
    "model.onnx": "the network as ONNX (dynamic batch axis), for onnxruntime and other runtimes",
    "model.py": "the network as plain PyTorch source: `from model import build; net = build('weights.pt')`",
    "arch.json": "the chosen architecture (the best member's, for an ensemble)",
    "space.json": "how to rebuild the search space the architecture belongs to (needs nasforge)",
    "ensemble.json": "the ensemble's members: trial, seed, architecture, epochs, training time, test accuracy",
    "preprocessing.json": "how raw inputs become the network's input (tokenizer, table encoding, scaling, "
    "spectrogram settings) and the class names",
    "metrics.json": "the search's, the retrain's and the test's figures (`test_acc`: accuracy on the held-out test "
    "split)",
    "export.json": "the files, their measured agreement with the network, the input shape and the retrain's "
    "per-member epochs and time",
    "README.md": "this file",
}

#: what a translation export's files are, where they differ
TRANSLATION_FILES = {
    "preprocessing.json": "the subword tokenizer (a SentencePiece model, base64) and the longest text in tokens",
    "metrics.json": "the search's, the retrain's and the test's figures (`test_bleu`, `test_chrf`: the held-out "
    "test part translated by beam search; `test_copy_bleu`: copying the source)",
    "model.torchscript.pt": "the network's teacher-forced forward as TorchScript (decoding needs a loop around it)",
}

#: per kind of input: what `predict` takes in Python, a comment on it, and a file for the command line
INPUT_EXAMPLES = {
    "text": ('["a first text", "a second one"]', "texts", "texts.txt  # one text per line, or a CSV's text column"),
    "table": ('"rows.csv"', "a CSV path, a list of dicts or a DataFrame", "rows.csv  # a header row names the columns"),
    "image": ("images", "arrays (H, W) or (C, H, W) of raw pixels, or image files", "images.npy  # or image files"),
    "log_mel": ("waveforms", "1-D float arrays at the training sample rate, or WAV files", "clip.wav  # or .npy"),
    "lpc_frames": ("utterances", "(frames, coefficients) arrays", "utterance.npy"),
    "tensor": ("x", "arrays of the input shape", "inputs.npy  # (N, *input_shape)"),
}


def write_readme(folder: Path) -> Path:
    """Write `folder`/README.md from the files the export wrote there; returns its path."""
    manifest = _json(folder / "export.json")
    metrics = _json(folder / "metrics.json")
    prep = _json(folder / "preprocessing.json")
    members = _json(folder / "ensemble.json").get("members")
    translation = prep.get("task") == "translation"
    if translation:
        lines = _translator_intro(folder, prep, metrics)
    else:
        lines = _classifier_intro(folder, prep, metrics, manifest.get("input_shape"), members)
    lines += ["", "## Files", ""]
    present = sorted({p.name for p in folder.iterdir() if p.is_file()} | {"README.md"})
    files_said = {**FILES, **(TRANSLATION_FILES if translation else {})}
    lines += [f"- `{name}`: {files_said.get(name, 'written by this export')}" for name in present]
    lines += _translator_usage(folder) if translation else _classifier_usage(folder, prep)
    files = manifest.get("files", {})
    call = "logits = net(x)"
    if "torchscript" in files:
        lines += ["```python", "import torch", "", 'net = torch.jit.load("model.torchscript.pt")', call, "```", ""]
    if "onnx" in files:
        lines += [
            "```python",
            "import onnxruntime",
            "",
            'session = onnxruntime.InferenceSession("model.onnx")',
            'logits = session.run(None, {"input": x.numpy()})[0]',
            "```",
            "",
        ]
    if "python" in files:
        lines += [
            "```python",
            "from model import build  # model.py, needs only PyTorch",
            "",
            'net = build("weights.pt")',
        ]
        lines += [call, "```", ""]
    (folder / "README.md").write_text("\n".join(lines))
    return folder / "README.md"


def _classifier_intro(
    folder: Path, prep: dict[str, Any], metrics: dict[str, Any], shape: list[int] | None, members: list[Any] | None
) -> list[str]:
    kind = str(prep.get("kind", "tensor")) if prep else "tensor"
    what = f"an ensemble of {len(members)} networks averaging their probabilities" if members else "one network"
    lines = [
        f"# {folder.name}: a classifier found by nasforge",
        "",
        f"This folder holds {what}, reading {kind} inputs"
        + (f" (the network's input: float32 of shape (batch, {', '.join(map(str, shape))}))" if shape else "")
        + (
            f", answering one of {len(prep['classes'])} classes: {', '.join(map(str, prep['classes'][:20]))}"
            if prep.get("classes")
            else ""
        )
        + ".",
    ]
    if "test_acc" in metrics:
        lines += ["", f"Accuracy on the held-out test split: {100 * float(metrics['test_acc']):.2f} % (metrics.json)."]
    return lines


def _classifier_usage(folder: Path, prep: dict[str, Any]) -> list[str]:
    kind = str(prep.get("kind", "tensor")) if prep else "tensor"
    arg, comment, cli_in = INPUT_EXAMPLES.get(kind, INPUT_EXAMPLES["tensor"])
    return [
        "",
        "## Use it with nasforge",
        "",
        "Raw inputs, preprocessed as in training; class names back:",
        "",
        "```python",
        "import nasforge",
        "",
        f'model = nasforge.load("{folder}")',
        f"labels = model.predict({arg})  # {comment}",
        f"probabilities = model.predict_proba({arg})  # (N, classes), in the order of model.classes",
        "```",
        "",
        "From the shell (one CSV row per input: the prediction and each class's probability):",
        "",
        "```bash",
        f"nasforge predict {folder} {cli_in.split('  #')[0]} --out predictions.csv",
        f'nasforge serve {folder} --port 8000   # POST /predict {{"inputs": [...]}}, GET /health, GET /schema',
        "```",
        "",
        "## Use it without nasforge",
        "",
        "The network takes the preprocessed batch (see `preprocessing.json` for how raw inputs become it) and "
        "returns logits; the arg-max indexes `classes` in `preprocessing.json`.",
        "",
    ]


def _translator_intro(folder: Path, prep: dict[str, Any], metrics: dict[str, Any]) -> list[str]:
    length = prep.get("max_length")
    lines = [
        f"# {folder.name}: a translation model found by nasforge",
        "",
        "This folder holds one encoder-decoder network and its subword tokenizer (`preprocessing.json`), "
        f"translating texts of up to {length} tokens (a longer text is cut there); placeholders (`%s`, `%1$s`, "
        "`{name}`) pass through as tokens and come back as they went in.",
    ]
    if "test_bleu" in metrics:
        chrf = f", chrF {float(metrics['test_chrf']):.1f}" if "test_chrf" in metrics else ""
        copy = (
            f" (copying the source scores BLEU {float(metrics['test_copy_bleu']):.1f})"
            if "test_copy_bleu" in metrics
            else ""
        )
        lines += ["", f"On the held-out test part: BLEU {float(metrics['test_bleu']):.1f}{chrf}{copy} (metrics.json)."]
    return lines


def _translator_usage(folder: Path) -> list[str]:
    return [
        "",
        "## Use it with nasforge",
        "",
        "Texts in, translations out (beam search of 4 hypotheses), placeholders as they went in:",
        "",
        "```python",
        "import nasforge",
        "",
        f'model = nasforge.load("{folder}")',
        'translations = model.predict(["Cannot open %s", "File not found"])',
        "model.outputs.beam = 1  # greedy decoding: faster",
        "```",
        "",
        "From the shell (a CSV of source, translation; a file holds one text per line, or a CSV's source column):",
        "",
        "```bash",
        f"nasforge predict {folder} messages.txt --out translations.csv",
        f'nasforge predict {folder} "Cannot open %s" "File not found"',
        f'nasforge serve {folder} --port 8000   # POST /predict {{"inputs": ["Cannot open %s"]}}, GET /schema',
        "```",
        "",
        "## Use it without nasforge",
        "",
        "The network's forward is teacher forcing: (batch, 2, max_length) token ids, the source (ended by id 3) and "
        "the target so far (begun by id 2), to the logits of each next target token; translating calls it once per "
        "output token (see `translate` and `beam_search` in nasforge/zoo/seq2seq.py), and the tokenizer "
        "(SentencePiece, base64 in `preprocessing.json`) turns texts into ids and back.",
        "",
    ]


def _json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.is_file() else {}

"""Placeholders in software messages (`%s`, `%d`, `%1$s`, `%(name)s`, `{name}`) as protected tokens.

A translation must keep a message's placeholders exactly, so they never reach the subword tokenizer: the
source's k-th argument becomes the token `⟪k⟫` in both source and target, the model learns to copy those
tokens, and `restore` puts the source's original text back in its output. Arguments are numbered as C
printf numbers them: `%2$s` is argument 2; unnumbered ones count up from 1 in order. A target that names an
argument the source lacks (or whose placeholders cannot be matched) is reported, and the corpus drops it.

>>> src, slots = protect("Cannot open %s: %s")
>>> src
'Cannot open ⟪1⟫: ⟪2⟫'
>>> protect_target("Impossible d'ouvrir %2$s : %1$s", slots)
"Impossible d'ouvrir ⟪2⟫ : ⟪1⟫"
>>> restore("⟪2⟫ : ⟪1⟫", slots)
'%2$s : %1$s'
"""

from __future__ import annotations

import re

__all__ = ["MAX_SLOTS", "PLACEHOLDER", "TOKENS", "protect", "protect_target", "restore", "slot_token"]

MAX_SLOTS = 12  # a message with more arguments keeps the rest as plain text
# printf conversions (with argument number, flags, width, precision, length; `%<PRIu64>` of inttypes.h),
# Python's `%(name)s`, and brace fields `{}`, `{0}`, `{name}`, `{name:>8}`; `%%` is a literal percent sign.
PLACEHOLDER = re.compile(
    r"%%"
    r"|%(?:\d+\$)?[-+ #0']*(?:\*|\d+)?(?:\.(?:\*|\d+))?(?:hh|h|ll|l|L|q|j|z|Z|t|I64|I32)?"
    r"(?:<PRI[a-zA-Z0-9]+>|[a-zA-Z])"
    r"|%\([A-Za-z_]\w*\)[-+ #0]*\d*(?:\.\d+)?[a-zA-Z]"
    r"|\{[A-Za-z_0-9]*(?:![rsa])?(?::[^{}]*)?\}"
)
_NUMBERED = re.compile(r"%(\d+)\$")
_TOKEN = re.compile(r"⟪(\d+)⟫")
TOKENS = tuple(f"⟪{k}⟫" for k in range(1, MAX_SLOTS + 1))


def slot_token(k: int) -> str:
    return f"⟪{k}⟫"


def _arguments(text: str) -> list[tuple[int, int, int, str]]:
    """(start, end, argument number, text) of each placeholder of `text`, `%%` left out."""
    out = []
    counter = 0
    for m in PLACEHOLDER.finditer(text):
        piece = m.group(0)
        if piece == "%%":
            continue
        numbered = _NUMBERED.match(piece)
        if numbered:
            arg = int(numbered.group(1))
        else:
            counter += 1
            arg = counter
        out.append((m.start(), m.end(), arg, piece))
    return out


def _replace(text: str, args: list[tuple[int, int, int, str]], keep: set[int]) -> str:
    pieces, last = [], 0
    for start, end, arg, _ in args:
        if arg in keep:
            pieces.append(text[last:start])
            pieces.append(slot_token(arg))
            last = end
    pieces.append(text[last:])
    return "".join(pieces)


def protect(source: str) -> tuple[str, dict[int, str]]:
    """`source` with its placeholders as tokens, and each token's argument number -> original text (the
    first spelling when an argument appears twice). Arguments past `MAX_SLOTS` stay as text."""
    args = [a for a in _arguments(source) if 1 <= a[2] <= MAX_SLOTS]
    slots: dict[int, str] = {}
    for _, _, arg, piece in args:
        slots.setdefault(arg, piece)
    return _replace(source, args, set(slots)), slots


def protect_target(target: str, slots: dict[int, str]) -> str | None:
    """A translation with the placeholders of its source's `slots` as the same tokens; None when it uses an
    argument the source lacks or misses one the source has (the pair is then unreliable)."""
    args = _arguments(target)
    used = {a[2] for a in args}
    if any(arg not in slots for arg in used) or used != set(slots):
        return None
    return _replace(target, args, set(slots))


def restore(text: str, slots: dict[int, str]) -> str:
    """`text` (a model's output) with each token put back as its source placeholder; when the output
    orders unnumbered arguments differently from the source, they are written numbered (`%2$s`), as C
    printf needs. Tokens of arguments the source lacks are dropped."""
    order = [int(m.group(1)) for m in _TOKEN.finditer(text) if int(m.group(1)) in slots]
    reordered = order != sorted(order)

    def put(m: re.Match[str]) -> str:
        arg = int(m.group(1))
        piece = slots.get(arg)
        if piece is None:
            return ""
        if reordered and piece.startswith("%") and not _NUMBERED.match(piece) and not piece.startswith("%("):
            return f"%{arg}${piece[1:]}"
        return piece

    return _TOKEN.sub(put, text)

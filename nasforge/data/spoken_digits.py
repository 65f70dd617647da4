"""Spoken digits synthesised with espeak-ng: many voices, speeds and pitches, with noise, shifts and echo.

Clean synthetic speech is too easy, so every utterance is placed at a random time in a fixed window,
convolved with a synthetic room impulse response (exponentially decaying noise) and mixed with noise at a
random signal-to-noise ratio. The split is by voice: the voices of the test and validation parts never
speak in the training part, so test accuracy measures generalisation to unseen speakers.

Generation runs espeak-ng once per utterance (a few in parallel) and caches the raw waveforms in
`cache_dir`, keyed by the generation settings; augmentation is applied at `load()` and fixed by `seed`.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import tempfile
import wave
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nasforge.data.audio import fix_length, log_mel, num_frames, resample
from nasforge.data.base import ArrayData, BaseDataset, DataSplits, cache_root, cached_load
from nasforge.data.split import check_seed, check_size, resolve_size
from nasforge.errors import ConfigError, DataError

__all__ = ["ACCENTS", "DIGITS", "VARIANTS", "WHISPER", "SpokenDigits", "spoken_digits_cache_dir"]

DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
#: English accents of espeak-ng (mbrola voices are not used: they need extra packages).
ACCENTS = ("en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-029", "en-us-nyc")
#: espeak-ng voice variants (`+name`) that sound different from each other; 'fast', 'klatt' and 'klatt6'
#: are left out because they produce the same waveforms as the default voice or as 'caleb', and the two
#: whisper variants by default (see `WHISPER`).
VARIANTS = (
    "Alex", "Alicia", "Andrea", "Andy", "Annie", "AnxiousAndy", "Demonic", "Denis", "Diogo", "Gene", "Gene2",
    "Henrique", "Hugo", "Jacky", "Lee", "Marco", "Mario", "Michael", "Mike", "Nguyen", "RicishayMax",
    "RicishayMax2", "RicishayMax3", "Storm", "Tweaky", "UniRobot", "adam", "anika", "anikaRobot", "announcer",
    "antonio", "aunty", "belinda", "benjamin", "boris", "caleb", "croak", "david", "ed", "edward", "edward2",
    "f1", "f2", "f3", "f4", "f5", "grandma", "grandpa", "gustave", "iven", "iven2", "iven3", "iven4", "john",
    "kaukovalta", "klatt2", "klatt3", "klatt4", "klatt5", "linda", "m1", "m2", "m3", "m4", "m5", "m6", "m7",
    "m8", "marcelo", "max", "michel", "miguel", "norbert", "pablo", "paul", "pedro", "quincy", "rob", "robert",
    "robosoft", "robosoft2", "robosoft3", "robosoft4", "robosoft5", "robosoft6", "robosoft7", "robosoft8",
    "sandro", "shelby", "steph", "steph2", "steph3", "travis", "victor", "zac",
)  # fmt: skip
#: Whispered voices have no voicing at all, unlike every other variant: with only two of them, whichever
#: split a whisper voice lands in has no similar voice elsewhere. Add them with `variants=VARIANTS + WHISPER`.
WHISPER = ("whisper", "whisperf")
ENV_CACHE = "NASFORGE_CACHE"
ESPEAK = "espeak-ng"


def spoken_digits_cache_dir() -> Path:
    """`$NASFORGE_CACHE/spoken_digits`, or `~/.cache/nasforge/spoken_digits` without the variable."""
    return cache_root() / "spoken_digits"


class SpokenDigits(BaseDataset):
    """Spoken digits 0-9 as (n_mels, frames) float32 log-mel spectrograms, split by voice.

    A voice is one espeak-ng voice variant (`+m3`, `+croak`, ...) with one English accent; `n_voices`
    distinct variants are used, so a held-out voice's timbre is never heard in training. Each voice says
    every digit at every speed (words per minute) and pitch (0-99). `test_voices` and `valid_voices` (counts
    or fractions of the voices) are drawn by `seed`. Augmentation, fixed by `seed`: a random offset in the
    `duration`-second window, reverberation with probability `reverb_prob` (decay time drawn from
    `reverb_time` seconds) and white noise at an SNR drawn from `snr_db`. Features are normalised per mel
    band with training statistics.

    >>> splits = SpokenDigits(n_voices=12, speeds=(150,), pitches=(50,)).load()  # doctest: +SKIP
    >>> splits.input_shape  # doctest: +SKIP
    (40, 63)
    """

    name = "spoken_digits"

    def __init__(
        self,
        cache_dir: str | os.PathLike[str] | None = None,
        n_voices: int = 90,
        variants: Sequence[str] = VARIANTS,
        speeds: Sequence[int] = (120, 170, 220),
        pitches: Sequence[int] = (35, 70),
        test_voices: int | float = 0.2,
        valid_voices: int | float = 0.1,
        snr_db: Sequence[float] = (5.0, 25.0),
        reverb_prob: float = 0.5,
        reverb_time: Sequence[float] = (0.1, 0.5),
        max_shift: float = 0.15,
        sample_rate: int = 8000,
        duration: float = 1.0,
        n_mels: int = 40,
        seed: int = 0,
        n_jobs: int | None = None,
    ) -> None:
        owner = "SpokenDigits"
        if cache_dir is not None and not isinstance(cache_dir, (str, os.PathLike)):
            raise ConfigError(f"`cache_dir` of {owner} must be a folder path or None, but got {cache_dir!r}.")
        self.cache_dir = os.fspath(cache_dir) if cache_dir is not None else None
        if (
            not isinstance(variants, (list, tuple))
            or not variants
            or len(set(variants)) != len(variants)
            or not all(isinstance(v, str) and re.fullmatch(r"[A-Za-z0-9_-]+", v) for v in variants)
        ):
            raise ConfigError(
                f"`variants` of {owner} must be a list of distinct espeak-ng variant names (files in "
                f"espeak-ng-data/voices/!v, such as 'm3' or 'croak'), but got {variants!r}."
            )
        self.variants = tuple(variants)
        if not isinstance(n_voices, int) or isinstance(n_voices, bool) or not 3 <= n_voices <= len(variants):
            raise ConfigError(
                f"`n_voices` of {owner} must be an int in 3..{len(variants)} (one per variant in `variants`, with "
                f"at least one voice for each of train, valid and test), but got {n_voices!r}."
            )
        self.n_voices = n_voices
        self.speeds = _int_tuple(speeds, "speeds", 80, 450)
        self.pitches = _int_tuple(pitches, "pitches", 0, 99)
        self.test_voices = check_size(test_voices, "test_voices", owner)
        self.valid_voices = check_size(valid_voices, "valid_voices", owner)
        self.snr_db = _range(snr_db, "snr_db", -30.0, 100.0)
        self.reverb_time = _range(reverb_time, "reverb_time", 0.01, 2.0)
        self.reverb_prob = _fraction(reverb_prob, "reverb_prob", 0.0, 1.0)
        self.max_shift = _fraction(max_shift, "max_shift", 0.0, 1.0)
        if not isinstance(sample_rate, int) or isinstance(sample_rate, bool) or not 4000 <= sample_rate <= 22050:
            raise ConfigError(f"`sample_rate` of {owner} must be an int in 4000..22050, but got {sample_rate!r}.")
        self.sample_rate = sample_rate
        self.duration = _fraction(duration, "duration", 0.25, 5.0)
        if not isinstance(n_mels, int) or isinstance(n_mels, bool) or not 8 <= n_mels <= 128:
            raise ConfigError(f"`n_mels` of {owner} must be an int in 8..128, but got {n_mels!r}.")
        self.n_mels = n_mels
        self.seed = check_seed(seed, owner)
        if n_jobs is not None and (not isinstance(n_jobs, int) or isinstance(n_jobs, bool) or n_jobs < 1):
            raise ConfigError(f"`n_jobs` of {owner} must be an int >= 1 or None (all cores), but got {n_jobs!r}.")
        self.n_jobs = n_jobs

    def __repr__(self) -> str:
        return (
            f"SpokenDigits(n_voices={self.n_voices}, speeds={self.speeds}, pitches={self.pitches}, "
            f"test_voices={self.test_voices!r}, valid_voices={self.valid_voices!r}, seed={self.seed})"
        )

    # -- generation -------------------------------------------------------------------------------------

    def voices(self) -> list[tuple[str, str]]:
        """The (accent, variant) pairs spoken, in a fixed order: distinct variants, accents in turn."""
        chosen = np.random.default_rng(0).permutation(len(self.variants))[: self.n_voices]
        return [(ACCENTS[i % len(ACCENTS)], self.variants[v]) for i, v in enumerate(sorted(chosen))]

    def generation_settings(self) -> dict[str, Any]:
        return {
            "voices": [f"{a}+{v}" for a, v in self.voices()],
            "speeds": list(self.speeds),
            "pitches": list(self.pitches),
            "sample_rate": self.sample_rate,
            "words": list(DIGITS),
        }

    def cache_path(self) -> Path:
        """The npz file holding the raw waveforms for these generation settings."""
        text = json.dumps(self.generation_settings(), sort_keys=True)
        digest = hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()[:16]
        folder = Path(self.cache_dir).expanduser() if self.cache_dir is not None else spoken_digits_cache_dir()
        return folder / f"spoken_digits-{digest}.npz"

    def generate(self) -> Path:
        """Synthesise every utterance with espeak-ng into the cache (unless there already); return the file."""
        path = self.cache_path()
        if path.is_file():
            return path
        exe = shutil.which(ESPEAK)
        if exe is None:
            raise DataError(
                f"SpokenDigits needs the `{ESPEAK}` program to synthesise the digits, but it is not on PATH "
                f"and {path} is not cached yet. Install it with: apt-get install espeak-ng."
            )
        jobs = [
            (v, accent, variant, speed, pitch, digit)
            for v, (accent, variant) in enumerate(self.voices())
            for speed in self.speeds
            for pitch in self.pitches
            for digit in range(len(DIGITS))
        ]
        workers = self.n_jobs or os.cpu_count() or 1
        # Threads suffice: each job waits on its own espeak-ng process.
        with ThreadPoolExecutor(max_workers=workers) as pool:
            waves = list(pool.map(lambda job: _synthesise(exe, *job[1:]), jobs))
        rate = waves[0][1]
        clips = [resample(torch.from_numpy(w), r, self.sample_rate).numpy() for w, r in waves]
        lengths = np.array([len(c) for c in clips], dtype=np.int64)
        audio = np.clip(np.round(np.concatenate(clips) * 32767), -32768, 32767).astype(np.int16)
        table = np.array([job[:1] + job[3:] for job in jobs], dtype=np.int64)  # voice, speed, pitch, digit
        _save_atomically(
            path,
            audio=audio,
            lengths=lengths,
            table=table,
            espeak_rate=np.int64(rate),
            settings=np.array(json.dumps(self.generation_settings())),
        )
        return path

    # -- loading ----------------------------------------------------------------------------------------

    def load(self) -> DataSplits:
        key = (
            "spoken_digits",
            str(self.cache_path()),
            self.test_voices,
            self.valid_voices,
            self.snr_db,
            self.reverb_prob,
            self.reverb_time,
            self.max_shift,
            self.duration,
            self.n_mels,
            self.seed,
        )
        return cached_load(key, self._build)

    def waveforms(self, part: str = "test") -> tuple[np.ndarray, list[str]]:
        """The raw waveforms of one part (`train`, `valid` or `test`), as the model heard them before they
        became spectrograms ((N, window) float32 at `sample_rate`), and their digits' names: what an exported
        model's `predict` takes."""
        waves, table, parts = self._waves()
        if part not in parts:
            raise ConfigError(f"`part` of SpokenDigits.waveforms must be one of {sorted(parts)}, but got {part!r}.")
        return waves[parts[part]].numpy(), [DIGITS[d] for d in table[parts[part], 3]]

    def _waves(self) -> tuple[torch.Tensor, np.ndarray, dict[str, np.ndarray]]:
        with np.load(self.generate()) as raw:
            audio, lengths, table = raw["audio"], raw["lengths"], raw["table"]
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        # the split draws first from its own stream, so augmentation settings never change which voices are held out
        test_idx, valid_idx, train_idx = self._voice_split(table[:, 0], np.random.default_rng(self.seed))
        window = round(self.duration * self.sample_rate)
        waves = self._augment(audio, starts, lengths, window, np.random.default_rng([self.seed, 1]))
        return waves, table, {"train": train_idx, "valid": valid_idx, "test": test_idx}

    def _build(self) -> DataSplits:
        waves, table, parts = self._waves()
        test_idx, valid_idx, train_idx = parts["test"], parts["valid"], parts["train"]
        window = waves.shape[1]
        hop = max(1, round(0.016 * self.sample_rate))
        n_fft = 1 << (round(0.032 * self.sample_rate) - 1).bit_length()
        feats = torch.cat(
            [log_mel(chunk, self.sample_rate, self.n_mels, n_fft, hop) for chunk in waves.split(1024)]
        ).float()
        labels = torch.from_numpy(table[:, 3].copy())
        mean = feats[train_idx].mean(dim=(0, 2), keepdim=True)
        std = feats[train_idx].std(dim=(0, 2), keepdim=True).clamp_min(1e-6)
        feats = (feats - mean) / std
        everything = ArrayData(feats, labels)
        names = [f"{accent}+{variant}" for accent, variant in self.voices()]
        named = (("train", train_idx), ("valid", valid_idx), ("test", test_idx))
        return DataSplits(
            train=everything.subset(train_idx),
            valid=everything.subset(valid_idx),
            test=everything.subset(test_idx),
            num_classes=len(DIGITS),
            input_shape=(self.n_mels, num_frames(window, hop)),
            name=self.name,
            info={
                # who speaks each sample: a federation's clients are sets of speakers (`nasforge.federated`)
                "sample_groups": {"by": "voice", **{part: [names[v] for v in table[idx, 0]] for part, idx in named}},
                "voices": {part: sorted({names[v] for v in np.unique(table[idx, 0])}) for part, idx in named},
                "preprocessing": {
                    "kind": "log_mel",
                    "sample_rate": self.sample_rate,
                    "window_samples": window,
                    "n_fft": n_fft,
                    "hop_length": hop,
                    "n_mels": self.n_mels,
                    "eps": 1e-6,
                    "mean": mean.flatten().tolist(),
                    "std": std.flatten().tolist(),
                    "classes": list(DIGITS),
                },
            },
        )

    def _voice_split(self, voice: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
        n = self.n_voices
        n_test = resolve_size(self.test_voices, n, "test_voices", "SpokenDigits")
        n_valid = resolve_size(self.valid_voices, n - n_test, "valid_voices", "SpokenDigits")
        order = rng.permutation(n)
        test, valid = order[:n_test], order[n_test : n_test + n_valid]
        return (
            np.flatnonzero(np.isin(voice, test)),
            np.flatnonzero(np.isin(voice, valid)),
            np.flatnonzero(~np.isin(voice, np.concatenate([test, valid]))),
        )

    def _augment(
        self, audio: np.ndarray, starts: np.ndarray, lengths: np.ndarray, window: int, rng: np.random.Generator
    ) -> torch.Tensor:
        """Place, reverberate and add noise to every utterance: (N, window) float32, all drawn from `rng`."""
        n = len(lengths)
        out = np.zeros((n, window), dtype=np.float32)
        shift = rng.uniform(-self.max_shift, self.max_shift, n)
        for i in range(n):
            clip = torch.from_numpy(audio[starts[i] : starts[i] + lengths[i]].astype(np.float32) / 32767.0)
            spare = window - len(clip)  # negative: the utterance is longer than the window, crop it
            offset = int(np.clip(spare // 2 + round(shift[i] * window), min(0, spare), max(0, spare)))
            out[i] = fix_length(clip, window, offset).numpy()
        waves = torch.from_numpy(out)
        active = torch.from_numpy(np.minimum(lengths, window).astype(np.float32))
        power = waves.square().sum(1) / active
        reverb = rng.random(n) < self.reverb_prob
        if reverb.any():
            idx = torch.from_numpy(np.flatnonzero(reverb))
            ir = self._impulse_responses(len(idx), rng)
            size = window + ir.shape[1]
            wet = torch.fft.irfft(torch.fft.rfft(waves[idx], size) * torch.fft.rfft(ir, size), size)[:, :window]
            # keep the speech power, so the SNR drawn below means the same with and without reverberation
            wet_power = (wet.square().sum(1) / active[idx]).clamp_min(1e-12)
            waves[idx] = (wet * torch.sqrt(power[idx] / wet_power)[:, None]).float()
        snr = torch.from_numpy(rng.uniform(self.snr_db[0], self.snr_db[1], n).astype(np.float32))
        noise = torch.from_numpy(rng.standard_normal((n, window), dtype=np.float32))
        waves += noise * torch.sqrt(power / 10.0 ** (snr / 10.0))[:, None]
        return waves

    def _impulse_responses(self, count: int, rng: np.random.Generator) -> torch.Tensor:
        """Exponentially decaying noise with a direct path: `count` room responses, unit energy."""
        lo, hi = self.reverb_time
        length = round(hi * self.sample_rate)
        t = np.arange(length, dtype=np.float32) / self.sample_rate
        rt60 = rng.uniform(lo, hi, (count, 1)).astype(np.float32)
        ir = rng.standard_normal((count, length), dtype=np.float32) * np.exp(-6.9078 * t / rt60)  # -60 dB at rt60
        ir[:, 0] = 1.0
        ir /= np.sqrt((ir**2).sum(1, keepdims=True))
        return torch.from_numpy(ir)


def _synthesise(exe: str, accent: str, variant: str, speed: int, pitch: int, digit: int) -> tuple[np.ndarray, int]:
    cmd = [exe, "-v", f"{accent}+{variant}", "-s", str(speed), "-p", str(pitch), "--stdout", DIGITS[digit]]
    try:
        proc = subprocess.run(cmd, capture_output=True, check=True, timeout=60)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        raise DataError(
            f"espeak-ng failed on {' '.join(cmd)!r}: {exc} {detail.decode(errors='replace').strip()} "
            "Check that the voice exists (`espeak-ng --voices=en`) or reinstall: apt-get install espeak-ng."
        ) from exc
    return _read_wav(proc.stdout, " ".join(cmd))


def _read_wav(payload: bytes, what: str) -> tuple[np.ndarray, int]:
    """Mono 16-bit samples scaled to [-1, 1] and the sample rate. espeak-ng writes a bogus length into the
    header when writing to a pipe, so the samples are taken as everything after the 'data' tag."""
    try:
        with wave.open(io.BytesIO(payload[:44])) as header:
            rate, width, channels = header.getframerate(), header.getsampwidth(), header.getnchannels()
    except (wave.Error, EOFError) as exc:
        raise DataError(f"espeak-ng wrote no readable WAV for {what!r}: {exc}") from exc
    pos = payload.find(b"data")
    if width != 2 or channels != 1 or pos < 0:
        raise DataError(f"espeak-ng must write mono 16-bit WAV, but wrote {channels} x {8 * width} bit for {what!r}.")
    body = payload[pos + 8 :]
    samples = np.frombuffer(body[: len(body) // 2 * 2], dtype="<i2").astype(np.float32) / 32768.0
    if len(samples) == 0:
        raise DataError(f"espeak-ng wrote no samples for {what!r}.")
    return samples, rate


def _save_atomically(path: Path, **arrays: Any) -> None:
    """Write the npz under a temporary name and rename, so parallel workers never read half a file."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, **arrays)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; the cache is as readable as any other
        os.replace(tmp, path)
    except OSError as exc:
        raise DataError(
            f"Cannot write the spoken-digit cache {path}: {exc}. Pass a writable `cache_dir` or set {ENV_CACHE}."
        ) from exc


def _int_tuple(values: object, arg: str, lo: int, hi: int) -> tuple[int, ...]:
    if isinstance(values, (list, tuple)) and values:
        ints = [v for v in values if isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi]
        if len(ints) == len(values):
            return tuple(sorted(set(ints)))
    raise ConfigError(f"`{arg}` of SpokenDigits must be a non-empty list of ints in {lo}..{hi}, but got {values!r}.")


def _range(values: object, arg: str, lo: float, hi: float) -> tuple[float, float]:
    if (
        isinstance(values, (list, tuple))
        and len(values) == 2
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) and lo <= v <= hi for v in values)
        and values[0] <= values[1]
    ):
        return float(values[0]), float(values[1])
    raise ConfigError(
        f"`{arg}` of SpokenDigits must be a pair [low, high] with {lo} <= low <= high <= {hi}, but got {values!r}."
    )


def _fraction(value: object, arg: str, lo: float, hi: float) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and lo <= value <= hi:
        return float(value)
    raise ConfigError(f"`{arg}` of SpokenDigits must be a number in [{lo}, {hi}], but got {value!r}.")

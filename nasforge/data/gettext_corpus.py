"""A parallel corpus from the gettext message catalogs that Debian packages ship: human translations of
software messages (`/usr/share/locale/<lang>/LC_MESSAGES/*.mo`), read with nothing but the standard
library.

Every catalog belongs to one Debian package (`dpkg -S` says which); the corpus is built from the fixed list
`PACKAGES` (what `scripts/setup.sh` installs), so every machine gets the same pairs for the same package
versions. Cleaning: the catalog header, empty or untranslated entries, entries without a letter (`"%s: %s"`)
and pairs longer than `max_chars` go; a message's context (`msgctxt`) is dropped; plural entries give the
singular and the plural pair; whitespace is collapsed; and each English message is kept once, in the first
package of `PACKAGES` that has it, so that no source sentence is in two packages (a split by package then
shares no sentence between its parts).
"""

from __future__ import annotations

import re
import struct
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from nasforge.data.placeholders import PLACEHOLDER
from nasforge.errors import DataError

__all__ = [
    "LOCALE_DIR",
    "PACKAGES",
    "CatalogPair",
    "catalog_files",
    "collect_pairs",
    "read_mo",
]

LOCALE_DIR = "/usr/share/locale"

# The Debian packages whose French catalogs make the built-in corpus, in the order that decides which package
# keeps a message that several ship. Command-line tools and libraries that a Debian 12 server or desktop
# carries, chosen for their complete French catalogs; `scripts/setup.sh` installs them.
PACKAGES: tuple[str, ...] = (
    "coreutils",
    "bash",
    "grep",
    "sed",
    "findutils",
    "diffutils",
    "tar",
    "gettext-base",
    "gettext",
    "apt",
    "libapt-pkg6.0",
    "dpkg",
    "libdpkg-perl",
    "adduser",
    "make",
    "binutils-common",
    "git",
    "gnupg-l10n",
    "libgnutls30",
    "libc-l10n",
    "wget",
    "man-db",
    "procps",
    "psmisc",
    "login",
    "libpam-runtime",
    "libpopt0",
    "libidn2-0",
    "xz-utils",
    "net-tools",
    "systemd",
    "libglib2.0-data",
    "libgtk-3-common",
    "libgdk-pixbuf2.0-common",
    "shared-mime-info",
    "xdg-user-dirs",
    "postgresql-client-15",
    "libpq5",
)


@dataclass(frozen=True)
class CatalogPair:
    """One English message and its translation, with the package and catalog (domain) it came from."""

    source: str
    target: str
    package: str
    domain: str


def read_mo(path: str | Path) -> list[tuple[str, str]]:
    """The (msgid, msgstr) pairs of a compiled gettext catalog, in file order, the header included; plural
    entries give their forms joined by NUL as gettext stores them, a context its `ctxt\\x04` prefix.

    The format (GNU gettext manual, "The Format of GNU MO Files"): a magic number that also gives the byte
    order, then the count of strings and the offsets of two tables of (length, offset) pairs."""
    data = Path(path).read_bytes()
    if len(data) < 20:
        raise DataError(f"{str(path)!r} must be a gettext .mo catalog, but it is only {len(data)} bytes long.")
    magic = struct.unpack("<I", data[:4])[0]
    if magic == 0x950412DE:
        order = "<"
    elif magic == 0xDE120495:
        order = ">"
    else:
        raise DataError(f"{str(path)!r} must be a gettext .mo catalog, but its magic number is {magic:#x}.")
    _, count, originals, translations = struct.unpack(order + "4I", data[4:20])
    pairs: list[tuple[str, str]] = []
    try:
        for i in range(count):
            mlen, moff = struct.unpack(order + "2I", data[originals + 8 * i : originals + 8 * i + 8])
            tlen, toff = struct.unpack(order + "2I", data[translations + 8 * i : translations + 8 * i + 8])
            msgid = data[moff : moff + mlen].decode("utf-8", errors="replace")
            msgstr = data[toff : toff + tlen].decode("utf-8", errors="replace")
            pairs.append((msgid, msgstr))
    except struct.error as exc:
        raise DataError(f"{str(path)!r} is a truncated or corrupt gettext catalog: {exc}.") from None
    return pairs


def catalog_files(packages: Sequence[str], lang: str, locale_dir: str = LOCALE_DIR) -> dict[str, list[Path]]:
    """The `lang` catalogs of each of `packages`, from dpkg's file lists (`/var/lib/dpkg/info/<pkg>.list`),
    read directly so that no subprocess is needed; packages without one are left out."""
    infos = Path("/var/lib/dpkg/info")
    folder = f"{locale_dir.rstrip('/')}/{lang}/LC_MESSAGES/"
    found: dict[str, list[Path]] = {}
    for package in packages:
        lists = sorted(infos.glob(f"{package}.list")) + sorted(infos.glob(f"{package}:*.list"))
        files: list[Path] = []
        for listing in lists:
            for line in listing.read_text(errors="replace").splitlines():
                if line.startswith(folder) and line.endswith(".mo") and Path(line).is_file():
                    files.append(Path(line))
        if files:
            found[package] = sorted(set(files))
    return found


_SPACE = re.compile(r"\s+")
_LETTER = re.compile(r"[^\W\d_]")


def clean(text: str) -> str:
    """`text` on one line: whitespace runs (newlines, tabs) become one space, the ends are stripped."""
    return _SPACE.sub(" ", text).strip()


def _has_words(text: str) -> bool:
    return _LETTER.search(PLACEHOLDER.sub(" ", text)) is not None


def entry_pairs(msgid: str, msgstr: str) -> list[tuple[str, str]]:
    """The usable (source, target) pairs of one catalog entry: none for the header or an untranslated
    entry; the singular and plural forms of a plural entry (its first two translations)."""
    if not msgid or not msgstr.strip("\x00 \t\n"):
        return []
    if "\x04" in msgid:
        msgid = msgid.split("\x04", 1)[1]
    sources = msgid.split("\x00")
    targets = msgstr.split("\x00")
    out = []
    for src, tgt in zip(sources[:2], targets[:2] if len(sources) > 1 else targets[:1]):
        src, tgt = clean(src), clean(tgt)
        if src and tgt and _has_words(src) and _has_words(tgt):
            out.append((src, tgt))
    return out


def collect_pairs(
    packages: Sequence[str] = PACKAGES,
    lang: str = "fr",
    locale_dir: str = LOCALE_DIR,
    max_chars: int = 200,
    files: dict[str, list[Path]] | None = None,
) -> list[CatalogPair]:
    """The cleaned, deduplicated pairs of the `lang` catalogs of `packages` (see the module's docstring);
    `files` (package -> catalogs) replaces the lookup in dpkg's file lists, e.g. for catalogs elsewhere."""
    by_package = catalog_files(packages, lang, locale_dir) if files is None else files
    seen: set[str] = set()
    pairs: list[CatalogPair] = []
    for package in packages:
        for path in by_package.get(package, []):
            domain = path.stem
            for msgid, msgstr in read_mo(path):
                for src, tgt in entry_pairs(msgid, msgstr):
                    if len(src) > max_chars or len(tgt) > max_chars or src in seen:
                        continue
                    seen.add(src)
                    pairs.append(CatalogPair(src, tgt, package, domain))
    return pairs


def missing_packages(packages: Iterable[str], lang: str, locale_dir: str = LOCALE_DIR) -> list[str]:
    """Those of `packages` that have no `lang` catalog here (not installed, or installed with the locale
    files excluded by a dpkg path filter, as slim Docker images do: /etc/dpkg/dpkg.cfg.d/)."""
    found = catalog_files(list(packages), lang, locale_dir)
    return [p for p in packages if p not in found]


def excluded_locales() -> list[str]:
    """The dpkg `path-exclude` rules that drop locale files (a Docker image's /etc/dpkg/dpkg.cfg.d/excludes):
    with one, packages install without their catalogs, and setup must lift it and reinstall them."""
    rules: list[str] = []
    folder = Path("/etc/dpkg/dpkg.cfg.d")
    if not folder.is_dir():
        return rules
    for cfg in sorted(folder.iterdir()):
        if cfg.is_file():
            for line in cfg.read_text(errors="replace").splitlines():
                line = line.strip()
                if line.startswith("path-exclude") and "locale" in line:
                    rules.append(f"{cfg}: {line}")
    return rules


def dpkg_version(package: str) -> str | None:
    """The installed version of `package` (for records), or None."""
    try:
        out = subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", package], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None

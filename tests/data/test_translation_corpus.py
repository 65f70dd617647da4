"""The gettext parallel corpus: reading .mo catalogs, cleaning, placeholder protection, splits by package,
the subword tokenizer and the user's own parallel files."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from nasforge.data.gettext_corpus import PACKAGES, collect_pairs, entry_pairs, missing_packages, read_mo
from nasforge.data.placeholders import protect, protect_target, restore
from nasforge.data.subword import SubwordTokenizer
from nasforge.data.tokenizer import tokenizer_from_dict
from nasforge.data.translation import GettextCorpus, ParallelText, split_groups
from nasforge.errors import ConfigError, DataError

SMALL_PACKAGES = ["grep", "sed", "tar", "findutils", "diffutils", "bash", "make", "adduser", "xz-utils"]


def write_mo(path: Path, entries: list[tuple[str, str]], big_endian: bool = False) -> Path:
    """A .mo catalog as GNU msgfmt lays it out (sorted originals, two offset tables, then the strings)."""
    order = ">" if big_endian else "<"
    entries = sorted(entries)
    ids = [e[0].encode() for e in entries]
    strs = [e[1].encode() for e in entries]
    start = 28 + 16 * len(entries)
    blob, otab, ttab = b"", [], []
    for s in ids:
        otab.append((len(s), start + len(blob)))
        blob += s + b"\0"
    for s in strs:
        ttab.append((len(s), start + len(blob)))
        blob += s + b"\0"
    head = struct.pack(order + "7I", 0x950412DE, 0, len(entries), 28, 28 + 8 * len(entries), 0, 0)
    tables = b"".join(struct.pack(order + "2I", *t) for t in otab + ttab)
    path.write_bytes(head + tables + blob)
    return path


def test_read_mo_reads_both_byte_orders(tmp_path: Path) -> None:
    entries = [("", "Content-Type: text/plain; charset=UTF-8\n"), ("File", "Fichier")]
    for big in (False, True):
        assert read_mo(write_mo(tmp_path / f"{big}.mo", entries, big)) == entries


def test_read_mo_refuses_what_is_no_catalog(tmp_path: Path) -> None:
    (tmp_path / "x.mo").write_bytes(b"not a catalog at all, really")
    with pytest.raises(DataError, match="magic number"):
        read_mo(tmp_path / "x.mo")


def test_entries_drop_header_untranslated_and_context_and_split_plurals() -> None:
    assert entry_pairs("", "Project-Id-Version: x") == []
    assert entry_pairs("Open", "") == []
    assert entry_pairs("%s: %s", "%s : %s") == []  # no letter: nothing to learn
    assert entry_pairs("menu\x04Open", "Ouvrir") == [("Open", "Ouvrir")]
    assert entry_pairs("%d file\x00%d files", "%d fichier\x00%d fichiers") == [
        ("%d file", "%d fichier"),
        ("%d files", "%d fichiers"),
    ]
    assert entry_pairs("Line one\n  line two", "Ligne un\nligne deux") == [("Line one line two", "Ligne un ligne deux")]


def test_collect_pairs_dedupes_across_packages_in_list_order(tmp_path: Path) -> None:
    a = write_mo(tmp_path / "a.mo", [("Open", "Ouvrir"), ("Quit", "Quitter"), ("Empty", "")])
    b = write_mo(tmp_path / "b.mo", [("Open", "Ouvrez"), ("Save", "Enregistrer"), ("x" * 300, "y" * 300)])
    pairs = collect_pairs(["pa", "pb"], files={"pa": [a], "pb": [b]})
    assert [(p.source, p.target, p.package) for p in pairs] == [
        ("Open", "Ouvrir", "pa"),
        ("Quit", "Quitter", "pa"),
        ("Save", "Enregistrer", "pb"),
    ]


@pytest.mark.parametrize(
    ("source", "target", "protected_source", "protected_target"),
    [
        ("Cannot open %s: %s", "Impossible d'ouvrir %s : %s", "Cannot open ⟪1⟫: ⟪2⟫", "Impossible d'ouvrir ⟪1⟫ : ⟪2⟫"),
        ("%s of %d", "%2$d sur %1$s", "⟪1⟫ of ⟪2⟫", "⟪2⟫ sur ⟪1⟫"),
        ("%lu bytes (%.1f%%)", "%lu octets (%.1f %%)", "⟪1⟫ bytes (⟪2⟫%%)", "⟪1⟫ octets (⟪2⟫ %%)"),
        ("Copy {name} to {dest}", "Copier {name} vers {dest}", "Copy ⟪1⟫ to ⟪2⟫", "Copier ⟪1⟫ vers ⟪2⟫"),
        ("%(count)d items", "%(count)d éléments", "⟪1⟫ items", "⟪1⟫ éléments"),
        ("offset %<PRIu64>", "décalage %<PRIu64>", "offset ⟪1⟫", "décalage ⟪1⟫"),
    ],
)
def test_placeholders_become_tokens_on_both_sides(
    source: str, target: str, protected_source: str, protected_target: str
) -> None:
    src, slots = protect(source)
    assert src == protected_source
    assert protect_target(target, slots) == protected_target
    assert restore(src, slots) == source
    assert restore(protected_target, slots).replace("%1$", "%").replace("%2$", "%") == target.replace(
        "%1$", "%"
    ).replace("%2$", "%")


def test_a_target_whose_placeholders_do_not_match_is_refused() -> None:
    _, slots = protect("Cannot open %s")
    assert protect_target("Impossible d'ouvrir", slots) is None
    assert protect_target("Impossible d'ouvrir %s: %s", slots) is None


def test_restore_numbers_reordered_arguments_and_drops_unknown_tokens() -> None:
    _, slots = protect("%s of %d")
    assert restore("⟪2⟫ sur ⟪1⟫", slots) == "%2$d sur %1$s"
    assert restore("x ⟪7⟫ y", slots) == "x  y"


def test_every_real_placeholder_round_trips() -> None:
    pairs = collect_pairs(PACKAGES[:12])
    assert len(pairs) > 1000
    for pair in pairs:
        src, slots = protect(pair.source)
        assert restore(src, slots) == pair.source
        assert "⟪" not in pair.source


def test_setup_installs_every_package_of_the_corpus() -> None:
    assert missing_packages(PACKAGES, "fr") == []  # scripts/setup.sh installs them with their catalogs


def test_split_groups_keeps_each_group_in_one_part() -> None:
    groups = ["big"] * 500 + [f"g{i}" for i in range(20) for _ in range(10 + i)]
    index = split_groups(groups, 80, 80, seed=0)
    parts = {p: {groups[i] for i in idx} for p, idx in index.items()}
    assert (
        not parts["train"] & parts["valid"]
        and not parts["train"] & parts["test"]
        and not parts["valid"] & parts["test"]
    )
    assert "big" in parts["train"]  # larger than half a part: it stays in training
    assert 40 <= len(index["test"]) <= 120 and 40 <= len(index["valid"]) <= 120
    assert sorted(i for idx in index.values() for i in idx) == list(range(len(groups)))


def test_gettext_corpus_splits_by_package_with_protected_tokens() -> None:
    data = GettextCorpus(packages=SMALL_PACKAGES, vocab_size=300, max_length=32, valid_size=0.15, test_size=0.15)
    splits = data.load()
    parts = data.parts()
    assert splits.input_shape == (2, 32) and splits.info["vocab_size"] <= 300
    seen = {p: set(parts.groups[p]) for p in ("train", "valid", "test")}
    assert seen["valid"] and seen["test"] and not (seen["train"] & (seen["valid"] | seen["test"]))
    assert not seen["valid"] & seen["test"]
    sources = [s for p in ("train", "valid", "test") for s in parts.sources[p]]
    assert splits.test is not None
    assert len(sources) == len(set(sources)) == len(splits.train) + len(splits.valid) + len(splits.test)
    tok = data.tokenizer()
    row = splits.train.x[0]
    assert int(row[0][(row[0] != 0)][-1]) == 3 and int(row[1][0]) == 2  # end of source; begin of target
    with_slots = [i for i, s in enumerate(parts.slots["train"]) if s]
    assert with_slots
    i = with_slots[0]
    assert "⟪1⟫" in tok.decode(splits.train.x[i, 0].long().tolist())
    assert "%" in parts.sources["train"][i] or "{" in parts.sources["train"][i]


def test_gettext_corpus_explains_missing_catalogs(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="at least 3 of its packages"):
        GettextCorpus(packages=["no-such-package-here"]).load()
    with pytest.raises(ConfigError, match="`lang` of GettextCorpus"):
        GettextCorpus(lang="../etc")


def test_subword_tokenizer_keeps_placeholders_whole_and_round_trips() -> None:
    texts = ["Cannot open ⟪1⟫: ⟪2⟫", "Impossible d'ouvrir ⟪1⟫ : ⟪2⟫", "File Not Found", "Fichier introuvable"] * 30
    tok = SubwordTokenizer(vocab_size=80).fit(texts)
    ids = tok.encode("Cannot open ⟪1⟫: ⟪2⟫")
    assert tok.encode("⟪1⟫") == [4] or len([i for i in ids if i in (4, 5)]) == 2
    assert tok.decode([*ids, 3, 17, 18]) == "Cannot open ⟪1⟫: ⟪2⟫"  # stops at the end id
    assert tok.decode(tok.encode("File Not Found")) == "File Not Found"  # case kept
    again = tokenizer_from_dict(tok.to_dict())
    assert isinstance(again, SubwordTokenizer) and again.encode("Fichier introuvable") == tok.encode(
        "Fichier introuvable"
    )


def _lines(n: int) -> tuple[list[str], list[str]]:
    words = ["file", "open", "save", "close", "print", "copy"]
    fr = {
        "file": "fichier",
        "open": "ouvrir",
        "save": "enregistrer",
        "close": "fermer",
        "print": "imprimer",
        "copy": "copier",
    }
    src = [f"{words[i % 6]} {words[(i // 6) % 6]} %s {i}" for i in range(n)]
    tgt = [f"{fr[words[i % 6]]} {fr[words[(i // 6) % 6]]} %s {i}" for i in range(n)]
    return src, tgt


def test_parallel_text_reads_a_tsv_with_groups_and_two_aligned_files(tmp_path: Path) -> None:
    src, tgt = _lines(120)
    tsv = tmp_path / "pairs.tsv"
    tsv.write_text("en\tfr\tdoc\n" + "".join(f"{s}\t{t}\tdoc{i % 6}\n" for i, (s, t) in enumerate(zip(src, tgt))))
    data = ParallelText(tsv, source_column="en", target_column="fr", group_column="doc", vocab_size=64, max_length=48)
    parts = data.parts()
    assert not set(parts.groups["train"]) & set(parts.groups["test"])
    splits = data.load()
    assert splits.test is not None and len(splits.train) + len(splits.valid) + len(splits.test) == 120
    (tmp_path / "en.txt").write_text("\n".join(src) + "\n")
    (tmp_path / "fr.txt").write_text("\n".join(tgt) + "\n")
    files = ParallelText(tmp_path / "en.txt", target_path=tmp_path / "fr.txt", vocab_size=64, max_length=48)
    assert len(files.load().train) == 96


def test_parallel_text_errors_say_what_to_fix(tmp_path: Path) -> None:
    (tmp_path / "en.txt").write_text("a\nb\n")
    (tmp_path / "fr.txt").write_text("a\n")
    with pytest.raises(DataError, match="aligned"):
        ParallelText(tmp_path / "en.txt", target_path=tmp_path / "fr.txt").load()
    (tmp_path / "p.csv").write_text("source,translation\na,b\n")
    with pytest.raises(DataError, match="target_column="):
        ParallelText(tmp_path / "p.csv").load()
    with pytest.raises(DataError, match="does not exist"):
        ParallelText(tmp_path / "nope.tsv").load()


def test_setup_script_installs_the_same_package_list() -> None:
    script = (Path(__file__).parents[2] / "scripts" / "setup.sh").read_text()
    listed = script.split("GETTEXT_PACKAGES=(", 1)[1].split(")", 1)[0].split()
    assert listed == list(PACKAGES)


def test_german_is_a_second_pair() -> None:
    data = GettextCorpus(lang="de", packages=SMALL_PACKAGES, vocab_size=800, max_length=48)
    parts = data.parts()
    assert len(parts.targets["train"]) > 200
    assert any(word in " ".join(parts.targets["train"]) for word in (" nicht ", " Datei ", " der "))

#!/usr/bin/env python3
"""The Public Suffix List for the engine: public_suffix_list.dat in, crates/engine/src/psl/ out.

    python3 build/psl.py --package publicsuffixlist==VERSION path/to/public_suffix_list.dat [OUT_DIR]

Writes OUT_DIR/list.bin (read by crates/engine/src/psl.rs) and OUT_DIR/VERSION (the list's
VERSION and COMMIT, the package it came from, the rule count), then prints the
sizes of the formats considered. `make psl` runs it; nothing else does.

list.bin, integers little-endian:

    0   4   magic b"PSL1"
    4   4   rules: how many rules it holds (the reader's tests decode as many)
    8   4   names: entries; one entry is one name with all of its rules
    12  2   B: entries per block
    14  2   blocks: ceil(names / B)
    16  2 x blocks: each block's first word, counted from the first word
    then    words: u16 < 64000, each three base-40 symbols v/1600, v/40%40, v%40

A name is written with its labels reversed ("uk.co" for co.uk), and the names
are sorted bytewise, so a lookup is a binary search on the blocks' first names
and a scan of one block. An entry is a head, the characters it does not share
with the previous name (symbols 0-37 = ALPHABET), and an end symbol that gives
the section: 38 ICANN, 39 private. The head is one symbol h < 32 for the
common case (a normal rule sharing h characters), else 32 + flags (1 normal,
2 wildcard `*.name`, 4 exception `!name`) and two symbols s1, s2 sharing
s1 * 40 + s2 characters. A block starts on a new word and its first entry
shares nothing. Characters outside ALPHABET, a wildcard anywhere but first,
or one name in both sections stop the generator: the format has no way to say them.
"""

import argparse
import lzma
import os
import struct
import sys
import unicodedata
import zlib

ALPHABET = "-.0123456789abcdefghijklmnopqrstuvwxyz"
END_ICANN, END_PRIVATE = 38, 39
NORMAL, WILDCARD, EXCEPTION = 1, 2, 4
SHORT_HEAD = 32  # heads below this are "normal rule, shares h characters"
BLOCK = 32  # entries per block: 650 bytes of index, a scan of at most 32 names
# Debian's libpsl DAFSA of a 2023 list, for comparison (the file, when present, is measured).
LIBPSL_DAFSA = "/usr/share/publicsuffix/public_suffix_list.dafsa"
LIBPSL_DAFSA_BYTES = 54368


def fail(message):
    sys.exit(f"build/psl.py: {message}")


def to_ascii(label):
    """One label in the form browsers send: ASCII as is, Unicode as xn-- (punycode)."""
    if label.isascii():
        return label.lower()
    try:
        encoded = label.encode("idna").decode("ascii")
    except UnicodeError:
        encoded = None
    # Python's idna codec is IDNA 2003, whose nameprep maps some characters
    # (ß to ss); browsers follow UTS 46 and keep them. Say so when it happens.
    plain = "xn--" + unicodedata.normalize("NFC", label.lower()).encode("punycode").decode("ascii")
    if encoded is None:
        return plain
    if encoded != plain:
        print(f"    warning: idna gives {encoded} for {label!r}, punycode alone {plain}; kept {encoded}", file=sys.stderr)
    return encoded


def parse(path):
    """The header values and the rules: [(kind, name, section)], name in ASCII."""
    header, rules, section = {}, [], None
    with open(path, encoding="utf-8-sig") as f:
        for number, line in enumerate(f, 1):
            text = line.strip()
            if text.startswith("//"):
                comment = text[2:].strip()
                for key in ("VERSION", "COMMIT"):
                    if comment.startswith(key + ":") and key not in header:
                        header[key] = comment[len(key) + 1 :].strip()
                if "===BEGIN ICANN DOMAINS===" in comment:
                    section = "ICANN"
                elif "===BEGIN PRIVATE DOMAINS===" in comment:
                    section = "private"
                elif "===END " in comment:
                    section = None
                continue
            if not text:
                continue
            if section is None:
                fail(f"{path}:{number}: a rule outside the ICANN and PRIVATE sections")
            rule = text.split()[0]  # the list's format: a rule ends at the first whitespace
            kind, name = NORMAL, rule
            if rule.startswith("*."):
                kind, name = WILDCARD, rule[2:]
            elif rule.startswith("!"):
                kind, name = EXCEPTION, rule[1:]
            name = ".".join(to_ascii(label) for label in name.split("."))
            if not name or any(c not in ALPHABET for c in name) or "" in name.split("."):
                fail(f"{path}:{number}: {rule!r} is not a rule this format can hold")
            rules.append((kind, name, section))
    for key in ("VERSION", "COMMIT"):
        if key not in header:
            fail(f"{path}: no // {key}: line")
    if not rules:
        fail(f"{path}: no rules")
    return header, rules


def reversed_name(name):
    return ".".join(reversed(name.split(".")))


def names_of(rules):
    """{reversed name: [flags, section]}: a name's rules are one entry."""
    names = {}
    for kind, name, section in rules:
        entry = names.setdefault(reversed_name(name), [0, section])
        if entry[1] != section:
            fail(f"{name} has rules in both sections")
        if entry[0] & kind:
            print(f"    warning: a rule for {name} is listed twice", file=sys.stderr)
        entry[0] |= kind
    return names


def shared(a, b):
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def encode(names, block=BLOCK):
    """list.bin (the format above)."""
    keys = sorted(names, key=lambda k: k.encode())
    words, starts = [], []
    for first in range(0, len(keys), block):
        starts.append(len(words))
        symbols, previous = [], ""
        for key in keys[first : first + block]:
            flags, section = names[key]
            same = shared(previous, key)
            if flags == NORMAL and same < SHORT_HEAD:
                symbols.append(same)
            else:
                if same >= 40 * 40:
                    fail(f"{key}: a name too long for the format")
                symbols += [SHORT_HEAD + flags, same // 40, same % 40]
            symbols += [ALPHABET.index(c) for c in key[same:]]
            symbols.append(END_PRIVATE if section == "private" else END_ICANN)
            previous = key
        symbols += [0] * (-len(symbols) % 3)
        words += [a * 1600 + b * 40 + c for a, b, c in zip(symbols[0::3], symbols[1::3], symbols[2::3])]
    if len(words) > 0xFFFF or len(starts) > 0xFFFF:
        fail("the list outgrew 16-bit word offsets")
    return keys, words, starts


def write_bin(rule_count, names, block=BLOCK):
    keys, words, starts = encode(names, block)
    out = b"PSL1" + struct.pack("<IIHH", rule_count, len(keys), block, len(starts))
    out += struct.pack(f"<{len(starts)}H", *starts) + struct.pack(f"<{len(words)}H", *words)
    return out


def decode(data):
    """{reversed name: [flags, section]} from list.bin: the generator checks its own output."""
    magic, rules, count, block, blocks = struct.unpack_from("<4sIIHH", data)
    assert magic == b"PSL1"
    starts = struct.unpack_from(f"<{blocks}H", data, 16)
    words = struct.unpack_from(f"<{(len(data) - 16 - 2 * blocks) // 2}H", data, 16 + 2 * blocks)
    symbols = [s for w in words for s in (w // 1600, w // 40 % 40, w % 40)]
    names = {}
    for b, start in enumerate(starts):
        pos, name = start * 3, ""
        for _ in range(min(block, count - b * block)):
            head = symbols[pos]
            pos += 1
            flags, same = NORMAL, head
            if head >= SHORT_HEAD:
                flags, same = head - SHORT_HEAD, symbols[pos] * 40 + symbols[pos + 1]
                pos += 2
            name = name[:same]
            while symbols[pos] < END_ICANN:
                name += ALPHABET[symbols[pos]]
                pos += 1
            names[name] = [flags, "private" if symbols[pos] == END_PRIVATE else "ICANN"]
            pos += 1
    return rules, names


# ---- Alternatives, measured only.


def byte_front_coding(names, block=BLOCK):
    """The same sorted names, one byte per character: shared count, new characters, a flags byte; u16 block index."""
    keys = sorted(names, key=lambda k: k.encode())
    size, previous = 0, ""
    for i, key in enumerate(keys):
        same = 0 if i % block == 0 else shared(previous, key)
        size += 1 + len(key) - same + 1
        previous = key
    return 16 + 2 * -(-len(keys) // block) + size


def dafsa(rules):
    """A minimal automaton of the rules as written ("*.ck", "!www.ck") plus a section
    symbol, single-child chains merged into one edge: one byte per symbol (6-bit symbol,
    end-of-edge and last-edge flags) and a 2-byte target per edge that does not end a rule."""
    root = {}
    for kind, name, section in rules:
        word = {NORMAL: "", WILDCARD: "*.", EXCEPTION: "!"}[kind] + name + ("\1" if section == "private" else "\0")
        node = root
        for c in word:
            node = node.setdefault(c, {})
    register, indegree = {}, {}

    def minimise(node):
        for c in node:
            node[c] = minimise(node[c])
        key = tuple(sorted((c, id(t)) for c, t in node.items()))
        return register.setdefault(key, node)

    root = minimise(root)
    stack, seen = [root], set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        for t in node.values():
            indegree[id(t)] = indegree.get(id(t), 0) + 1
            stack.append(t)
    size, seen, stack = 0, set(), [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        for c, target in node.items():
            size += 1
            while len(target) == 1 and indegree[id(target)] == 1:
                (c, target), = target.items()
                size += 1
            if c not in "\0\1":
                size += 2
            stack.append(target)
    return size


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dat", help="public_suffix_list.dat")
    parser.add_argument("out", nargs="?", default=os.path.join(os.path.dirname(__file__), "..", "crates", "engine", "src", "psl"))
    parser.add_argument("--package", required=True, help="the PyPI package it came from, e.g. publicsuffixlist==1.1.2.20261023")
    args = parser.parse_args()

    header, rules = parse(args.dat)
    names = names_of(rules)
    # Rules as stored: a rule listed twice counts once.
    count = sum(bin(flags).count("1") for flags, _ in names.values())
    data = write_bin(count, names)
    decoded_rules, decoded = decode(data)
    if decoded_rules != count or decoded != names:
        fail("list.bin does not decode to the list (a bug in this script)")

    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "list.bin"), "wb") as f:
        f.write(data)
    with open(os.path.join(args.out, "VERSION"), "w") as f:
        f.write(f"version {header['VERSION']}\ncommit {header['COMMIT']}\npackage {args.package}\nrules {count}\n")

    icann = sum(1 for r in rules if r[2] == "ICANN")
    kinds = {k: sum(1 for r in rules if r[0] == k) for k in (NORMAL, WILDCARD, EXCEPTION)}
    idn = sum(1 for r in rules if "xn--" in r[1])
    text = "".join({NORMAL: "", WILDCARD: "*.", EXCEPTION: "!"}[k] + n + "\n" for k, n, _ in rules).encode()
    libpsl = os.path.getsize(LIBPSL_DAFSA) if os.path.exists(LIBPSL_DAFSA) else LIBPSL_DAFSA_BYTES
    print(f"    Public Suffix List {header['VERSION']} (commit {header['COMMIT'][:12]}, {args.package})")
    print(
        f"    {len(rules):,} rules: {icann:,} ICANN, {len(rules) - icann:,} private; {kinds[WILDCARD]} wildcards, "
        f"{kinds[EXCEPTION]} exceptions, {idn} with punycode labels"
    )
    rows = [
        ("source file, comments included", os.path.getsize(args.dat)),
        ("rule text, one per line (punycode)", len(text)),
        ("  zlib -9 of it (not searchable; a reference)", len(zlib.compress(text, 9))),
        ("  xz -9e of it (not searchable; a reference)", len(lzma.compress(text, preset=9 | lzma.PRESET_EXTREME))),
        ("sorted names, u32 offsets (binary search)", sum(len(k) + 2 for k in names) + 4 * len(names)),
        (f"front coding, 1 byte a character, blocks of {BLOCK}", byte_front_coding(names)),
        ("DAFSA of the rules, 2-byte targets (estimated)", dafsa(rules)),
        ("libpsl's DAFSA of a 2023 list (Debian; a reference)", libpsl),
        (f"chosen: base-40 front coding, blocks of {BLOCK} (list.bin)", len(data)),
    ]
    for label, size in rows:
        print(f"    {label:<58} {size:>8,} bytes")
    print(f"    wrote {os.path.join(args.out, 'list.bin')} and VERSION")


if __name__ == "__main__":
    main()

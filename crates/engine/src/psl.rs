//! The Public Suffix List (publicsuffix.org), built in: is a domain one of the
//! names under which anyone can register a site (`co.uk`, `github.io`)? A
//! wildcard origin over one would allow sites its owner does not control.
//!
//! `make psl` (build/psl.py) compacts the list into crates/engine/src/psl/list.bin (54 KB
//! for 10,397 rules), so the module and the command line answer from the same
//! data. build/psl.py describes the format: names with their labels reversed
//! ("uk.co"), sorted, front-coded in blocks of 32, three characters to a u16
//! (base 40); a lookup is a binary search on the blocks' first names and a
//! scan of one block. Every read is checked: a corrupt file gives None, never
//! a panic.

use std::cmp::Ordering;

const LIST: &[u8] = include_bytes!("psl/list.bin");
const ABOUT: &str = include_str!("psl/VERSION");

/// The list's `// VERSION:` (when it was published).
pub const VERSION: &str = field(ABOUT.as_bytes(), b"version");
/// The list's `// COMMIT:` in its repository.
pub const COMMIT: &str = field(ABOUT.as_bytes(), b"commit");
/// The rules of the source list, from list.bin's header (the tests decode that many).
pub const RULES: usize = match LIST {
    [_, _, _, _, a, b, c, d, ..] => u32::from_le_bytes([*a, *b, *c, *d]) as usize,
    _ => 0,
};

/// The list's two parts: names delegated by registries (ICANN), and names
/// whose owners let others register under them (private: `github.io`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Section {
    Icann,
    Private,
}

impl Section {
    pub fn as_str(self) -> &'static str {
        match self {
            Section::Icann => "ICANN",
            Section::Private => "private",
        }
    }
}

/// Some(section) when `domain` (lower-case ASCII, punycode, no trailing dot)
/// is itself a public suffix: a rule names it, or a wildcard rule `*.parent`
/// covers it and no exception `!domain` takes it back. The PSL algorithm's
/// implicit `*` (any unknown top-level name) does not count here.
pub fn public_suffix(domain: &str) -> Option<Section> {
    lookup(LIST, domain)?.suffix
}

/// Whether anyone can register names under `domain`, which is what makes a
/// wildcard origin `https://*.domain` unsafe: `domain` is a public suffix
/// (`Some((section, false))`), or every name directly under it is one, by a
/// wildcard rule `*.domain` (`Some((section, true))`: `*.run.app` would
/// allow `evil.anyone.run.app`).
pub fn open_for_registration(domain: &str) -> Option<(Section, bool)> {
    let found = lookup(LIST, domain)?;
    found.suffix.map(|s| (s, false)).or(found.children.map(|s| (s, true)))
}

/// Symbols 0-37 are characters; 38 and 39 end a name and give its section.
const ALPHABET: &[u8] = b"-.0123456789abcdefghijklmnopqrstuvwxyz";
const END_ICANN: u16 = 38;
const END_PRIVATE: u16 = 39;
/// A head below this is the common case, a normal rule sharing that many characters.
const SHORT_HEAD: u16 = 32;
const NORMAL: u16 = 1;
const WILDCARD: u16 = 2;
const EXCEPTION: u16 = 4;
const HEADER: usize = 16;

/// What the list says of one domain: whether it is a public suffix itself
/// (`suffix`), and whether a wildcard rule makes every name under it one
/// (`children`).
#[derive(Debug, PartialEq, Eq)]
struct Found {
    suffix: Option<Section>,
    children: Option<Section>,
}

/// One parse of the list and at most two searches (the domain, its parent)
/// answer both questions; None for a domain the list cannot hold.
fn lookup(data: &[u8], domain: &str) -> Option<Found> {
    // The list holds nothing else; checking here also keeps `*` or an upper-case
    // label from passing for the one label a wildcard rule covers.
    if !domain.bytes().all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.')) {
        return None;
    }
    let list = List::parse(data)?;
    let own = list.find(domain);
    let children = own.filter(|(flags, _)| flags & WILDCARD != 0).map(|(_, section)| section);
    let (flags, section) = own.unwrap_or((0, Section::Icann));
    let suffix = if flags & NORMAL != 0 {
        Some(section)
    } else if flags & EXCEPTION != 0 {
        None
    } else {
        domain
            .split_once('.')
            .filter(|(label, _)| !label.is_empty())
            .and_then(|(_, parent)| list.find(parent))
            .and_then(|(flags, section)| (flags & WILDCARD != 0).then_some(section))
    };
    Some(Found { suffix, children })
}

struct List<'a> {
    names: usize,
    block: usize,
    blocks: usize,
    /// Each block's first word, a u16.
    index: &'a [u8],
    words: &'a [u8],
}

impl<'a> List<'a> {
    fn parse(data: &'a [u8]) -> Option<List<'a>> {
        let (header, rest) = data.split_at_checked(HEADER)?;
        let &[b'P', b'S', b'L', b'1', _, _, _, _, n0, n1, n2, n3, b0, b1, c0, c1] = header else { return None };
        let names = usize::try_from(u32::from_le_bytes([n0, n1, n2, n3])).ok()?;
        let block = usize::from(u16::from_le_bytes([b0, b1]));
        let blocks = usize::from(u16::from_le_bytes([c0, c1]));
        let (index, words) = rest.split_at_checked(blocks * 2)?;
        Some(List { names, block, blocks, index, words })
    }

    /// The flags and section of `domain`'s entry, None when it has none.
    fn find(&self, domain: &str) -> Option<(u16, Section)> {
        let mut key = Vec::with_capacity(domain.len());
        for (i, label) in domain.rsplit('.').enumerate() {
            if i > 0 {
                key.push(b'.');
            }
            key.extend_from_slice(label.as_bytes());
        }
        // The last block whose first name is not after the key holds it, if any does.
        let mut entries = Entries { words: self.words, symbol: 0, word: 0, left: 0, name: Vec::with_capacity(64) };
        let (mut low, mut high) = (0, self.blocks);
        while low < high {
            let middle = low + (high - low) / 2;
            if entries.first_name_cmp(self, middle, &key)? != Ordering::Greater {
                low = middle + 1;
            } else {
                high = middle;
            }
        }
        entries.seek(self, low.checked_sub(1)?)?;
        while let Some(found) = entries.next_entry() {
            match entries.name.cmp(&key) {
                Ordering::Less => {}
                Ordering::Equal => return Some(found),
                Ordering::Greater => return None,
            }
        }
        None
    }
}

/// A block's entries, decoded one after the other (each shares the start of the one before).
struct Entries<'a> {
    words: &'a [u8],
    /// The next symbol, three to a word.
    symbol: usize,
    /// What is left of the current word, its next symbol first.
    word: u16,
    /// Entries left in the block.
    left: usize,
    /// The current entry's name, labels reversed.
    name: Vec<u8>,
}

impl Entries<'_> {
    /// To block `i`'s first entry.
    fn seek(&mut self, list: &List, i: usize) -> Option<()> {
        let start = match list.index.get(i * 2..i * 2 + 2)? {
            &[a, b] => usize::from(u16::from_le_bytes([a, b])),
            _ => return None,
        };
        self.symbol = start * 3;
        self.left = list.names.saturating_sub(i * list.block).min(list.block);
        self.name.clear();
        Some(())
    }

    /// How block `i`'s first name compares with `key`, decoded only as far as
    /// they agree: the binary search reads a few symbols a block, not whole names.
    fn first_name_cmp(&mut self, list: &List, i: usize, key: &[u8]) -> Option<Ordering> {
        self.seek(list, i)?;
        // A first name shares nothing: only the flags' symbols to skip.
        if self.next_symbol()? >= SHORT_HEAD {
            self.next_symbol()?;
            self.next_symbol()?;
        }
        for k in key {
            // Past the alphabet is an end symbol: the name is a prefix of the key.
            match ALPHABET.get(usize::from(self.next_symbol()?)) {
                None => return Some(Ordering::Less),
                Some(c) if c != k => return Some(c.cmp(k)),
                Some(_) => {}
            }
        }
        Some(if self.next_symbol()? >= END_ICANN { Ordering::Equal } else { Ordering::Greater })
    }

    fn next_symbol(&mut self) -> Option<u16> {
        if self.symbol % 3 == 0 {
            self.word = match self.words.get(self.symbol / 3 * 2..)? {
                &[a, b, ..] => u16::from_le_bytes([a, b]),
                _ => return None,
            };
            // Only a word over 63,999 (a corrupt file) would give a symbol over 39.
            if self.word >= 64000 {
                return None;
            }
        }
        let symbol = self.word / 1600;
        self.word = self.word % 1600 * 40;
        self.symbol += 1;
        Some(symbol)
    }

    /// The next entry's flags and section; its name is in `self.name`.
    fn next_entry(&mut self) -> Option<(u16, Section)> {
        self.left = self.left.checked_sub(1)?;
        let head = self.next_symbol()?;
        let (flags, shared) = match head.checked_sub(SHORT_HEAD) {
            None => (NORMAL, head),
            Some(flags) => (flags, self.next_symbol()? * 40 + self.next_symbol()?),
        };
        let shared = usize::from(shared);
        if shared > self.name.len() {
            return None;
        }
        self.name.truncate(shared);
        loop {
            match self.next_symbol()? {
                END_ICANN => return Some((flags, Section::Icann)),
                END_PRIVATE => return Some((flags, Section::Private)),
                s => self.name.push(*ALPHABET.get(usize::from(s))?),
            }
        }
    }
}

/// The value of a `key value` line of crates/engine/src/psl/VERSION, at compile time ("" when absent).
const fn field(mut text: &'static [u8], key: &[u8]) -> &'static str {
    while !text.is_empty() {
        let mut len = 0;
        let mut rest = text;
        while let [c, tail @ ..] = rest {
            if *c == b'\n' {
                break;
            }
            len += 1;
            rest = tail;
        }
        let (line, _) = text.split_at(len);
        if let Some([b' ', value @ ..]) = strip_prefix(line, key) {
            return match std::str::from_utf8(value) {
                Ok(value) => value,
                Err(_) => "",
            };
        }
        text = match rest {
            [_, tail @ ..] => tail,
            [] => rest,
        };
    }
    ""
}

const fn strip_prefix<'t>(mut text: &'t [u8], mut prefix: &[u8]) -> Option<&'t [u8]> {
    while let [p, prefix_tail @ ..] = prefix {
        match text {
            [c, tail @ ..] if *c == *p => (text, prefix) = (tail, prefix_tail),
            _ => return None,
        }
    }
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Section::{Icann, Private};

    /// Every rule in list.bin, as the list writes it (`*.ck`, `!www.ck`), with its section.
    fn rules() -> impl Iterator<Item = (String, Section)> {
        let list = List::parse(LIST).expect("list.bin parses");
        let mut entries = Entries { words: list.words, symbol: 0, word: 0, left: 0, name: Vec::new() };
        let mut out = Vec::new();
        for i in 0..list.blocks {
            entries.seek(&list, i).expect("block");
            for _ in 0..entries.left {
                let (flags, section) = entries.next_entry().expect("every entry decodes");
                let name: Vec<&str> = std::str::from_utf8(&entries.name).expect("ASCII").rsplit('.').collect();
                for (flag, prefix) in [(NORMAL, ""), (WILDCARD, "*."), (EXCEPTION, "!")] {
                    if flags & flag != 0 {
                        out.push((format!("{prefix}{}", name.join(".")), section));
                    }
                }
            }
        }
        out.into_iter()
    }

    #[test]
    fn suffixes_from_the_list() {
        for (domain, section) in [
            ("com", Icann),
            ("ac", Icann),
            ("co.uk", Icann),
            ("kyoto.jp", Icann),
            ("ide.kyoto.jp", Icann),
            ("github.io", Private),
            ("githubusercontent.com", Private),
            ("vercel.app", Private),
            ("pages.dev", Private),
            ("s3.amazonaws.com", Private),
            ("us-east-1.amazonaws.com", Private),
            ("s3.dualstack.us-east-1.amazonaws.com", Private),
            ("cloudfront.net", Private),
            ("helsinki", Icann),
            // 公司.cn and рф, as browsers send them.
            ("xn--55qx5d.cn", Icann),
            ("xn--p1ai", Icann),
        ] {
            assert_eq!(public_suffix(domain), Some(section), "{domain}");
        }
    }

    #[test]
    fn wildcards_and_their_exceptions() {
        // *.ck and !www.ck; *.kawasaki.jp and !city.kawasaki.jp (ICANN); *.compute.amazonaws.com (private).
        for (domain, section) in [
            ("anything.ck", Some(Icann)),
            ("www.ck", None),
            ("ck", None),
            ("x.kawasaki.jp", Some(Icann)),
            ("city.kawasaki.jp", None),
            ("kawasaki.jp", None),
            ("a.b.kawasaki.jp", None),
            ("school.sch.uk", Some(Icann)),
            ("sch.uk", None),
            ("eu-west-1.compute.amazonaws.com", Some(Private)),
            ("compute.amazonaws.com", None),
            // *.run.app and *.mtls.run.app: mtls.run.app is both covered and a wildcard's parent
            // (the psl crate, used before, said no).
            ("mtls.run.app", Some(Private)),
            ("x.mtls.run.app", Some(Private)),
            ("run.app", None),
        ] {
            assert_eq!(public_suffix(domain), section, "{domain}");
        }
    }

    #[test]
    fn names_under_a_suffix_are_not_suffixes() {
        let names = ["example.com", "myteam.github.io", "shop.co.uk", "www.ck", "amazonaws.com", "github.com", "bucket.s3.amazonaws.com"];
        for domain in names {
            assert_eq!(public_suffix(domain), None, "{domain}");
        }
    }

    #[test]
    fn odd_inputs() {
        // Not lower-case ASCII names, empty labels, a wildcard's `*`, a trailing dot, an unknown top-level name.
        const ODD: &[&str] = &[
            "", ".", "..", ".com", "com.", "co.uk.", ".ck", "*.ck", "COM", "Co.Uk", " com", "xn--", "-", "a..ck", "-.-", "com\0", "0",
            "zzzzzzzz",
        ];
        for domain in ODD.iter().chain(&["github.io ", "公司.cn", "\u{ff}"]) {
            assert_eq!(public_suffix(domain), None, "{domain:?}");
        }
        let long = "a.".repeat(300) + "com";
        assert_eq!(public_suffix(&long), None);
    }

    /// A sample checked by hand against public_suffix_list.dat (VERSION 2026-10-22_08-36-41_UTC).
    #[test]
    fn a_sample_of_the_source_list() {
        let all: Vec<(String, Section)> = rules().collect();
        for (rule, section) in [
            ("ac", Icann),
            ("com", Icann),
            ("co.uk", Icann),
            ("*.sch.uk", Icann),
            ("*.ck", Icann),
            ("!www.ck", Icann),
            ("*.kawasaki.jp", Icann),
            ("!city.kawasaki.jp", Icann),
            ("*.er", Icann),
            ("xn--55qx5d.cn", Icann),
            ("xn--p1ai", Icann),
            ("github.io", Private),
            ("vercel.app", Private),
            ("s3.amazonaws.com", Private),
            ("*.compute.amazonaws.com", Private),
            ("blogspot.com", Private),
            ("herokuapp.com", Private),
        ] {
            assert!(all.contains(&(rule.to_string(), section)), "{rule} ({section:?})");
        }
        for absent in ["ck", "er", "kawasaki.jp", "amazonaws.com", "github.com", "sch.uk"] {
            assert!(!all.iter().any(|(r, _)| r == absent), "{absent}");
        }
        assert_eq!(VERSION, "2026-10-22_08-36-41_UTC");
        assert_eq!(COMMIT, "8437e5262f13305f94087abe699b4fe2be1d1de8");
    }

    #[test]
    fn every_rule_round_trips() {
        let all: Vec<(String, Section)> = rules().collect();
        assert_eq!(all.len(), RULES);
        assert_eq!(RULES, field(ABOUT.as_bytes(), b"rules").parse::<usize>().expect("a rules line"));
        assert!(all.len() > 9_000, "{}", all.len());
        // The list's rules in a hash map, and the definition of public_suffix over it.
        let map: std::collections::HashMap<&str, Section> = all.iter().map(|(r, s)| (r.as_str(), *s)).collect();
        let reference = |domain: &str| {
            map.get(domain).copied().or_else(|| {
                let (_, parent) = domain.split_once('.')?;
                if map.contains_key(format!("!{domain}").as_str()) {
                    return None;
                }
                map.get(format!("*.{parent}").as_str()).copied()
            })
        };
        for (rule, section) in &all {
            let name = rule.trim_start_matches("*.").trim_start_matches('!');
            if rule == name {
                assert_eq!(public_suffix(name), Some(*section), "{rule}");
            }
            if rule.starts_with('!') {
                assert_eq!(public_suffix(name), None, "{rule}");
            }
            if rule.starts_with("*.") {
                assert_eq!(public_suffix(&format!("zz-9.{name}")), Some(*section), "{rule}");
            }
            for domain in [name.to_string(), format!("zz-9.{name}"), format!("a.zz-9.{name}")] {
                assert_eq!(public_suffix(&domain), reference(&domain), "{domain}");
            }
            if let Some((_, parent)) = name.split_once('.') {
                assert_eq!(public_suffix(parent), reference(parent), "{parent}");
            }
        }
    }

    #[test]
    fn a_corrupt_list_answers_none_and_never_panics() {
        let domains = ["com", "co.uk", "github.io", "x.kawasaki.jp", "www.ck", "zz.example", ""];
        for len in (0..LIST.len()).step_by(97).chain([1, 15, 16, 17, 18, LIST.len() - 1]) {
            let cut = LIST.get(..len).expect("in range");
            for d in domains {
                let _ = lookup(cut, d);
            }
        }
        let mut bytes = LIST.to_vec();
        let mut seed: u32 = 7;
        for round in 0..400 {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let at = (seed >> 8) as usize % bytes.len();
            bytes[at] ^= (seed >> 24) as u8 | 1;
            if round % 4 == 0 {
                bytes[(seed as usize >> 3) % 16] = (seed >> 16) as u8;
            }
            for d in domains {
                let _ = lookup(&bytes, d);
            }
        }
        assert_eq!(lookup(b"", "com"), None);
        assert_eq!(lookup(b"PSL2\0\0\0\0\0\0\0\0\0\0\0\0", "com"), None);
        assert_eq!(lookup(&[0xff; 4096], "com"), None);
    }
}

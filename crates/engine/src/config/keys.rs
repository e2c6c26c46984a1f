//! The policy's keys: each in snake_case and, where AWS has one, in
//! `CorsConfiguration`'s spelling; reading them from one JSON object, and
//! "did you mean" for the rest.

use serde_json::{Map, Value};

use super::errors::{show, Errors};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Key {
    AllowOrigins,
    AllowMethods,
    AllowHeaders,
    ExposeHeaders,
    MaxAge,
    AllowCredentials,
    AllowPrivateNetwork,
    AllowInsecureOrigins,
    TimingAllowOrigin,
    PreflightStatus,
    Debug,
    AllowOriginsFrom,
    BlockCrossOriginWrites,
}

/// Every accepted key: snake_case first, then AWS `CorsConfiguration`'s spelling.
pub(super) const KEYS: [(&str, &str, Key); 13] = [
    ("allow_origins", "AllowOrigins", Key::AllowOrigins),
    ("allow_methods", "AllowMethods", Key::AllowMethods),
    ("allow_headers", "AllowHeaders", Key::AllowHeaders),
    ("expose_headers", "ExposeHeaders", Key::ExposeHeaders),
    ("max_age", "MaxAge", Key::MaxAge),
    ("allow_credentials", "AllowCredentials", Key::AllowCredentials),
    ("allow_private_network", "", Key::AllowPrivateNetwork),
    ("allow_insecure_origins", "", Key::AllowInsecureOrigins),
    ("timing_allow_origin", "", Key::TimingAllowOrigin),
    ("preflight_status", "", Key::PreflightStatus),
    ("debug", "", Key::Debug),
    ("allow_origins_from", "", Key::AllowOriginsFrom),
    ("block_cross_origin_writes", "", Key::BlockCrossOriginWrites),
];

/// The policy keys of one JSON object, each with the spelling it was given in.
pub(super) struct Found<'o> {
    slots: [Option<(&'o str, &'o Value)>; KEYS.len()],
    prefix: &'o str,
}

impl<'o> Found<'o> {
    /// The key's field path (as messages name it) and value, if given.
    pub(super) fn get(&self, key: Key) -> Option<(String, &'o Value)> {
        let prefix = self.prefix;
        KEYS.iter()
            .position(|(_, _, k)| *k == key)
            .and_then(|i| self.slots.get(i).copied().flatten())
            .map(|(name, v)| (format!("{prefix}{name}"), v))
    }
}

/// Reads the policy keys of `obj`, refusing unknown keys and a key given in
/// both spellings. `_`-prefixed keys and the caller's `extra` are skipped.
pub(super) fn policy_keys<'o>(obj: &'o Map<String, Value>, prefix: &'o str, extra: &[&str], errs: &mut Errors) -> Found<'o> {
    let mut found: [Option<(&str, &Value)>; KEYS.len()] = [None; KEYS.len()];
    for (name, value) in obj {
        // Gateways such as Higress inject their own `_`-prefixed keys.
        if name.starts_with('_') || extra.contains(&name.as_str()) {
            continue;
        }
        let Some(i) = KEYS.iter().position(|(snake, aws, _)| name == snake || (!aws.is_empty() && name == aws)) else {
            errs.push(
                format!("{prefix}{name}"),
                show(value),
                "is not a known key",
                match suggest(name) {
                    Some(k) => format!("did you mean \"{k}\"? (known keys: {})", known_keys()),
                    None => format!("remove it (known keys: {})", known_keys()),
                },
            );
            continue;
        };
        if let Some(slot) = found.get_mut(i) {
            if let Some((first, _)) = slot {
                errs.push(format!("{prefix}{name}"), show(value), format!("is given twice (also as \"{first}\")"), "keep one spelling");
            } else {
                *slot = Some((name.as_str(), value));
            }
        }
    }
    Found { slots: found, prefix }
}

pub(super) fn known_keys() -> String {
    let names: Vec<&str> = KEYS.iter().map(|(s, _, _)| *s).collect();
    names.join(", ")
}

/// The known key closest to a mistyped one, if any is close.
pub(super) fn suggest(name: &str) -> Option<&'static str> {
    let squash = |s: &str| s.chars().filter(|c| *c != '_' && *c != '-').collect::<String>().to_ascii_lowercase();
    let wanted = squash(name);
    KEYS.iter()
        .map(|(snake, _, _)| (edit_distance(&wanted, &squash(snake)), *snake))
        .filter(|(d, _)| *d <= 3)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

pub(super) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev.get(j).copied().unwrap_or(0) + usize::from(ca != *cb);
            let del = prev.get(j + 1).copied().unwrap_or(0) + 1;
            let ins = cur.get(j).copied().unwrap_or(0) + 1;
            if let Some(c) = cur.get_mut(j + 1) {
                *c = sub.min(del).min(ins);
            }
        }
        prev = cur;
    }
    prev.last().copied().unwrap_or(0)
}

//! HTTP token rules (RFC 9110 §5.6.2) shared by configuration checks and the
//! request path. Methods and header names must be tokens; anything else in a
//! header list is hostile or broken and is refused, never guessed at.

/// `tchar` from RFC 9110.
pub fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(b, b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.' | b'^' | b'_' | b'`' | b'|' | b'~')
}

pub fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| is_tchar(b))
}

/// The bytes as text when they are a token (tokens are ASCII).
pub fn as_token(s: &[u8]) -> Option<&str> {
    if is_token(s) {
        std::str::from_utf8(s).ok()
    } else {
        None
    }
}

/// A list of tokens as one canonical value: elements trimmed, empty ones
/// dropped, joined with ", ". Borrowed when the value is already in that
/// form (what browsers send), so the usual echo allocates nothing.
pub fn normalised_list(value: &[u8]) -> std::borrow::Cow<'_, str> {
    // Compare the value with its canonical form as it would be written.
    let mut at = 0;
    let mut canonical = true;
    for (i, e) in list_elements(value).enumerate() {
        if i > 0 {
            canonical &= value.get(at..at + 2) == Some(b", ");
            at += 2;
        }
        canonical &= value.get(at..at + e.len()) == Some(e);
        at += e.len();
    }
    if canonical && at == value.len() {
        if let Ok(text) = std::str::from_utf8(value) {
            return std::borrow::Cow::Borrowed(text);
        }
    }
    let mut out = String::with_capacity(value.len());
    for e in list_elements(value) {
        if !out.is_empty() {
            out.push_str(", ");
        }
        out.push_str(&String::from_utf8_lossy(e));
    }
    std::borrow::Cow::Owned(out)
}

/// Optional whitespace around list elements.
fn trim_ows(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|&b| b != b' ' && b != b'\t');
    let Some(start) = start else {
        return &[];
    };
    let end = s.iter().rposition(|&b| b != b' ' && b != b'\t').map_or(start, |e| e + 1);
    s.get(start..end).unwrap_or(&[])
}

/// Trims optional whitespace from a whole header value.
/// `s` without `prefix`, compared ignoring ASCII case (header names), or
/// None when `s` does not start with it.
pub fn strip_prefix_ignore_case<'a>(s: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| s.get(prefix.len()..)).flatten()
}

pub fn trim(s: &[u8]) -> &[u8] {
    trim_ows(s)
}

/// Elements of a comma-separated header value, whitespace trimmed, empty
/// elements skipped (RFC 9110 §5.6.1 lets recipients ignore them).
pub fn list_elements(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value.split(|&b| b == b',').map(trim_ows).filter(|e| !e.is_empty())
}

/// [`list_elements`] for text (configuration, command-line arguments).
pub fn list_elements_str(value: &str) -> impl Iterator<Item = &str> {
    // Splitting at ASCII commas and trimming ASCII blanks keeps UTF-8 intact.
    list_elements(value.as_bytes()).filter_map(|e| std::str::from_utf8(e).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens() {
        assert!(is_token(b"GET"));
        assert!(is_token(b"x-custom_header.1"));
        assert!(is_token(b"*"));
        for bad in [&b""[..], b"a b", b"a,b", b"a:b", b"caf\xc3\xa9", b"a\r\nb", b"(x)", b"\"q\""] {
            assert!(!is_token(bad), "{:?} accepted", bad);
        }
    }

    #[test]
    fn list_parsing_trims_and_skips_empties() {
        let got: Vec<&[u8]> = list_elements(b" a ,\tb,, ,c\t").collect();
        assert_eq!(got, vec![&b"a"[..], b"b", b"c"]);
        assert_eq!(list_elements(b"").count(), 0);
        assert_eq!(list_elements(b" , ,").count(), 0);
        assert_eq!(trim(b"  x y \t"), b"x y");
        assert_eq!(trim(b"   "), b"");
    }

    #[test]
    fn lists_are_normalised_for_echoing() {
        let cases: [(&[u8], &str, bool); 10] = [
            (b"a,,b, c", "a, b, c", false),
            (b"a,\tb", "a, b", false),
            (b"a, b", "a, b", true),
            (b"a", "a", true),
            (b"a,b", "a, b", false),
            (b" a ,b ", "a, b", false),
            (b"a,,b", "a, b", false),
            (b"a, ,b", "a, b", false),
            (b"a,  b", "a, b", false),
            (b",a", "a", false),
        ];
        for (input, want, borrowed) in cases {
            let got = normalised_list(input);
            assert_eq!(got, want, "{:?}", String::from_utf8_lossy(input));
            assert_eq!(matches!(got, std::borrow::Cow::Borrowed(_)), borrowed, "{:?}", String::from_utf8_lossy(input));
        }
    }
}

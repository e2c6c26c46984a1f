//! The proxy-wasm header-map wire format: a little-endian u32 count, then a
//! (name length, value length) u32 pair per header, then each name and value
//! followed by a NUL byte. Parsing is bounds-checked throughout: a host that
//! sends a short or lying buffer yields fewer headers, never a trap.

fn read_u32(buf: &[u8], at: usize) -> Option<usize> {
    let bytes: [u8; 4] = buf.get(at..at.checked_add(4)?)?.try_into().ok()?;
    usize::try_from(u32::from_le_bytes(bytes)).ok()
}

/// Iterates over the (name, value) pairs of a serialised header map.
pub fn pairs(buf: &[u8]) -> Pairs<'_> {
    let count = read_u32(buf, 0).unwrap_or(0);
    let data = count.checked_mul(8).and_then(|n| n.checked_add(4)).unwrap_or(usize::MAX);
    Pairs { buf, count, index: 0, data }
}

pub struct Pairs<'a> {
    buf: &'a [u8],
    count: usize,
    index: usize,
    /// Where the next name starts.
    data: usize,
}

impl<'a> Iterator for Pairs<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        if self.index >= self.count {
            return None;
        }
        let sizes = self.index.checked_mul(8)?.checked_add(4)?;
        let name_len = read_u32(self.buf, sizes)?;
        let value_len = read_u32(self.buf, sizes.checked_add(4)?)?;
        let name_end = self.data.checked_add(name_len)?;
        let name = self.buf.get(self.data..name_end)?;
        let value_start = name_end.checked_add(1)?;
        let value_end = value_start.checked_add(value_len)?;
        let value = self.buf.get(value_start..value_end)?;
        self.data = value_end.checked_add(1)?;
        self.index += 1;
        Some((name, value))
    }
}

/// Serialises header pairs for a local reply.
pub fn serialize_pairs<V: AsRef<str>>(headers: &[(&str, V)]) -> Vec<u8> {
    let size = 4 + headers.iter().map(|(n, v)| 8 + n.len() + v.as_ref().len() + 2).sum::<usize>();
    let mut out = Vec::with_capacity(size);
    out.extend_from_slice(&(headers.len() as u32).to_le_bytes());
    for (n, v) in headers {
        out.extend_from_slice(&(n.len() as u32).to_le_bytes());
        out.extend_from_slice(&(v.as_ref().len() as u32).to_le_bytes());
    }
    for (n, v) in headers {
        out.extend_from_slice(n.as_bytes());
        out.push(0);
        out.extend_from_slice(v.as_ref().as_bytes());
        out.push(0);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let headers = [("vary", "Origin"), ("x", ""), ("access-control-allow-origin", "*")];
        let buf = serialize_pairs(&headers);
        let back: Vec<(&[u8], &[u8])> = pairs(&buf).collect();
        let want: Vec<(&[u8], &[u8])> = headers.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())).collect();
        assert_eq!(back, want);
        assert_eq!(pairs(&serialize_pairs::<&str>(&[])).count(), 0);
    }

    #[test]
    fn truncated_or_lying_buffers_never_panic() {
        let buf = serialize_pairs(&[("name", "value"), ("other", "thing")]);
        for cut in 0..buf.len() {
            let _ = pairs(buf.get(..cut).unwrap_or(&[])).count();
        }
        assert_eq!(pairs(&[]).count(), 0);
        // A count far larger than the buffer.
        let mut lying = buf.clone();
        lying.splice(0..4, u32::MAX.to_le_bytes());
        assert_eq!(pairs(&lying).count(), 0);
        // A name length past the end.
        let mut long = buf;
        long.splice(4..8, 1_000_000u32.to_le_bytes());
        assert_eq!(pairs(&long).count(), 0);
    }
}

//! The proxy-wasm header-map wire format as a property: never a panic on
//! any buffer, and a round trip for real ones.

use edge_cors_wasm::wire;
use proptest::prelude::*;

proptest! {
    #[test]
    fn wire_format_round_trips(bytes in prop::collection::vec(any::<u8>(), 0..96),
                               pairs in prop::collection::vec(("[ -~]{0,12}", "[ -~]{0,12}"), 0..8)) {
        let _ = wire::pairs(&bytes).count();
        let refs: Vec<(&str, &str)> = pairs.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        let buf = wire::serialize_pairs(&refs);
        let back: Vec<(&[u8], &[u8])> = wire::pairs(&buf).collect();
        let want: Vec<(&[u8], &[u8])> = refs.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())).collect();
        prop_assert_eq!(back, want);
    }

}

//! Origins: parsing `allow_origins` entries at configure time and matching a
//! request's `Origin` value on the hot path.
//!
//! Browsers send origins in one canonical form (lower-case scheme and host,
//! no default port, punycode hosts), so configuration entries are normalised
//! to that form once and the request value is compared as bytes: no
//! allocation, no case folding, no regex. Anything that is not in canonical
//! form simply does not match.
//!
//! - `entry`: one configured entry (`OriginEntry`), parsed into canonical form;
//! - `request`: a request's `Origin` as browsers send it;
//! - `host`: hosts and ports, the one place that splits `host:port`, checks
//!   a port and a host's bytes (the engine and the command line use them);
//! - `set`: the compiled set a request's origin is matched against.

mod entry;
mod host;
mod request;
mod set;

pub use entry::{EntryError, OriginEntry, Port, Scheme, APP_SCHEMES};
pub use host::{port_number, split_host_port, whatwg_ipv6, HostPort};
pub use request::{is_request_origin, parse_request_origin};
pub(crate) use set::FastHash;
pub use set::OriginSet;

#[cfg(test)]
mod tests;

//! Policies the suites share: the contract's example (docs/contract.md), and
//! the place for any policy a second suite needs. A suite's own variants stay
//! beside its tests, where the difference they make is explained.

/// The contract's example policy.
pub const CONTRACT: &str = r#"{
  "allow_origins": ["https://app.example.com", "https://*.example.com"],
  "allow_methods": ["GET", "POST"],
  "allow_headers": ["content-type", "authorization"],
  "expose_headers": ["etag", "x-request-id"],
  "max_age": 3600,
  "allow_credentials": false,
  "allow_private_network": false
}"#;

//! Empty: the test is tests/host.rs.

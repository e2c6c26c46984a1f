//! `make portability`: what other hosts and tools see: the imports' output
//! loaded by a real Envoy, the module in other proxy-wasm hosts, the OCI
//! image. One binary, a module per suite.

mod hosts;
mod image;
mod imports;

//! One file (or folder) per subcommand. Each decides into a typed value
//! (what the command found) and renders that value to text separately, so
//! the decisions are unit-tested without the binary.

pub mod check;
pub mod explain;
pub mod import;
pub mod probe;
pub mod render;

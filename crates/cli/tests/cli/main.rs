//! `make cli-tests`: the `edge-cors` binary and the files users run, in one
//! test binary (a module per suite).

mod cli;
mod deploy;
mod docs;
mod render_run;

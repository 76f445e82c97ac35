//! The `no_std` logic of `kmod/core` (crate fvs-core), compiled into the module from the same
//! files `cargo test` exercises on the host. Core modules refer to each other via `super::`.
#![allow(dead_code, missing_docs, unreachable_pub)]

#[path = "../core/src/procfmt.rs"]
pub(crate) mod procfmt;

//! The `no_std` logic of `kmod/core` (crate fvs-core), compiled into the module from the same
//! files `cargo test` exercises on the host. Core modules refer to each other via `super::`.
#![allow(dead_code, missing_docs, unreachable_pub)]

#[path = "../core/src/procfmt.rs"]
pub(crate) mod procfmt;

#[path = "../core/src/hash.rs"]
pub(crate) mod hash;

#[path = "../core/src/sched/mod.rs"]
pub(crate) mod sched;

#[path = "../core/src/proto/mod.rs"]
pub(crate) mod proto;

#[path = "../core/src/csum.rs"]
pub(crate) mod csum;

#[path = "../core/src/parse.rs"]
pub(crate) mod parse;

#[path = "../core/src/conn_hash.rs"]
pub(crate) mod conn_hash;

#[path = "../core/src/estimator.rs"]
pub(crate) mod estimator;

#[path = "../core/src/defense.rs"]
pub(crate) mod defense;

#[path = "../core/src/ftp.rs"]
pub(crate) mod ftp;

#[path = "../core/src/sip.rs"]
pub(crate) mod sip;

#[path = "../core/src/sync.rs"]
pub(crate) mod sync;

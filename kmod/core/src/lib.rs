//! fvs-core: the load balancer's pure logic, free of kernel types.
//!
//! Every module here is `no_std` and allocation-free so that fvs.ko can compile the same files
//! (through `#[path]` modules) and `cargo test` can exercise them on the host.
#![no_std]
#![forbid(unsafe_code)]

#[cfg(test)]
extern crate std;

pub mod conn_hash;
pub mod csum;
pub mod defense;
pub mod estimator;
pub mod ftp;
pub mod hash;
pub mod parse;
pub mod procfmt;
pub mod proto;
pub mod sched;
pub mod sip;
pub mod sync;

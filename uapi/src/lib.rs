//! The IPVS control protocol, as `include/uapi/linux/ip_vs.h` defines it.
//!
//! `no_std`, dependency-free and `const`-only. The definitions live in `ipvs.rs`, which fvs.ko
//! `include!`s too, so the module and `ipvsadm-rs` share one definition of every command,
//! attribute, flag and policy.
#![no_std]
#![allow(missing_docs)]

include!("ipvs.rs");

//! Load-time proof that the generated bindings describe the running kernel's structs: the C
//! compiler's sizes and offsets (exported by helpers.c) must equal bindgen's, or init fails.

use super::bindings as b;
use core::mem::{offset_of, size_of};
use kernel::prelude::*;

pub(crate) fn check() -> Result {
    // SAFETY: plain `const size_t` objects defined in helpers.c.
    let c = unsafe {
        [
            ("sizeof(struct net)", b::fvs_c_sizeof_net, size_of::<b::net>()),
            ("offsetof(net, proc_net)", b::fvs_c_offsetof_net_proc_net, offset_of!(b::net, proc_net)),
            ("sizeof(struct sk_buff)", b::fvs_c_sizeof_sk_buff, size_of::<b::sk_buff>()),
            ("offsetof(sk_buff, len)", b::fvs_c_offsetof_sk_buff_len, offset_of!(b::sk_buff, len)),
            ("sizeof(struct nf_hook_ops)", b::fvs_c_sizeof_nf_hook_ops, size_of::<b::nf_hook_ops>()),
            ("sizeof(struct genl_family)", b::fvs_c_sizeof_genl_family, size_of::<b::genl_family>()),
            ("sizeof(struct genl_info)", b::fvs_c_sizeof_genl_info, size_of::<b::genl_info>()),
            ("sizeof(struct netlink_callback)", b::fvs_c_sizeof_netlink_callback, size_of::<b::netlink_callback>()),
            ("sizeof(struct pernet_operations)", b::fvs_c_sizeof_pernet_operations, size_of::<b::pernet_operations>()),
            ("offsetof(net_device, mtu)", b::fvs_c_offsetof_net_device_mtu, offset_of!(b::net_device, mtu)),
            ("sizeof(struct nla_policy)", b::fvs_c_sizeof_nla_policy, size_of::<b::nla_policy>()),
            ("offsetof(net_device, ifindex)", b::fvs_c_offsetof_net_device_ifindex, offset_of!(b::net_device, ifindex)),
            ("offsetof(socket, sk)", b::fvs_c_offsetof_socket_sk, offset_of!(b::socket, sk)),
            ("offsetof(sock, sk_data_ready)", b::fvs_c_offsetof_sock_sk_data_ready, offset_of!(b::sock, sk_data_ready)),
            ("sizeof(struct msghdr)", b::fvs_c_sizeof_msghdr, size_of::<b::msghdr>()),
        ]
    };
    let mut ok = true;
    for (what, c_val, rust_val) in c {
        if c_val != rust_val {
            pr_err!("binding layout mismatch: {} is {} in C, {} in the bindings\n", what, c_val, rust_val);
            ok = false;
        }
    }
    if ok {
        Ok(())
    } else {
        Err(EINVAL)
    }
}

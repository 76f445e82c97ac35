/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel headers fvs.ko's bindings are generated from (by bindgen, at build time, with KDIR's
 * own C flags). The kernel crate's bindings lack netfilter, generic netlink, pernet and the IP
 * headers; these are ours. Only what bindgen_parameters allowlists is emitted.
 */
#include <linux/capability.h>
#include <linux/errno.h>
#include <linux/icmp.h>
#include <linux/icmpv6.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/ip_vs.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/jhash.h>
#include <linux/netdevice.h>
#include <linux/netfilter.h>
#include <linux/netfilter_ipv4.h>
#include <linux/netfilter_ipv6.h>
#include <linux/percpu.h>
#include <linux/proc_fs.h>
#include <linux/random.h>
#include <linux/rculist.h>
#include <linux/sctp.h>
#include <linux/seq_file.h>
#include <linux/skbuff.h>
#include <linux/slab.h>
#include <linux/sysctl.h>
#include <linux/tcp.h>
#include <linux/timer.h>
#include <linux/udp.h>
#include <linux/uaccess.h>
#include <linux/sockptr.h>
#include <linux/workqueue.h>
#include <net/genetlink.h>
#include <net/net_namespace.h>
#include <net/netlink.h>
#include <net/netns/generic.h>
#include <uapi/linux/netfilter/nf_tables.h>

/* Values that are macros bindgen cannot evaluate. */
const size_t FVS_NLMSG_DEFAULT_SIZE = NLMSG_DEFAULT_SIZE;
const gfp_t FVS_GFP_KERNEL = GFP_KERNEL;
const gfp_t FVS_GFP_ATOMIC = GFP_ATOMIC;

/* Trampolines in src/helpers.c for static inline functions. */
void *fvs_net_generic(const struct net *net, unsigned int id);
struct net *fvs_seq_file_single_net(struct seq_file *seq);
struct net *fvs_seq_file_net(struct seq_file *seq);
extern const unsigned int FVS_SEQ_NET_PRIVATE_SIZE;
struct net *fvs_genl_info_net(const struct genl_info *info);
struct net *fvs_skb_sock_net(const struct sk_buff *skb);
struct sk_buff *fvs_genlmsg_new(size_t payload, gfp_t flags);
void *fvs_genlmsg_put_reply(struct sk_buff *skb, struct genl_info *info,
			    const struct genl_family *family, int flags, u8 cmd);
void fvs_genlmsg_end(struct sk_buff *skb, void *hdr);
void fvs_genlmsg_cancel(struct sk_buff *skb, void *hdr);
int fvs_genlmsg_reply(struct sk_buff *skb, struct genl_info *info);
void fvs_nlmsg_free(struct sk_buff *skb);
struct nlattr *fvs_nla_nest_start(struct sk_buff *skb, int attrtype);
void fvs_nla_nest_end(struct sk_buff *skb, struct nlattr *start);
void fvs_nla_nest_cancel(struct sk_buff *skb, struct nlattr *start);
void fvs_rcu_read_lock(void);
void fvs_rcu_read_unlock(void);
u32 fvs_netlink_cb_portid(const struct sk_buff *skb);
extern const size_t fvs_c_sizeof_net;
extern const size_t fvs_c_offsetof_net_proc_net;
extern const size_t fvs_c_sizeof_sk_buff;
extern const size_t fvs_c_offsetof_sk_buff_len;
extern const size_t fvs_c_sizeof_nf_hook_ops;
extern const size_t fvs_c_sizeof_genl_family;
extern const size_t fvs_c_sizeof_genl_info;
extern const size_t fvs_c_sizeof_netlink_callback;
extern const size_t fvs_c_sizeof_pernet_operations;
extern const size_t fvs_c_sizeof_nla_policy;

#include <net/route.h>
#include <net/addrconf.h>
#include <net/ipv6.h>
const unsigned long FVS_HZ = HZ;
void fvs_dev_put(struct net_device *dev);
extern const size_t fvs_c_offsetof_net_device_mtu;
extern const size_t fvs_c_offsetof_net_device_ifindex;
extern const size_t fvs_c_offsetof_socket_sk;
extern const size_t fvs_c_offsetof_sock_sk_data_ready;
extern const size_t fvs_c_sizeof_msghdr;
void *fvs_skb_header_pointer(const struct sk_buff *skb, int offset, int len, void *buffer);
u32 fvs_skb_mark(const struct sk_buff *skb);
unsigned long fvs_jiffies(void);
void fvs_local_bh_disable(void);
void fvs_local_bh_enable(void);
void fvs_timer_setup(struct timer_list *timer, void (*fn)(struct timer_list *));

/* Transmit path (src/helpers.c). */
unsigned char *fvs_skb_data(struct sk_buff *skb);
unsigned int fvs_skb_headlen(const struct sk_buff *skb);
bool fvs_skb_csum_partial(const struct sk_buff *skb);
void fvs_skb_csum_unnecessary(struct sk_buff *skb);
void fvs_skb_forward_csum(struct sk_buff *skb);
bool fvs_skb_is_gso(const struct sk_buff *skb);
void fvs_sctp_nat_csum(struct sk_buff *skb, unsigned int off);
bool fvs_skb_dst_sctp_crc(const struct sk_buff *skb);
int fvs_skb_cow(struct sk_buff *skb, unsigned int headroom);
int fvs_skb_cow_head(struct sk_buff *skb, unsigned int headroom);
void fvs_kfree_skb(struct sk_buff *skb);
void fvs_skb_set_ipvs_property(struct sk_buff *skb);
bool fvs_skb_ipvs_property(const struct sk_buff *skb);
void fvs_skb_set_ignore_df(struct sk_buff *skb);
void fvs_skb_notrack(struct sk_buff *skb);
void fvs_skb_prepare_send(struct sk_buff *skb, bool leaving, bool keep_ct, bool ignore_df);
unsigned char *fvs_skb_linear(struct sk_buff *skb, unsigned int len);
unsigned char *fvs_skb_writable(struct sk_buff *skb, unsigned int len);
unsigned char *fvs_skb_writable_csum(struct sk_buff *skb, unsigned int len, bool *partial);
unsigned int fvs_hook_prologue(struct sk_buff *skb);
u64 fvs_now_ns(void);
const unsigned int FVS_HOOK_SKIP = 1;
const unsigned int FVS_HOOK_BH = 2;
void fvs_skb_drop_early_demux_sk(struct sk_buff *skb);
void fvs_skb_clear_tstamp(struct sk_buff *skb);
struct rtable *fvs_route_output4(struct net *net, __be32 daddr, bool known_nh, __be32 *saddr);
unsigned int fvs_rt_flags(const struct rtable *rt);
unsigned int fvs_rt_mtu(const struct rtable *rt);
unsigned int fvs_rt_hard_header_len(const struct rtable *rt);
unsigned int fvs_rt_ll_reserved(const struct rtable *rt);
void fvs_rt_put(struct rtable *rt);
void fvs_skb_set_rt(struct sk_buff *skb, struct rtable *rt);
bool fvs_skb_rt_is_input(const struct sk_buff *skb);
bool fvs_skb_rt_local(const struct sk_buff *skb);
bool fvs_skb_dst_not_loopback(const struct sk_buff *skb);
struct sock *fvs_skb_sk(const struct sk_buff *skb);
#include <linux/netfilter_ipv6.h>
#include <net/ip6_route.h>
int fvs_nf_local_out4(struct net *net, struct sk_buff *skb);
void fvs_icmp_send(struct sk_buff *skb, int type, int code, __be32 info);
void fvs_dst_link_failure(struct sk_buff *skb);
void fvs_skb_tunnel_inner(struct sk_buff *skb, u8 inner_proto);
unsigned char *fvs_skb_push_network_header(struct sk_buff *skb, unsigned int len);
void fvs_ip_select_ident(struct net *net, struct sk_buff *skb);
bool fvs_skb_pull_to_network(struct sk_buff *skb, unsigned int len, unsigned int hlen);
void fvs_consume_skb(struct sk_buff *skb);
#include <net/ip_tunnels.h>
#include <net/gso.h>
const unsigned int FVS_RTCF_LOCAL = RTCF_LOCAL;
const unsigned int FVS_SKB_GSO_IPXIP4 = SKB_GSO_IPXIP4;

/* Per-CPU counters (src/helpers.c). */
void fvs_percpu_u64_add(void *base, unsigned int idx, u64 v);
void fvs_percpu_u64_add2_x3(void *a, void *b, void *c, unsigned int i1, u64 v1, unsigned int i2, u64 v2);
u64 fvs_percpu_u64_read(void *base, int cpu, unsigned int idx);
int fvs_next_possible_cpu(int prev);
void *fvs_alloc_percpu(size_t size, size_t align);

/* Slab caches and RCU callbacks (src/helpers.c). */
struct kmem_cache *fvs_kmem_cache_create(const char *name, unsigned int size);
void *fvs_kmem_cache_alloc_atomic(struct kmem_cache *cache);

/* IPv6 transmit (src/helpers.c). */
struct dst_entry *fvs_route_output6(struct net *net, const struct in6_addr *daddr,
				    bool known_nh, struct in6_addr *saddr);
bool fvs_dst6_is_local(const struct dst_entry *dst);
unsigned int fvs_dst_mtu(const struct dst_entry *dst);
unsigned int fvs_dst_hard_header_len(const struct dst_entry *dst);
unsigned int fvs_dst_ll_reserved(const struct dst_entry *dst);
void fvs_dst_release(struct dst_entry *dst);
void fvs_skb_set_dst(struct sk_buff *skb, struct dst_entry *dst);
int fvs_nf_local_out6(struct net *net, struct sk_buff *skb);
/* Cached routes of real servers (src/helpers.c; sys/dst.rs). */
struct dst_entry *fvs_rt_dst(struct rtable *rt);
struct fvs_dst_info {
	bool local;
	unsigned int mtu;
	unsigned int hard_header_len;
	unsigned int ll_reserved;
};
struct net *fvs_netdev_down_net(unsigned long event, void *ptr);
bool fvs_dst_check_info(struct dst_entry *dst, u32 cookie, bool v6, struct fvs_dst_info *info);
u32 fvs_dst_cookie6(struct dst_entry *dst);
unsigned int fvs_dst_rt_flags(const struct dst_entry *dst);
void fvs_skb_set_dst_noref(struct sk_buff *skb, struct dst_entry *dst);
int fvs_skb_set_dst_noref_cow(struct sk_buff *skb, struct dst_entry *dst, unsigned int headroom);
void fvs_icmpv6_send(struct sk_buff *skb, u8 type, u8 code, __u32 info);
unsigned char *fvs_skb_push_network_header6(struct sk_buff *skb, unsigned int len);
const unsigned int FVS_SKB_GSO_IPXIP6 = SKB_GSO_IPXIP6;
#include <net/udp.h>
#include <net/ip6_checksum.h>
const unsigned int FVS_SKB_GSO_UDP_TUNNEL = SKB_GSO_UDP_TUNNEL;
const unsigned int FVS_SKB_GSO_UDP_TUNNEL_CSUM = SKB_GSO_UDP_TUNNEL_CSUM;
const unsigned int FVS_SKB_GSO_TUNNEL_REMCSUM = SKB_GSO_TUNNEL_REMCSUM;
const unsigned int FVS_SKB_GSO_GRE = SKB_GSO_GRE;
const unsigned int FVS_SKB_GSO_GRE_CSUM = SKB_GSO_GRE_CSUM;
__be16 fvs_udp_flow_src_port(struct net *net, struct sk_buff *skb);
void fvs_gre_build_header(struct sk_buff *skb, bool csum, __be16 proto);
unsigned int fvs_skb_headroom(const struct sk_buff *skb);
unsigned char *fvs_skb_push(struct sk_buff *skb, unsigned int len);
void fvs_skb_reset_transport_header(struct sk_buff *skb);
int fvs_skb_checksum_start_offset(const struct sk_buff *skb);
u16 fvs_skb_csum_offset(const struct sk_buff *skb);
void fvs_skb_remcsum_handed_off(struct sk_buff *skb);

/* Periodic work and memory figures (src/sys/work.rs, src/defense.rs). */
#include <linux/mm.h>
void fvs_init_delayed_work(struct delayed_work *dw, work_func_t fn);
bool fvs_queue_delayed_work_long(struct delayed_work *dw, unsigned long delay);
bool fvs_mod_delayed_work_long(struct delayed_work *dw, unsigned long delay);

/* Kernel UDP sockets of the sync daemons (src/sys/sock.rs). */
#include <linux/net.h>
#include <linux/socket.h>
#include <net/sock.h>
#include <uapi/linux/in.h>
#include <uapi/linux/in6.h>
int fvs_kernel_setsockopt(struct socket *sock, int level, int optname, void *val, unsigned int len);
void fvs_sk_callback_write_lock(struct sock *sk);
void fvs_sk_callback_write_unlock(struct sock *sk);
void *fvs_sk_user_data(const struct sock *sk);
void fvs_sk_set_user_data(struct sock *sk, void *data);
const int FVS_SOL_IP = SOL_IP;
const int FVS_SOL_IPV6 = SOL_IPV6;

/* Conntrack (src/helpers.c, wrapped by src/sys/ct.rs). */
void fvs_ct_update(struct sk_buff *skb, bool outin, bool app, const void *addr, __be16 port);
bool fvs_ct_confirmed(struct sk_buff *skb);
int fvs_ct_tunnel_prepare(struct sk_buff *skb, bool confirm);
void fvs_ct_drop(struct net *net, u16 af, u8 proto, const void *caddr, __be16 cport,
		 const void *vaddr, __be16 vport);
int fvs_ct_netns_get(struct net *net, u8 nfproto);
void fvs_ct_netns_put(struct net *net, u8 nfproto);
int fvs_ct_mangle_tcp(struct sk_buff *skb, unsigned int protoff, unsigned int off,
		      unsigned int len, const char *buf, unsigned int buf_len);
bool fvs_tcp_csum_ok(struct sk_buff *skb, unsigned int protoff, bool v6);

/* compat=1: the IPVS socket options (src/helpers.c, wrapped by src/sys/sockopt.rs). */
struct net *fvs_sock_net(const struct sock *sk);
bool fvs_sock_net_admin(const struct sock *sk);
int fvs_copy_from_sockptr(void *dst, const sockptr_t *src, size_t len);
unsigned long fvs_copy_from_user(void *to, const void __user *from, unsigned long n);
unsigned long fvs_copy_to_user(void __user *to, const void *from, unsigned long n);

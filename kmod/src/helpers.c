// SPDX-License-Identifier: GPL-2.0
/*
 * Trampolines for the static inline kernel functions fvs.ko calls from Rust, in the style of
 * rust/helpers/: one line each, no logic. Everything else is Rust.
 */
#include <linux/rcupdate.h>
#include <linux/seq_file.h>
#include <linux/skbuff.h>
#include <net/genetlink.h>
#include <net/net_namespace.h>
#include <net/netlink.h>
#include <net/netns/generic.h>
#include <net/sock.h>
/* The prototypes Rust is generated from: the compiler checks they match the definitions here. */
#include "sys/bindings_helper.h"

void *fvs_net_generic(const struct net *net, unsigned int id)
{
	return net_generic(net, id);
}

struct net *fvs_seq_file_single_net(struct seq_file *seq)
{
	return seq_file_single_net(seq);
}

/* Files made by proc_create_net_data (src/sys/proc.rs, ProcBuckets). */
struct net *fvs_seq_file_net(struct seq_file *seq)
{
	return seq_file_net(seq);
}

const unsigned int FVS_SEQ_NET_PRIVATE_SIZE = sizeof(struct seq_net_private);

struct net *fvs_genl_info_net(const struct genl_info *info)
{
	return genl_info_net(info);
}

struct net *fvs_skb_sock_net(const struct sk_buff *skb)
{
	return sock_net(skb->sk);
}

struct sk_buff *fvs_genlmsg_new(size_t payload, gfp_t flags)
{
	return genlmsg_new(payload, flags);
}

void *fvs_genlmsg_put_reply(struct sk_buff *skb, struct genl_info *info,
			    const struct genl_family *family, int flags, u8 cmd)
{
	return genlmsg_put_reply(skb, info, family, flags, cmd);
}

void fvs_genlmsg_end(struct sk_buff *skb, void *hdr)
{
	genlmsg_end(skb, hdr);
}

void fvs_genlmsg_cancel(struct sk_buff *skb, void *hdr)
{
	genlmsg_cancel(skb, hdr);
}

int fvs_genlmsg_reply(struct sk_buff *skb, struct genl_info *info)
{
	return genlmsg_reply(skb, info);
}

void fvs_nlmsg_free(struct sk_buff *skb)
{
	nlmsg_free(skb);
}

struct nlattr *fvs_nla_nest_start(struct sk_buff *skb, int attrtype)
{
	return nla_nest_start_noflag(skb, attrtype);
}

void fvs_nla_nest_end(struct sk_buff *skb, struct nlattr *start)
{
	nla_nest_end(skb, start);
}

void fvs_nla_nest_cancel(struct sk_buff *skb, struct nlattr *start)
{
	nla_nest_cancel(skb, start);
}

void fvs_rcu_read_lock(void)
{
	rcu_read_lock();
}

void fvs_rcu_read_unlock(void)
{
	rcu_read_unlock();
}

u32 fvs_netlink_cb_portid(const struct sk_buff *skb)
{
	return NETLINK_CB(skb).portid;
}

/*
 * Layout facts as the C compiler sees them. Module init compares them with the generated
 * bindings' layouts and refuses to load on any difference (see sys/layout.rs).
 */
#include <linux/netfilter.h>
const size_t fvs_c_sizeof_net = sizeof(struct net);
const size_t fvs_c_offsetof_net_proc_net = offsetof(struct net, proc_net);
const size_t fvs_c_sizeof_sk_buff = sizeof(struct sk_buff);
const size_t fvs_c_offsetof_sk_buff_len = offsetof(struct sk_buff, len);
const size_t fvs_c_sizeof_nf_hook_ops = sizeof(struct nf_hook_ops);
const size_t fvs_c_sizeof_genl_family = sizeof(struct genl_family);
const size_t fvs_c_sizeof_genl_info = sizeof(struct genl_info);
const size_t fvs_c_sizeof_netlink_callback = sizeof(struct netlink_callback);
const size_t fvs_c_sizeof_pernet_operations = sizeof(struct pernet_operations);
const size_t fvs_c_sizeof_nla_policy = sizeof(struct nla_policy);

#include <linux/netdevice.h>
void fvs_dev_put(struct net_device *dev)
{
	dev_put(dev);
}
const size_t fvs_c_offsetof_net_device_mtu = offsetof(struct net_device, mtu);
const size_t fvs_c_offsetof_net_device_ifindex = offsetof(struct net_device, ifindex);
const size_t fvs_c_offsetof_socket_sk = offsetof(struct socket, sk);
const size_t fvs_c_offsetof_sock_sk_data_ready = offsetof(struct sock, sk_data_ready);
const size_t fvs_c_sizeof_msghdr = sizeof(struct msghdr);

#include <linux/bottom_half.h>
#include <linux/jiffies.h>
#include <linux/timer.h>

void *fvs_skb_header_pointer(const struct sk_buff *skb, int offset, int len, void *buffer)
{
	return skb_header_pointer(skb, offset, len, buffer);
}

u32 fvs_skb_mark(const struct sk_buff *skb)
{
	return skb->mark;
}

unsigned long fvs_jiffies(void)
{
	return READ_ONCE(jiffies);
}

void fvs_local_bh_disable(void)
{
	local_bh_disable();
}

void fvs_local_bh_enable(void)
{
	local_bh_enable();
}

void fvs_timer_setup(struct timer_list *timer, void (*fn)(struct timer_list *))
{
	timer_setup(timer, fn, 0);
}

/* Transmit path: skb editing, routes, output (all static inline in the kernel headers). */
#include <linux/icmp.h>
#include <linux/ip.h>
#include <net/dst.h>
#include <net/icmp.h>
#include <net/ip.h>
#include <net/ip_tunnels.h>
#include <net/netfilter/nf_conntrack.h>
#include <net/route.h>
#include <net/sctp/checksum.h>

/* Every fvs hook's first step (sys/nf.rs): FVS_HOOK_SKIP for a packet fvs already handled
 * (ip_vs's skb->ipvs_property test at the top of each hook); else FVS_HOOK_BH when it had to
 * disable softirqs (process context), which the hook's end re-enables. */
unsigned int fvs_hook_prologue(struct sk_buff *skb)
{
	if (fvs_skb_ipvs_property(skb))
		return FVS_HOOK_SKIP;
	if (softirq_count())
		return 0;
	local_bh_disable();
	return FVS_HOOK_BH;
}

/* The clock of the section timers of an fvs_prof build (sys/prof.rs). */
u64 fvs_now_ns(void)
{
	return ktime_get_ns();
}

/* skb_ensure_writable(skb, len), then skb->data; NULL if that failed. */
unsigned char *fvs_skb_writable(struct sk_buff *skb, unsigned int len)
{
	if (skb_ensure_writable(skb, len) || skb_headlen(skb) < len)
		return NULL;
	return skb->data;
}

/* fvs_skb_writable(), and whether the packet is CHECKSUM_PARTIAL. */
unsigned char *fvs_skb_writable_csum(struct sk_buff *skb, unsigned int len, bool *partial)
{
	unsigned char *d = fvs_skb_writable(skb, len);

	*partial = skb->ip_summed == CHECKSUM_PARTIAL;
	return d;
}

/* skb->data, if the first len bytes are in the linear area; NULL otherwise. */
unsigned char *fvs_skb_linear(struct sk_buff *skb, unsigned int len)
{
	return skb_headlen(skb) >= len ? skb->data : NULL;
}

unsigned char *fvs_skb_data(struct sk_buff *skb)
{
	return skb->data;
}

unsigned int fvs_skb_headlen(const struct sk_buff *skb)
{
	return skb_headlen(skb);
}

bool fvs_skb_csum_partial(const struct sk_buff *skb)
{
	return skb->ip_summed == CHECKSUM_PARTIAL;
}

void fvs_skb_csum_unnecessary(struct sk_buff *skb)
{
	skb->ip_summed = CHECKSUM_UNNECESSARY;
}

void fvs_skb_forward_csum(struct sk_buff *skb)
{
	skb_forward_csum(skb);
}

bool fvs_skb_is_gso(const struct sk_buff *skb)
{
	return skb_is_gso(skb);
}

/* sctp_nat_csum(): the SCTP CRC32c over the packet from `off` (the SCTP header), stored in the
 * header; the packet's checksum is then complete. The first off + 12 bytes must be writable. */
void fvs_sctp_nat_csum(struct sk_buff *skb, unsigned int off)
{
	struct sctphdr *sh = (struct sctphdr *)(skb->data + off);

	sh->checksum = sctp_compute_cksum(skb, off);
	skb->ip_summed = CHECKSUM_UNNECESSARY;
}

/* The device of the skb's route computes SCTP CRCs itself (NETIF_F_SCTP_CRC). */
bool fvs_skb_dst_sctp_crc(const struct sk_buff *skb)
{
	const struct dst_entry *dst = skb_dst(skb);

	return dst && dst->dev && (dst->dev->features & NETIF_F_SCTP_CRC);
}

int fvs_skb_cow(struct sk_buff *skb, unsigned int headroom)
{
	return skb_cow(skb, headroom);
}

int fvs_skb_cow_head(struct sk_buff *skb, unsigned int headroom)
{
	return skb_cow_head(skb, headroom);
}

void fvs_kfree_skb(struct sk_buff *skb)
{
	kfree_skb(skb);
}

void fvs_skb_set_ipvs_property(struct sk_buff *skb)
{
#if IS_ENABLED(CONFIG_IP_VS)
	skb->ipvs_property = 1;
#endif
}

bool fvs_skb_ipvs_property(const struct sk_buff *skb)
{
#if IS_ENABLED(CONFIG_IP_VS)
	return skb->ipvs_property;
#else
	return false;
#endif
}

void fvs_skb_set_ignore_df(struct sk_buff *skb)
{
	skb->ignore_df = 1;
}

/* ip_vs_notrack(): the packet leaves conntrack's view (ip_vs.h's static inline). */
void fvs_skb_notrack(struct sk_buff *skb)
{
#if IS_ENABLED(CONFIG_NF_CONNTRACK)
	enum ip_conntrack_info ctinfo;
	struct nf_conn *ct = nf_ct_get(skb, &ctinfo);

	if (ct) {
		nf_conntrack_put(&ct->ct_general);
		nf_ct_set(skb, NULL, IP_CT_UNTRACKED);
	}
#endif
}


/* ip_vs_drop_early_demux_sk(): a packet from LOCAL_IN loses an early-demuxed socket. */
void fvs_skb_drop_early_demux_sk(struct sk_buff *skb)
{
	if (skb->dev)
		skb_orphan(skb);
}

void fvs_skb_clear_tstamp(struct sk_buff *skb)
{
	if (skb->dev)
		skb_clear_tstamp(skb);
}

/* ip_vs_send_or_cont()'s preparation in one call: mark the packet handled, detach it from
 * conntrack unless the connection keeps it, and when it leaves the host drop the early-demux
 * socket, the checksum value the edits invalidated and the receive timestamp. */
void fvs_skb_prepare_send(struct sk_buff *skb, bool leaving, bool keep_ct, bool ignore_df)
{
	if (ignore_df)
		skb->ignore_df = 1;
	fvs_skb_set_ipvs_property(skb);
	if (!keep_ct)
		fvs_skb_notrack(skb);
	if (leaving) {
		fvs_skb_drop_early_demux_sk(skb);
		fvs_skb_forward_csum(skb);
		fvs_skb_clear_tstamp(skb);
	}
}

/* ip_route_output_key() with the flowi4 ip_vs builds (FLOWI_FLAG_KNOWN_NH for DR). */
struct rtable *fvs_route_output4(struct net *net, __be32 daddr, bool known_nh, __be32 *saddr)
{
	struct flowi4 fl4 = {
		.daddr = daddr,
		.flowi4_flags = known_nh ? FLOWI_FLAG_KNOWN_NH : 0,
	};
	struct rtable *rt = ip_route_output_key(net, &fl4);

	if (IS_ERR(rt))
		return NULL;
	*saddr = fl4.saddr;
	return rt;
}

unsigned int fvs_rt_flags(const struct rtable *rt)
{
	return rt->rt_flags;
}

unsigned int fvs_rt_mtu(const struct rtable *rt)
{
	return dst_mtu(&rt->dst);
}

unsigned int fvs_rt_hard_header_len(const struct rtable *rt)
{
	return rt->dst.dev->hard_header_len;
}

unsigned int fvs_rt_ll_reserved(const struct rtable *rt)
{
	return LL_RESERVED_SPACE(rt->dst.dev);
}

void fvs_rt_put(struct rtable *rt)
{
	ip_rt_put(rt);
}

void fvs_skb_set_rt(struct sk_buff *skb, struct rtable *rt)
{
	skb_dst_drop(skb);
	skb_dst_set(skb, &rt->dst);
}

bool fvs_skb_rt_is_input(const struct sk_buff *skb)
{
	return skb_rtable(skb) && rt_is_input_route(skb_rtable(skb));
}

/* ip_vs_route_me_harder()'s tests: an IPv4 packet routed as local; an IPv6 packet whose route
 * does not end on loopback. */
bool fvs_skb_rt_local(const struct sk_buff *skb)
{
	return skb_rtable(skb) && (skb_rtable(skb)->rt_flags & RTCF_LOCAL);
}

bool fvs_skb_dst_not_loopback(const struct sk_buff *skb)
{
	const struct dst_entry *dst = skb_dst(skb);

	return dst && dst->dev && !(dst->dev->flags & IFF_LOOPBACK);
}

struct sock *fvs_skb_sk(const struct sk_buff *skb)
{
	return skb->sk;
}

int fvs_nf_local_out4(struct net *net, struct sk_buff *skb)
{
	return NF_HOOK(NFPROTO_IPV4, NF_INET_LOCAL_OUT, net, NULL, skb, NULL,
		       skb_dst(skb)->dev, dst_output);
}

void fvs_icmp_send(struct sk_buff *skb, int type, int code, __be32 info)
{
	icmp_send(skb, type, code, info);
}

void fvs_dst_link_failure(struct sk_buff *skb)
{
	dst_link_failure(skb);
}

/* The tunnel part of ip_vs_tunnel_xmit between the offload set-up and the new header. */
void fvs_skb_tunnel_inner(struct sk_buff *skb, u8 inner_proto)
{
	skb->transport_header = skb->network_header;
	skb_set_inner_ipproto(skb, inner_proto);
	skb_set_inner_mac_header(skb, skb_inner_network_offset(skb));
}

/* skb_push() a new network header and clear the IP control block's options. */
unsigned char *fvs_skb_push_network_header(struct sk_buff *skb, unsigned int len)
{
	unsigned char *p = skb_push(skb, len);

	skb_reset_network_header(skb);
	memset(&(IPCB(skb)->opt), 0, sizeof(IPCB(skb)->opt));
	return p;
}

void fvs_ip_select_ident(struct net *net, struct sk_buff *skb)
{
	ip_select_ident(net, skb, NULL);
}

/* Per-CPU counters: arrays of u64 updated with this_cpu_add (safe with preemption on). */
#include <linux/cpumask.h>
#include <linux/percpu.h>

void fvs_percpu_u64_add(void __percpu *base, unsigned int idx, u64 v)
{
	this_cpu_add(((u64 __percpu *)base)[idx], v);
}

/* A packet and its bytes on three per-CPU areas at once (real server, service, namespace). */
void fvs_percpu_u64_add2_x3(void __percpu *a, void __percpu *b, void __percpu *c,
			    unsigned int i1, u64 v1, unsigned int i2, u64 v2)
{
	this_cpu_add(((u64 __percpu *)a)[i1], v1);
	this_cpu_add(((u64 __percpu *)a)[i2], v2);
	this_cpu_add(((u64 __percpu *)b)[i1], v1);
	this_cpu_add(((u64 __percpu *)b)[i2], v2);
	this_cpu_add(((u64 __percpu *)c)[i1], v1);
	this_cpu_add(((u64 __percpu *)c)[i2], v2);
}

u64 fvs_percpu_u64_read(void __percpu *base, int cpu, unsigned int idx)
{
	return READ_ONCE(((u64 *)per_cpu_ptr(base, cpu))[idx]);
}

int fvs_next_possible_cpu(int prev)
{
	unsigned int cpu = cpumask_next(prev, cpu_possible_mask);

	return cpu < nr_cpu_ids ? (int)cpu : -1;
}

void __percpu *fvs_alloc_percpu(size_t size, size_t align)
{
	return __alloc_percpu(size, align);
}

/* Slab caches (kmem_cache_create/alloc are macros). */
#include <linux/slab.h>

struct kmem_cache *fvs_kmem_cache_create(const char *name, unsigned int size)
{
	return kmem_cache_create(name, size, 0, SLAB_HWCACHE_ALIGN | SLAB_NO_MERGE, NULL);
}

void *fvs_kmem_cache_alloc_atomic(struct kmem_cache *cache)
{
	return kmem_cache_alloc(cache, GFP_ATOMIC | __GFP_NOWARN);
}

/* Strip `len` bytes in front of an embedded IP header of `hlen` bytes and make it the packet's
 * network header (ip_vs_in_icmp's tunnel case). False if the packet is too short. */
bool fvs_skb_pull_to_network(struct sk_buff *skb, unsigned int len, unsigned int hlen)
{
	if (!pskb_pull(skb, len))
		return false;
	skb_reset_network_header(skb);
	memset(&(IPCB(skb)->opt), 0, sizeof(IPCB(skb)->opt));
	if (!pskb_may_pull(skb, hlen))
		return false;
	skb_set_transport_header(skb, hlen);
	return true;
}

void fvs_consume_skb(struct sk_buff *skb)
{
	consume_skb(skb);
}

/* IPv6 output routes and transmit (ip6_route_output and friends are static inline). */
#include <linux/icmpv6.h>
#include <net/addrconf.h>
#include <net/ip6_route.h>

struct dst_entry *fvs_route_output6(struct net *net, const struct in6_addr *daddr,
				    bool known_nh, struct in6_addr *saddr)
{
	struct flowi6 fl6 = { .daddr = *daddr };
	struct dst_entry *dst;

	if (known_nh)
		fl6.flowi6_flags = FLOWI_FLAG_KNOWN_NH;
	dst = ip6_route_output(net, NULL, &fl6);
	if (dst->error) {
		dst_release(dst);
		return NULL;
	}
	if (ipv6_addr_any(&fl6.saddr) &&
	    ipv6_dev_get_saddr(net, ip6_dst_idev(dst)->dev, &fl6.daddr, 0, &fl6.saddr)) {
		dst_release(dst);
		return NULL;
	}
	*saddr = fl6.saddr;
	return dst;
}

/* __ip_vs_is_local_route6() */
bool fvs_dst6_is_local(const struct dst_entry *dst)
{
	return dst->dev && dst->dev->flags & IFF_LOOPBACK;
}

unsigned int fvs_dst_mtu(const struct dst_entry *dst)
{
	return dst_mtu(dst);
}

unsigned int fvs_dst_hard_header_len(const struct dst_entry *dst)
{
	return dst->dev->hard_header_len;
}

unsigned int fvs_dst_ll_reserved(const struct dst_entry *dst)
{
	return LL_RESERVED_SPACE(dst->dev);
}

void fvs_dst_release(struct dst_entry *dst)
{
	dst_release(dst);
}

void fvs_skb_set_dst(struct sk_buff *skb, struct dst_entry *dst)
{
	skb_dst_drop(skb);
	skb_dst_set(skb, dst);
}

struct dst_entry *fvs_rt_dst(struct rtable *rt)
{
	return &rt->dst;
}

/* The IPv6 route's cookie, kept with it for dst_check(). */
/* A netdevice notifier's event: the device's namespace when the device goes down or away
 * (ip_vs_dst_event: cached routes through it are dropped), else NULL. */
struct net *fvs_netdev_down_net(unsigned long event, void *ptr)
{
	if (event != NETDEV_DOWN && event != NETDEV_UNREGISTER)
		return NULL;
	return dev_net(netdev_notifier_info_to_dev(ptr));
}

/* __ip_vs_dst_check(): a cached route's check and the facts the transmitters need, in one call: false when
 * routing obsoleted it. */
bool fvs_dst_check_info(struct dst_entry *dst, u32 cookie, bool v6, struct fvs_dst_info *info)
{
	if (!dst_check(dst, cookie))
		return false;
	info->local = v6 ? (dst->dev && (dst->dev->flags & IFF_LOOPBACK))
			 : !!(dst_rtable(dst)->rt_flags & RTCF_LOCAL);
	info->mtu = dst_mtu(dst);
	info->hard_header_len = dst->dev->hard_header_len;
	info->ll_reserved = LL_RESERVED_SPACE(dst->dev);
	return true;
}

u32 fvs_dst_cookie6(struct dst_entry *dst)
{
	return rt6_get_cookie(dst_rt6_info(dst));
}

unsigned int fvs_dst_rt_flags(const struct dst_entry *dst)
{
	return dst_rtable(dst)->rt_flags;
}

/* skb_dst_set_noref(): the packet borrows the cache's reference for the hook's RCU section
 * (the stack takes its own with skb_dst_force() where the packet outlives it). */
void fvs_skb_set_dst_noref(struct sk_buff *skb, struct dst_entry *dst)
{
	skb_dst_drop(skb);
	skb_dst_set_noref(skb, dst);
}

int fvs_skb_set_dst_noref_cow(struct sk_buff *skb, struct dst_entry *dst, unsigned int headroom)
{
	fvs_skb_set_dst_noref(skb, dst);
	return skb_cow(skb, headroom);
}

int fvs_nf_local_out6(struct net *net, struct sk_buff *skb)
{
	return NF_HOOK(NFPROTO_IPV6, NF_INET_LOCAL_OUT, net, NULL, skb, NULL,
		       skb_dst(skb)->dev, dst_output);
}

void fvs_icmpv6_send(struct sk_buff *skb, u8 type, u8 code, __u32 info)
{
	icmpv6_send(skb, type, code, info);
}

unsigned char *fvs_skb_push_network_header6(struct sk_buff *skb, unsigned int len)
{
	unsigned char *p = skb_push(skb, len);

	skb_reset_network_header(skb);
	memset(IP6CB(skb), 0, sizeof(*IP6CB(skb)));
	return p;
}

/* Tunnel encapsulations other than IP-in-IP (src/tunnel.rs): GUE (FOU) and GRE. */
#include <net/gre.h>
#include <net/udp.h>

__be16 fvs_udp_flow_src_port(struct net *net, struct sk_buff *skb)
{
	return udp_flow_src_port(net, skb, 0, 0, false);
}

/* ipvs_gre_encap(): gre_build_header() with the checksum bit as the real server asks. */
void fvs_gre_build_header(struct sk_buff *skb, bool csum, __be16 proto)
{
	IP_TUNNEL_DECLARE_FLAGS(tflags) = { };

	if (csum)
		__set_bit(IP_TUNNEL_CSUM_BIT, tflags);
	gre_build_header(skb, gre_calc_hlen(tflags), tflags, proto, 0, 0);
}

unsigned int fvs_skb_headroom(const struct sk_buff *skb)
{
	return skb_headroom(skb);
}

unsigned char *fvs_skb_push(struct sk_buff *skb, unsigned int len)
{
	return skb_push(skb, len);
}

void fvs_skb_reset_transport_header(struct sk_buff *skb)
{
	skb_reset_transport_header(skb);
}

int fvs_skb_checksum_start_offset(const struct sk_buff *skb)
{
	return skb_checksum_start_offset(skb);
}

u16 fvs_skb_csum_offset(const struct sk_buff *skb)
{
	return skb->csum_offset;
}

/* GUE remote checksum offload: the receiver completes the checksum. */
void fvs_skb_remcsum_handed_off(struct sk_buff *skb)
{
	if (!skb_is_gso(skb)) {
		skb->ip_summed = CHECKSUM_NONE;
		skb->encapsulation = 0;
	}
}

/* Periodic process-context work (src/sys/work.rs) and the memory figure of ip_vs's defences. */
#include <linux/workqueue.h>
#include <linux/mm.h>

void fvs_init_delayed_work(struct delayed_work *dw, work_func_t fn)
{
	INIT_DELAYED_WORK(dw, fn);
}

bool fvs_queue_delayed_work_long(struct delayed_work *dw, unsigned long delay)
{
	return queue_delayed_work(system_long_wq, dw, delay);
}

bool fvs_mod_delayed_work_long(struct delayed_work *dw, unsigned long delay)
{
	return mod_delayed_work(system_long_wq, dw, delay);
}

/* Kernel UDP sockets of the sync daemons (src/sys/sock.rs). */
int fvs_kernel_setsockopt(struct socket *sock, int level, int optname, void *val, unsigned int len)
{
	return READ_ONCE(sock->ops)->setsockopt(sock, level, optname, KERNEL_SOCKPTR(val), len);
}

void fvs_sk_callback_write_lock(struct sock *sk)
{
	write_lock_bh(&sk->sk_callback_lock);
}

void fvs_sk_callback_write_unlock(struct sock *sk)
{
	write_unlock_bh(&sk->sk_callback_lock);
}

/*
 * sk_user_data through C: bindgen places it 64 bytes early on the debug kernel (lockdep), which
 * sys/layout.rs caught; the compiler knows where it is.
 */
void *fvs_sk_user_data(const struct sock *sk)
{
	return READ_ONCE(sk->sk_user_data);
}

void fvs_sk_set_user_data(struct sock *sk, void *data)
{
	WRITE_ONCE(sk->sk_user_data, data);
}

/*
 * Conntrack (ip_vs_nfct.c's part that fvs needs; src/sys/ct.rs wraps these). Everything
 * here works on the packet's own conntrack entry, so fvs never touches struct nf_conn.
 */
#include <net/netfilter/nf_conntrack_core.h>
#include <net/netfilter/nf_conntrack_seqadj.h>
#include <net/netfilter/nf_conntrack_zones.h>
#include <net/netfilter/nf_nat_helper.h>
#include <linux/netfilter/nf_conntrack_common.h>

/*
 * ip_vs_update_conntrack(): a NAT connection's first packet (its conntrack entry still
 * unconfirmed, original direction) makes conntrack expect the reply from the real server
 * (outin) or, for a reply seen first, to the virtual service. `app`: a helper may resize the
 * payload, so the entry gets sequence adjustment.
 */
void fvs_ct_update(struct sk_buff *skb, bool outin, bool app, const void *addr, __be16 port)
{
#if IS_ENABLED(CONFIG_NF_CONNTRACK)
	enum ip_conntrack_info ctinfo;
	struct nf_conn *ct = nf_ct_get(skb, &ctinfo);
	struct nf_conntrack_tuple t;

	if (!ct || nf_ct_is_confirmed(ct) || nf_ct_is_dying(ct))
		return;
	if (CTINFO2DIR(ctinfo) != IP_CT_DIR_ORIGINAL)
		return;
	if (app && nf_ct_protonum(ct) == IPPROTO_TCP && !nfct_seqadj(ct) &&
	    !nfct_seqadj_ext_add(ct))
		return;
	t = ct->tuplehash[IP_CT_DIR_REPLY].tuple;
	if (outin) {
		memcpy(&t.src.u3, addr, sizeof(t.src.u3));
		if (t.dst.protonum != IPPROTO_ICMP && t.dst.protonum != IPPROTO_ICMPV6)
			t.src.u.tcp.port = port;
	} else {
		memcpy(&t.dst.u3, addr, sizeof(t.dst.u3));
		if (t.dst.protonum != IPPROTO_ICMP && t.dst.protonum != IPPROTO_ICMPV6)
			t.dst.u.tcp.port = port;
	}
	nf_conntrack_alter_reply(ct, &t);
#endif
}

/* ip_vs_conn_uses_old_conntrack(): the packet belongs to an already confirmed entry. */
bool fvs_ct_confirmed(struct sk_buff *skb)
{
#if IS_ENABLED(CONFIG_NF_CONNTRACK)
	enum ip_conntrack_info ctinfo;
	struct nf_conn *ct = nf_ct_get(skb, &ctinfo);

	return ct && nf_ct_is_confirmed(ct);
#else
	return false;
#endif
}

/*
 * ip_vs_tunnel_xmit_prepare()'s conntrack part: a packet about to be encapsulated confirms
 * its entry if the connection keeps conntrack, then leaves it (the outer packet is tracked
 * on its own).
 */
int fvs_ct_tunnel_prepare(struct sk_buff *skb, bool confirm)
{
	int ret = NF_ACCEPT;

#if IS_ENABLED(CONFIG_NF_CONNTRACK)
	if (confirm)
		ret = nf_conntrack_confirm(skb);
#endif
	if (ret == NF_ACCEPT)
		nf_reset_ct(skb);
	return ret;
}

/* ip_vs_conn_drop_conntrack(): the connection is over; so is its conntrack entry. */
void fvs_ct_drop(struct net *net, u16 af, u8 proto, const void *caddr, __be16 cport,
		 const void *vaddr, __be16 vport)
{
#if IS_ENABLED(CONFIG_NF_CONNTRACK)
	struct nf_conntrack_tuple_hash *h;
	struct nf_conntrack_tuple tuple;

	if (!cport)
		return;
	memset(&tuple, 0, sizeof(tuple));
	tuple.dst.protonum = proto;
	tuple.dst.dir = IP_CT_DIR_ORIGINAL;
	memcpy(&tuple.src.u3, caddr, sizeof(tuple.src.u3));
	tuple.src.u.all = cport;
	tuple.src.l3num = af;
	memcpy(&tuple.dst.u3, vaddr, sizeof(tuple.dst.u3));
	tuple.dst.u.all = vport;
	h = nf_conntrack_find_get(net, &nf_ct_zone_dflt, &tuple);
	if (h) {
		struct nf_conn *ct = nf_ct_tuplehash_to_ctrack(h);

		nf_ct_kill(ct);
		nf_ct_put(ct);
	}
#endif
}

/* ip_vs_register_conntrack() / ip_vs_unregister_conntrack(): conntrack runs in the netns. */
int fvs_ct_netns_get(struct net *net, u8 nfproto)
{
#if IS_ENABLED(CONFIG_NF_CONNTRACK)
	return nf_ct_netns_get(net, nfproto);
#else
	return -EOPNOTSUPP;
#endif
}

void fvs_ct_netns_put(struct net *net, u8 nfproto)
{
#if IS_ENABLED(CONFIG_NF_CONNTRACK)
	nf_ct_netns_put(net, nfproto);
#endif
}

/*
 * nf_nat_mangle_tcp_packet() as ip_vs_ftp_out() calls it: replaces `len` payload bytes at
 * `off` with `buf`, fixes lengths and checksums and records the sequence offset in the
 * packet's conntrack entry. 1: done; 0: out of memory; -1: the packet has no conntrack entry.
 */
int fvs_ct_mangle_tcp(struct sk_buff *skb, unsigned int protoff, unsigned int off,
		      unsigned int len, const char *buf, unsigned int buf_len)
{
#if IS_ENABLED(CONFIG_NF_CONNTRACK) && IS_ENABLED(CONFIG_NF_NAT)
	enum ip_conntrack_info ctinfo;
	struct nf_conn *ct = nf_ct_get(skb, &ctinfo);

	if (!ct)
		return -1;
	if (!nf_nat_mangle_tcp_packet(skb, ct, ctinfo, protoff, off, len, buf, buf_len))
		return 0;
	if (skb->ip_summed == CHECKSUM_COMPLETE)
		skb->ip_summed = CHECKSUM_UNNECESSARY;
	return 1;
#else
	return -1;
#endif
}

/* tcp_csum_check(): a packet whose payload a helper reads has a valid TCP checksum. */
bool fvs_tcp_csum_ok(struct sk_buff *skb, unsigned int protoff, bool v6)
{
	return nf_checksum(skb, NF_INET_LOCAL_IN, protoff, IPPROTO_TCP,
			   v6 ? AF_INET6 : AF_INET) == 0;
}

/* compat=1: the IPVS socket options (src/sys/sockopt.rs). */
#include <linux/capability.h>
#include <linux/sockptr.h>
#include <linux/uaccess.h>

struct net *fvs_sock_net(const struct sock *sk)
{
	return sock_net(sk);
}

/* do_ip_vs_set_ctl / do_ip_vs_get_ctl: CAP_NET_ADMIN over the socket's namespace. */
bool fvs_sock_net_admin(const struct sock *sk)
{
	return ns_capable(sock_net(sk)->user_ns, CAP_NET_ADMIN);
}

int fvs_copy_from_sockptr(void *dst, const sockptr_t *src, size_t len)
{
	return copy_from_sockptr(dst, *src, len) ? -EFAULT : 0;
}

unsigned long fvs_copy_from_user(void *to, const void __user *from, unsigned long n)
{
	return copy_from_user(to, from, n);
}

unsigned long fvs_copy_to_user(void __user *to, const void *from, unsigned long n)
{
	return copy_to_user(to, from, n);
}

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

void *fvs_net_generic(const struct net *net, unsigned int id)
{
	return net_generic(net, id);
}

struct net *fvs_seq_file_single_net(struct seq_file *seq)
{
	return seq_file_single_net(seq);
}

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

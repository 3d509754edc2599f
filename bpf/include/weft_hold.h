/* Holding new connections while no agent listens on this node. Between a graceful agent exit
 * and the next agent's listen (a restart without a successor), a redirected connect would meet
 * a closed port and be refused. Instead the leaving agent sets weft_proxy_ctl.hold_syns and
 * the pods' SYNs to the proxy are dropped on their way out: the client's TCP retransmits them
 * (after 1 s, then 2 s more, ...) and the connection completes once the next agent listens and
 * clears the flag. Nothing is refused; connects wait instead.
 * Owns weft_proxy_ctl (one entry, written by the agent). */
#ifndef WEFT_HOLD_H
#define WEFT_HOLD_H

#include "weft_common.h"
#include <linux/ip.h>
#include <linux/tcp.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct weft_proxy_ctl);
} weft_proxy_ctl SEC(".maps");

static __always_inline int weft_holding_syns(void)
{
	__u32 zero = 0;
	struct weft_proxy_ctl *ctl = bpf_map_lookup_elem(&weft_proxy_ctl, &zero);
	return ctl && ctl->hold_syns;
}

/* 1 when the packet opens a TCP connection (SYN without ACK) to the node proxy's listener. */
static __always_inline int weft_is_syn_to_proxy(struct __sk_buff *skb)
{
	struct iphdr ip;
	if (bpf_skb_load_bytes(skb, 0, &ip, sizeof(ip)) < 0)
		return 0;
	if (ip.version != 4 || ip.protocol != IPPROTO_TCP || ip.daddr != weft_cfg.proxy_ip4_be)
		return 0;
	struct tcphdr tcp;
	if (bpf_skb_load_bytes(skb, ip.ihl * 4, &tcp, sizeof(tcp)) < 0)
		return 0;
	return tcp.dest == weft_cfg.proxy_port_be && tcp.syn && !tcp.ack;
}

#endif

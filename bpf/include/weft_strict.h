/* Strict mTLS for a pod: new inbound TCP connections are accepted only from the pod's own node
 * (its proxy delivering mesh traffic, and kubelet probes); everything else is dropped and
 * counted. Packets of established connections pass: a connection only exists if its SYN was
 * allowed, and replies to the pod's own outbound connections are not new inbound ones.
 * Owns weft_strict_cnt (drops, per CPU). */
#ifndef WEFT_STRICT_H
#define WEFT_STRICT_H

#include "weft_common.h"
#include <linux/ip.h>
#include <linux/tcp.h>

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} weft_strict_cnt SEC(".maps");

static __always_inline void weft_count_strict_drop(void)
{
	__u32 zero = 0;
	__u64 *drops = bpf_map_lookup_elem(&weft_strict_cnt, &zero);
	if (drops)
		*drops += 1;
}

/* 1 when the packet opens a TCP connection (SYN without ACK) from anywhere but this node. */
static __always_inline int weft_is_foreign_syn(struct __sk_buff *skb)
{
	struct iphdr ip;
	if (bpf_skb_load_bytes(skb, 0, &ip, sizeof(ip)) < 0)
		return 0;
	if (ip.version != 4 || ip.protocol != IPPROTO_TCP)
		return 0;
	if (ip.saddr == weft_cfg.proxy_ip4_be || (bpf_ntohl(ip.saddr) >> 24) == 127)
		return 0;
	struct tcphdr tcp;
	if (bpf_skb_load_bytes(skb, ip.ihl * 4, &tcp, sizeof(tcp)) < 0)
		return 0;
	return tcp.syn && !tcp.ack;
}

#endif

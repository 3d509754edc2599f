/* Strict mTLS for a pod: new inbound TCP connections are accepted only from the pod's own node
 * (its proxy delivering mesh traffic, and kubelet probes); everything else is dropped and
 * counted. Packets of established connections pass: a connection only exists if its SYN was
 * allowed, and replies to the pod's own outbound connections are not new inbound ones. IPv6:
 * see weft_is_foreign_syn6.
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

#define WEFT_IPPROTO_HOPOPTS 0
#define WEFT_IPPROTO_TCP 6
#define WEFT_IPPROTO_ICMPV6 58
#define WEFT_IPV6_HDR_LEN 40

/* IPv4: a SYN without ACK from anywhere but this node (its proxy's address, loopback). */
static __always_inline int weft_is_foreign_syn4(struct __sk_buff *skb)
{
	struct iphdr ip;
	if (bpf_skb_load_bytes(skb, 0, &ip, sizeof(ip)) < 0)
		return 0;
	if (ip.protocol != IPPROTO_TCP)
		return 0;
	if (ip.saddr == weft_cfg.proxy_ip4_be || (bpf_ntohl(ip.saddr) >> 24) == 127)
		return 0;
	struct tcphdr tcp;
	if (bpf_skb_load_bytes(skb, ip.ihl * 4, &tcp, sizeof(tcp)) < 0)
		return 0;
	return tcp.syn && !tcp.ack;
}

/* IPv6: the mesh (its proxy, its tunnels) is IPv4 only, so no IPv6 connection comes through
 * it: every SYN from another address than ::1 is foreign. Fail closed on what cannot be read
 * without walking extension headers: a packet whose first next header is an extension header is
 * treated as foreign too, except hop-by-hop followed by ICMPv6 (multicast listener discovery). */
static __always_inline int weft_is_foreign_syn6(struct __sk_buff *skb)
{
	__u8 hdr[WEFT_IPV6_HDR_LEN];
	if (bpf_skb_load_bytes(skb, 0, hdr, sizeof(hdr)) < 0)
		return 0;
	__u8 next = hdr[6];
	/* source address: bytes 8..23; ::1 is 15 zero bytes and a one */
	int loopback = hdr[23] == 1;
	for (int i = 8; i < 23; i++)
		if (hdr[i] != 0)
			loopback = 0;
	if (next == WEFT_IPPROTO_TCP) {
		struct tcphdr tcp;
		if (bpf_skb_load_bytes(skb, WEFT_IPV6_HDR_LEN, &tcp, sizeof(tcp)) < 0)
			return 0;
		return tcp.syn && !tcp.ack && !loopback;
	}
	if (next == WEFT_IPPROTO_HOPOPTS) {
		__u8 ext;
		if (bpf_skb_load_bytes(skb, WEFT_IPV6_HDR_LEN, &ext, 1) < 0)
			return 1;
		return ext != WEFT_IPPROTO_ICMPV6 && !loopback;
	}
	switch (next) {
	case 43: /* routing */
	case 44: /* fragment */
	case 50: /* ESP */
	case 51: /* AH */
	case 60: /* destination options */
	case 135: /* mobility */
	case 139: /* HIP */
	case 140: /* shim6 */
	case 253: /* experimental */
	case 254:
		return !loopback;
	}
	return 0;
}

/* Plaintext the pod's authorization policies allow (ipBlock rules): weft_plain_pod maps the
 * cgroup of such a pod to its index, weft_plain_allow holds its prefixes with 1 (allow) or 0
 * (deny, a more specific except). A pod without an index (strict mTLS) takes no plaintext. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, WEFT_MAX_PLAIN_PODS);
	__type(key, __u64);
	__type(value, __u32);
} weft_plain_pod SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, WEFT_MAX_PLAIN_PREFIXES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct weft_plain_key);
	__type(value, __u8);
} weft_plain_allow SEC(".maps");

/* 1 when the receiving pod's policies allow this IPv4 source without a mesh identity. */
static __always_inline int weft_plaintext_allowed(struct __sk_buff *skb)
{
	struct iphdr ip;
	if (bpf_skb_load_bytes(skb, 0, &ip, sizeof(ip)) < 0 || ip.version != 4)
		return 0;
	__u32 *pod = NULL;
	for (int level = 1; level <= WEFT_MAX_CGROUP_LEVELS; level++) {
		__u64 id = bpf_skb_ancestor_cgroup_id(skb, level);
		if (id == 0)
			break;
		pod = bpf_map_lookup_elem(&weft_plain_pod, &id);
		if (pod)
			break;
	}
	if (!pod)
		return 0;
	struct weft_plain_key key = { .prefixlen = 64, .pod = *pod, .ip4_be = ip.saddr };
	__u8 *allowed = bpf_map_lookup_elem(&weft_plain_allow, &key);
	return allowed && *allowed == 1;
}

/* 1 when the packet opens a TCP connection (SYN without ACK) from anywhere but this node. */
static __always_inline int weft_is_foreign_syn(struct __sk_buff *skb)
{
	__u8 version;
	if (bpf_skb_load_bytes(skb, 0, &version, 1) < 0)
		return 0;
	switch (version >> 4) {
	case 4:
		return weft_is_foreign_syn4(skb);
	case 6:
		return weft_is_foreign_syn6(skb);
	}
	return 0;
}

#endif

/* Which destinations belong to the mesh, and what each redirected connection was dialling.
 * Owns the maps: weft_svc (Service ClusterIP:port), weft_pod_cidr (cluster pod CIDRs),
 * weft_cookie_dst (socket cookie -> original destination, for getpeername) and weft_peer_dst
 * (client ip:port -> original destination, for the proxy after accept). */
#ifndef WEFT_DST_H
#define WEFT_DST_H

#include "weft_common.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, WEFT_MAX_SVCS);
	__type(key, struct weft_svc_key);
	__type(value, __u8);
} weft_svc SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, WEFT_MAX_CIDRS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct weft_cidr_key);
	__type(value, __u8);
} weft_pod_cidr SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, WEFT_MAX_CONNS);
	__type(key, __u64);
	__type(value, struct weft_orig_dst);
} weft_cookie_dst SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, WEFT_MAX_CONNS);
	__type(key, struct weft_peer_key);
	__type(value, struct weft_orig_dst);
} weft_peer_dst SEC(".maps");

static __always_inline int weft_is_mesh_dst(__u32 ip4_be, __u16 port_be)
{
	struct weft_svc_key svc = { .ip4_be = ip4_be, .port_be = port_be };
	if (bpf_map_lookup_elem(&weft_svc, &svc))
		return 1;
	struct weft_cidr_key cidr = { .prefixlen = 32, .ip4_be = ip4_be };
	return bpf_map_lookup_elem(&weft_pod_cidr, &cidr) != NULL;
}

#endif

/* Connect-time authorization: a connect from an enrolled pod to a destination its identity may
 * not reach is refused with EPERM before a packet leaves the pod. The agent computes the denied
 * (identity, destination) pairs from the policies whose decision depends only on what the source
 * node knows (agent/src/authz/connect-deny-entries.ts); the destination still enforces every
 * policy itself, since a source node is not trusted.
 * Owns weft_authz_src (pod cgroup id -> source identity index), weft_authz_deny (denied pairs ->
 * policy index) and weft_authz_cnt (refused connects per policy index, per CPU). */
#ifndef WEFT_AUTHZ_H
#define WEFT_AUTHZ_H

#include "weft_common.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, WEFT_MAX_AUTHZ_SRCS);
	__type(key, __u64);
	__type(value, __u32);
} weft_authz_src SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, WEFT_MAX_AUTHZ_DENIES);
	__type(key, struct weft_authz_deny_key);
	__type(value, __u32);
} weft_authz_deny SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, WEFT_MAX_AUTHZ_POLICIES);
	__type(key, __u32);
	__type(value, __u64);
} weft_authz_cnt SEC(".maps");

/* The source identity index of the calling task's pod: its cgroup, or the nearest ancestor that
 * is a pod cgroup (a container's cgroup sits below its pod's). */
static __always_inline __u32 *weft_authz_source(void)
{
	for (int level = 1; level <= WEFT_MAX_CGROUP_LEVELS; level++) {
		__u64 id = bpf_get_current_ancestor_cgroup_id(level);
		if (id == 0)
			return NULL;
		__u32 *src = bpf_map_lookup_elem(&weft_authz_src, &id);
		if (src)
			return src;
	}
	return NULL;
}

/* 1 when policy denies this connect (and counts it under the deciding policy's index). */
static __always_inline int weft_authz_connect_denied(__u32 ip4_be, __u16 port_be)
{
	__u32 *src = weft_authz_source();
	if (!src)
		return 0;
	struct weft_authz_deny_key key = { .src = *src, .ip4_be = ip4_be, .port_be = port_be };
	__u32 *policy = bpf_map_lookup_elem(&weft_authz_deny, &key);
	if (!policy)
		return 0;
	__u32 index = *policy;
	__u64 *count = bpf_map_lookup_elem(&weft_authz_cnt, &index);
	if (count)
		*count += 1;
	return 1;
}

#endif

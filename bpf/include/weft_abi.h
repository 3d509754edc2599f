/* The ABI shared by the eBPF programs and the agent: map keys, map values and load-time
 * constants. Every struct here has a TypeScript codec in agent/src/bpf/ that names it, and a
 * test compares both layouts with the object's BTF, so a field moved here fails a test instead
 * of corrupting a map. Fields ending in _be are in network byte order. */
#ifndef WEFT_ABI_H
#define WEFT_ABI_H

/* Load-time constants (.rodata), set by the agent for its node before load. */
struct weft_config {
	/* The agent's own cgroup: its sockets are never redirected. 0 = none. */
	__u64 agent_cgroup_id;
	/* The node proxy's outbound listener, where mesh connections are sent. */
	__u32 proxy_ip4_be;
	__u16 proxy_port_be;
	__u16 _pad;
};

/* Where a connection was going before connect4 rewrote it to the node proxy. */
struct weft_orig_dst {
	__u32 ip4_be;
	__u16 port_be;
	__u16 _pad;
};

/* A redirected connection as the proxy sees it after accept: the client's address. */
struct weft_peer_key {
	__u32 ip4_be;
	__u16 port_be;
	__u16 _pad;
};

/* A mesh service address: a Service ClusterIP and port. */
struct weft_svc_key {
	__u32 ip4_be;
	__u16 port_be;
	__u16 _pad;
};

/* The agent's switches for the programs, one entry of weft_proxy_ctl. */
struct weft_proxy_ctl {
	/* 1 while no agent listens on this node: pods' SYNs to the proxy are held (weft_hold.h). */
	__u32 hold_syns;
};

/* Key of the pod-CIDR LPM trie: prefix length in bits, then the address. */
struct weft_cidr_key {
	__u32 prefixlen;
	__u32 ip4_be;
};

/* Connect-time authorization: a denied (source identity, destination) pair. `src` is the index
 * the agent gave the source pod's identity (weft_authz_src maps pod cgroups to it). */
struct weft_authz_deny_key {
	__u32 src;
	__u32 ip4_be;
	__u16 port_be;
	__u16 _pad;
};

/* Key of the plaintext allow-list LPM trie: prefix length in bits over (pod index, source
 * address); the pod index is always matched whole, so prefixlen = 32 + the CIDR's length. */
struct weft_plain_key {
	__u32 prefixlen;
	__u32 pod;
	__u32 ip4_be;
};

/* Overridable at build time (a test builds a second layout to prove upgrades across layouts). */
#ifndef WEFT_MAX_CONNS
#define WEFT_MAX_CONNS 65536
#endif
#ifndef WEFT_MAX_SVCS
#define WEFT_MAX_SVCS 16384
#endif
#ifndef WEFT_MAX_CIDRS
#define WEFT_MAX_CIDRS 64
#endif
#ifndef WEFT_MAX_AUTHZ_SRCS
#define WEFT_MAX_AUTHZ_SRCS 16384
#endif
#ifndef WEFT_MAX_AUTHZ_DENIES
#define WEFT_MAX_AUTHZ_DENIES 65536
#endif
#ifndef WEFT_MAX_AUTHZ_POLICIES
#define WEFT_MAX_AUTHZ_POLICIES 4096
#endif
#ifndef WEFT_MAX_PLAIN_PODS
#define WEFT_MAX_PLAIN_PODS 4096
#endif
#ifndef WEFT_MAX_PLAIN_PREFIXES
#define WEFT_MAX_PLAIN_PREFIXES 16384
#endif
/* Deepest cgroup level searched for a pod's cgroup (kubepods layouts are 3-6 deep). */
#define WEFT_MAX_CGROUP_LEVELS 12

#endif

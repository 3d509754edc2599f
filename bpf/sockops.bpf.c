/* sockops: once a redirected connection is established, re-key its original destination by
 * the client's (ip, port), which is all the proxy knows after accept; forget both keys when
 * the socket closes. */
#include "weft_dst.h"

static __always_inline void weft_track_established(struct bpf_sock_ops *skops)
{
	__u64 cookie = bpf_get_socket_cookie(skops);
	struct weft_orig_dst *dst = bpf_map_lookup_elem(&weft_cookie_dst, &cookie);
	if (!dst)
		return;
	struct weft_peer_key peer = {
		.ip4_be = skops->local_ip4,
		.port_be = bpf_htons((__u16)skops->local_port), /* local_port is host order */
	};
	bpf_map_update_elem(&weft_peer_dst, &peer, dst, BPF_ANY);
	bpf_sock_ops_cb_flags_set(skops, BPF_SOCK_OPS_STATE_CB_FLAG);
}

static __always_inline void weft_forget_closed(struct bpf_sock_ops *skops)
{
	if (skops->args[1] != BPF_TCP_CLOSE)
		return;
	__u64 cookie = bpf_get_socket_cookie(skops);
	struct weft_peer_key peer = {
		.ip4_be = skops->local_ip4,
		.port_be = bpf_htons((__u16)skops->local_port),
	};
	bpf_map_delete_elem(&weft_cookie_dst, &cookie);
	bpf_map_delete_elem(&weft_peer_dst, &peer);
}

SEC("sockops")
int weft_sockops_track(struct bpf_sock_ops *skops)
{
	if (skops->family != 2 /* AF_INET */)
		return 1;
	if (skops->op == BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB)
		weft_track_established(skops);
	else if (skops->op == BPF_SOCK_OPS_STATE_CB)
		weft_forget_closed(skops);
	return 1;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";

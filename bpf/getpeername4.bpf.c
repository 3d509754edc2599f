/* cgroup/getpeername4: a redirected socket reports the address its application dialled, not
 * the node proxy. */
#include "weft_dst.h"

SEC("cgroup/getpeername4")
int weft_getpeername4_restore(struct bpf_sock_addr *ctx)
{
	__u64 cookie = bpf_get_socket_cookie(ctx);
	struct weft_orig_dst *dst = bpf_map_lookup_elem(&weft_cookie_dst, &cookie);
	if (dst) {
		ctx->user_ip4 = dst->ip4_be;
		ctx->user_port = dst->port_be;
	}
	return 1;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";

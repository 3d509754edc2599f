/* cgroup/connect4: a TCP connect from an enrolled pod to a mesh destination goes to the node
 * proxy instead; the destination it dialled is remembered by socket cookie. A destination the
 * pod's identity may not reach (weft_authz.h) is refused with EPERM instead. */
#include "weft_dst.h"
#include "weft_authz.h"

SEC("cgroup/connect4")
int weft_connect4_redirect(struct bpf_sock_addr *ctx)
{
	if (ctx->protocol != IPPROTO_TCP || weft_is_agent())
		return 1;
	__u32 ip4_be = ctx->user_ip4;
	__u16 port_be = (__u16)ctx->user_port;
	if (!weft_is_mesh_dst(ip4_be, port_be))
		return 1;
	if (weft_authz_connect_denied(ip4_be, port_be))
		return 0; /* connect() fails with EPERM */
	__u64 cookie = bpf_get_socket_cookie(ctx);
	struct weft_orig_dst dst = { .ip4_be = ip4_be, .port_be = port_be };
	if (bpf_map_update_elem(&weft_cookie_dst, &cookie, &dst, BPF_ANY) != 0)
		return 1; /* cannot remember it: leave the connection as dialled */
	ctx->user_ip4 = weft_cfg.proxy_ip4_be;
	ctx->user_port = weft_cfg.proxy_port_be;
	return 1;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";

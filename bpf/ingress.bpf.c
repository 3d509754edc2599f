/* cgroup_skb/ingress on pods of strict-mTLS namespaces, and on pods whose authorization policies
 * would deny plaintext: refuse connections that bypass the mesh, unless the pod's policies allow
 * their source address (weft_strict.h). */
#include "weft_strict.h"

SEC("cgroup_skb/ingress")
int weft_ingress_strict(struct __sk_buff *skb)
{
	if (!weft_is_foreign_syn(skb))
		return 1;
	if (weft_plaintext_allowed(skb))
		return 1;
	weft_count_strict_drop();
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";

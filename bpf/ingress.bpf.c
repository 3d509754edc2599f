/* cgroup_skb/ingress on pods of strict-mTLS namespaces: refuse connections that bypass the mesh. */
#include "weft_strict.h"

SEC("cgroup_skb/ingress")
int weft_ingress_strict(struct __sk_buff *skb)
{
	if (!weft_is_foreign_syn(skb))
		return 1;
	weft_count_strict_drop();
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";

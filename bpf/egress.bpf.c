/* cgroup_skb/egress on enrolled pods: hold (drop, to be retransmitted) SYNs to the node proxy
 * while no agent listens (see weft_hold.h). Every other packet passes. */
#include "weft_hold.h"

SEC("cgroup_skb/egress")
int weft_egress_hold(struct __sk_buff *skb)
{
	if (weft_holding_syns() && weft_is_syn_to_proxy(skb))
		return 0;
	return 1;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";

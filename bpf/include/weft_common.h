/* Common includes and load-time constants for every Weft eBPF object. The constants live in
 * .rodata and are set by the agent before load (per node), so one compiled object serves every
 * node without recompiling. */
#ifndef WEFT_COMMON_H
#define WEFT_COMMON_H

#include <linux/types.h>
#include <linux/bpf.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "weft_abi.h"

/* The only .rodata variable of every object, so userspace writes it at offset 0. */
volatile const struct weft_config weft_cfg = {};

static __always_inline int weft_is_agent(void)
{
	return weft_cfg.agent_cgroup_id != 0 &&
	       bpf_get_current_cgroup_id() == weft_cfg.agent_cgroup_id;
}

#endif

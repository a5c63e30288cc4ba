// SPDX-License-Identifier: (MIT OR GPL-2.0-only)
/* The overhead floor for benchmarks: programs on sys_enter and sys_exit that do
 * nothing. What a recorder costs beyond this is its own work. */

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

SEC("tp_btf/sys_enter")
int BPF_PROG(floor_enter, struct pt_regs *regs, long id)
{
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(floor_exit, struct pt_regs *regs, long ret)
{
	return 0;
}

// SPDX-License-Identifier: (MIT OR GPL-2.0-only)
/* Overhead floors for benchmarks. floor_enter and floor_exit do nothing: what a
 * recorder costs beyond them is its own work. floor_minimal is the least a recorder
 * can do per syscall (a timestamp, the ids, the number and the return value sent
 * through a ring buffer), so a benchmark can tell the recorder's work apart from the
 * cost of any record at all on this kernel. */

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

/* Set before loading: the benchmark's own process, whose syscalls are not recorded. */
const volatile __u32 self_tgid = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20);
} minimal_ring SEC(".maps");

/* Records the ring had no room for. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} minimal_drops SEC(".maps");

struct minimal_record {
	__u64 ts;
	__u64 pid_tgid;
	__s64 ret;
	__u64 nr;
};

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

SEC("tp_btf/sys_exit")
int BPF_PROG(floor_minimal, struct pt_regs *regs, long ret)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	if (pid_tgid >> 32 == self_tgid)
		return 0;
	struct minimal_record r = {
		.ts = bpf_ktime_get_boot_ns(),
		.pid_tgid = pid_tgid,
		.ret = ret,
		.nr = regs->orig_ax,
	};
	if (bpf_ringbuf_output(&minimal_ring, &r, sizeof(r), BPF_RB_NO_WAKEUP)) {
		__u32 zero = 0;
		__u64 *drops = bpf_map_lookup_elem(&minimal_drops, &zero);
		if (drops)
			*drops += 1;
	}
	return 0;
}

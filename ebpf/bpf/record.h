/* The records the kernel programs send to the recorder through the ring buffer.
 * Layout version 1, specified in docs/RECORDS.md; the Rust side is ebpf/src/record.rs.
 * Both sides must change together. */
#ifndef CASEFILE_RECORD_H
#define CASEFILE_RECORD_H

#define RECORD_LAYOUT_VERSION 1

/* Event kinds beyond syscall numbers (as casefile_formats::event::EventKind). */
#define KIND_FORK 1024
#define KIND_PROC_EXIT 1025
/* Lets a record name the syscall a drop counter belongs to, and sizes the tables. */
#define SYSCALL_LIMIT 1024
#define DROP_SLOTS (SYSCALL_LIMIT + 2)

/* Parameter types: the same numbers as casefile's argument tags. */
#define P_ABSENT 0
#define P_INT 1
#define P_UINT 2
#define P_FD 3
#define P_STR 4
#define P_BYTES 5
#define P_STRLIST 6 /* NUL-separated items, as in /proc/PID/cmdline */
#define P_SOCK 7    /* a raw struct sockaddr (family in host order first) */

struct record_header {
	__u64 ts;     /* bpf_ktime_get_boot_ns */
	__u32 pid;    /* thread group id */
	__u32 tid;
	__s64 ret;
	__u16 kind;
	__u16 cpu;
	__u16 nparams;
	__u16 reserved;
};

/* Settings the recorder writes into .rodata before loading. */
#define SCOPE_ALL 0
#define SCOPE_PIDS 1   /* tgids in the scope_pids map, and their descendants */
#define SCOPE_CGROUP 2 /* tasks in cgroup v2 `scope_cgroup_id` or below it */

#endif

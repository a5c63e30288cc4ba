// SPDX-License-Identifier: (MIT OR GPL-2.0-only)
/* casefile's kernel side: one record per completed syscall, plus process fork, exec and
 * exit, sent to the recorder through one ring buffer.
 *
 * Arguments are read at syscall exit from the saved user registers (pt_regs), as
 * Falco's newest drivers do: the input is still there at exit for every syscall
 * decoded here except execve, whose old image is gone, so its program path is taken
 * from sched_process_exec and its argv from the new image. Buffers and addresses the
 * kernel fills (read, recvfrom, accept) are only meaningful at exit anyway.
 *
 * Records are built in a per-CPU scratch buffer and copied into the ring with
 * bpf_ringbuf_output, so a record takes only the bytes it needs. Wake-ups are batched:
 * a record only wakes the reader when a threshold of data is waiting; otherwise the
 * reader's own timer collects it. Waking per record cost 3x here. */

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <asm/unistd_64.h>
#include "record.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

/* A record is built in the first half of the scratch buffer; any one item (at most
 * ITEM_MASK bytes) may run past it into the second half, which lets the verifier prove
 * every write in bounds with one comparison and one mask instead of tracking a running
 * total. 32 KiB is the largest per-CPU map value the kernel allows. */
#define HALF 16384
#define SCRATCH_SIZE (2 * HALF)
#define ITEM_MASK 8191
#define PATH_MAX 4096
#define SOCKADDR_MAX 128
#define FAILED_EXEC_ARGS 32
/* Steps of a path walk: one per component, one per mount crossed. */
#define PATH_DEPTH 64
#define NAME_MAX 255

#define AF_UNIX 1
#define AF_INET 2
#define AF_INET6 10
#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define CLONE_THREAD 0x00010000
#define PR_SET_NAME 15
#define WAKE_CHECK_EVERY 64
#define WAKE_CHECK_SIZE 1024

/* Settings written by the recorder before the programs load (.rodata). */
const volatile __u32 self_tgid = 0;
const volatile __u32 snaplen = 80;
const volatile __u32 argv_max = 4096;
const volatile __u32 env_max = 4096;
const volatile __u32 scope_mode = SCOPE_ALL;
const volatile __u64 scope_cgroup_id = 0;
const volatile __u32 scope_cgroup_level = 0;
/* Wake the reader when at least this many bytes wait in the ring. */
const volatile __u64 wakeup_bytes = 1 << 20;
/* Bit n set: record syscall n. */
const volatile __u64 syscall_mask[SYSCALL_LIMIT / 64] = {};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20);
} events SEC(".maps");

struct scratch {
	__u8 buf[SCRATCH_SIZE];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch SEC(".maps");

/* Records the ring had no room for, by kind (syscall number, or 1024 + lifecycle). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, DROP_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} drops SEC(".maps");

/* Records delivered, so tests and the recorder can check that none went missing. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} sent SEC(".maps");

/* With SCOPE_PIDS: the thread groups being recorded, one bit per pid (word = pid / 64).
 * Children join at fork. An array lookup is inlined by the verifier; the hash map this
 * replaced cost ~100 ns on every syscall. The recorder sizes it from pid_max. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u64);
} scope_pids SEC(".maps");

struct exec_file {
	char path[PATH_MAX];
};

/* The path an exec was asked to run, from sched_process_exec until the execve exit
 * record of the same thread picks it up. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct exec_file);
} exec_files SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct exec_file);
} exec_scratch SEC(".maps");

/* Offsets are 64-bit on purpose: with 32-bit ones clang compares a zero-extended copy
 * and indexes with the original, and the verifier cannot carry the bound across. */
struct builder {
	__u8 *buf;
	__u64 off;
	__u32 nparams;
};

static __always_inline __u64 *scope_word(__u32 tgid)
{
	__u32 word = tgid >> 6;
	return bpf_map_lookup_elem(&scope_pids, &word);
}

static __always_inline bool in_scope(__u32 tgid)
{
	if (tgid == self_tgid)
		return false;
	if (scope_mode == SCOPE_PIDS) {
		__u64 *word = scope_word(tgid);
		return word && (*word & (1ULL << (tgid & 63)));
	}
	if (scope_mode == SCOPE_CGROUP)
		return bpf_get_current_ancestor_cgroup_id(scope_cgroup_level) == scope_cgroup_id;
	return true;
}

static __always_inline bool begin(struct builder *b, __u16 kind, __s64 ret, __u64 pid_tgid)
{
	__u32 zero = 0;
	struct scratch *s = bpf_map_lookup_elem(&scratch, &zero);
	if (!s)
		return false;
	struct record_header *h = (void *)s->buf;
	h->ts = bpf_ktime_get_boot_ns();
	h->pid = pid_tgid >> 32;
	h->tid = (__u32)pid_tgid;
	h->ret = ret;
	h->kind = kind;
	h->cpu = bpf_get_smp_processor_id();
	h->nparams = 0;
	h->reserved = 0;
	b->buf = s->buf;
	b->off = sizeof(struct record_header);
	b->nparams = 0;
	return true;
}

static __always_inline void count(void *map, __u32 slot)
{
	__u64 *n = bpf_map_lookup_elem(map, &slot);
	if (n)
		*n += 1;
}

static __always_inline void finish(struct builder *b, __u32 slot)
{
	struct record_header *h = (void *)b->buf;
	h->nparams = b->nparams;
	/* Every put_* keeps the offset below SCRATCH_SIZE; the mask shows it to the verifier. */
	__u64 size = b->off & (SCRATCH_SIZE - 1);
	__u32 zero = 0;
	__u64 *sent_here = bpf_map_lookup_elem(&sent, &zero);
	if (!sent_here)
		return;
	/* The fill level is asked only every WAKE_CHECK_EVERY records of this CPU, and for
	 * large records: the query is a helper call (~8 ns of the ~420 a small record
	 * costs here), and the reader's own 50 ms timer bounds the latency anyway. */
	__u64 flags = BPF_RB_NO_WAKEUP;
	if (((*sent_here & (WAKE_CHECK_EVERY - 1)) == 0 || size > WAKE_CHECK_SIZE) &&
	    bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_bytes)
		flags = BPF_RB_FORCE_WAKEUP;
	if (bpf_ringbuf_output(&events, b->buf, size, flags))
		count(&drops, slot);
	else
		*sent_here += 1;
}

/* Fixed-size items may start anywhere below this: the largest is 1 + SOCKADDR_MAX. */
#define FIXED_LIMIT (SCRATCH_SIZE - SOCKADDR_MAX - 8)

/* Numbers go in with one unaligned store each (x86 and the verifier allow it for map
 * values); __builtin_memcpy at an unknown alignment is eight byte stores and shifts. */
static __always_inline void store_u64(__u8 *p, __u64 v)
{
	*(__u64 *)p = v;
}

static __always_inline void store_u16(__u8 *p, __u16 v)
{
	*(__u16 *)p = v;
}

static __always_inline void put_absent(struct builder *b)
{
	__u64 off = b->off;
	if (off > FIXED_LIMIT)
		return;
	b->buf[off] = P_ABSENT;
	b->off = off + 1;
	b->nparams++;
}

static __always_inline void put_num(struct builder *b, __u8 type, __u64 v)
{
	__u64 off = b->off;
	if (off > FIXED_LIMIT)
		return;
	b->buf[off] = type;
	store_u64(&b->buf[off + 1], v);
	b->off = off + 9;
	b->nparams++;
}

#define put_int(b, v) put_num(b, P_INT, (__u64)(__s64)(v))
#define put_uint(b, v) put_num(b, P_UINT, (__u64)(v))
#define put_fd(b, v) put_num(b, P_FD, (__u64)(__s64)(int)(v))

/* Writes the type and 16-bit length of a variable item of `len` bytes already copied
 * to off + 3. */
static __always_inline void seal_var(struct builder *b, __u64 off, __u8 type, __u64 len)
{
	__u16 len16 = len;
	b->buf[off] = type;
	store_u16(&b->buf[off + 1], len16);
	b->off = off + 3 + len16;
	b->nparams++;
}

/* A NUL-terminated string from user memory, without its NUL, at most `max` bytes. */
static __always_inline void put_user_str(struct builder *b, __u64 uptr, __u32 max)
{
	__u64 off = b->off;
	if (!uptr || off >= HALF) {
		put_absent(b);
		return;
	}
	off &= HALF - 1; /* already true: spelled out for the verifier */
	long n = bpf_probe_read_user_str(&b->buf[off + 3], max & ITEM_MASK, (void *)uptr);
	if (n <= 0) {
		put_absent(b);
		return;
	}
	seal_var(b, off, P_STR, n - 1);
}

static __always_inline void put_kernel_str(struct builder *b, const void *kptr, __u32 max)
{
	__u64 off = b->off;
	if (!kptr || off >= HALF) {
		put_absent(b);
		return;
	}
	off &= HALF - 1; /* already true: spelled out for the verifier */
	long n = bpf_probe_read_kernel_str(&b->buf[off + 3], max & ITEM_MASK, kptr);
	if (n <= 0) {
		put_absent(b);
		return;
	}
	seal_var(b, off, P_STR, n - 1);
}

/* `len` bytes of user memory (clamped to `max`) as an item of `type`. */
static __always_inline void put_user_bytes(struct builder *b, __u8 type, __u64 uptr, __u64 len,
					   __u32 max)
{
	__u64 off = b->off;
	if (off >= HALF || (!uptr && len)) {
		put_absent(b);
		return;
	}
	off &= HALF - 1; /* already true: spelled out for the verifier */
	if (len > max)
		len = max;
	__u64 n = len & ITEM_MASK;
	if (n && bpf_probe_read_user(&b->buf[off + 3], n, (void *)uptr)) {
		put_absent(b);
		return;
	}
	seal_var(b, off, type, n);
}

static __always_inline void put_user_sockaddr(struct builder *b, __u64 uptr, __u64 len)
{
	if (!uptr || !len) {
		put_absent(b);
		return;
	}
	put_user_bytes(b, P_SOCK, uptr, len, SOCKADDR_MAX);
}

static __always_inline struct task_struct *current_task(void)
{
	return (struct task_struct *)bpf_get_current_task();
}

static __always_inline struct file *fd_file(__s64 fd)
{
	if (fd < 0)
		return 0;
	struct fdtable *fdt = BPF_CORE_READ(current_task(), files, fdt);
	if (!fdt)
		return 0;
	unsigned int max = BPF_CORE_READ(fdt, max_fds);
	if ((__u64)fd >= max)
		return 0;
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *f = 0;
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	return f;
}

static __always_inline struct sock *fd_sock(__s64 fd)
{
	struct file *f = fd_file(fd);
	if (!f)
		return 0;
	umode_t mode = BPF_CORE_READ(f, f_inode, i_mode);
	if ((mode & S_IFMT) != S_IFSOCK)
		return 0;
	struct socket *sock = BPF_CORE_READ(f, private_data);
	return sock ? BPF_CORE_READ(sock, sk) : 0;
}

/* The device and inode of the file at `fd` (two items; absent when there is none). */
static __always_inline void put_fd_dev_ino(struct builder *b, __s64 fd)
{
	struct file *f = fd_file(fd);
	if (!f) {
		put_absent(b);
		put_absent(b);
		return;
	}
	struct inode *inode = BPF_CORE_READ(f, f_inode);
	put_uint(b, BPF_CORE_READ(inode, i_sb, s_dev));
	put_uint(b, BPF_CORE_READ(inode, i_ino));
}

/* One end of a socket as a struct sockaddr, built from the kernel's socket. */
static __always_inline void put_sock_end(struct builder *b, struct sock *sk, bool remote)
{
	__u64 off = b->off;
	if (!sk || off > FIXED_LIMIT) {
		put_absent(b);
		return;
	}
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	__u16 port;
	if (remote)
		port = BPF_CORE_READ(sk, __sk_common.skc_dport);
	else
		port = __builtin_bswap16(BPF_CORE_READ(sk, __sk_common.skc_num));
	__u8 *p = &b->buf[off + 3];
	if (family == AF_INET) {
		__be32 addr = remote ? BPF_CORE_READ(sk, __sk_common.skc_daddr)
				     : BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
		__builtin_memset(p, 0, 16);
		__builtin_memcpy(p, &family, 2);
		__builtin_memcpy(p + 2, &port, 2);
		__builtin_memcpy(p + 4, &addr, 4);
		seal_var(b, off, P_SOCK, 16);
	} else if (family == AF_INET6) {
		struct in6_addr addr;
		if (remote)
			addr = BPF_CORE_READ(sk, __sk_common.skc_v6_daddr);
		else
			addr = BPF_CORE_READ(sk, __sk_common.skc_v6_rcv_saddr);
		__builtin_memset(p, 0, 28);
		__builtin_memcpy(p, &family, 2);
		__builtin_memcpy(p + 2, &port, 2);
		__builtin_memcpy(p + 8, &addr, 16);
		seal_var(b, off, P_SOCK, 28);
	} else {
		/* Unix and other families: the family alone. */
		__builtin_memcpy(p, &family, 2);
		seal_var(b, off, P_SOCK, 2);
	}
}

/* The first buffer of an iovec array and the total length asked for (first 8 iovecs). */
static __always_inline void iov_first(__u64 uiov, __u64 iovcnt, __u64 *base, __u64 *total)
{
	*base = 0;
	*total = 0;
	if (!uiov)
		return;
	for (int i = 0; i < 8; i++) {
		if (i >= iovcnt)
			break;
		struct iovec iov = {};
		if (bpf_probe_read_user(&iov, sizeof(iov), (void *)(uiov + i * sizeof(iov))))
			break;
		if (i == 0)
			*base = (__u64)iov.iov_base;
		*total += iov.iov_len;
	}
}

/* fd, size, [pos,] data for read/write-like calls on an iovec array. */
static __always_inline void put_iov_io(struct builder *b, __u64 fd, __u64 uiov, __u64 iovcnt,
				       bool has_pos, __u64 pos, __s64 ret, bool input_from_kernel)
{
	__u64 base, total;
	iov_first(uiov, iovcnt, &base, &total);
	put_fd(b, fd);
	put_uint(b, total);
	if (has_pos)
		put_uint(b, pos);
	__u64 len = input_from_kernel ? (ret > 0 ? ret : 0) : total;
	put_user_bytes(b, P_BYTES, base, len, snaplen);
}

/* An argv-like list from user memory: an array of string pointers (failed execs). */
static __always_inline void put_user_argv(struct builder *b, __u64 uargv)
{
	__u64 off = b->off;
	if (!uargv || off >= HALF) {
		put_absent(b);
		return;
	}
	off &= HALF - 1; /* already true: spelled out for the verifier */
	__u64 len = 0;
	for (int i = 0; i < FAILED_EXEC_ARGS; i++) {
		__u64 arg = 0;
		if (bpf_probe_read_user(&arg, sizeof(arg), (void *)(uargv + i * 8)) || !arg)
			break;
		if (len >= 2048)
			break;
		/* Keeps clang from dropping the mask the verifier needs to bound the write. */
		barrier_var(len);
		long n = bpf_probe_read_user_str(&b->buf[off + 3 + (len & 2047)], 1024, (void *)arg);
		if (n <= 0)
			break;
		len += n;
	}
	seal_var(b, off, P_STRLIST, len);
}

static __always_inline void put_caps(struct builder *b, const struct cred *cred)
{
	put_uint(b, BPF_CORE_READ(cred, cap_inheritable.val));
	put_uint(b, BPF_CORE_READ(cred, cap_permitted.val));
	put_uint(b, BPF_CORE_READ(cred, cap_effective.val));
}

enum walk_state {
	WALK_ON,
	WALK_ROOT,  /* reached the task's root (or the root of its mount tree): complete */
	WALK_LOST,  /* a dentry without a parent (a pseudo file: memfd, anon inode) or unreadable */
	WALK_LONG,  /* longer than PATH_MAX - 1 bytes, or deeper than PATH_DEPTH steps */
};

/* The state of a path walk. It lives in the map beside the path, not on the stack: the
 * verifier then knows nothing of its values from one step to the next, so it checks a
 * step once rather than once per distinct position it could track. */
struct path_walk {
	struct dentry *dentry;
	struct mount *mnt;
	struct dentry *mnt_root;
	struct dentry *root_dentry;
	struct vfsmount *root_mnt;
	__u64 pos; /* where the path built so far starts in buf; it ends at PATH_MAX */
	__u32 state;
};

/* A file's path (exepath, cwd) is built in buf right to left: the walk from the file up
 * to the task's root meets the components last first. The path ends at PATH_MAX; the
 * second half only lets the verifier bound a name read or the final copy with masks. */
struct path_buf {
	__u8 buf[2 * PATH_MAX];
	struct path_walk walk;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct path_buf);
} path_scratch SEC(".maps");

static __always_inline struct mount *real_mount(struct vfsmount *vfsmnt)
{
	return (void *)vfsmnt - bpf_core_field_offset(struct mount, mnt);
}

/* One step up from w->dentry, as the kernel's d_path (fs/d_path.c, prepend_path) goes:
 * at the root of a mount, over to the mount point in the parent mount; otherwise prepend
 * "/name" and go to the parent dentry. */
static long path_step(__u64 index, void *ctx)
{
	__u32 zero = 0;
	struct path_buf *p = bpf_map_lookup_elem(&path_scratch, &zero);
	if (!p)
		return 1;
	struct path_walk *w = &p->walk;
	struct dentry *dentry = w->dentry;
	struct mount *mnt = w->mnt;
	struct vfsmount *vfsmnt = (void *)mnt + bpf_core_field_offset(struct mount, mnt);
	if (dentry == w->root_dentry && vfsmnt == w->root_mnt) {
		w->state = WALK_ROOT;
		return 1;
	}
	if (dentry == w->mnt_root) {
		struct mount *parent = BPF_CORE_READ(mnt, mnt_parent);
		if (!parent || parent == mnt) {
			/* The root of the mount tree: the file is outside the task's root (or
			 * on a detached mount); the path is as seen from the tree's root. */
			w->state = WALK_ROOT;
			return 1;
		}
		w->dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
		w->mnt = parent;
		w->mnt_root = BPF_CORE_READ(parent, mnt.mnt_root);
		return 0;
	}
	struct dentry *up = BPF_CORE_READ(dentry, d_parent);
	__u32 len = BPF_CORE_READ(dentry, d_name.len);
	const unsigned char *name = BPF_CORE_READ(dentry, d_name.name);
	if (!up || up == dentry || !name || !len || len > NAME_MAX) {
		w->state = WALK_LOST;
		return 1;
	}
	if (len + 1 >= w->pos) {
		w->state = WALK_LONG;
		return 1;
	}
	/* pos stays in [1, PATH_MAX): the masks change nothing, they show it. */
	__u64 pos = w->pos - len - 1;
	p->buf[pos & (PATH_MAX - 1)] = '/';
	if (bpf_probe_read_kernel(&p->buf[(pos + 1) & (PATH_MAX - 1)], len & NAME_MAX, name)) {
		w->state = WALK_LOST;
		return 1;
	}
	w->pos = pos;
	w->dentry = up;
	return 0;
}

/* Builds the path of `dentry` on `vfsmnt`, as the current task sees it from its root, at
 * the end of path_scratch's first half (it ends at PATH_MAX). Returns its length, or 0 if
 * the walk could not complete: then, with `or_name`, the dentry's own name is put there
 * instead and its length returned (never a path: it has no '/'). */
static __always_inline __u32 walk_path(struct path_buf *p, struct dentry *dentry,
				       struct vfsmount *vfsmnt, bool or_name)
{
	if (!dentry || !vfsmnt)
		return 0;
	struct fs_struct *fs = BPF_CORE_READ(current_task(), fs);
	struct path_walk *w = &p->walk;
	w->dentry = dentry;
	w->mnt = real_mount(vfsmnt);
	w->mnt_root = BPF_CORE_READ(vfsmnt, mnt_root);
	w->root_dentry = BPF_CORE_READ(fs, root.dentry);
	w->root_mnt = BPF_CORE_READ(fs, root.mnt);
	w->pos = PATH_MAX;
	w->state = WALK_ON;
	bpf_loop(PATH_DEPTH, path_step, 0, 0);
	if (w->state == WALK_ROOT) {
		if (w->pos >= PATH_MAX) {
			p->buf[PATH_MAX - 1] = '/';
			return 1;
		}
		return PATH_MAX - w->pos;
	}
	if (!or_name)
		return 0;
	__u32 len = BPF_CORE_READ(dentry, d_name.len);
	const unsigned char *name = BPF_CORE_READ(dentry, d_name.name);
	if (!name || !len || len > NAME_MAX)
		return 0;
	if (bpf_probe_read_kernel(&p->buf[(PATH_MAX - len) & (PATH_MAX - 1)], len & NAME_MAX, name))
		return 0;
	return len;
}

#define TASK_EXE 0
#define TASK_CWD 1

/* At `off` in the record being built: the path of the current task's executable (`what`
 * TASK_EXE; if no path can be built, the file's own name) or working directory
 * (TASK_CWD), as a str item, or an absent item. Returns the offset after the item (`off`
 * itself when there was no room even for an absent item). A global function: the
 * verifier checks it once, on its own, and the caller's state after it is one unknown
 * offset rather than one per outcome. */
__noinline __u64 put_task_path_at(__u64 off, __u32 what)
{
	__u32 zero = 0;
	struct scratch *s = bpf_map_lookup_elem(&scratch, &zero);
	struct path_buf *p = bpf_map_lookup_elem(&path_scratch, &zero);
	if (!s || !p || off > FIXED_LIMIT)
		return off;
	struct task_struct *task = current_task();
	struct dentry *dentry;
	struct vfsmount *vfsmnt;
	if (what == TASK_EXE) {
		struct file *exe = BPF_CORE_READ(task, mm, exe_file);
		dentry = BPF_CORE_READ(exe, f_path.dentry);
		vfsmnt = BPF_CORE_READ(exe, f_path.mnt);
	} else {
		struct fs_struct *fs = BPF_CORE_READ(task, fs);
		dentry = BPF_CORE_READ(fs, pwd.dentry);
		vfsmnt = BPF_CORE_READ(fs, pwd.mnt);
	}
	__u64 len = walk_path(p, dentry, vfsmnt, what == TASK_EXE);
	if (!len || len >= PATH_MAX || off >= HALF) {
		s->buf[off & (SCRATCH_SIZE - 1)] = P_ABSENT;
		return off + 1;
	}
	off &= HALF - 1; /* already true: spelled out for the verifier */
	/* Map memory to map memory: this read does not fail. len is in [1, PATH_MAX): the
	 * masks change nothing. */
	bpf_probe_read_kernel(&s->buf[off + 3], len & (PATH_MAX - 1),
			      &p->buf[(PATH_MAX - len) & (PATH_MAX - 1)]);
	s->buf[off] = P_STR;
	store_u16(&s->buf[off + 1], len);
	return off + 3 + len;
}

static __always_inline void put_task_path(struct builder *b, __u32 what)
{
	__u64 off = b->off;
	__u64 next = put_task_path_at(off, what);
	if (next != off) {
		b->off = next;
		b->nparams++;
	}
}

/* The number of `pid` in the pid namespace of the task whose own pid is `task_pid`, as
 * pid_vnr gives it: 0 when it is not visible there. */
__noinline __u64 pid_nr_in_task_ns(__u64 task_pid_ptr, __u64 pid_ptr)
{
	struct pid *task_pid = (struct pid *)task_pid_ptr;
	struct pid *pid = (struct pid *)pid_ptr;
	if (!task_pid || !pid)
		return 0;
	unsigned int level = BPF_CORE_READ(task_pid, level);
	if (BPF_CORE_READ(pid, level) < level)
		return 0;
	__u64 at = bpf_core_field_offset(struct pid, numbers) +
		   (__u64)level * bpf_core_type_size(struct upid);
	struct upid *mine = (void *)task_pid + at;
	struct upid *theirs = (void *)pid + at;
	if (BPF_CORE_READ(mine, ns) != BPF_CORE_READ(theirs, ns))
		return 0;
	return (__u32)BPF_CORE_READ(theirs, nr);
}

/* The controlling terminal as /proc/PID/stat's tty_nr and Falco's proc.tty encode it:
 * new_encode_dev(MKDEV(driver major, minor_start) + index); 0 without one. */
__noinline __u64 tty_nr(__u64 tty_ptr)
{
	struct tty_struct *tty = (struct tty_struct *)tty_ptr;
	if (!tty)
		return 0;
	int index = BPF_CORE_READ(tty, index);
	struct tty_driver *driver = BPF_CORE_READ(tty, driver);
	if (!driver)
		return 0;
	__u32 major = BPF_CORE_READ(driver, major);
	__u32 minor = BPF_CORE_READ(driver, minor_start);
	/* The kernel's dev_t keeps the minor in 20 bits: index may carry into the major. */
	__u32 dev = ((major << 20) | minor) + index;
	major = dev >> 20;
	minor = dev & ((1U << 20) - 1);
	return (minor & 0xff) | (major << 8) | ((minor & ~0xffU) << 12);
}

/* The facts of a successful exec, in the order of casefile's execve layout from
 * `filename` on (execveat puts its dirfd first and its flags last). */
static __always_inline void put_exec_facts(struct builder *b, __u32 tid)
{
	struct exec_file *file = bpf_map_lookup_elem(&exec_files, &tid);
	if (file)
		put_kernel_str(b, file->path, PATH_MAX);
	else
		put_absent(b);
	struct task_struct *task = current_task();
	struct mm_struct *mm = BPF_CORE_READ(task, mm);
	struct file *exe = BPF_CORE_READ(mm, exe_file);
	/* exepath: the full path from the task's root; when it cannot be built, the file's
	 * own name (never starting with '/'), which tells the recorder to resolve it. */
	put_task_path(b, TASK_EXE);
	__u64 start = BPF_CORE_READ(mm, arg_start);
	__u64 end = BPF_CORE_READ(mm, arg_end);
	put_user_bytes(b, P_STRLIST, start, end > start ? end - start : 0, argv_max);
	put_task_path(b, TASK_CWD); /* absent when the walk cannot complete */
	start = BPF_CORE_READ(mm, env_start);
	end = BPF_CORE_READ(mm, env_end);
	if (env_max)
		put_user_bytes(b, P_STRLIST, start, end > start ? end - start : 0, env_max);
	else
		put_absent(b);
	put_kernel_str(b, task->comm, 16);
	const struct cred *cred = BPF_CORE_READ(task, cred);
	put_uint(b, BPF_CORE_READ(cred, uid.val));
	put_uint(b, BPF_CORE_READ(cred, gid.val));
	put_uint(b, BPF_CORE_READ(cred, euid.val));
	put_uint(b, BPF_CORE_READ(cred, egid.val));
	put_uint(b, BPF_CORE_READ(task, loginuid.val));
	/* tty, sid, pgid: sid and pgid numbered in the task's own pid namespace. */
	struct signal_struct *signal = BPF_CORE_READ(task, signal);
	__u64 task_pid = (__u64)BPF_CORE_READ(task, thread_pid);
	put_uint(b, tty_nr((__u64)BPF_CORE_READ(signal, tty)));
	put_uint(b, pid_nr_in_task_ns(task_pid, (__u64)BPF_CORE_READ(signal, pids[PIDTYPE_SID])));
	put_uint(b, pid_nr_in_task_ns(task_pid, (__u64)BPF_CORE_READ(signal, pids[PIDTYPE_PGID])));
	put_uint(b, bpf_get_current_cgroup_id()); /* the recorder turns the id into a path */
	put_absent(b); /* flags: derived by the recorder */
	struct inode *inode = BPF_CORE_READ(exe, f_inode);
	put_uint(b, BPF_CORE_READ(inode, i_ino));
	put_uint(b, BPF_CORE_READ(inode, i_ctime_sec) * 1000000000ULL);
	put_uint(b, BPF_CORE_READ(inode, i_mtime_sec) * 1000000000ULL);
	put_caps(b, cred);
	if (file)
		bpf_map_delete_elem(&exec_files, &tid);
}

static __always_inline void put_failed_exec(struct builder *b, __u64 filename, __u64 argv)
{
	put_user_str(b, filename, PATH_MAX);
	put_absent(b);
	put_user_argv(b, argv);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(on_sys_exit, struct pt_regs *regs, long ret)
{
	/* tp_btf hands a trusted pt_regs pointer: plain loads, no probe-read helper calls
	 * (which cost more than the rest of a small record). The syscall set is checked
	 * first: it needs no helper call, so a syscall outside it costs the least. */
	long nr = regs->orig_ax;
	if (nr < 0 || nr >= SYSCALL_LIMIT)
		return 0;
	if (!(syscall_mask[(nr >> 6) & (SYSCALL_LIMIT / 64 - 1)] & (1ULL << (nr & 63))))
		return 0;
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	if (!in_scope(pid_tgid >> 32))
		return 0;
	struct builder bld;
	struct builder *b = &bld;
	if (!begin(b, nr, ret, pid_tgid))
		return 0;
	__u64 a0 = regs->di;
	__u64 a1 = regs->si;
	__u64 a2 = regs->dx;
	__u64 a3 = regs->r10;
	__u64 a4 = regs->r8;
	__u64 a5 = regs->r9;
	__u64 got = ret > 0 ? ret : 0;

	switch (nr) {
	/* Files */
	case __NR_open:
		put_user_str(b, a0, PATH_MAX);
		put_uint(b, a1);
		put_uint(b, a2);
		put_fd_dev_ino(b, ret);
		break;
	case __NR_openat:
		put_fd(b, a0);
		put_user_str(b, a1, PATH_MAX);
		put_uint(b, a2);
		put_uint(b, a3);
		put_fd_dev_ino(b, ret);
		break;
	case __NR_openat2: {
		__u64 how[3] = {};
		put_fd(b, a0);
		put_user_str(b, a1, PATH_MAX);
		if (a2 && bpf_probe_read_user(how, sizeof(how), (void *)a2) == 0) {
			put_uint(b, how[0]);
			put_uint(b, how[1]);
			put_uint(b, how[2]);
		} else {
			put_absent(b);
			put_absent(b);
			put_absent(b);
		}
		put_fd_dev_ino(b, ret);
		break;
	}
	case __NR_creat:
		put_user_str(b, a0, PATH_MAX);
		put_uint(b, a1);
		put_fd_dev_ino(b, ret);
		break;
	case __NR_close:
	case __NR_fchdir:
		put_fd(b, a0);
		break;
	case __NR_read:
		put_fd(b, a0);
		put_uint(b, a2);
		put_user_bytes(b, P_BYTES, a1, got, snaplen);
		break;
	case __NR_pread64:
		put_fd(b, a0);
		put_uint(b, a2);
		put_uint(b, a3);
		put_user_bytes(b, P_BYTES, a1, got, snaplen);
		break;
	case __NR_write:
		put_fd(b, a0);
		put_uint(b, a2);
		put_user_bytes(b, P_BYTES, a1, a2, snaplen);
		break;
	case __NR_pwrite64:
		put_fd(b, a0);
		put_uint(b, a2);
		put_uint(b, a3);
		put_user_bytes(b, P_BYTES, a1, a2, snaplen);
		break;
	case __NR_readv:
		put_iov_io(b, a0, a1, a2, false, 0, ret, true);
		break;
	case __NR_preadv:
		put_iov_io(b, a0, a1, a2, true, a3, ret, true);
		break;
	case __NR_writev:
		put_iov_io(b, a0, a1, a2, false, 0, ret, false);
		break;
	case __NR_pwritev:
		put_iov_io(b, a0, a1, a2, true, a3, ret, false);
		break;
	case __NR_dup:
		put_fd(b, a0);
		break;
	case __NR_dup2:
		put_fd(b, a0);
		put_fd(b, a1);
		break;
	case __NR_dup3:
		put_fd(b, a0);
		put_fd(b, a1);
		put_uint(b, a2);
		break;
	case __NR_fcntl:
		put_fd(b, a0);
		put_int(b, (int)a1);
		put_uint(b, a2);
		break;
	case __NR_unlink:
	case __NR_rmdir:
	case __NR_chdir:
	case __NR_chroot:
		put_user_str(b, a0, PATH_MAX);
		break;
	case __NR_unlinkat:
		put_fd(b, a0);
		put_user_str(b, a1, PATH_MAX);
		put_uint(b, a2);
		break;
	case __NR_rename:
	case __NR_link:
	case __NR_symlink:
		put_user_str(b, a0, PATH_MAX);
		put_user_str(b, a1, PATH_MAX);
		break;
	case __NR_renameat:
	case __NR_renameat2:
	case __NR_linkat:
		put_fd(b, a0);
		put_user_str(b, a1, PATH_MAX);
		put_fd(b, a2);
		put_user_str(b, a3, PATH_MAX);
		if (nr != __NR_renameat)
			put_uint(b, a4);
		break;
	case __NR_symlinkat:
		put_user_str(b, a0, PATH_MAX);
		put_fd(b, a1);
		put_user_str(b, a2, PATH_MAX);
		break;
	case __NR_mkdir:
	case __NR_chmod:
	case __NR_truncate:
		put_user_str(b, a0, PATH_MAX);
		put_uint(b, a1);
		break;
	case __NR_mkdirat:
	case __NR_fchmodat:
		put_fd(b, a0);
		put_user_str(b, a1, PATH_MAX);
		put_uint(b, a2);
		break;
	case __NR_fchmod:
	case __NR_ftruncate:
		put_fd(b, a0);
		put_uint(b, a1);
		break;
	case __NR_chown:
	case __NR_lchown:
		put_user_str(b, a0, PATH_MAX);
		put_uint(b, (__u32)a1);
		put_uint(b, (__u32)a2);
		break;
	case __NR_fchown:
		put_fd(b, a0);
		put_uint(b, (__u32)a1);
		put_uint(b, (__u32)a2);
		break;
	case __NR_fchownat:
		put_fd(b, a0);
		put_user_str(b, a1, PATH_MAX);
		put_uint(b, (__u32)a2);
		put_uint(b, (__u32)a3);
		put_uint(b, a4);
		break;
	case __NR_mount:
		put_user_str(b, a0, PATH_MAX);
		put_user_str(b, a1, PATH_MAX);
		put_user_str(b, a2, 256);
		put_uint(b, a3);
		break;
	case __NR_umount2:
	case __NR_memfd_create:
		put_user_str(b, a0, PATH_MAX);
		put_uint(b, a1);
		break;
	/* Network */
	case __NR_socket:
		put_uint(b, a0);
		put_uint(b, a1);
		put_uint(b, a2);
		break;
	case __NR_socketpair: {
		int fds[2] = {-1, -1};
		put_uint(b, a0);
		put_uint(b, a1);
		put_uint(b, a2);
		if (ret == 0 && a3 && bpf_probe_read_user(fds, sizeof(fds), (void *)a3) == 0) {
			put_fd(b, fds[0]);
			put_fd(b, fds[1]);
		} else {
			put_absent(b);
			put_absent(b);
		}
		break;
	}
	case __NR_connect:
		put_fd(b, a0);
		put_user_sockaddr(b, a1, a2);
		put_sock_end(b, fd_sock(a0), false);
		break;
	case __NR_accept:
	case __NR_accept4: {
		struct sock *sk = ret >= 0 ? fd_sock(ret) : 0;
		put_fd(b, a0);
		put_sock_end(b, sk, true);
		put_sock_end(b, sk, false);
		put_uint(b, nr == __NR_accept4 ? a3 : 0);
		break;
	}
	case __NR_bind:
		put_fd(b, a0);
		put_user_sockaddr(b, a1, a2);
		break;
	case __NR_listen:
	case __NR_shutdown:
		put_fd(b, a0);
		put_int(b, (int)a1);
		break;
	case __NR_sendto:
		put_fd(b, a0);
		put_uint(b, a2);
		if (a4)
			put_user_sockaddr(b, a4, a5);
		else
			put_sock_end(b, fd_sock(a0), true);
		put_user_bytes(b, P_BYTES, a1, a2, snaplen);
		break;
	case __NR_recvfrom: {
		put_fd(b, a0);
		put_uint(b, a2);
		int alen = 0;
		if (a4 && a5 && bpf_probe_read_user(&alen, sizeof(alen), (void *)a5) == 0 && alen > 0)
			put_user_sockaddr(b, a4, alen);
		else
			put_sock_end(b, fd_sock(a0), true);
		put_user_bytes(b, P_BYTES, a1, got, snaplen);
		break;
	}
	case __NR_sendmsg:
	case __NR_recvmsg: {
		struct user_msghdr msg = {};
		bool ok = a1 && bpf_probe_read_user(&msg, sizeof(msg), (void *)a1) == 0;
		__u64 base = 0, total = 0;
		if (ok)
			iov_first((__u64)msg.msg_iov, msg.msg_iovlen, &base, &total);
		put_fd(b, a0);
		put_uint(b, total);
		if (ok && msg.msg_name && msg.msg_namelen > 0)
			put_user_sockaddr(b, (__u64)msg.msg_name, msg.msg_namelen);
		else
			put_sock_end(b, fd_sock(a0), true);
		put_user_bytes(b, P_BYTES, base, nr == __NR_recvmsg ? got : total, snaplen);
		break;
	}
	case __NR_pipe:
	case __NR_pipe2: {
		int fds[2] = {-1, -1};
		if (ret == 0 && a0 && bpf_probe_read_user(fds, sizeof(fds), (void *)a0) == 0) {
			put_fd(b, fds[0]);
			put_fd(b, fds[1]);
			struct file *f = fd_file(fds[0]);
			put_uint(b, f ? BPF_CORE_READ(f, f_inode, i_ino) : 0);
		} else {
			put_absent(b);
			put_absent(b);
			put_absent(b);
		}
		if (nr == __NR_pipe2)
			put_uint(b, a1);
		break;
	}
	/* Processes */
	case __NR_execve:
		if (ret == 0)
			put_exec_facts(b, (__u32)pid_tgid);
		else
			put_failed_exec(b, a0, a1);
		break;
	case __NR_execveat:
		put_fd(b, a0);
		if (ret == 0)
			put_exec_facts(b, (__u32)pid_tgid);
		else
			put_failed_exec(b, a1, a2);
		put_uint(b, a4); /* the recorder moves it to its place after the facts */
		break;
	case __NR_clone:
	case __NR_unshare:
	case __NR_userfaultfd:
		put_uint(b, a0);
		break;
	case __NR_clone3: {
		__u64 flags = 0;
		if (a0 && bpf_probe_read_user(&flags, sizeof(flags), (void *)a0) == 0)
			put_uint(b, flags);
		else
			put_absent(b);
		break;
	}
	case __NR_fork:
	case __NR_vfork:
		break;
	case __NR_kill:
	case __NR_tkill:
		put_int(b, (int)a0);
		put_int(b, (int)a1);
		break;
	case __NR_tgkill:
		put_int(b, (int)a0);
		put_int(b, (int)a1);
		put_int(b, (int)a2);
		break;
	case __NR_ptrace:
		put_int(b, a0);
		put_int(b, (int)a1);
		put_uint(b, a2);
		put_uint(b, a3);
		break;
	case __NR_prctl:
		put_int(b, (int)a0);
		put_uint(b, a1);
		if ((int)a0 == PR_SET_NAME)
			put_user_str(b, a1, 16);
		else
			put_absent(b);
		break;
	case __NR_setns:
		put_fd(b, a0);
		put_uint(b, a1);
		break;
	case __NR_capset: {
		/* Two __user_cap_data_struct: {effective, permitted, inheritable} x {low, high}. */
		__u32 data[6] = {};
		if (a1 && bpf_probe_read_user(data, sizeof(data), (void *)a1) == 0) {
			put_uint(b, data[2] | ((__u64)data[5] << 32));
			put_uint(b, data[1] | ((__u64)data[4] << 32));
			put_uint(b, data[0] | ((__u64)data[3] << 32));
		} else {
			put_absent(b);
			put_absent(b);
			put_absent(b);
		}
		break;
	}
	/* Users and groups */
	case __NR_setuid:
	case __NR_setgid:
	case __NR_setfsuid:
	case __NR_setfsgid:
		put_uint(b, (__u32)a0);
		break;
	case __NR_setreuid:
	case __NR_setregid:
		put_uint(b, (__u32)a0);
		put_uint(b, (__u32)a1);
		break;
	case __NR_setresuid:
	case __NR_setresgid:
		put_uint(b, (__u32)a0);
		put_uint(b, (__u32)a1);
		put_uint(b, (__u32)a2);
		break;
	/* Memory */
	case __NR_mmap:
		put_uint(b, a0);
		put_uint(b, a1);
		put_uint(b, a2);
		put_uint(b, a3);
		put_fd(b, a4);
		put_uint(b, a5);
		break;
	case __NR_mprotect:
		put_uint(b, a0);
		put_uint(b, a1);
		put_uint(b, a2);
		break;
	/* Kernel */
	case __NR_init_module:
		put_uint(b, a1);
		put_user_str(b, a2, 1024);
		break;
	case __NR_finit_module:
		put_fd(b, a0);
		put_user_str(b, a1, 1024);
		put_uint(b, a2);
		break;
	case __NR_delete_module:
		put_user_str(b, a0, 256);
		put_uint(b, a1);
		break;
	case __NR_bpf:
		put_int(b, (int)a0);
		break;
	case __NR_io_uring_setup: {
		__u32 flags = 0;
		put_uint(b, a0);
		if (a1 && bpf_probe_read_user(&flags, sizeof(flags), (void *)(a1 + 8)) == 0)
			put_uint(b, flags);
		else
			put_absent(b);
		break;
	}
	default:
		put_uint(b, a0);
		put_uint(b, a1);
		put_uint(b, a2);
		put_uint(b, a3);
		put_uint(b, a4);
		put_uint(b, a5);
		break;
	}
	finish(b, nr);
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(on_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 parent_tgid = BPF_CORE_READ(parent, tgid);
	__u32 child_tgid = BPF_CORE_READ(child, tgid);
	if (scope_mode == SCOPE_PIDS && child_tgid != parent_tgid && in_scope(parent_tgid)) {
		__u64 *word = scope_word(child_tgid);
		if (word)
			__sync_fetch_and_or(word, 1ULL << (child_tgid & 63));
	}
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	if (!in_scope(pid_tgid >> 32))
		return 0;
	struct builder bld;
	if (!begin(&bld, KIND_FORK, 0, pid_tgid))
		return 0;
	put_int(&bld, child_tgid);
	put_int(&bld, BPF_CORE_READ(child, pid));
	put_uint(&bld, child_tgid == parent_tgid ? CLONE_THREAD : 0);
	finish(&bld, KIND_FORK);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(on_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	if (!in_scope(bpf_get_current_pid_tgid() >> 32))
		return 0;
	__u32 zero = 0;
	struct exec_file *file = bpf_map_lookup_elem(&exec_scratch, &zero);
	if (!file)
		return 0;
	if (bpf_probe_read_kernel_str(file->path, sizeof(file->path), BPF_CORE_READ(bprm, filename)) <= 0)
		return 0;
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	bpf_map_update_elem(&exec_files, &tid, file, BPF_ANY);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(on_exit, struct task_struct *task)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tgid = pid_tgid >> 32;
	if (!in_scope(tgid))
		return 0;
	struct builder bld;
	if (!begin(&bld, KIND_PROC_EXIT, 0, pid_tgid))
		return 0;
	int code = BPF_CORE_READ(task, exit_code);
	put_int(&bld, code);
	put_int(&bld, (code >> 8) & 0xff);
	put_int(&bld, code & 0x7f);
	put_int(&bld, (code >> 7) & 1);
	finish(&bld, KIND_PROC_EXIT);
	/* The scope entry goes with the thread group's last thread. */
	if (scope_mode == SCOPE_PIDS && (__u32)pid_tgid == tgid) {
		__u64 *word = scope_word(tgid);
		if (word)
			__sync_fetch_and_and(word, ~(1ULL << (tgid & 63)));
	}
	return 0;
}

/* The floor of any syscall-tracepoint tracer: two empty programs on raw_syscalls sys_enter and
 * sys_exit. bench/bench.py attaches them (bpftool ... autoattach) around a load, to measure what
 * enabling the tracepoints costs by itself. */
typedef unsigned long long __u64;
#define SEC(name) __attribute__((section(name), used))
char LICENSE[] SEC("license") = "GPL";
SEC("raw_tracepoint/sys_enter") int floor_enter(void *ctx) { return 0; }
SEC("raw_tracepoint/sys_exit") int floor_exit(void *ctx) { return 0; }

/* libbpf (linked statically, so the binary runs where libbpf is not installed) and the layout of the
 * probe's records. */
#pragma once
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "roprof_probe.h"

/* bpf(2) itself, for the one command libbpf 1.1 cannot express (a link with a cookie on a raw
 * tracepoint). syscall(2) is variadic, which Swift cannot call. No logic here. */
static inline long roprof_bpf(int cmd, union bpf_attr *attr, unsigned int size) {
    return syscall(__NR_bpf, cmd, attr, size);
}

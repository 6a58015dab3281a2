/* libbpf (linked statically, so the binary runs where libbpf is not installed) and the layout of the
 * probe's records. */
#pragma once
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include "roprof_probe.h"

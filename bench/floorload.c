/* Attaches every program of an eBPF object (bench/floor.bpf.o: two empty programs on the syscall
 * tracepoints) and keeps them attached until SIGTERM/SIGINT: the floor of a tracepoint tracer. */
#include <bpf/libbpf.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

static volatile sig_atomic_t done;
static void stop(int s) { (void)s; done = 1; }

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: floorload OBJ\n"); return 2; }
    struct bpf_object *obj = bpf_object__open_file(argv[1], NULL);
    if (!obj || bpf_object__load(obj)) { perror("load"); return 1; }
    struct bpf_program *p;
    bpf_object__for_each_program(p, obj) {
        if (!bpf_program__attach(p)) { perror("attach"); return 1; }
    }
    signal(SIGTERM, stop);
    signal(SIGINT, stop);
    puts("attached");
    fflush(stdout);
    while (!done) pause();
    return 0;
}

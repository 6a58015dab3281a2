/* The leader calls pthread_exit; a worker does chdir sub, then mkdir d: recorded as sub/d. */
#include "fixture.h"
#include <pthread.h>
static void *worker(void *arg) {
    (void)arg;
    usleep(100000);
    if (chdir(P("sub")) != 0) FAIL("chdir: %s", strerror(errno));
    if (mkdir("d", 0755) != 0) FAIL("mkdir: %s", strerror(errno));
    return NULL;
}
int main(int argc, char **argv) {
    fixture_init(argc, argv);
    mkdir(P("sub"), 0755);
    EXPECT("mkdir", P("sub"));
    EXPECT("mkdir", P("sub/d"));
    pthread_t t;
    pthread_create(&t, NULL, worker, NULL);
    pthread_exit(NULL);
}

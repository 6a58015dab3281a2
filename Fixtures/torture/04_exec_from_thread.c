/* A worker thread execs a program that creates a file: attributed to the tgid, no hang. */
#include "fixture.h"
#include <pthread.h>
static void *worker(void *arg) {
    (void)arg;
    execl("/usr/bin/touch", "touch", P("from-thread"), (char *)NULL);
    FAIL("execl: %s", strerror(errno));
    return NULL;
}
int main(int argc, char **argv) {
    fixture_init(argc, argv);
    EXPECT("create", P("from-thread"));
    EXPECT("create", P("before-exec"));
    touch(P("before-exec"));
    pthread_t t;
    pthread_create(&t, NULL, worker, NULL);
    pthread_join(t, NULL);
    return 1;
}

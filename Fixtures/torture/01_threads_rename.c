/* 16 threads each create and write their own file while another thread renames. */
#include "fixture.h"
#include <pthread.h>
static void *worker(void *arg) {
    long i = (long)arg;
    touch(P("t%ld", i));
    return NULL;
}
static void *renamer(void *arg) {
    (void)arg;
    touch(P("r0"));
    for (int i = 0; i < 50; i++) {
        if (rename(P("r%d", i % 2), P("r%d", (i + 1) % 2)) != 0) FAIL("rename: %s", strerror(errno));
    }
    return NULL;
}
int main(int argc, char **argv) {
    fixture_init(argc, argv);
    pthread_t t[17];
    pthread_create(&t[16], NULL, renamer, NULL);
    for (long i = 0; i < 16; i++) pthread_create(&t[i], NULL, worker, (void *)i);
    for (int i = 0; i < 17; i++) pthread_join(t[i], NULL);
    for (int i = 0; i < 16; i++) EXPECT("create", P("t%d", i));
    EXPECT_COUNT("rename-from", P("r0"), 25);
    EXPECT_COUNT("rename-to", P("r1"), 25);
    EXPECT_COUNT("rename-from", P("r1"), 25);
    return 0;
}

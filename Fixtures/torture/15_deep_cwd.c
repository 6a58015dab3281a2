/* A working directory deeper than PATH_MAX, then a create: recorded with its full path, or
 * explicitly marked unresolvable. Never dropped. */
#include "fixture.h"
int main(int argc, char **argv) {
    fixture_init(argc, argv);
    char name[201]; memset(name, 'd', 200); name[200] = 0;
    if (chdir(DIR_) != 0) return 1;
    size_t depth = 0;
    static char full[PATH_MAX * 2];
    strcpy(full, DIR_);
    while (strlen(full) < PATH_MAX + 300) {
        if (mkdir(name, 0755) != 0 && errno != EEXIST) { FAIL("mkdir depth %zu: %s", depth, strerror(errno)); return 1; }
        if (chdir(name) != 0) { FAIL("chdir: %s", strerror(errno)); return 1; }
        strcat(full, "/"); strcat(full, name);
        depth++;
    }
    int fd = open("deep-file", O_WRONLY | O_CREAT, 0644);
    if (fd < 0) FAIL("create: %s", strerror(errno)); else close(fd);
    printf("EXPECT-UNRESOLVED-OR create %s/deep-file\n", full);
    return 0;
}

/* dup2 replaces the dirfd number between two mkdirat calls: each resolves to the directory the
 * fd held at that moment. */
#include "fixture.h"
int main(int argc, char **argv) {
    fixture_init(argc, argv);
    mkdir(P("A"), 0755); mkdir(P("B"), 0755);
    int a = open(P("A"), O_DIRECTORY | O_RDONLY), b = open(P("B"), O_DIRECTORY | O_RDONLY);
    dup2(a, 9);
    if (mkdirat(9, "x", 0755) != 0) FAIL("mkdirat A: %s", strerror(errno));
    dup2(b, 9);
    if (mkdirat(9, "x", 0755) != 0) FAIL("mkdirat B: %s", strerror(errno));
    EXPECT("mkdir", P("A/x"));
    EXPECT("mkdir", P("B/x"));
    return 0;
}

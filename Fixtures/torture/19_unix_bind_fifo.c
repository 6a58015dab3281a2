/* AF_UNIX bind: a path (a file), abstract and autobind (no file); mkfifoat. */
#include "fixture.h"
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>
int main(int argc, char **argv) {
    fixture_init(argc, argv);
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    if (chdir(DIR_) != 0) return 1;
    strcpy(sa.sun_path, "sock");  /* relative to the cwd */
    if (bind(s, (struct sockaddr *)&sa, sizeof sa) != 0) FAIL("bind path: %s", strerror(errno));
    int s2 = socket(AF_UNIX, SOCK_STREAM, 0);
    memset(sa.sun_path, 0, sizeof sa.sun_path);
    strcpy(sa.sun_path + 1, "roprof-abstract");
    if (bind(s2, (struct sockaddr *)&sa, offsetof(struct sockaddr_un, sun_path) + 16) != 0) FAIL("bind abstract: %s", strerror(errno));
    int s3 = socket(AF_UNIX, SOCK_STREAM, 0);
    if (bind(s3, (struct sockaddr *)&sa, sizeof(sa_family_t)) != 0) FAIL("autobind: %s", strerror(errno));
    int dfd = open(DIR_, O_DIRECTORY | O_RDONLY);
    if (mkfifoat(dfd, "fifo", 0644) != 0) FAIL("mkfifoat: %s", strerror(errno));
    EXPECT("bind", P("sock"));
    EXPECT("mknod", P("fifo"));
    printf("EXPECT-ABSENT-PREFIX roprof-abstract\n");
    return 0;
}

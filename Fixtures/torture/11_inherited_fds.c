/* Run with fd 3 opened for writing before tracing (`3>>FILE`). Passes fd 3 to a child over a
 * unix socket; the child writes through it. roprof must name the inherited fd as a blind spot. */
#include "fixture.h"
#include <sys/socket.h>
int main(int argc, char **argv) {
    fixture_init(argc, argv);
    if (fcntl(3, F_GETFD) < 0) { FAIL("run me with 3>>FILE"); return 1; }
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    pid_t pid = fork();
    if (pid == 0) {
        char c; struct iovec io = { &c, 1 };
        char cbuf[CMSG_SPACE(sizeof(int))];
        struct msghdr mh = { .msg_iov = &io, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf };
        if (recvmsg(sv[1], &mh, 0) < 0) _exit(1);
        int fd; memcpy(&fd, CMSG_DATA(CMSG_FIRSTHDR(&mh)), sizeof fd);
        _exit(write(fd, "passed\n", 7) == 7 ? 0 : 1);
    }
    char c = 'x'; struct iovec io = { &c, 1 };
    char cbuf[CMSG_SPACE(sizeof(int))]; memset(cbuf, 0, sizeof cbuf);
    struct msghdr mh = { .msg_iov = &io, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf };
    struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
    cm->cmsg_level = SOL_SOCKET; cm->cmsg_type = SCM_RIGHTS; cm->cmsg_len = CMSG_LEN(sizeof(int));
    int three = 3; memcpy(CMSG_DATA(cm), &three, sizeof three);
    sendmsg(sv[0], &mh, 0);
    int st; waitpid(pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) FAIL("child could not write through the passed fd");
    EXPECT_BLIND("inherited-fd");
    return 0;
}

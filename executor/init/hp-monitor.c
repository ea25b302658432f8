/*
 * hp-monitor: stays with one container for its whole life, as conmon does for podman.
 *
 *   hp-monitor --log FILE --exit-file FILE --pid-file FILE -- CRUN [ARG...] create ...
 *
 * Starts the given `crun ... create` with the container's stdin on /dev/null
 * and its stdout and stderr appended to --log, so the container's output lands
 * there. It exits with crun's own status once the container is created (or
 * failed to be), so the caller knows at once. A detached copy stays behind as
 * the container's subreaper: when the container's first process ends, it
 * writes its status (N, or 128+N for signal N) to --exit-file, atomically,
 * and exits. Without it the status would be lost: crun does not keep it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int usage(void) {
    fprintf(stderr, "usage: hp-monitor --log FILE --exit-file FILE --pid-file FILE -- CRUN-CREATE-COMMAND...\n");
    return 125;
}

static pid_t read_pid(const char *path) {
    char buf[32] = {0};
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    return n > 0 ? (pid_t)atol(buf) : -1;
}

static void write_exit(const char *path, int code) {
    char tmp[4096], text[16];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    int len = snprintf(text, sizeof text, "%d\n", code);
    if (write(fd, text, len) == len && fsync(fd) == 0)
        rename(tmp, path);
    close(fd);
}

int main(int argc, char **argv) {
    const char *log = NULL, *exit_file = NULL, *pid_file = NULL;
    int i;
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        }
        if (i + 1 >= argc)
            return usage();
        if (strcmp(argv[i], "--log") == 0)
            log = argv[++i];
        else if (strcmp(argv[i], "--exit-file") == 0)
            exit_file = argv[++i];
        else if (strcmp(argv[i], "--pid-file") == 0)
            pid_file = argv[++i];
        else
            return usage();
    }
    if (!log || !exit_file || !pid_file || i >= argc)
        return usage();

    int sync[2];
    if (pipe2(sync, O_CLOEXEC) < 0) {
        perror("hp-monitor: pipe");
        return 125;
    }
    pid_t monitor = fork();
    if (monitor < 0) {
        perror("hp-monitor: fork");
        return 125;
    }
    if (monitor > 0) {
        /* the caller's side: wait for crun create's status */
        close(sync[1]);
        int status = 125;
        if (read(sync[0], &status, sizeof status) != sizeof status)
            status = 125;
        return status;
    }

    /* the monitor: detached, the container's subreaper */
    close(sync[0]);
    setsid();
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    signal(SIGHUP, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    int out = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (out < 0 || null < 0) {
        int status = 125;
        fprintf(stderr, "hp-monitor: cannot open %s: %s\n", out < 0 ? log : "/dev/null", strerror(errno));
        if (write(sync[1], &status, sizeof status) < 0) {}
        _exit(125);
    }
    pid_t crun = fork();
    if (crun < 0) {
        int status = 125;
        if (write(sync[1], &status, sizeof status) < 0) {}
        _exit(125);
    }
    if (crun == 0) {
        dup2(null, 0);
        dup2(out, 1);
        dup2(out, 2);
        execvp(argv[i], &argv[i]);
        dprintf(out, "hp-monitor: cannot run %s: %s\n", argv[i], strerror(errno));
        _exit(127);
    }
    int status;
    while (waitpid(crun, &status, 0) < 0 && errno == EINTR) {}
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (write(sync[1], &code, sizeof code) < 0) {}
    close(sync[1]);
    if (code != 0)
        _exit(0);
    /* our stdio is the caller's: let it go, so a caller reading our output is not held open */
    dup2(null, 0);
    dup2(null, 1);
    dup2(null, 2);
    if (chdir("/") < 0) {}

    pid_t container = read_pid(pid_file);
    for (;;) {
        pid_t pid = waitpid(-1, &status, 0);
        if (pid < 0) {
            if (errno == EINTR)
                continue;
            /* no children left: the container ended without being reaped here */
            write_exit(exit_file, 255);
            _exit(0);
        }
        if (container <= 0)
            container = read_pid(pid_file);
        if (pid == container) {
            write_exit(exit_file, WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
            _exit(0);
        }
    }
}

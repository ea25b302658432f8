/*
 * hp-init: the first process of a keep_alive container.
 *
 *   hp-init --keep-alive -- COMMAND [ARG...]
 *
 * Runs COMMAND (looked up in the container's PATH) as its child, forwards
 * every signal it gets to it and reaps every zombie. When COMMAND exits 0
 * and --keep-alive is given, hp-init stays, idle, so the container keeps
 * running (until it gets SIGTERM, SIGINT, SIGQUIT or SIGHUP, which then end
 * it with status 0). Otherwise hp-init exits with COMMAND's status (128+N if
 * a signal N killed it), so a failing entrypoint stops the container with
 * its own code. Built static, so it needs nothing from the image: no shell,
 * no libc, no `tail`.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int usage(void) {
    fprintf(stderr, "usage: hp-init [--keep-alive] -- COMMAND [ARG...]\n");
    return 125;
}

static int ends_idle(int sig) {
    return sig == SIGTERM || sig == SIGINT || sig == SIGQUIT || sig == SIGHUP;
}

int main(int argc, char **argv) {
    int keep_alive = 0, i;
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--keep-alive") == 0) {
            keep_alive = 1;
        } else if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        } else {
            return usage();
        }
    }
    if (i >= argc)
        return usage();

    sigset_t all, old;
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, &old);

    pid_t child = fork();
    if (child < 0) {
        fprintf(stderr, "hp-init: fork: %s\n", strerror(errno));
        return 125;
    }
    if (child == 0) {
        sigprocmask(SIG_SETMASK, &old, NULL);
        execvp(argv[i], &argv[i]);
        int err = errno;
        fprintf(stderr, "hp-init: cannot run %s: %s\n", argv[i], strerror(err));
        _exit(err == ENOENT ? 127 : 126);
    }

    int main_done = 0;
    for (;;) {
        siginfo_t info;
        int sig = sigwaitinfo(&all, &info);
        if (sig < 0)
            continue;
        if (sig != SIGCHLD) {
            if (!main_done)
                kill(child, sig);
            else if (ends_idle(sig))
                return 0;
            continue;
        }
        int status;
        pid_t pid;
        while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
            if (pid != child)
                continue;
            int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            if (!(keep_alive && code == 0))
                return code;
            main_done = 1;
            fprintf(stderr, "hp-init: %s exited 0; keeping the container running\n", argv[i]);
        }
    }
}

/*
 * A fault layer for the tests (issue #20): LD_PRELOADed into the demo, it makes file I/O fail with EIO while a
 * trigger file exists, so a test can turn a failing disk on and off in a running process. This kernel has no
 * device-mapper (no dm-error target), and libfiu's remote control breaks node's process spawning, hence this.
 *
 *   GUARDIAN_EIO_DIR     folder of trigger files: "open" fails open()/openat() of paths under GUARDIAN_EIO_PREFIX
 *                        for writing or creating; "pwrite" fails every pwrite()/pwrite64() (SQLite's writes).
 *   GUARDIAN_EIO_PREFIX  the path prefix "open" applies to (the data dir).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

static int triggered(const char *name) {
  const char *dir = getenv("GUARDIAN_EIO_DIR");
  if (!dir) return 0;
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  struct stat st;
  return stat(path, &st) == 0;
}

static int open_fails(const char *path, int flags) {
  const char *prefix = getenv("GUARDIAN_EIO_PREFIX");
  if (!prefix || !path || strncmp(path, prefix, strlen(prefix)) != 0) return 0;
  if (!(flags & (O_WRONLY | O_RDWR | O_CREAT))) return 0;
  return triggered("open");
}

int open(const char *path, int flags, ...) {
  static int (*real)(const char *, int, ...);
  if (!real) real = dlsym(RTLD_NEXT, "open");
  mode_t mode = 0;
  if (flags & (O_CREAT | O_TMPFILE)) {
    va_list ap;
    va_start(ap, flags);
    mode = va_arg(ap, mode_t);
    va_end(ap);
  }
  if (open_fails(path, flags)) {
    errno = EIO;
    return -1;
  }
  return real(path, flags, mode);
}

int open64(const char *path, int flags, ...) {
  static int (*real)(const char *, int, ...);
  if (!real) real = dlsym(RTLD_NEXT, "open64");
  mode_t mode = 0;
  if (flags & (O_CREAT | O_TMPFILE)) {
    va_list ap;
    va_start(ap, flags);
    mode = va_arg(ap, mode_t);
    va_end(ap);
  }
  if (open_fails(path, flags)) {
    errno = EIO;
    return -1;
  }
  return real(path, flags, mode);
}

int openat(int dirfd, const char *path, int flags, ...) {
  static int (*real)(int, const char *, int, ...);
  if (!real) real = dlsym(RTLD_NEXT, "openat");
  mode_t mode = 0;
  if (flags & (O_CREAT | O_TMPFILE)) {
    va_list ap;
    va_start(ap, flags);
    mode = va_arg(ap, mode_t);
    va_end(ap);
  }
  if (open_fails(path, flags)) {
    errno = EIO;
    return -1;
  }
  return real(dirfd, path, flags, mode);
}

int openat64(int dirfd, const char *path, int flags, ...) {
  static int (*real)(int, const char *, int, ...);
  if (!real) real = dlsym(RTLD_NEXT, "openat64");
  mode_t mode = 0;
  if (flags & (O_CREAT | O_TMPFILE)) {
    va_list ap;
    va_start(ap, flags);
    mode = va_arg(ap, mode_t);
    va_end(ap);
  }
  if (open_fails(path, flags)) {
    errno = EIO;
    return -1;
  }
  return real(dirfd, path, flags, mode);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off) {
  static ssize_t (*real)(int, const void *, size_t, off_t);
  if (!real) real = dlsym(RTLD_NEXT, "pwrite");
  if (triggered("pwrite")) {
    errno = EIO;
    return -1;
  }
  return real(fd, buf, n, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off) {
  static ssize_t (*real)(int, const void *, size_t, off_t);
  if (!real) real = dlsym(RTLD_NEXT, "pwrite64");
  if (triggered("pwrite")) {
    errno = EIO;
    return -1;
  }
  return real(fd, buf, n, off);
}

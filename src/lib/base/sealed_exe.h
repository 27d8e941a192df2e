/* Running from a sealed in-memory copy of our own executable.

   A process that puts a command in place inside a container (the monitor, for a container's first process and
   for its execs) maps our executable until its execve.  If the container chose that command as /proc/self/exe
   (directly, by a symlink or as a script's interpreter), the execve runs our executable inside the container, and the
   container can take a handle on it through /proc/PID/exe and write it once the process is gone: every later
   `isola` is then the container's (runc's CVE-2019-5736).  Run from a copy in a memfd sealed against writes, the
   executable the container can reach is that copy, and the file on the host is never mapped there. */
#ifndef ISOLA_BASE_SEALED_EXE_H
#define ISOLA_BASE_SEALED_EXE_H

#include "base/error.h"

/* Returns 0 when we already run from a sealed copy; otherwise re-executes the program, with argv and the current
   environment, from a new one (and returns only with an error).  ASan and UBSan builds run from their file: the
   sanitizers symbolize their reports from the mapped file's path, which a memfd does not have. */
int sealed_exe_ensure (char **argv, isola_error_t *err);

/* The path of the file the program was started from, also after sealed_exe_ensure re-executed it (when
   /proc/self/exe names the memfd); NULL when unknown.  The result is the caller's to free. */
char *sealed_exe_original_path (void);

/* NAME in the directory of the file the program was started from (its helpers are installed beside it). */
char *path_beside_self (const char *name);

#endif

/* Variable substitution as Docker 20.10's Dockerfile shell lexer does it (buildkit's frontend/dockerfile/shell, the
   version dockerd 20.10 vendors): $VAR, ${VAR}, ${VAR:-word}, ${VAR:+word}, ${VAR:?message}, the escape character,
   single and double quotes (removed, as a shell would), and the split into words that EXPOSE uses.  Nothing else
   of a shell: ${VAR-word} without the colon is "missing ':' in substitution", as in Docker. */
#ifndef ISOLA_BUILD_SHLEX_H
#define ISOLA_BUILD_SHLEX_H

#include "base/error.h"

/* env holds "KEY=VALUE" strings (a "KEY" alone is set and empty); the first with the name wins, so a caller puts
   ENV before ARG values as Docker does.  Errors are Docker's: `failed to process "WORD": syntax error: bad
   substitution` and the like, EINVAL. */
int shlex_process_word (const char *word, char escape, char *const *env, char **out, isola_error_t *err);

/* The same, then split into words on blanks outside quotes (a quoted empty string is no word), as ProcessWords. */
int shlex_process_words (const char *word, char escape, char *const *env, char ***out, isola_error_t *err);

#endif

/* Environment vectors ("K=V" strings) merged the way Docker merges them. */
#ifndef ISOLA_BASE_ENV_H
#define ISOLA_BASE_ENV_H

/* The PATH a container gets when its image sets none, as Docker's. */
#define ISOLA_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* base with each override applied as Docker's ReplaceOrAppendEnvValues does (every process's environment: the
   daemon's defaults under Config.Env, an exec's under its -e): "K=V" replaces the entry named K or is appended, a
   bare "K" removes it.  Never NULL. */
char **env_merge (char *const *base, char *const *overrides);

/* A container's Config.Env as Docker's create makes it from the request's Env and the image's: the request's entries
   first, in their order, then each image entry whose name the request does not mention (a bare "K" mentions K).
   Never NULL. */
char **env_merge_image (char *const *request, char *const *image);

#endif

/* The verbs of isola-registry (main.c), with the CLI's flag tables and helpers (src/cli/cli.h). */
#ifndef ISOLA_REGISTRY_VERBS_H
#define ISOLA_REGISTRY_VERBS_H

#include "../cli/cli.h"

extern const struct cli_command reg_cmd_pull, reg_cmd_push, reg_cmd_login, reg_cmd_logout;

#endif

/* From a container request to a container (see create.h). */
#define _GNU_SOURCE
#include "container/create.h"

#include <errno.h>
#include <string.h>

#include "base/json.h"
#include "base/util.h"
#include "container/container_event.h"
#include "container/mounts.h"
#include "container/nsmode.h"
#include "container/ports.h"
#include "container/spec.h"
#include "container/volume.h"
#include "driver/driver.h"
#include "network/attach.h"
#include "network/network.h"
#include "image/image.h"
#include "image/oci.h"

/* The request names its image as the user knows it; the container records the image's ID and the request merged
   with the image's config. */
static int
merge_image (const struct isola_store *s, struct container_spec *spec, digest_hex_t id, isola_error_t *err)
{
  cleanup_json json_t *refs = NULL;
  int ret = refs_read (s, &refs, err);
  if (ret == 0)
    ret = image_resolve (s, refs, spec->image, id, err);
  struct oci_config cfg = { 0 };
  if (ret == 0)
    ret = image_read_config (s, id, &cfg, err);
  if (ret == 0)
    ret = container_spec_merge_image (spec, json_object_get (cfg.json, "config"), err);
  oci_config_clear (&cfg);
  return ret;
}

static void
default_mode (char **mode, const char *value)
{
  if (*mode && (*mode)[0])
    return;
  free (*mode);
  *mode = xstrdup (value);
}

/* ROOT/config.json's "network": {"default": NAME}: the network of a container that names none (as dockerd's
   "bridge": "none" leaves containers with no network), else the driver's default.  A test suite that starts
   thousands of containers, or a host that wants no bridge, sets "none". */
static int
configured_default_network (const struct isola_store *s, char **out, isola_error_t *err)
{
  cleanup_json json_t *config = NULL;
  int ret = store_config_load (s->root, &config, err);
  if (ret < 0)
    return ret;
  json_t *value = json_object_get (json_object_get (config, "network"), "default");
  if (value == NULL)
    return 0;
  const char *name = json_string_value (value);
  if (name == NULL || name[0] == '\0' || strcmp (name, "default") == 0 || str_has_prefix (name, "container:")
      || str_has_prefix (name, "ns:"))
    return isola_error_fail (err, EINVAL, "%s/config.json: network.default must name a network, not %s", s->root,
                             name ? name : "a non-string");
  *out = xstrdup (name);
  return 0;
}

/* What the library decides for the request: the driver's name for its isolation, and its default network. */
static int
settle_host_config (const struct isola_store *s, struct container_spec *spec, const struct isola_driver *driver,
                    isola_error_t *err)
{
  free (spec->isolation);
  spec->isolation = xstrdup (driver->isolation);
  const char *mode = spec->network_mode;
  if (mode == NULL || mode[0] == '\0' || strcmp (mode, "default") == 0)
    {
      cleanup_free char *configured = NULL;
      int ret = configured_default_network (s, &configured, err);
      if (ret < 0)
        return ret;
      free (spec->network_mode);
      /* A driver whose only network is none keeps it (both drivers default to Docker's bridge today). */
      spec->network_mode = xstrdup (
          configured && strcmp (driver->default_network, "none") != 0 ? configured : driver->default_network);
    }
  /* Docker's daemon records its defaults: a private IPC namespace, 64 MiB of /dev/shm; isola's cgroup namespace
     is private on every host (Docker's is the host's on cgroup v1). */
  default_mode (&spec->ipc_mode, "private");
  default_mode (&spec->cgroupns_mode, "private");
  default_mode (&spec->pid_mode, "");
  default_mode (&spec->uts_mode, "");
  default_mode (&spec->userns_mode, "");
  if (spec->shm_size <= 0)
    spec->shm_size = NSMODE_DEFAULT_SHM_SIZE;
  return 0;
}

/* Docker refuses a container on a network, or joining a container, that does not exist at create (and again at
   start); and --ip or --network-alias for a container on no network of isola's (none, host, container:, ns:).
   Docker 20.10 takes both on the default bridge (the aliases answer nothing there: no DNS on it). */
static int
check_network_exists (const struct isola_store *s, const char *mode, json_t *endpoint, isola_error_t *err)
{
  const char *name = network_mode_network (mode);
  cleanup_json json_t *record = NULL;
  const char *other = nsmode_container (mode);
  char id[DIGEST_HEX_LEN + 1];
  int ret = other ? container_resolve (s, other, id, err) : name ? network_get (s, name, false, &record, err) : 0;
  if (ret < 0 || endpoint == NULL || record)
    return ret;
  if (json_object_get (endpoint, "IPAMConfig"))
    return isola_error_fail (err, EINVAL, "user specified IP address is supported on user defined networks only");
  return isola_error_fail (err, EINVAL,
                           "network-scoped alias is supported only for containers in user defined "
                           "networks");
}

/* --pid and --ipc container:NAME: dockerd refuses a container that does not exist at create (one that is not
   running only at start). */
static int
check_joined_containers_exist (const struct isola_store *s, const struct container_spec *spec, isola_error_t *err)
{
  const char *modes[] = { spec->pid_mode, spec->ipc_mode };
  for (size_t i = 0; i < ARRAY_SIZE (modes); i++)
    {
      const char *other = nsmode_container (modes[i]);
      char id[DIGEST_HEX_LEN + 1];
      int ret = other ? container_resolve (s, other, id, err) : 0;
      if (ret < 0)
        return ret;
    }
  return 0;
}

/* --add-host NAME:host-gateway: the default bridge's gateway, as Docker 20.10's daemon (its docker0 address);
   NULL when no entry asks for it. */
static char *
host_gateway_of (const struct isola_store *s, const struct container_spec *spec, isola_error_t *err, int *ret)
{
  *ret = 0;
  bool wanted = false;
  for (size_t i = 0; spec->extra_hosts && spec->extra_hosts[i]; i++)
    wanted |= str_has_suffix (spec->extra_hosts[i], ":" NAMES_HOST_GATEWAY);
  cleanup_json json_t *record = NULL;
  struct ipv4_net subnet;
  uint32_t gateway = 0;
  if (!wanted || (*ret = network_get (s, NETWORK_DEFAULT, false, &record, err)) < 0
      || (*ret = network_subnet_of (record, &subnet, &gateway, err)) < 0)
    return NULL;
  return ipv4_addr_format (gateway);
}

static int
make_container (struct isola_store *s, const struct container_spec *spec, const char *image_id,
                const struct isola_driver *driver, struct container **out, isola_error_t *err)
{
  cleanup_json json_t *config = container_spec_config_json (spec);
  cleanup_json json_t *host_config = container_spec_host_config_json (spec);
  cleanup_json json_t *exact = container_spec_exact_json (spec);
  cleanup_json json_t *mounts = NULL;
  int ret = 0;
  cleanup_free char *host_gateway = host_gateway_of (s, spec, err, &ret);
  if (ret == 0)
    ret = container_mounts_prepare (s, host_config, spec->volumes, image_id, &mounts, err);
  if (ret < 0)
    return ret;
  struct container_new n = { .name = spec->name,
                             .image_id = image_id,
                             .config = config,
                             .host_config = host_config,
                             .mounts = mounts,
                             .gateway = host_gateway,
                             .exact = exact,
                             .endpoint = spec->endpoint };
  cleanup_container struct container *c = NULL;
  ret = container_create (s, &n, &c, err);
  if (ret == 0 && driver->create_resources && (ret = driver->create_resources (s, c, err)) < 0)
    (void)container_remove (s, c, NULL);
  /* The anonymous volumes made for a container that is not there. */
  if (ret < 0)
    (void)volume_remove_anonymous (s, mounts, NULL);
  if (ret == 0)
    {
      container_event (c, "create", NULL);
      *out = take_ptr (&c);
    }
  return ret;
}

int
container_create_from_request (const char *root, json_t *request, const char *name, struct container **out,
                               isola_error_t *err)
{
  cleanup_container_spec struct container_spec spec = { 0 };
  cleanup_store struct isola_store *store = NULL;
  const struct isola_driver *driver = NULL;
  digest_hex_t image_id;
  int ret = container_spec_from_json (request, name, &spec, err);
  if (ret == 0)
    ret = store_open (root, STORE_LOCK_EXCLUSIVE, &store, err);
  if (ret == 0)
    {
      cleanup_free char *seccomp_cache = store_path (store, STORE_SECCOMP_CACHE);
      ret = container_spec_validate (&spec, seccomp_cache, err);
    }
  if (ret == 0)
    ret = driver_lookup (store->root, spec.isolation, &driver, err);
  if (ret == 0)
    ret = merge_image (store, &spec, image_id, err);
  if (ret < 0)
    return ret;
  if ((ret = settle_host_config (store, &spec, driver, err)) < 0)
    return ret;
  if ((ret = check_network_exists (store, spec.network_mode, spec.endpoint, err)) < 0)
    return ret;
  if ((ret = check_joined_containers_exist (store, &spec, err)) < 0)
    return ret;
  return make_container (store, &spec, image_id, driver, out, err);
}

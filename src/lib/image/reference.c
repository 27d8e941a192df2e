/* Image references, following Docker's distribution/reference grammar:

     reference := name [ ":" tag ] [ "@" digest ]
     name      := [ domain "/" ] path-component [ "/" path-component ]*
     domain    := host [ ":" port ]      host: DNS labels or "[ipv6]"
     path-component := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
     tag       := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
     digest    := "sha256:" 64 lowercase hex (the only algorithm isola stores)

   Names are normalized the way the docker CLI shows them: Docker Hub's domain and its "library/" prefix are
   dropped, so every spelling of one repository compares equal as a plain string. */
#define _GNU_SOURCE
#include "image/reference.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "base/digest.h"
#include "base/util.h"

#define HUB_DOMAIN        "docker.io"
#define HUB_LEGACY_DOMAIN "index.docker.io"
#define HUB_OFFICIAL      "library/"
#define HUB_REGISTRY_HOST "registry-1.docker.io" /* where Docker Hub's registry API is served */
#define QUOTE_MAX         100

/* The input quoted in messages is cut so a hostile argument cannot produce a huge message. */
static int
ref_fail (isola_error_t *err, const char *input, const char *what)
{
  return isola_error_fail (err, EINVAL, "invalid reference format: %s in `%.*s%s`", what, QUOTE_MAX, input,
                           strlen (input) > QUOTE_MAX ? "…" : "");
}

static bool
is_lower_alnum (char c)
{
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool
is_alnum (char c)
{
  return is_lower_alnum (c) || (c >= 'A' && c <= 'Z');
}

static bool
is_word (char c)
{
  return is_alnum (c) || c == '_';
}

static bool
is_digit (char c)
{
  return c >= '0' && c <= '9';
}

static bool
is_hex_lower (char c)
{
  return is_digit (c) || (c >= 'a' && c <= 'f');
}

static bool
tag_valid (const char *t)
{
  size_t n = strlen (t);
  if (n == 0 || n > REF_TAG_MAX || !is_word (t[0]))
    return false;
  for (size_t i = 1; i < n; i++)
    if (!is_word (t[i]) && t[i] != '.' && t[i] != '-')
      return false;
  return true;
}

/* One path component: alphanumeric runs joined by exactly one separator ".", "_", "__" or "-"+. */
static bool
path_component_valid (const char *p, size_t n)
{
  size_t i = 0;
  if (n == 0)
    return false;
  while (i < n)
    {
      size_t start = i;
      while (i < n && is_lower_alnum (p[i]))
        i++;
      if (i == start)
        return false;
      if (i == n)
        break;
      if (p[i] == '.')
        i++;
      else if (p[i] == '_')
        i += (i + 1 < n && p[i + 1] == '_') ? 2 : 1;
      else if (p[i] == '-')
        while (i < n && p[i] == '-')
          i++;
      else
        return false;
      if (i == n)
        return false; /* trailing separator */
    }
  return true;
}

static bool
path_valid (const char *path)
{
  const char *p = path;
  for (;;)
    {
      const char *slash = strchr (p, '/');
      size_t n = slash ? (size_t)(slash - p) : strlen (p);
      if (!path_component_valid (p, n))
        return false;
      if (slash == NULL)
        return true;
      p = slash + 1;
    }
}

/* A DNS label: alphanumerics with inner hyphens. */
static bool
label_valid (const char *p, size_t n)
{
  if (n == 0 || !is_alnum (p[0]) || !is_alnum (p[n - 1]))
    return false;
  for (size_t i = 1; i + 1 < n; i++)
    if (!is_alnum (p[i]) && p[i] != '-')
      return false;
  return true;
}

static bool
host_valid (const char *p, size_t n)
{
  if (n > 0 && p[0] == '[')
    {
      /* Bracketed IPv6 literal, as Docker accepts: hex digits and colons only. */
      if (n < 3 || p[n - 1] != ']')
        return false;
      for (size_t i = 1; i + 1 < n; i++)
        if (!is_digit (p[i]) && !strchr ("abcdefABCDEF:", p[i]))
          return false;
      return true;
    }
  size_t start = 0;
  for (size_t i = 0; i <= n; i++)
    if (i == n || p[i] == '.')
      {
        if (!label_valid (p + start, i - start))
          return false;
        start = i + 1;
      }
  return true;
}

static bool
domain_valid (const char *d)
{
  /* The port separator is the last colon after any "]", so IPv6 literals keep their own colons. */
  const char *bracket = strrchr (d, ']');
  const char *colon = strrchr (bracket ? bracket : d, ':');
  size_t host_len = colon ? (size_t)(colon - d) : strlen (d);
  if (!host_valid (d, host_len))
    return false;
  if (colon == NULL)
    return true;
  if (colon[1] == '\0')
    return false;
  for (const char *p = colon + 1; *p; p++)
    if (!is_digit (*p))
      return false;
  return true;
}

/* Docker's rule for "is the first component a registry?": it has a dot or a port, is "localhost", or has
   uppercase letters (repository paths never do).  Anything else is a Docker Hub path. */
static bool
first_component_is_domain (const char *comp, size_t n)
{
  if (n == strlen ("localhost") && memcmp (comp, "localhost", n) == 0)
    return true;
  for (size_t i = 0; i < n; i++)
    if (comp[i] == '.' || comp[i] == ':' || (comp[i] >= 'A' && comp[i] <= 'Z'))
      return true;
  return false;
}

/* Splits a name into its domain (NULL for none) and path; both are pointers into or copies of name. */
static void
split_domain (const char *name, char **domain, const char **path)
{
  const char *slash = strchr (name, '/');
  if (slash && first_component_is_domain (name, (size_t)(slash - name)))
    {
      *domain = strndup (name, (size_t)(slash - name));
      if (*domain == NULL)
        abort ();
      *path = slash + 1;
      return;
    }
  *domain = NULL;
  *path = name;
}

static bool
domain_is_hub (const char *domain)
{
  return domain == NULL || strcmp (domain, HUB_DOMAIN) == 0 || strcmp (domain, HUB_LEGACY_DOMAIN) == 0;
}

/* "docker.io/foo.bar/baz" cannot be shortened to "foo.bar/baz", which would read back as registry "foo.bar".
   (Docker shortens it anyway; Hub namespaces never contain dots, so only crafted names are affected.) */
static bool
hub_path_looks_like_domain (const char *path)
{
  const char *slash = strchr (path, '/');
  return slash && first_component_is_domain (path, (size_t)(slash - path));
}

/* Docker Hub path with the implicit "library/" made explicit: "busybox" → "library/busybox". */
static char *
hub_qualified_path (const char *path)
{
  return strchr (path, '/') ? xstrdup (path) : xasprintf (HUB_OFFICIAL "%s", path);
}

static bool
is_64_hex (const char *s)
{
  size_t n = strlen (s);
  if (n != DIGEST_HEX_LEN)
    return false;
  for (size_t i = 0; i < n; i++)
    if (!is_hex_lower (s[i]))
      return false;
  return true;
}

static bool
has_upper (const char *s)
{
  for (; *s; s++)
    if (*s >= 'A' && *s <= 'Z')
      return true;
  return false;
}

/* Validates a repository name and returns its familiar form in *out. */
static int
name_normalize (const char *input, const char *name, char **out, isola_error_t *err)
{
  cleanup_free char *domain = NULL;
  const char *path = NULL;

  if (*name == '\0')
    return ref_fail (err, input, "repository name must have at least one component");
  split_domain (name, &domain, &path);
  if (domain && !domain_valid (domain))
    return ref_fail (err, input, "invalid registry host");
  /* Checked before the grammar so "Busybox" gets Docker's specific message rather than a generic one. */
  if (has_upper (path))
    return isola_error_fail (err, EINVAL, "invalid reference format: repository name (%.*s) must be lowercase",
                             QUOTE_MAX, path);
  if (!path_valid (path))
    return ref_fail (err, input, "invalid repository name");

  bool hub = domain_is_hub (domain);
  cleanup_free char *qualified_path = hub ? hub_qualified_path (path) : xstrdup (path);
  /* Docker bounds the fully qualified name, not the familiar one. */
  size_t full_len = strlen (hub ? HUB_DOMAIN : domain) + 1 + strlen (qualified_path);
  if (full_len > REF_NAME_MAX)
    return ref_fail (err, input, "repository name must not be more than 255 characters");

  char *familiar;
  if (!hub)
    familiar = xasprintf ("%s/%s", domain, path);
  else if (str_has_prefix (qualified_path, HUB_OFFICIAL) && !strchr (qualified_path + strlen (HUB_OFFICIAL), '/'))
    familiar = xstrdup (qualified_path + strlen (HUB_OFFICIAL));
  else if (hub_path_looks_like_domain (qualified_path))
    familiar = xasprintf (HUB_DOMAIN "/%s", qualified_path);
  else
    familiar = xstrdup (qualified_path);

  /* A bare 64-hex name would be indistinguishable from an image ID on the command line. */
  if (is_64_hex (familiar))
    {
      free (familiar);
      return isola_error_fail (err, EINVAL, "invalid repository name (%s), cannot specify 64-byte hexadecimal strings",
                               name);
    }
  *out = familiar;
  return 0;
}

static int
digest_normalize (const char *input, const char *digest, char **out, isola_error_t *err)
{
  cleanup_error isola_error_t local = NULL;
  digest_hex_t hex;
  if (digest_parse (digest, hex, &local) < 0)
    {
      /* Every reference error is EINVAL, whatever digest_parse chose, so callers have one case to handle. */
      return isola_error_fail (err, EINVAL, "invalid reference format: %s in `%.*s%s`", local->msg, QUOTE_MAX, input,
                               strlen (input) > QUOTE_MAX ? "…" : "");
    }
  *out = xasprintf ("sha256:%s", hex);
  return 0;
}

static int
ref_parse (const char *s, bool allow_digest, struct image_ref *out, isola_error_t *err)
{
  if (s == NULL || *s == '\0')
    return isola_error_fail (err, EINVAL, "invalid reference format: empty reference");

  /* Names and tags cannot contain "@", so the first one starts the digest. */
  const char *at = strchr (s, '@');
  cleanup_free char *name = at ? strndup (s, (size_t)(at - s)) : xstrdup (s);
  if (name == NULL)
    abort ();
  if (at && !allow_digest)
    return isola_error_fail (err, EINVAL, "invalid reference format: `%.*s%s` cannot contain a digest", QUOTE_MAX, s,
                             strlen (s) > QUOTE_MAX ? "…" : "");

  /* The tag separator is a colon after the last slash; earlier colons belong to a registry port. */
  const char *last_slash = strrchr (name, '/');
  char *colon = strrchr (last_slash ? last_slash : name, ':');
  const char *tag = NULL;
  if (colon)
    {
      *colon = '\0';
      tag = colon + 1;
      if (!tag_valid (tag))
        return ref_fail (err, s, "invalid tag format");
    }

  struct image_ref r = { 0 };
  int ret = at ? digest_normalize (s, at + 1, &r.digest, err) : 0;
  if (ret == 0)
    ret = name_normalize (s, name, &r.name, err);
  if (ret < 0)
    {
      image_ref_clear (&r);
      return ret;
    }
  if (tag)
    r.tag = xstrdup (tag);
  else if (r.digest == NULL)
    r.tag = xstrdup ("latest");
  *out = r;
  return 0;
}

int
image_ref_parse (const char *s, struct image_ref *out, isola_error_t *err)
{
  return ref_parse (s, true, out, err);
}

int
image_ref_parse_tagged (const char *s, struct image_ref *out, isola_error_t *err)
{
  return ref_parse (s, false, out, err);
}

void
image_ref_clear (struct image_ref *r)
{
  if (r == NULL)
    return;
  free (r->name);
  free (r->tag);
  free (r->digest);
  memset (r, 0, sizeof (*r));
}

static char *
ref_format (const char *name, const struct image_ref *r)
{
  return xasprintf ("%s%s%s%s%s", name, r->tag ? ":" : "", r->tag ? r->tag : "", r->digest ? "@" : "",
                    r->digest ? r->digest : "");
}

char *
image_ref_string (const struct image_ref *r)
{
  return ref_format (r->name, r);
}

char *
image_ref_full_string (const struct image_ref *r)
{
  cleanup_free char *domain = NULL;
  const char *path = NULL;
  split_domain (r->name, &domain, &path);
  if (domain)
    return ref_format (r->name, r);
  cleanup_free char *qualified_path = hub_qualified_path (path);
  cleanup_free char *full_name = xasprintf (HUB_DOMAIN "/%s", qualified_path);
  return ref_format (full_name, r);
}

int
image_ref_locate (const struct image_ref *r, char **domain, char **path)
{
  cleanup_free char *d = NULL;
  const char *p = NULL;
  split_domain (r->name, &d, &p);
  if (domain_is_hub (d))
    {
      *domain = xstrdup (HUB_DOMAIN);
      *path = hub_qualified_path (p);
    }
  else
    {
      *domain = take_ptr (&d);
      *path = xstrdup (p);
    }
  return 0;
}

const char *
image_ref_registry_host (const char *domain)
{
  return strcmp (domain, HUB_DOMAIN) == 0 || strcmp (domain, HUB_LEGACY_DOMAIN) == 0 ? HUB_REGISTRY_HOST : domain;
}

int
image_ref_looks_like_id (const char *s)
{
  if (s == NULL)
    return 0;
  if (str_has_prefix (s, "sha256:"))
    s += strlen ("sha256:");
  size_t n = strlen (s);
  if (n == 0 || n > DIGEST_HEX_LEN)
    return 0;
  for (size_t i = 0; i < n; i++)
    if (!is_hex_lower (s[i]))
      return 0;
  return 1;
}

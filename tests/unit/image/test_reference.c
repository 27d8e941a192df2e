/* Unit tests for image references: Docker's grammar, normalization to the familiar form, and error messages.
   CHECK evaluates its condition twice, so calls with side effects are made before it. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "image/reference.h"
#include "tap.h"

#define HEX64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* Parses s and compares name, tag and digest (NULL means "must be NULL"). */
static void
check_ok (const char *s, const char *name, const char *tag, const char *digest)
{
  struct image_ref r = { 0 };
  cleanup_error isola_error_t err = NULL;
  int ret = image_ref_parse (s, &r, &err);
  CHECK (ret == 0, "parse `%s` succeeds%s%s", s, err ? ": " : "", err ? err->msg : "");
  if (ret == 0)
    {
      CHECK_STR (r.name, name, "`%s` name is %s (got %s)", s, name, r.name);
      CHECK (tag ? (r.tag && strcmp (r.tag, tag) == 0) : r.tag == NULL, "`%s` tag is %s", s, tag ? tag : "NULL");
      CHECK (digest ? (r.digest && strcmp (r.digest, digest) == 0) : r.digest == NULL, "`%s` digest is %s", s,
             digest ? digest : "NULL");
    }
  image_ref_clear (&r);
}

/* Parses s expecting EINVAL with a message containing needle; out must stay untouched. */
static void
check_bad (int (*parse) (const char *, struct image_ref *, isola_error_t *), const char *s, const char *needle)
{
  struct image_ref r = { 0 };
  cleanup_error isola_error_t err = NULL;
  int ret = parse (s, &r, &err);
  CHECK (ret == -EINVAL, "`%.60s` refused with EINVAL (ret %d)", s ? s : "(null)", ret);
  CHECK (err && err->status == EINVAL && err->msg && strstr (err->msg, needle), "`%.60s` message has `%s`: %s",
         s ? s : "(null)", needle, err && err->msg ? err->msg : "(none)");
  CHECK (r.name == NULL && r.tag == NULL && r.digest == NULL, "`%.60s` leaves out untouched", s ? s : "(null)");
  image_ref_clear (&r);
}

static void
test_valid (void)
{
  check_ok ("busybox", "busybox", "latest", NULL);
  check_ok ("busybox:1.36", "busybox", "1.36", NULL);
  check_ok ("busybox:Latest_1.2-rc", "busybox", "Latest_1.2-rc", NULL);
  check_ok ("busybox:_x", "busybox", "_x", NULL);
  check_ok ("foo/bar", "foo/bar", "latest", NULL);
  check_ok ("foo/bar/baz:v1", "foo/bar/baz", "v1", NULL);
  check_ok ("foo/a.b_c__d---e/f-g", "foo/a.b_c__d---e/f-g", "latest", NULL);
  check_bad (image_ref_parse, "a.b_c/x", "invalid registry host"); /* the dot makes it a registry */
  check_ok ("localhost/app", "localhost/app", "latest", NULL);
  check_ok ("localhost:5000/team/app:2", "localhost:5000/team/app", "2", NULL);
  check_ok ("localhost:5000", "localhost", "5000", NULL); /* Docker reads this as a tag, too */
  check_ok ("localhost", "localhost", "latest", NULL);
  check_ok ("registry.example.com/x", "registry.example.com/x", "latest", NULL);
  check_ok ("my-registry.example.com:443/a/b:c", "my-registry.example.com:443/a/b", "c", NULL);
  check_ok ("[::1]:5000/app", "[::1]:5000/app", "latest", NULL);
  check_ok ("Registry.Example/app", "Registry.Example/app", "latest", NULL);
  check_ok ("example.com", "example.com", "latest", NULL); /* a lone component is a Hub path */
  check_ok ("busybox@sha256:" HEX64, "busybox", NULL, "sha256:" HEX64);
  check_ok ("busybox:1@sha256:" HEX64, "busybox", "1", "sha256:" HEX64);
  check_ok ("localhost:5000/x@sha256:" HEX64, "localhost:5000/x", NULL, "sha256:" HEX64);
  /* 128-character tag is the maximum. */
  char tag[REF_TAG_MAX + 1];
  memset (tag, 'a', REF_TAG_MAX);
  tag[REF_TAG_MAX] = '\0';
  cleanup_free char *s = xasprintf ("busybox:%s", tag);
  check_ok (s, "busybox", tag, NULL);
}

static void
test_normalization (void)
{
  check_ok ("docker.io/library/busybox", "busybox", "latest", NULL);
  check_ok ("index.docker.io/library/busybox:1", "busybox", "1", NULL);
  check_ok ("library/busybox", "busybox", "latest", NULL);
  check_ok ("docker.io/busybox", "busybox", "latest", NULL);
  check_ok ("docker.io/foo/bar", "foo/bar", "latest", NULL);
  check_ok ("index.docker.io/foo/bar", "foo/bar", "latest", NULL);
  check_ok ("docker.io/library/a/b", "library/a/b", "latest", NULL);
  check_ok ("registry-1.docker.io/library/busybox", "registry-1.docker.io/library/busybox", "latest", NULL);
  check_ok ("quay.io/library/busybox", "quay.io/library/busybox", "latest", NULL);
  /* Shortening these would turn their first path component into a registry. */
  check_ok ("docker.io/foo.bar/baz", "docker.io/foo.bar/baz", "latest", NULL);
  check_ok ("docker.io/localhost/x", "docker.io/localhost/x", "latest", NULL);
  check_ok ("docker.io/library/foo.bar", "foo.bar", "latest", NULL);
}

static void
test_invalid (void)
{
  check_bad (image_ref_parse, NULL, "invalid reference format");
  check_bad (image_ref_parse, "", "invalid reference format");
  check_bad (image_ref_parse, "Busybox", "invalid reference format: repository name (Busybox) must be lowercase");
  check_bad (image_ref_parse, "foo/Bar:1", "repository name (foo/Bar) must be lowercase");
  check_bad (image_ref_parse, "docker.io/Foo", "repository name (Foo) must be lowercase");
  check_bad (image_ref_parse, "busybox:", "invalid reference format: invalid tag");
  check_bad (image_ref_parse, "busybox:-x", "invalid tag");
  check_bad (image_ref_parse, "busybox:.x", "invalid tag");
  check_bad (image_ref_parse, "busybox:a+b", "invalid tag");
  check_bad (image_ref_parse, "busybox:a b", "invalid tag");
  check_bad (image_ref_parse, ":tag", "invalid reference format");
  check_bad (image_ref_parse, "foo bar", "invalid reference format");
  check_bad (image_ref_parse, "foo//bar", "invalid reference format");
  check_bad (image_ref_parse, "/foo", "invalid reference format");
  check_bad (image_ref_parse, "foo/", "invalid reference format");
  check_bad (image_ref_parse, "-foo", "invalid reference format");
  check_bad (image_ref_parse, "foo-", "invalid reference format");
  check_bad (image_ref_parse, "foo..bar", "invalid reference format");
  check_bad (image_ref_parse, "foo___bar", "invalid reference format");
  check_bad (image_ref_parse, "foo._bar", "invalid reference format");
  check_bad (image_ref_parse, "a:b:c", "invalid reference format");
  check_bad (image_ref_parse, "localhost:/x", "invalid registry host");
  check_bad (image_ref_parse, "localhost:50a/x", "invalid registry host");
  check_bad (image_ref_parse, "-bad.com/x", "invalid registry host");
  check_bad (image_ref_parse, "bad-.com/x", "invalid registry host");
  check_bad (image_ref_parse, "a..com/x", "invalid registry host");
  check_bad (image_ref_parse, "[zz]:5000/x", "invalid registry host");
  check_bad (image_ref_parse, "localhost:5000/", "invalid reference format");
  check_bad (image_ref_parse, "busybox@", "invalid reference format");
  check_bad (image_ref_parse, "busybox@sha256:abc", "invalid reference format");
  check_bad (image_ref_parse, "busybox@sha256:" HEX64 "0", "invalid reference format");
  check_bad (image_ref_parse, "busybox@sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
             "invalid reference format");
  check_bad (image_ref_parse, "busybox@sha512:" HEX64 HEX64, "only sha256 is supported");
  check_bad (image_ref_parse, "busybox@sha256:" HEX64 "@x", "invalid reference format");
  check_bad (image_ref_parse, HEX64, "invalid repository name (" HEX64 "), cannot specify 64-byte hexadecimal strings");
  check_bad (image_ref_parse, HEX64 ":latest", "cannot specify 64-byte hexadecimal strings");
  check_bad (image_ref_parse, "docker.io/library/" HEX64, "cannot specify 64-byte hexadecimal strings");

  char tag[REF_TAG_MAX + 2];
  memset (tag, 'a', REF_TAG_MAX + 1);
  tag[REF_TAG_MAX + 1] = '\0';
  cleanup_free char *long_tag = xasprintf ("busybox:%s", tag);
  check_bad (image_ref_parse, long_tag, "invalid tag");
}

static void
test_length (void)
{
  /* Docker bounds the qualified name: "docker.io/library/" (18) + 237 = 255 passes, one more fails. */
  char name[300];
  memset (name, 'a', 237);
  name[237] = '\0';
  check_ok (name, name, "latest", NULL);
  memset (name, 'a', 238);
  name[238] = '\0';
  check_bad (image_ref_parse, name, "must not be more than 255 characters");

  /* The quoted input is truncated. */
  char huge[2000];
  memset (huge, 'a', sizeof huge - 1);
  huge[sizeof huge - 1] = '\0';
  struct image_ref r = { 0 };
  cleanup_error isola_error_t err = NULL;
  int ret = image_ref_parse (huge, &r, &err);
  CHECK (ret == -EINVAL, "huge name refused");
  CHECK (err && strlen (err->msg) < 300, "message is bounded (%zu bytes)", err ? strlen (err->msg) : 0);
}

static void
test_tagged (void)
{
  struct image_ref r = { 0 };
  cleanup_error isola_error_t err = NULL;
  int ret = image_ref_parse_tagged ("foo/bar", &r, &err);
  CHECK (ret == 0, "tagged: foo/bar");
  CHECK_STR (r.tag, "latest", "tagged: default tag latest");
  image_ref_clear (&r);
  CHECK (r.name == NULL && r.tag == NULL, "clear zeroes the struct");
  ret = image_ref_parse_tagged ("docker.io/library/busybox:x", &r, &err);
  CHECK (ret == 0, "tagged: normalized with tag");
  CHECK_STR (r.name, "busybox", "tagged: normalized name");
  CHECK_STR (r.tag, "x", "tagged: tag kept");
  image_ref_clear (&r);
  image_ref_clear (&r); /* twice is harmless */
  image_ref_clear (NULL);

  check_bad (image_ref_parse_tagged, "busybox@sha256:" HEX64, "cannot contain a digest");
  check_bad (image_ref_parse_tagged, "busybox:1@sha256:" HEX64, "cannot contain a digest");
  check_bad (image_ref_parse_tagged, "Busybox", "must be lowercase");
}

static void
check_strings (const char *s, const char *familiar, const char *full)
{
  struct image_ref r = { 0 };
  cleanup_error isola_error_t err = NULL;
  int ret = image_ref_parse (s, &r, &err);
  CHECK (ret == 0, "parse `%s`", s);
  cleanup_free char *a = image_ref_string (&r);
  cleanup_free char *b = image_ref_full_string (&r);
  CHECK_STR (a, familiar, "string of `%s` is %s (got %s)", s, familiar, a);
  CHECK_STR (b, full, "full string of `%s` is %s (got %s)", s, full, b);
  image_ref_clear (&r);
}

static void
test_strings (void)
{
  check_strings ("busybox", "busybox:latest", "docker.io/library/busybox:latest");
  check_strings ("docker.io/library/busybox:1", "busybox:1", "docker.io/library/busybox:1");
  check_strings ("foo/bar:1", "foo/bar:1", "docker.io/foo/bar:1");
  check_strings ("localhost:5000/x:1", "localhost:5000/x:1", "localhost:5000/x:1");
  check_strings ("localhost/x", "localhost/x:latest", "localhost/x:latest");
  check_strings ("quay.io/a/b:c", "quay.io/a/b:c", "quay.io/a/b:c");
  check_strings ("docker.io/a.b/c", "docker.io/a.b/c:latest", "docker.io/a.b/c:latest");
  check_strings ("busybox@sha256:" HEX64, "busybox@sha256:" HEX64, "docker.io/library/busybox@sha256:" HEX64);
  check_strings ("busybox:1@sha256:" HEX64, "busybox:1@sha256:" HEX64, "docker.io/library/busybox:1@sha256:" HEX64);
}

static void
test_looks_like_id (void)
{
  CHECK (image_ref_looks_like_id ("a"), "id: single hex char");
  CHECK (image_ref_looks_like_id ("0123abcd"), "id: short prefix");
  CHECK (image_ref_looks_like_id (HEX64), "id: full");
  CHECK (image_ref_looks_like_id ("sha256:" HEX64), "id: sha256-prefixed full");
  CHECK (image_ref_looks_like_id ("sha256:ab"), "id: sha256-prefixed short");
  CHECK (!image_ref_looks_like_id (""), "id: empty");
  CHECK (!image_ref_looks_like_id ("sha256:"), "id: bare prefix");
  CHECK (!image_ref_looks_like_id (HEX64 "0"), "id: 65 chars");
  CHECK (!image_ref_looks_like_id ("ABCD"), "id: uppercase");
  CHECK (!image_ref_looks_like_id ("busybox"), "id: name");
  CHECK (!image_ref_looks_like_id ("sha512:ab"), "id: other algorithm");
  CHECK (!image_ref_looks_like_id (NULL), "id: NULL");
}

/* Where a pull goes: Docker Hub names are served by its registry host with "library/" made explicit. */
static void
check_locate (const char *s, const char *domain, const char *host, const char *path)
{
  struct image_ref r = { 0 };
  cleanup_free char *d = NULL, *p = NULL;
  int ret = image_ref_parse (s, &r, NULL);
  CHECK (ret == 0, "parse `%s`", s);
  if (ret == 0)
    {
      image_ref_locate (&r, &d, &p);
      CHECK_STR (d, domain, "`%s` domain is %s (got %s)", s, domain, d);
      CHECK_STR (image_ref_registry_host (d), host, "`%s` is served by %s", s, host);
      CHECK_STR (p, path, "`%s` path is %s (got %s)", s, path, p);
    }
  image_ref_clear (&r);
}

static void
test_locate (void)
{
  check_locate ("busybox", "docker.io", "registry-1.docker.io", "library/busybox");
  check_locate ("docker.io/library/busybox:1.36", "docker.io", "registry-1.docker.io", "library/busybox");
  check_locate ("index.docker.io/team/app", "docker.io", "registry-1.docker.io", "team/app");
  check_locate ("team/app@sha256:" HEX64, "docker.io", "registry-1.docker.io", "team/app");
  check_locate ("localhost:5000/team/app:v1", "localhost:5000", "localhost:5000", "team/app");
  check_locate ("127.0.0.1:5000/app", "127.0.0.1:5000", "127.0.0.1:5000", "app");
  check_locate ("reg.test/a/b/c", "reg.test", "reg.test", "a/b/c");
}

int
main (void)
{
  test_valid ();
  test_normalization ();
  test_invalid ();
  test_length ();
  test_tagged ();
  test_strings ();
  test_looks_like_id ();
  test_locate ();
  return tap_done ();
}

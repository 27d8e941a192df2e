/* COPY/ADD's file work (build/copier.h) on directories made here: the sources (wildcards, a matched directory
   whole, Docker's errors) and the copy (a directory's contents, a file as or into the destination, a relative
   destination under WORKDIR, owners and modes, --chown by names of the destination's /etc/passwd and /etc/group,
   --chmod, ADD's tar extracted, COPY's kept, a symlink in the destination resolved inside the root). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/util.h"
#include "build/copier.h"
#include "tap.h"

static char *base;

static void
put (const char *rel, const char *text, mode_t mode)
{
  cleanup_free char *p = xasprintf ("%s/%s", base, rel);
  cleanup_free char *dir = xstrdup (p);
  *strrchr (dir, '/') = '\0';
  (void)mkdir_p (dir, 0755, NULL);
  FILE *f = fopen (p, "w");
  fputs (text, f);
  fclose (f);
  (void)chmod (p, mode);
}

static char *
joined_sources (char *const *srcs)
{
  cleanup_error isola_error_t err = NULL;
  cleanup_strv char **out = NULL;
  cleanup_free char *ctx = xasprintf ("%s/ctx", base);
  if (copier_sources (ctx, srcs, true, &out, &err) < 0)
    return xasprintf ("error: %s", err->msg);
  char *s = xstrdup ("");
  for (size_t i = 0; out[i]; i++)
    {
      char *next = xasprintf ("%s%s%s", s, i ? " " : "", out[i]);
      free (s);
      s = next;
    }
  return s;
}

static void
test_sources (void)
{
  put ("ctx/a.txt", "a\n", 0644);
  put ("ctx/b.txt", "b\n", 0644);
  put ("ctx/c.md", "c\n", 0644);
  put ("ctx/dir/x.txt", "x\n", 0644);
  put ("ctx/dir/sub/y.txt", "y\n", 0644);
  put ("ctx/txt.d/z", "z\n", 0644);
  cleanup_free char *lnk = xasprintf ("%s/ctx/lnk", base), *dlnk = xasprintf ("%s/ctx/dlnk", base);
  (void)symlink ("a.txt", lnk);
  (void)symlink ("dir", dlnk);
  struct
  {
    char *srcs[3];
    const char *want;
  } cases[] = {
    { { "*.txt" }, "a.txt b.txt" },
    { { "/*.txt", "c.md" }, "a.txt b.txt c.md" },
    { { "dir/*.txt" }, "dir/x.txt" },
    { { "dir/*" }, "dir/sub dir/x.txt" },
    { { "txt.?" }, "txt.d" },
    { { "[ab].txt" }, "a.txt b.txt" },
    { { "./dir/../a.txt" }, "a.txt" },
    { { "." }, "." },
    { { "lnk" }, "lnk" }, /* a link keeps its name: Docker copies its target under it */
    { { "a.txt", "./lnk" }, "a.txt lnk" },
    { { "dlnk/x.txt" }, "dir/x.txt" }, /* links before the last component are followed */
    { { "dlnk" }, "dlnk" },
    { { "*.none" }, "error: no source files were specified" },
    { { "missing" },
      "error: file not found in build context or excluded by .dockerignore: stat missing: file does not exist" },
    { { "../outside" }, "error: forbidden path outside the build context: ../outside ()" },
    { { "http://127.0.0.1/x" },
      "error: ADD of a URL is not supported by isola build (http://127.0.0.1/x): download "
      "it in a RUN step, or ADD a file of the context" },
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    {
      cleanup_free char *got = joined_sources (cases[i].srcs);
      CHECK_STR (got, cases[i].want, "sources %s%s%s: %s", cases[i].srcs[0], cases[i].srcs[1] ? " " : "",
                 cases[i].srcs[1] ? cases[i].srcs[1] : "", got);
    }
}

static int
copy (int root, char *const *sources, const char *dest, const char *workdir, bool add, const char *chown,
      const char *chmod_, char **error)
{
  cleanup_error isola_error_t err = NULL;
  cleanup_free char *ctx = xasprintf ("%s/ctx", base);
  struct copier_options o = { .dest = dest, .workdir = workdir, .add = add, .chown = chown, .chmod = chmod_ };
  int ret = copier_copy (ctx, sources, root, &o, &err);
  *error = ret < 0 ? xstrdup (err->msg) : NULL;
  return ret;
}

/* "mode uid:gid" of a path in the root, or "absent". */
static char *
meta (const char *rel)
{
  cleanup_free char *p = xasprintf ("%s/root/%s", base, rel);
  struct stat st;
  if (lstat (p, &st) < 0)
    return xstrdup ("absent");
  return xasprintf ("%o %d:%d", st.st_mode & 07777, (int)st.st_uid, (int)st.st_gid);
}

static void
test_copy (void)
{
  cleanup_free char *rootp = xasprintf ("%s/root", base);
  put ("root/etc/passwd", "root:x:0:0::/root:/bin/sh\nweb:x:33:34::/var/www:/bin/sh\n", 0644);
  put ("root/etc/group", "root:x:0:\nstaff:x:50:\n", 0644);
  cleanup_free char *outside = xasprintf ("%s/outside", base);
  (void)mkdir (outside, 0755);
  cleanup_free char *link = xasprintf ("%s/root/escape", base);
  (void)symlink ("/../../../../outside", link); /* resolved inside the root: /outside there */
  cleanup_free char *sub = xasprintf ("%s/ctx/dir/sub", base);
  (void)chmod (sub, 0750);
  int root = open (rootp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  char *error = NULL;

  CHECK (copy (root, (char *[]){ "dir", NULL }, "/d", NULL, false, NULL, NULL, &error) == 0, "a directory");
  cleanup_free char *m1 = meta ("d/sub/y.txt"), *m2 = meta ("d/sub"), *m3 = meta ("d/x.txt"), *m4 = meta ("d/dir");
  CHECK_STR (m1, "644 0:0", "its contents, owned by root");
  CHECK_STR (m2, "750 0:0", "modes kept");
  CHECK_STR (m3, "644 0:0", "its files at the destination's top");
  CHECK_STR (m4, "absent", "not the directory itself");

  CHECK (copy (root, (char *[]){ "a.txt", NULL }, "f", "/w/d", false, "web:staff", NULL, &error) == 0,
         "a file to a relative destination, --chown by names");
  cleanup_free char *m5 = meta ("w/d/f"), *m6 = meta ("w/d");
  CHECK_STR (m5, "644 33:50", "under WORKDIR as the destination's name, owned by web:staff");
  CHECK_STR (m6, "755 33:50", "the directories made for it too");

  CHECK (copy (root, (char *[]){ "a.txt", "b.txt", NULL }, "/two/", NULL, false, "1234", "600", &error) == 0,
         "two files into a directory, --chown by number, --chmod");
  cleanup_free char *m7 = meta ("two/b.txt");
  CHECK_STR (m7, "600 1234:1234", "a uid alone is also the gid; --chmod's mode");
  CHECK (copy (root, (char *[]){ "a.txt", "b.txt", NULL }, "/file", NULL, false, NULL, NULL, &error) < 0
             && strstr (error, "must be a directory and end with a /"),
         "two files to a file: Docker's error");
  free (error);
  CHECK (copy (root, (char *[]){ "a.txt", NULL }, "/two", NULL, false, NULL, NULL, &error) == 0,
         "a file onto an existing directory");
  cleanup_free char *m8 = meta ("two/a.txt");
  CHECK_STR (m8, "644 0:0", "goes into it");
  CHECK (copy (root, (char *[]){ "a.txt", NULL }, "/x", NULL, false, "nosuch", NULL, &error) < 0
             && strstr (error, "can't find uid for user nosuch: no such user: nosuch"),
         "an unknown user: Docker's error");
  free (error);

  CHECK (copy (root, (char *[]){ "a.txt", NULL }, "/escape/in", NULL, false, NULL, NULL, &error) == 0,
         "through a symlink of the image (%s)", error ? error : "");
  free (error);
  cleanup_free char *escaped = xasprintf ("%s/outside/in", base);
  cleanup_free char *m9 = meta ("outside/in");
  CHECK (!path_exists (escaped) && strcmp (m9, "644 0:0") == 0, "it stays inside the root");

  /* Docker's classic builder: a source that is a link is copied as its target's content, named as the link */
  CHECK (copy (root, (char *[]){ "a.txt", "lnk", NULL }, "/ln/", NULL, false, NULL, NULL, &error) == 0,
         "a file and a link to it into a directory");
  cleanup_free char *m13 = meta ("ln/lnk"), *m14 = meta ("ln/a.txt");
  CHECK_STR (m13, "644 0:0", "the link's copy is a file, named as the link");
  CHECK_STR (m14, "644 0:0", "and the file is there too");
  cleanup_free char *lnk_copy = xasprintf ("%s/root/ln/lnk", base), *lnk_text = NULL;
  CHECK (read_file_bounded (lnk_copy, 64, &lnk_text, NULL, NULL) == 0 && strcmp (lnk_text, "a\n") == 0,
         "with the target's content");
  CHECK (copy (root, (char *[]){ "lnk", NULL }, "/lf", NULL, false, NULL, NULL, &error) == 0, "a link to a file name");
  cleanup_free char *m15 = meta ("lf");
  CHECK_STR (m15, "644 0:0", "a file");
  CHECK (copy (root, (char *[]){ "dlnk", NULL }, "/dl", NULL, false, NULL, NULL, &error) == 0, "a link to a directory");
  cleanup_free char *m16 = meta ("dl/x.txt");
  CHECK_STR (m16, "644 0:0", "the directory's contents");

  put ("t/member", "in tar\n", 0640);
  cleanup_free char *tar = xasprintf ("tar -C %s/t -czf %s/ctx/arch.tgz member", base, base);
  CHECK (system (tar) == 0, "a tar made");
  CHECK (copy (root, (char *[]){ "arch.tgz", NULL }, "/u/", NULL, true, NULL, NULL, &error) == 0, "ADD of a tar");
  cleanup_free char *m10 = meta ("u/member"), *m11 = meta ("u/arch.tgz");
  CHECK_STR (m10, "640 0:0", "extracted");
  CHECK_STR (m11, "absent", "not copied");
  CHECK (copy (root, (char *[]){ "arch.tgz", NULL }, "/k/", NULL, false, NULL, NULL, &error) == 0, "COPY of a tar");
  cleanup_free char *m12 = meta ("k/arch.tgz");
  CHECK_STR (m12, "644 0:0", "kept whole");
  close (root);
}

int
main (void)
{
  if (geteuid () != 0)
    {
      printf ("1..0 # SKIP owners need root\n");
      return 0;
    }
  char tmpl[] = "/tmp/isola-test-copier.XXXXXX";
  base = mkdtemp (tmpl);
  test_sources ();
  test_copy ();
  (void)rm_rf (base, NULL);
  return tap_done ();
}

/* Made by tests/compat/dockerfile_cases.py from dockerd 20.10: each .dockerignore of
   tests/compat/dockerignores, in a context of the files below plus a Dockerfile (FROM scratch, COPY . /),
   with the files `docker export` showed in the image (what Docker adds itself left out).  Do not edit. */
static const char *const ignore_tree[] = {
  "a.txt",
  "b.md",
  "dir/x.txt",
  "dir/y.md",
  "dir/sub/z.txt",
  "dir/sub/deep/w.txt",
  "other/keep.txt",
  "other/drop.txt",
  ".hidden",
  "sp ace.txt",
  "we+ird(1).txt",
  "node_modules/m/i.js",
  "src/node_modules/n.js",
  "Dockerfile.extra",
  "docs/readme.md",
  "docs/a/b/c.md",
  NULL,
};

struct ignore_case
{
  const char *dockerignore;
  const char *sent; /* the files, sorted, one a line */
};

static const struct ignore_case ignore_cases[] = {
  { "# comment\n*.md\n!docs/readme.md\ndir/sub\n",
    ".dockerignore\n.hidden\nDockerfile\nDockerfile.extra\na.txt\ndir/x.txt\ndir/y.md\ndocs/a/b/c.md\ndocs/readme.md\nnode_modules/m/i.js\nother/drop.txt\nother/keep.txt\nsp ace.txt\nsrc/node_modules/n.js\nwe+ird(1).txt\n" },
  { "**/*.txt\n!dir/sub/**\nDockerfile\n.dockerignore\n",
    ".hidden\nDockerfile.extra\nb.md\ndir/sub/deep/w.txt\ndir/sub/z.txt\ndir/y.md\ndocs/a/b/c.md\ndocs/readme.md\nnode_modules/m/i.js\nsrc/node_modules/n.js\n" },
  { "dir\n!dir/sub/deep\n/other/drop.txt\n./node_modules\n**/node_modules\n",
    ".dockerignore\n.hidden\nDockerfile\nDockerfile.extra\na.txt\nb.md\ndir/sub/deep/w.txt\ndocs/a/b/c.md\ndocs/readme.md\nother/keep.txt\nsp ace.txt\nwe+ird(1).txt\n" },
  { "*\n!a.txt\n!docs\ndocs/a\n",
    "a.txt\ndocs/readme.md\n" },
  { "  sp?ace.txt  \nwe+ird(1).txt\n[ab].*\ndocs/**/c.md\ndir/*/z.txt\n",
    ".dockerignore\n.hidden\nDockerfile\nDockerfile.extra\ndir/sub/deep/w.txt\ndir/x.txt\ndir/y.md\ndocs/readme.md\nnode_modules/m/i.js\nother/drop.txt\nother/keep.txt\nsrc/node_modules/n.js\n" },
  { "**\n!**/*.md\n!Dockerfile\n",
    "Dockerfile\nb.md\n" },
  { "dir/../other\n!other/keep.txt\n.hidden/\ndocs/\n!docs/readme.md\n",
    ".dockerignore\nDockerfile\nDockerfile.extra\na.txt\nb.md\ndir/sub/deep/w.txt\ndir/sub/z.txt\ndir/x.txt\ndir/y.md\ndocs/readme.md\nnode_modules/m/i.js\nother/keep.txt\nsp ace.txt\nsrc/node_modules/n.js\nwe+ird(1).txt\n" },
};

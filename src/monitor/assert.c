/* The monitor's assertion failures (jansson has a few): a line on stderr and abort, as glibc's, without glibc's
   translated, wide-character-capable version, whose gettext and wprintf machinery would be a fifth of this static
   binary's text — and so of its resident size, the monitor's budget being 1 MiB. */
#include <stdio.h>
#include <stdlib.h>

void __assert_fail (const char *assertion, const char *file, unsigned int line, const char *function);

void
__assert_fail (const char *assertion, const char *file, unsigned int line, const char *function)
{
  dprintf (2, "%s:%u: %s: assertion `%s' failed\n", file, line, function, assertion);
  abort ();
}

/* The program cairn-premain execs in the integration tests: it records
 * exactly what it received (argv, selected env vars as hex) into $DUMP_OUT,
 * whose existence also proves that it was executed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    const char *out = getenv("DUMP_OUT");
    if (out == NULL)
        return 3;
    FILE *f = fopen(out, "w");
    if (f == NULL)
        return 4;
    fprintf(f, "argc=%d\n", argc);
    for (int i = 0; i < argc; i++)
        fprintf(f, "argv[%d]=%s\n", i, argv[i]);
    char *names = strdup(getenv("DUMP_ENV") ? getenv("DUMP_ENV") : "");
    for (char *save = NULL, *n = strtok_r(names, ",", &save); n; n = strtok_r(NULL, ",", &save)) {
        const char *v = getenv(n);
        fprintf(f, "env %s=", n);
        if (v == NULL)
            fputs("(unset)", f);
        for (const unsigned char *p = (const unsigned char *)v; p && *p; p++)
            fprintf(f, "%02x", *p);
        fputc('\n', f);
    }
    free(names);
    return fclose(f) == 0 ? 0 : 5;
}

/* Every MarbleRun manifest in $CAIRN_SHARED_DIR/compat/marblerun/ gets the
 * verdict its SOURCES.md table states, through parse + check + secret
 * generation + user/recovery-key parsing + template dry run
 * (manifest_validate(), what MarbleRun's SetManifest does). */
#include "test_util.h"

#include <dirent.h>

#include "common/file.h"

struct verdict {
    char file[256];
    bool accepted;
};

static const char *compat_dir(char *buf, size_t n)
{
    const char *shared = getenv("CAIRN_SHARED_DIR");
    if (shared == NULL)
        return NULL;
    snprintf(buf, n, "%s/compat/marblerun", shared);
    DIR *d = opendir(buf);
    if (d == NULL)
        return NULL;
    closedir(d);
    return buf;
}

/* Reads the "| file | accepted/rejected | why |" rows of SOURCES.md. */
static size_t read_verdicts(const char *dir, struct verdict *v, size_t max)
{
    char path[512];
    uint8_t *text = NULL;
    size_t len = 0, n = 0;
    snprintf(path, sizeof(path), "%s/SOURCES.md", dir);
    assert_int_equal(cairn_file_read(path, 1 << 20, &text, &len), 0);
    char *save = NULL;
    for (char *line = strtok_r((char *)text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
        char file[256], verdict[64];
        if (sscanf(line, "| %255s | %63s |", file, verdict) != 2 || strstr(file, ".json") == NULL)
            continue;
        assert_true(n < max);
        snprintf(v[n].file, sizeof(v[n].file), "%s", file);
        if (strcmp(verdict, "accepted") == 0)
            v[n].accepted = true;
        else if (strcmp(verdict, "rejected") == 0)
            v[n].accepted = false;
        else
            fail_msg("SOURCES.md: unknown verdict \"%s\" for %s", verdict, file);
        n++;
    }
    free(text);
    return n;
}

static void test_compat_verdicts(void **state)
{
    (void)state;
    char dir[512];
    struct verdict v[32];
    if (compat_dir(dir, sizeof(dir)) == NULL) {
        print_message("SKIP: $CAIRN_SHARED_DIR/compat/marblerun is absent; compat verdicts not checked\n");
        skip();
    }
    size_t n = read_verdicts(dir, v, 32);
    assert_true(n >= 6);
    size_t json_files = 0;
    DIR *d = opendir(dir);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l > 5 && strcmp(de->d_name + l - 5, ".json") == 0) {
            bool listed = false;
            for (size_t i = 0; i < n; i++)
                listed |= strcmp(v[i].file, de->d_name) == 0;
            if (!listed)
                fail_msg("%s has no verdict in SOURCES.md", de->d_name);
            json_files++;
        }
    }
    closedir(d);
    assert_int_equal(json_files, n);
    for (size_t i = 0; i < n; i++) {
        char path[1024];
        uint8_t *raw = NULL;
        size_t len = 0;
        struct manifest *m = NULL;
        struct cairn_error e = {0};
        snprintf(path, sizeof(path), "%s/%s", dir, v[i].file);
        assert_int_equal(cairn_file_read(path, MANIFEST_MAX_SIZE, &raw, &len), 0);
        int rc = manifest_parse(raw, len, &m, &e);
        if (rc == 0)
            rc = manifest_validate(m, &e);
        print_message("%-45s expected %-8s got %s%s%s\n", v[i].file, v[i].accepted ? "accepted" : "rejected",
                      rc == 0 ? "accepted" : "rejected", rc == 0 ? "" : ": ", rc == 0 ? "" : e.msg);
        if (v[i].accepted)
            assert_int_equal(rc, 0);
        else
            assert_int_not_equal(rc, 0);
        manifest_free(m);
        free(raw);
    }
}

/* The reason for the one rejected sample, as SOURCES.md explains it. */
static void test_sample_manifest_reason(void **state)
{
    (void)state;
    char dir[512], path[1024];
    if (compat_dir(dir, sizeof(dir)) == NULL) {
        print_message("SKIP: $CAIRN_SHARED_DIR/compat/marblerun is absent\n");
        skip();
    }
    snprintf(path, sizeof(path), "%s/samples__sample-manifest.json", dir);
    uint8_t *raw = NULL;
    size_t len = 0;
    assert_int_equal(cairn_file_read(path, MANIFEST_MAX_SIZE, &raw, &len), 0);
    struct manifest *m = NULL;
    struct cairn_error e = {0};
    assert_int_equal(manifest_parse(raw, len, &m, &e), 0);
    assert_int_equal(manifest_check(m, &e), CAIRN_ERR_INVALID);
    assert_non_null(strstr(e.msg, "manifest specifies write permission for role"));
    assert_non_null(strstr(e.msg, "but secret is not user-defined"));
    /* and the placeholder user certificates would fail right after */
    X509 *x = NULL;
    assert_int_equal(manifest_user_cert(&m->users[0], &x, &e), CAIRN_ERR_INVALID);
    assert_non_null(strstr(e.msg, "received invalid certificate for user"));
    manifest_free(m);
    free(raw);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_compat_verdicts),
        cmocka_unit_test(test_sample_manifest_reason),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

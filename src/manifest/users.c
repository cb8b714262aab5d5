/* Users and roles at run time: MarbleRun's permission model and the lookup of
 * a user by the TLS client certificate. */
#include <string.h>
#include <strings.h>

#include "crypto/crypto.h"
#include "manifest/manifest_internal.h"

/* True when one of the user's roles grants `action` and lists `name`. */
static bool holds_name(const struct manifest *m, const struct manifest_user *u, const char *action, const char *name)
{
    for (size_t r = 0; r < u->n_roles; r++) {
        const struct manifest_role *role = manifest_find_role(m, u->roles[r]);
        if (role == NULL)
            continue;
        bool has_action = false;
        for (size_t a = 0; a < role->n_actions && !has_action; a++)
            has_action = strcasecmp(role->actions[a], action) == 0;
        if (!has_action)
            continue;
        if (name == NULL)
            return true;
        for (size_t i = 0; i < role->n_resource_names; i++) {
            if (strcmp(role->resource_names[i], name) == 0)
                return true;
        }
    }
    return false;
}

bool manifest_user_granted(const struct manifest *m, const struct manifest_user *u, const char *action,
                           const char *const *names, size_t n)
{
    if (m == NULL || u == NULL || action == NULL)
        return false;
    if (n == 0)
        return holds_name(m, u, action, NULL);
    for (size_t i = 0; i < n; i++) {
        if (names[i] == NULL || !holds_name(m, u, action, names[i]))
            return false;
    }
    return true;
}

const struct manifest_user *manifest_find_user_by_cert(const struct manifest *m, X509 *cert)
{
    if (m == NULL || cert == NULL)
        return NULL;
    for (size_t i = 0; i < m->n_users; i++) {
        X509 *x = NULL;
        if (manifest_user_cert(&m->users[i], &x, NULL) != 0)
            continue;
        bool eq = cc_cert_equal(x, cert);
        X509_free(x);
        if (eq)
            return &m->users[i];
    }
    return NULL;
}

/* Users and roles (inventory §1.7): authentication by exact certificate
 * equality, permissions from roles with the "all requested names" rule. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/governance.h"
#include "crypto/crypto.h"

int gov_user_auth(const struct manifest *m, X509 *peer, const struct manifest_user **out, struct cairn_error *err)
{
    if (peer == NULL)
        return cairn_errf(err, CAIRN_ERR_UNAUTHENTICATED,
                          "unauthorized user: no client certificate (authenticate with a manifest user's "
                          "certificate)");
    if (m == NULL)
        return cairn_errf(err, CAIRN_ERR_UNAUTHENTICATED, "unauthorized user: no manifest is set, so no users exist");
    for (size_t i = 0; i < m->n_users; i++) {
        X509 *uc = NULL;
        /* the certificates were parsed at manifest set; a failure here cannot
         * authenticate anyone, so it is skipped rather than reported */
        if (manifest_user_cert(&m->users[i], &uc, NULL) != 0)
            continue;
        bool eq = cc_cert_equal(uc, peer);
        X509_free(uc);
        if (eq) {
            *out = &m->users[i];
            return 0;
        }
    }
    return cairn_errf(err, CAIRN_ERR_UNAUTHENTICATED,
                      "unauthorized user: the client certificate matches no user of the manifest");
}

bool gov_user_has(const struct manifest *m, const struct manifest_user *u, const char *resource_type,
                  const char *action, const char *name)
{
    for (size_t i = 0; i < u->n_roles; i++) {
        const struct manifest_role *r = manifest_find_role(m, u->roles[i]);
        if (r == NULL || strcmp(r->resource_type, resource_type) != 0)
            continue;
        bool act = false;
        for (size_t k = 0; k < r->n_actions && !act; k++)
            act = strcasecmp(r->actions[k], action) == 0;
        if (!act)
            continue;
        if (name == NULL)
            return true;
        for (size_t k = 0; k < r->n_resource_names; k++)
            if (strcmp(r->resource_names[k], name) == 0)
                return true;
    }
    return false;
}

int gov_require(const struct manifest *m, const struct manifest_user *u, const char *resource_type,
                const char *action, const char *const *names, size_t n, struct cairn_error *err)
{
    if (n == 0) {
        if (!gov_user_has(m, u, resource_type, action, NULL))
            return cairn_errf(err, CAIRN_ERR_PERMISSION,
                              "user %s is not allowed to %s: no role grants %s on %s", u->name, action, action,
                              resource_type);
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (!gov_user_has(m, u, resource_type, action, names[i]))
            return cairn_errf(err, CAIRN_ERR_PERMISSION,
                              "user %s is not allowed to %s %s: no role grants %s on %s \"%s\" (a user needs the "
                              "permission for all requested names)",
                              u->name, action, names[i], action, resource_type, names[i]);
    }
    return 0;
}

int gov_update_users(const struct manifest *m, const char ***out, size_t *out_n)
{
    const char **v = calloc(m->n_users + 1, sizeof(*v));
    if (v == NULL)
        return CAIRN_ERR_NOMEM;
    size_t n = 0;
    for (size_t i = 0; i < m->n_users; i++)   /* users are sorted by name */
        if (gov_user_has(m, &m->users[i], "Manifest", GOV_UPDATE_MANIFEST, NULL))
            v[n++] = m->users[i].name;
    *out = v;
    *out_n = n;
    return 0;
}

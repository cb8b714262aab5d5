/* Internal: the manifest engine (DESIGN §5, MarbleRun inventory §1).
 *
 * - manifest_parse() decodes MarbleRun's JSON format with Go encoding/json
 *   semantics into plain C structs (below). It checks types and ranges only.
 * - manifest_check() applies every consistency rule of inventory §1.11 in
 *   MarbleRun's order and with MarbleRun's messages, plus the TEE extension
 *   rules of DESIGN §5.
 * - manifest_generate_secrets() implements inventory §1.6 (shared secrets at
 *   manifest set, per-marble secrets at activation).
 * - manifest_template_render() / manifest_marble_render() fill Files and Env
 *   templates; manifest_dry_run() renders every template with dummy values.
 * - manifest_yaml_to_json() converts a YAML manifest; manifest_file_to_upload()
 *   applies the CLI's JSON-or-YAML rule (CLI and --startup-manifest).
 *
 * Determinism: every map of the manifest (Packages, Marbles, Secrets, Users,
 * Roles, RecoveryKeys, TLS, Infrastructures, Files, Env, RTMR, PCRs) is stored
 * as an array sorted by name (bytewise strcmp). Where Go iterates a map in
 * random order (Check, dry run, secret generation), Cairn iterates in this
 * sorted order, so the first error reported is always the same.
 *
 * Ownership: a `struct manifest` and everything reachable from it is owned by
 * the manifest and freed by manifest_free(). Pointers returned by the lookup
 * functions are borrowed and valid until manifest_free(). A parsed manifest is
 * never modified by any function here, so it may be shared between threads.
 *
 * None of these functions log or do I/O. Errors fill `struct cairn_error`
 * (may be NULL) with one line naming the field and the rule. */
#ifndef CAIRN_MANIFEST_H
#define CAIRN_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "attest/policy.h"
#include "common/error.h"

/* ---- limits (larger input is rejected with CAIRN_ERR_TOO_LARGE) ---------- */

#define MANIFEST_MAX_SIZE (1024 * 1024)    /* bytes of manifest JSON or YAML */
#define MANIFEST_MAX_ENTRIES 4096          /* entries of any one map or array */
#define MANIFEST_MAX_DEPTH 64              /* YAML nesting (JSON: only known fields are descended) */
#define MANIFEST_TEMPLATE_MAX_OUTPUT (4 * 1024 * 1024) /* bytes of one rendered value */
#define MANIFEST_USER_SECRETS_MAX_SIZE (1024 * 1024)   /* bytes of a /secrets body */
#define MANIFEST_MAX_RECOVERY_KEYS 255                 /* shares of the data key */

/* ---- the parsed manifest --------------------------------------------------- */

/* A Files or Env entry after decoding: `Encoding` base64/hex is decoded at parse
 * time (MarbleRun does the same), so `data` holds the bytes templates see.
 * `data` is always followed by a NUL byte that is not counted in `len`. */
struct manifest_file {
    char *name;            /* path (Files) or variable name (Env) */
    uint8_t *data;         /* owned; never NULL (may be "" with len 0) */
    size_t len;
    char *encoding;        /* as written, e.g. "string", "Base64", "hex" ("string" if absent) */
    bool no_templates;
};

struct manifest_package {
    char *name;
    char *tee_name;        /* "TEE" as written; NULL when absent (= sgx) */
    struct tee_package pkg;/* pkg.tee is ATTEST_SGX when tee_name is NULL or unknown */
};

struct manifest_infrastructure {
    char *name;
    uint8_t *cpusvn;       size_t cpusvn_len;     /* NULL if absent */
    bool has_qesvn;        uint16_t qesvn;
    bool has_pcesvn;       uint16_t pcesvn;
    uint8_t *root_ca;      size_t root_ca_len;    /* NULL if absent */
};

struct manifest_marble {
    char *name;                    /* the marble type (map key) */
    char *package;                 /* "" if absent */
    uint64_t max_activations;      /* 0 = unlimited */
    struct manifest_file *files;   size_t n_files;   /* sorted by name */
    struct manifest_file *env;     size_t n_env;     /* sorted by name */
    char **argv;                   size_t n_argv;    /* verbatim, no templates */
    char **tls;                    size_t n_tls;     /* TLS tag names */
    bool disable_secret_binding;
};

enum manifest_secret_type {
    MANIFEST_SECRET_INVALID = 0,   /* unknown "Type" string; manifest_check() rejects it */
    MANIFEST_SECRET_SYMMETRIC_KEY,
    MANIFEST_SECRET_CERT_RSA,
    MANIFEST_SECRET_CERT_ECDSA,
    MANIFEST_SECRET_CERT_ED25519,
    MANIFEST_SECRET_PLAIN,
};

/* "symmetric-key", "cert-rsa", ... ; "" for MANIFEST_SECRET_INVALID. Static. */
const char *manifest_secret_type_name(enum manifest_secret_type t);
/* Exact (case-sensitive, as MarbleRun); unknown strings give MANIFEST_SECRET_INVALID. */
enum manifest_secret_type manifest_secret_type_parse(const char *s);

/* The `Cert` template of a cert-* secret (subset of Go's x509.Certificate JSON).
 * Each Subject field keeps only the first element of Go's []string list. */
struct manifest_cert_template {
    struct {
        char *common_name, *serial_number;
        char *country, *organization, *organizational_unit;
        char *locality, *province, *street_address, *postal_code;
    } subject;                                   /* NULL = unset */
    /* has_* false = the key was absent or null (Go nil: the default applies);
     * true with 0 entries = an explicit [] (no default, no such SAN). */
    bool has_dns_names;      char **dns_names;        size_t n_dns_names;
    bool has_ip_addresses;   char **ip_addresses;     size_t n_ip_addresses;   /* textual, validated at parse */
    char **email_addresses;  size_t n_email_addresses;/* parsed; generation rejects them (unsupported) */
    unsigned key_usage;      /* Go x509.KeyUsage bits (enum cc_key_usage); 0 = default */
    bool has_ext_key_usage;  int *ext_key_usage;      size_t n_ext_key_usage;  /* Go x509.ExtKeyUsage values */
    bool is_ca;
    int max_path_len;        /* as Go: 0 with max_path_len_zero=false means unset; -1 unset */
    bool max_path_len_zero;
    bool has_not_after;      time_t not_after;        /* "NotAfter" (RFC 3339); zero time = unset */
};

struct manifest_secret {
    char *name;
    char *type_str;          /* as written ("" if absent) */
    enum manifest_secret_type type;
    uint64_t size;           /* bits */
    bool shared;
    bool user_defined;
    bool has_cert;           /* a non-null "Cert" object was given */
    struct manifest_cert_template cert;
    uint64_t valid_for;      /* days; 0 = default 365 */
};

struct manifest_user {
    char *name;
    char *certificate;       /* PEM as written ("" if absent) */
    char **roles;            size_t n_roles;
};

struct manifest_role {
    char *name;
    char *resource_type;     /* case-sensitive: "Packages", "Secrets", "Manifest" */
    char **resource_names;   size_t n_resource_names;
    char **actions;          size_t n_actions;   /* as written; compare case-insensitively */
};

struct manifest_recovery_key {
    char *name;
    char *pem;               /* PEM "PUBLIC KEY" holding an RSA key, as written */
};

struct manifest_tls_entry {
    char *port, *addr, *cert;   /* "" when absent */
    bool disable_client_auth;
};

struct manifest_tls_tag {
    char *name;
    struct manifest_tls_entry *outgoing;  size_t n_outgoing;  /* document order */
    struct manifest_tls_entry *incoming;  size_t n_incoming;
};

struct manifest_config {
    char *seal_mode;               /* "" when absent (= ProductKey) */
    char **feature_gates;          size_t n_feature_gates;
    uint64_t update_threshold;
    uint64_t recovery_threshold;
    bool rotate_root_secret;
};

/* Extension "ConfidentialContainers" (docs/manifest.md; MarbleRun ignores the
 * key): confidential-container workloads that fetch secrets over Trustee's
 * KBS protocol. A workload names its TEE package and maps KBS resource paths
 * "repository/type/tag" to manifest secrets. */
enum manifest_kbs_part {
    MANIFEST_KBS_PART_DEFAULT = 0,   /* symmetric-key/plain: the key bytes; cert-*: Cert (PEM) */
    MANIFEST_KBS_PART_PRIVATE,       /* symmetric-key/plain: the key bytes; cert-*: PKCS#8 PEM */
    MANIFEST_KBS_PART_PUBLIC,        /* symmetric-key/plain: the key bytes; cert-*: SPKI PEM */
    MANIFEST_KBS_PART_CERT,          /* cert-*: the certificate PEM */
};

struct manifest_kbs_resource {
    char *path;                      /* "repository/type/tag" (the map key) */
    char *secret;                    /* a name in Secrets */
    enum manifest_kbs_part part;
};

struct manifest_coco_workload {
    char *name;
    char *package;                   /* a TDX or SNP package */
    struct manifest_kbs_resource *resources; size_t n_resources;   /* sorted by path */
};

#define MANIFEST_COCO_VERSION 1
struct manifest_coco {
    uint64_t version;                /* "Version"; 0 when the section is absent */
    struct manifest_coco_workload *workloads; size_t n_workloads;  /* sorted by name */
};

struct manifest {
    struct manifest_package *packages;             size_t n_packages;
    struct manifest_infrastructure *infrastructures; size_t n_infrastructures;
    struct manifest_marble *marbles;               size_t n_marbles;
    struct manifest_secret *secrets;               size_t n_secrets;
    struct manifest_user *users;                   size_t n_users;
    struct manifest_role *roles;                   size_t n_roles;
    struct manifest_recovery_key *recovery_keys;   size_t n_recovery_keys;
    struct manifest_tls_tag *tls;                  size_t n_tls;
    struct manifest_config config;
    struct manifest_coco coco;
};

/* ---- parse, check, free, lookups -------------------------------------------- */

/*
 * Parses an untrusted manifest (JSON, at most MANIFEST_MAX_SIZE bytes) with Go
 * encoding/json semantics: object keys of structs matched case-insensitively,
 * unknown keys ignored, null = absent, duplicate keys: last wins, unsigned
 * integers must be non-negative integral numbers within the field's range,
 * wrong JSON types rejected with the field path (e.g.
 * `Marbles.backend.MaxActivations: expected a non-negative integer, got string`).
 * A File/Env value is a string or {Data, Encoding (string|base64|hex, any
 * case), NoTemplates}; hex/base64 are decoded here.
 * On success *out is a new manifest (manifest_free()); on failure *out is untouched.
 */
int manifest_parse(const uint8_t *json, size_t len, struct manifest **out, struct cairn_error *err);

/* An unknown field: `path` (e.g. "Marbles.web.Parameters.Enviroment",
 * array elements as "[i]") and `suggestion`, the known field of that object
 * it resembles ("Env"), or NULL. Both borrowed for the call. */
typedef void (*manifest_unknown_fn)(void *ctx, const char *path, const char *suggestion);

/*
 * As manifest_parse(); on success it also calls `unknown` (may be NULL) once
 * for every object key the decoder does not read, in document order: a field
 * MarbleRun's format and Cairn ignore, most often a typo. The known fields are
 * exactly the ones the decoder looks up (fields.c), so the report follows the
 * parser. Keys of maps (marble, secret, file names) are names, never reported;
 * an unknown key's value is not descended into.
 */
int manifest_parse_ex(const uint8_t *json, size_t len, manifest_unknown_fn unknown, void *ctx,
                      struct manifest **out, struct cairn_error *err);

/* Frees the manifest and everything it owns. NULL is fine. */
void manifest_free(struct manifest *m);

/*
 * Consistency rules, in MarbleRun's order (inventory §1.11), maps in sorted
 * order; first failure wins, with MarbleRun's message. Then the TEE extension
 * rules for every package (DESIGN §5): unknown TEE, fields of another TEE,
 * hex lengths (MRTD/RTMR/MRConfigID/MROwner/MROwnerConfig/Measurement/
 * IDKeyDigest 48 bytes, HostData 32), PCR banks sha1|sha256|sha384 with
 * indexes 0..23 and digests of the bank's length, AKRoots as PEM certificates.
 * Returns 0 or CAIRN_ERR_INVALID.
 */
int manifest_check(const struct manifest *m, struct cairn_error *err);

/* As manifest_check(); `warn` (may be NULL) receives MarbleRun's warnings for
 * Debug packages (the message is borrowed for the duration of the call). */
int manifest_check_ex(const struct manifest *m, void (*warn)(void *ctx, const char *msg), void *ctx,
                      struct cairn_error *err);

/* Lookups by exact name (binary search). Borrowed; NULL when absent. */
const struct manifest_marble *manifest_find_marble(const struct manifest *m, const char *name);
const struct manifest_package *manifest_find_package(const struct manifest *m, const char *name);
const struct manifest_secret *manifest_find_secret(const struct manifest *m, const char *name);
const struct manifest_user *manifest_find_user(const struct manifest *m, const char *name);
const struct manifest_role *manifest_find_role(const struct manifest *m, const char *name);
const struct manifest_tls_tag *manifest_find_tls(const struct manifest *m, const char *name);

/* Parses a user's PEM certificate: "received invalid certificate for user <name>".
 * *out is owned by the caller (X509_free). */
int manifest_user_cert(const struct manifest_user *u, X509 **out, struct cairn_error *err);
/* Parses a recovery key (PEM PUBLIC KEY, RSA only). *out: EVP_PKEY_free. */
int manifest_recovery_key(const struct manifest_recovery_key *k, EVP_PKEY **out, struct cairn_error *err);

/*
 * MarbleRun's RBAC (coordinator/user): the user's roles grant each of their
 * Actions (case-insensitive) on the union of their ResourceNames; a request for
 * `action` on `names` is granted when the user holds that action on every one
 * of `names` (n = 0: holding the action at all, e.g. UpdateManifest).
 */
bool manifest_user_granted(const struct manifest *m, const struct manifest_user *u, const char *action,
                           const char *const *names, size_t n);

/* The user whose certificate is exactly `cert` (DER equality, no chain or
 * expiry check, as MarbleRun), or NULL. Parses the users' PEM on every call;
 * borrowed result. */
const struct manifest_user *manifest_find_user_by_cert(const struct manifest *m, X509 *cert);

/* SHA-256 of the exact uploaded bytes as lowercase hex (the manifest fingerprint). */
void manifest_hash_hex(const uint8_t *raw, size_t len, char out[65]);

/* A KBS resource path "repository/type/tag": exactly three non-empty
 * segments of [A-Za-z0-9._-], none "." or "..", each at most max_segment
 * bytes (the manifest takes any length; the KBS listener caps it at 255). */
bool manifest_kbs_path_ok(const char *p, size_t max_segment);

/* The workload's mapping of `path` (borrowed; NULL when not mapped). */
const struct manifest_kbs_resource *manifest_coco_find_resource(const struct manifest_coco_workload *w,
                                                                const char *path);
const struct manifest_coco_workload *manifest_coco_find_workload(const struct manifest *m, const char *name);

/* ---- update manifests (package SVN updates, inventory §6) -------------------- */

/* True when the manifest defines only Packages (no Infrastructures, Marbles,
 * Users, RecoveryKeys, Roles, Secrets or TLS), like MarbleRun's IsUpdateManifest. */
bool manifest_is_update_manifest(const struct manifest *m);

/* MarbleRun's CheckUpdate against the current packages (e.g. m->packages of
 * the active manifest with SVNs already raised): every package must exist, set
 * only SecurityVersion (no Debug/UniqueID/SignerID/ProductID, nor any TEE
 * field), and not downgrade it. */
int manifest_check_update(const struct manifest *update, const struct manifest_package *current,
                          size_t n_current, struct cairn_error *err);

/* ---- secret values --------------------------------------------------------- */

/* A generated, uploaded or stored secret (MarbleRun's manifest.Secret with data). */
struct manifest_secret_value {
    char *name;
    enum manifest_secret_type type;
    uint64_t size;
    bool shared;
    bool user_defined;
    uint64_t valid_for;
    uint8_t *cert;    size_t cert_len;     /* DER, NULL if none */
    uint8_t *private_key; size_t private_len; /* PKCS#8 DER, or the key itself; secret; NULL if none */
    uint8_t *public_key;  size_t public_len;  /* PKIX DER, or the key itself; NULL if none */
};

/* A set of secret values sorted by name. Owns its values; private bytes are
 * wiped on free. */
struct manifest_secret_set {
    struct manifest_secret_value *items;
    size_t count;
};

struct manifest_secret_set *manifest_secret_set_new(void);   /* NULL on OOM */
void manifest_secret_set_free(struct manifest_secret_set *s); /* wipes; NULL ok */
/* Borrowed; NULL when absent. */
const struct manifest_secret_value *manifest_secret_set_find(const struct manifest_secret_set *s,
                                                             const char *name);
/* Deep-copies `v` into the set, replacing an entry with the same name. */
int manifest_secret_set_put(struct manifest_secret_set *s, const struct manifest_secret_value *v);
/* Deep-copies every entry of `src` into `dst` (same names replaced). */
int manifest_secret_set_merge(struct manifest_secret_set *dst, const struct manifest_secret_set *src);
/* Frees the members of one value (wiping private bytes) and zeroes it. */
void manifest_secret_value_clear(struct manifest_secret_value *v);

enum manifest_secret_scope {
    MANIFEST_SECRETS_SHARED,    /* Shared && !UserDefined: at manifest set / update */
    MANIFEST_SECRETS_PRIVATE,   /* !Shared && !UserDefined: per marble activation */
};

/*
 * Generates the secrets of `scope` (inventory §1.6), in sorted order:
 * - symmetric-key: Size > 0 and a multiple of 8, else "invalid secret size"
 *   style error naming the secret; shared = random; private =
 *   HKDF-SHA256(ikm = root_secret, salt = marble_uuid + name, info =
 *   marble_type, or "" when the marble has DisableSecretBinding or
 *   marble_type is NULL), Size/8 bytes. Private = Public = key.
 * - cert-rsa / cert-ecdsa (224|256|384|521) / cert-ed25519 (Size 0): a new key
 *   and a certificate from the `Cert` template with MarbleRun's defaults
 *   (DNSNames [localhost], IPs [127.0.0.1, ::1], KU DigitalSignature|CertSign,
 *   EKU server+client, CN = the only DNS name or "MarbleRun Generated
 *   Certificate" unless the template sets one, NotAfter = now + ValidFor days
 *   (default 365) unless Cert.NotAfter is given, IsCA from the template, random
 *   serial), issued by `marble_root_cert` with `intermediate_key`.
 *   Private = PKCS#8 DER, Public = PKIX DER, Cert = DER.
 * - plain: "unsupported secret of type plain".
 * `marble_uuid` (canonical UUID string) is required for MANIFEST_SECRETS_PRIVATE.
 * `marble_type`, when not NULL, must name a marble (its DisableSecretBinding is used).
 * `now` 0 = current time. root_secret/marble_* are only read for PRIVATE.
 * All inputs are borrowed. *out is a new set (manifest_secret_set_free()).
 */
int manifest_generate_secrets(const struct manifest *m, enum manifest_secret_scope scope,
                              const uint8_t root_secret[32], const char *marble_uuid,
                              const char *marble_type, X509 *marble_root_cert,
                              EVP_PKEY *intermediate_key, time_t now,
                              struct manifest_secret_set **out, struct cairn_error *err);

/* JSON in MarbleRun's shape: {"Type","Size","Shared","UserDefined","Cert": b64
 * DER|null,"ValidFor","Private": b64|null,"Public": b64|null}. *out is a new
 * reference (json_decref). The output holds secret bytes: dump it, then wipe. */
int manifest_secret_value_to_json(const struct manifest_secret_value *v, json_t **out);
/* Parses one stored secret (keys case-insensitive as Go). `out` is written
 * only on success (clear it with manifest_secret_value_clear()). */
int manifest_secret_value_from_json(const char *name, const json_t *j, struct manifest_secret_value *out,
                                    struct cairn_error *err);
/* {name: Secret, ...} for a whole set. */
int manifest_secret_set_to_json(const struct manifest_secret_set *s, json_t **out);
int manifest_secret_set_from_json(const json_t *j, struct manifest_secret_set **out, struct cairn_error *err);

/*
 * Validates uploaded user-defined secrets, MarbleRun's ParseUserSecrets
 * (inventory §2.2): `j` is the object {name: {"Cert": b64 DER | {"Raw": b64},
 * "Private": b64, "Key": b64}}. Each name must be a UserDefined secret of `m`;
 * symmetric-key: only Key, exactly Size/8 bytes; cert-*: Cert required (Public
 * = its PKIX key), Private optional and unchecked, no Key; plain: only Key.
 * *out is a new set of complete values (definition fields from `m`).
 */
int manifest_user_secrets_parse(const struct manifest *m, const json_t *j,
                                struct manifest_secret_set **out, struct cairn_error *err);

/* ---- templates ----------------------------------------------------------- */

enum manifest_template_target {
    MANIFEST_TEMPLATE_FILE,   /* pem hex base64 raw */
    MANIFEST_TEMPLATE_ENV,    /* pem hex base64 string; output must not contain NUL */
};

/* The data of one activation; everything borrowed, any member may be NULL
 * (= empty set / empty value). */
struct manifest_template_data {
    const struct manifest_secret_set *secrets;        /* .Secrets */
    const struct manifest_secret_set *previous;       /* .Previous.Secrets */
    const struct manifest_secret_value *root_ca;      /* .MarbleRun.RootCA (Marble Root cert) */
    const struct manifest_secret_value *marble_cert;  /* .MarbleRun.MarbleCert */
    const struct manifest_secret_value *coordinator_root;          /* .MarbleRun.CoordinatorRoot */
    const struct manifest_secret_value *coordinator_intermediate;  /* .MarbleRun.CoordinatorIntermediate */
};

/*
 * Renders one value. Supported actions, with optional {{- -}} trimming:
 *   {{ FUNC REF }}  FUNC = pem | hex | base64 | raw (Files) | string (Env)
 *   REF = .Secrets.NAME[.Cert|.Public|.Private]
 *       | .Previous.Secrets.NAME[...]
 *       | .MarbleRun.(RootCA|MarbleCert|CoordinatorRoot|CoordinatorIntermediate)[.Cert|.Public|.Private]
 *       | (index .Secrets "NAME")[.Cert|...]  (also .Previous.Secrets; parentheses optional without a part)
 *   {{/ * comment * /}} (without the spaces)
 * Anything else of Go's text/template is rejected with a clear error.
 * *out is malloc'd, NUL-terminated (not counted), and may hold secrets: free
 * with cc_free_secret(*out, *out_len + 1).
 */
int manifest_template_render(const uint8_t *tmpl, size_t len, enum manifest_template_target target,
                             const struct manifest_template_data *d, uint8_t **out, size_t *out_len,
                             struct cairn_error *err);

/* One rendered parameter. */
struct manifest_param {
    char *name;
    uint8_t *data;   /* secret; NUL-terminated, not counted */
    size_t len;
};

/* The rendered Parameters of one marble. manifest_params_free() wipes. */
struct manifest_params {
    struct manifest_param *files;  size_t n_files;
    struct manifest_param *env;    size_t n_env;
    char **argv;                   size_t n_argv;
};
void manifest_params_free(struct manifest_params *p);  /* NULL ok */

/* Renders every File and Env of `marble` (NoTemplates values copied as is;
 * Env values with NUL rejected). Errors read like MarbleRun's:
 * `in Marble backend: file /x: secret "k" does not exist`. */
int manifest_marble_render(const struct manifest_marble *marble, const struct manifest_template_data *d,
                           struct manifest_params **out, struct cairn_error *err);

/*
 * Renders every template of every marble with dummy values, so that bad
 * templates fail at manifest set. `secrets` (may be NULL) holds real values
 * (e.g. the generated shared and private secrets); every manifest secret not
 * in it gets dummies: user-defined ones 0x41 for Cert, Public and Private (as
 * MarbleRun), generated ones 0x41 in the parts their type has (symmetric-key
 * and plain: Public/Private; cert-*: all three). .Previous.Secrets = the same
 * set. The reserved .MarbleRun values are 0x41 where MarbleRun sets them
 * (RootCA/CoordinatorRoot/CoordinatorIntermediate: Cert only; MarbleCert: all).
 */
int manifest_dry_run(const struct manifest *m, const struct manifest_secret_set *secrets,
                     struct cairn_error *err);

/*
 * Everything MarbleRun's SetManifest validates before accepting a manifest:
 * manifest_check(), shared and per-marble secret generation (with a throwaway
 * CA and a random UUID), recovery key parsing (at most
 * MANIFEST_MAX_RECOVERY_KEYS), user certificate parsing and
 * manifest_dry_run(). Slow for cert-rsa secrets (key generation). The
 * Coordinator runs the same function (manifest_validate_with) on every manifest
 * set; `cairn manifest check` runs this one offline.
 */
int manifest_validate(const struct manifest *m, struct cairn_error *err);

/* As manifest_validate(), but with the Coordinator's real shared secrets
 * (already generated with manifest_generate_secrets(MANIFEST_SECRETS_SHARED))
 * and CA, so that expensive shared keys (cert-rsa) are not generated twice.
 * Per-marble secrets are still generated with a random UUID. All borrowed. */
int manifest_validate_with(const struct manifest *m, const struct manifest_secret_set *shared,
                           X509 *marble_root_cert, EVP_PKEY *intermediate_key, struct cairn_error *err);

/* ---- YAML ------------------------------------------------------------------ */

/*
 * Converts a YAML document (at most MANIFEST_MAX_SIZE bytes, one document, no
 * anchors/aliases) to compact JSON. Mappings become objects (keys must be
 * scalars), sequences arrays; plain scalars are typed as YAML 1.2 core schema
 * (null ~ "", true/false, integers, floats), quoted or block scalars stay
 * strings. *json_out is malloc'd and NUL-terminated (free()).
 */
int manifest_yaml_to_json(const char *yaml, size_t len, char **json_out, struct cairn_error *err);

/*
 * A manifest file's bytes as they are uploaded, MarbleRun's CLI rule, shared
 * by `cairn manifest set|check|...` and `cairn-coordinator --startup-manifest`:
 * JSON is kept byte for byte (the manifest hash is over these bytes), anything
 * else is converted from YAML (manifest_yaml_to_json). *out is malloc'd and
 * NUL-terminated (free()). The error names both failures when neither parses.
 */
int manifest_file_to_upload(const uint8_t *data, size_t len, uint8_t **out, size_t *out_len,
                            struct cairn_error *err);

#endif

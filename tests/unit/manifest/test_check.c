/* manifest_check(): one accepted and one rejected manifest per rule of
 * inventory §1.11 (MarbleRun's exact messages) and per TEE extension rule,
 * plus the order of the steps and deterministic (sorted) iteration. */
#include "test_util.h"

#include <time.h>

#include <openssl/pem.h>

#include "crypto/crypto.h"

/* A valid SGX package and marble; cases add or replace sections. */
#define PKG "\"Packages\":{\"p\":{\"SignerID\":\"s\",\"ProductID\":1,\"SecurityVersion\":1}}"
#define MRB "\"Marbles\":{\"m\":{\"Package\":\"p\"}}"
#define BASE PKG "," MRB
#define USERS(c1, c2) "\"Users\":{\"alice\":{\"Certificate\":\"" c1 "\"},\"bob\":{\"Certificate\":\"" c2 "\"}}"

struct rule {
    const char *name;
    const char *ok;   /* accepted */
    const char *bad;  /* rejected with exactly msg */
    const char *msg;
};

static const struct rule rules[] = {
    /* 1, 2 */
    {"packages present", "{" BASE "}", "{" MRB "}", "no allowed packages defined"},
    {"marbles present", "{" BASE "}", "{" PKG "}", "no allowed marbles defined"},
    /* 3: per marble */
    {"marble package exists", "{" BASE "}", "{" PKG ",\"Marbles\":{\"m\":{\"Package\":\"x\"}}}",
     "manifest does not contain marble package x"},
    {"UniqueID with SignerID", "{\"Packages\":{\"p\":{\"UniqueID\":\"u\",\"SignerID\":\"s\",\"Debug\":true}}," MRB "}",
     "{\"Packages\":{\"p\":{\"UniqueID\":\"u\",\"SignerID\":\"s\"}}," MRB "}",
     "manifest specifies both UniqueID *and* SignerID/ProductID/SecurityVersion in package p"},
    {"UniqueID with ProductID", "{\"Packages\":{\"p\":{\"UniqueID\":\"u\"}}," MRB "}",
     "{\"Packages\":{\"p\":{\"UniqueID\":\"u\",\"ProductID\":0}}," MRB "}",
     "manifest specifies both UniqueID *and* SignerID/ProductID/SecurityVersion in package p"},
    {"SignerID required", "{\"Packages\":{\"p\":{\"Debug\":true}}," MRB "}",
     "{\"Packages\":{\"p\":{\"ProductID\":1,\"SecurityVersion\":1}}," MRB "}",
     "manifest misses value for SignerID in package p"},
    {"ProductID required", "{\"Packages\":{\"p\":{\"SignerID\":\"s\",\"SecurityVersion\":1,\"Debug\":true}}," MRB "}",
     "{\"Packages\":{\"p\":{\"SignerID\":\"s\",\"SecurityVersion\":1}}," MRB "}",
     "manifest misses value for ProductID in package p"},
    {"SecurityVersion required", "{\"Packages\":{\"p\":{\"SignerID\":\"s\",\"ProductID\":0,\"SecurityVersion\":0}}," MRB "}",
     "{\"Packages\":{\"p\":{\"SignerID\":\"s\",\"ProductID\":1}}," MRB "}",
     "manifest misses value for SecurityVersion in package p"},
    {"unreferenced package unchecked", "{" PKG ",\"Packages\":{\"p\":{\"SignerID\":\"s\",\"ProductID\":1,"
     "\"SecurityVersion\":1},\"q\":{}}," MRB "}",
     "{\"Packages\":{\"q\":{\"SignerID\":\"s\",\"ProductID\":1,\"SecurityVersion\":1},\"p\":{}}," MRB "}",
     "manifest misses value for SignerID in package p"},
    {"marble TLS tag exists",
     "{" PKG ",\"Marbles\":{\"m\":{\"Package\":\"p\",\"TLS\":[\"web\"]}},\"TLS\":{\"web\":{}}}",
     "{" PKG ",\"Marbles\":{\"m\":{\"Package\":\"p\",\"TLS\":[\"web\"]}}}", "manifest misses TLS entry for web"},
    /* 4: TLS */
    {"incoming port", "{" BASE ",\"TLS\":{\"web\":{\"Incoming\":[{\"Port\":\"443\"}]}}}",
     "{" BASE ",\"TLS\":{\"web\":{\"Incoming\":[{\"Port\":\"\"}]}}}", "manifest misses Port in TLS.Incoming.web"},
    {"incoming cert secret exists",
     "{" BASE ",\"Secrets\":{\"c\":{\"Type\":\"cert-ed25519\"}},\"TLS\":{\"web\":{\"Incoming\":[{\"Port\":\"443\","
     "\"Cert\":\"c\",\"DisableClientAuth\":true}]}}}",
     "{" BASE ",\"TLS\":{\"web\":{\"Incoming\":[{\"Port\":\"443\",\"Cert\":\"nope\",\"DisableClientAuth\":true}]}}}",
     "TLS.Incoming.web references undefined secret nope"},
    {"incoming cert needs DisableClientAuth",
     "{" BASE ",\"Secrets\":{\"c\":{\"Type\":\"cert-ed25519\"}},\"TLS\":{\"web\":{\"Incoming\":[{\"Port\":\"443\","
     "\"Cert\":\"c\",\"DisableClientAuth\":true}]}}}",
     "{" BASE ",\"Secrets\":{\"c\":{\"Type\":\"cert-ed25519\"}},\"TLS\":{\"web\":{\"Incoming\":[{\"Port\":\"443\","
     "\"Cert\":\"c\"}]}}}",
     "TLS.Incoming.web defines Cert but does not disable client authentication"},
    {"DisableClientAuth needs cert", "{" BASE ",\"TLS\":{\"web\":{\"Incoming\":[{\"Port\":\"443\"}]}}}",
     "{" BASE ",\"TLS\":{\"web\":{\"Incoming\":[{\"Port\":\"443\",\"DisableClientAuth\":true}]}}}",
     "TLS.Incoming.web disables client authentication"},
    {"outgoing addr", "{" BASE ",\"TLS\":{\"web\":{\"Outgoing\":[{\"Port\":\"1\",\"Addr\":\"a\"}]}}}",
     "{" BASE ",\"TLS\":{\"web\":{\"Outgoing\":[{\"Port\":\"1\"}]}}}", "manifest misses Addr in TLS.Outgoing.web"},
    {"outgoing port", "{" BASE ",\"TLS\":{\"web\":{\"Outgoing\":[{\"Port\":\"1\",\"Addr\":\"a\"}]}}}",
     "{" BASE ",\"TLS\":{\"web\":{\"Outgoing\":[{\"Addr\":\"a\"}]}}}", "manifest misses Port in TLS.Outgoing.web"},
    /* 5: users */
    {"user certificate", "{" BASE "," USERS("A", "B") "}", "{" BASE "," USERS("A", "") "}",
     "manifest does not contain a certificate for user bob"},
    {"user roles exist",
     "{" BASE ",\"Users\":{\"alice\":{\"Certificate\":\"A\",\"Roles\":[\"r\"]}},\"Roles\":{\"r\":{\"ResourceType\":"
     "\"Manifest\",\"Actions\":[\"UpdateManifest\"]}}}",
     "{" BASE ",\"Users\":{\"alice\":{\"Certificate\":\"A\",\"Roles\":[\"nope\"]}}}",
     "manifest specifies role nope for user alice, but role does not exist"},
    {"user certificates unique", "{" BASE "," USERS("A", "B") "}", "{" BASE "," USERS("A", "A") "}",
     "manifest contains the same certificate for users bob and alice"},
    /* 6: roles */
    {"Packages role names exist",
     "{" BASE ",\"Roles\":{\"r\":{\"ResourceType\":\"Packages\",\"ResourceNames\":[\"p\"],\"Actions\":[\"updatesecurityVERSION\"]}}}",
     "{" BASE ",\"Roles\":{\"r\":{\"ResourceType\":\"Packages\",\"ResourceNames\":[\"nope\"]}}}",
     "role r: resource nope of type Packages is not defined in manifest"},
    {"Packages role actions",
     "{" BASE ",\"Roles\":{\"r\":{\"ResourceType\":\"Packages\",\"Actions\":[\"UpdateSecurityVersion\"]}}}",
     "{" BASE ",\"Roles\":{\"r\":{\"ResourceType\":\"Packages\",\"Actions\":[\"ReadSecret\"]}}}",
     "unknown action: ReadSecret for type Packages in role: r"},
    {"Secrets role actions",
     "{" BASE ",\"Roles\":{\"r\":{\"ResourceType\":\"Secrets\",\"Actions\":[\"readsecret\",\"WriteSecret\"]}}}",
     "{" BASE ",\"Roles\":{\"r\":{\"ResourceType\":\"Secrets\",\"Actions\":[\"DeleteSecret\"]}}}",
     "unknown action: DeleteSecret for type Secrets in role: r"},
    {"Secrets role names exist",
     "{" BASE ",\"Secrets\":{\"s\":{\"Type\":\"plain\",\"UserDefined\":true}},\"Roles\":{\"r\":{\"ResourceType\":"
     "\"Secrets\",\"ResourceNames\":[\"s\"],\"Actions\":[\"WriteSecret\",\"ReadSecret\"]}}}",
     "{" BASE ",\"Roles\":{\"r\":{\"ResourceType\":\"Secrets\",\"ResourceNames\":[\"s\"],\"Actions\":[\"ReadSecret\"]}}}",
     "role r: resource s of type Secrets is not defined in manifest"},
    {"WriteSecret only on user-defined",
     "{" BASE ",\"Secrets\":{\"s\":{\"Type\":\"symmetric-key\",\"Size\":128,\"UserDefined\":true}},\"Roles\":{\"r\":{"
     "\"ResourceType\":\"Secrets\",\"ResourceNames\":[\"s\"],\"Actions\":[\"WriteSecret\"]}}}",
     "{" BASE ",\"Secrets\":{\"s\":{\"Type\":\"symmetric-key\",\"Size\":128,\"Shared\":true}},\"Roles\":{\"r\":{"
     "\"ResourceType\":\"Secrets\",\"ResourceNames\":[\"s\"],\"Actions\":[\"WriteSecret\"]}}}",
     "manifest specifies write permission for role r and secret s, but secret is not user-defined"},
    {"ReadSecret not on private",
     "{" BASE ",\"Secrets\":{\"s\":{\"Type\":\"symmetric-key\",\"Size\":128,\"Shared\":true}},\"Roles\":{\"r\":{"
     "\"ResourceType\":\"Secrets\",\"ResourceNames\":[\"s\"],\"Actions\":[\"ReadSecret\"]}}}",
     "{" BASE ",\"Secrets\":{\"s\":{\"Type\":\"symmetric-key\",\"Size\":128}},\"Roles\":{\"r\":{"
     "\"ResourceType\":\"Secrets\",\"ResourceNames\":[\"s\"],\"Actions\":[\"ReadSecret\"]}}}",
     "manifest specifies read permission for role r and per-marble-unique secret s"},
    {"Manifest role without names",
     "{" BASE ",\"Roles\":{\"r\":{\"ResourceType\":\"Manifest\",\"Actions\":[\"UpdateManifest\"]}}}",
     "{" BASE ",\"Roles\":{\"r\":{\"ResourceType\":\"Manifest\",\"ResourceNames\":[\"p\"],\"Actions\":[\"UpdateManifest\"]}}}",
     "role r: resource names are not allowed for type Manifest"},
    {"Manifest role actions",
     "{" BASE ",\"Roles\":{\"r\":{\"ResourceType\":\"Manifest\",\"Actions\":[\"updatemanifest\"]}}}",
     "{" BASE ",\"Roles\":{\"r\":{\"ResourceType\":\"Manifest\",\"Actions\":[\"UpdateSecurityVersion\"]}}}",
     "unknown action: UpdateSecurityVersion for type Manifest in role: r"},
    {"resource type case-sensitive",
     "{" BASE ",\"Roles\":{\"r\":{\"ResourceType\":\"Packages\"}}}",
     "{" BASE ",\"Roles\":{\"r\":{\"ResourceType\":\"packages\"}}}",
     "unrecognized resource type: packages for role: r"},
    /* 7: secrets */
    {"secret type known",
     "{" BASE ",\"Secrets\":{\"a\":{\"Type\":\"plain\"},\"b\":{\"Type\":\"symmetric-key\"},\"c\":{\"Type\":\"cert-rsa\"},"
     "\"d\":{\"Type\":\"cert-ecdsa\"},\"e\":{\"Type\":\"cert-ed25519\"}}}",
     "{" BASE ",\"Secrets\":{\"s\":{\"Type\":\"Symmetric-Key\"}}}", "unknown type: Symmetric-Key for secret: s"},
    {"NotAfter xor ValidFor",
     "{" BASE ",\"Secrets\":{\"s\":{\"Type\":\"cert-ecdsa\",\"Cert\":{\"NotAfter\":\"2040-01-01T00:00:00Z\"}},"
     "\"t\":{\"Type\":\"cert-rsa\",\"ValidFor\":3}}}",
     "{" BASE ",\"Secrets\":{\"s\":{\"Type\":\"cert-ecdsa\",\"ValidFor\":3,\"Cert\":{\"NotAfter\":\"2040-01-01T00:00:00Z\"}}}}",
     "ambiguous certificate validity duration for secret: s, both NotAfter and ValidFor are specified"},
    /* 8: update threshold (Actions[0] counts) */
    {"update threshold",
     "{" BASE ",\"Users\":{\"alice\":{\"Certificate\":\"A\",\"Roles\":[\"r\",\"r2\"]}},\"Roles\":{\"r\":{\"ResourceType\":"
     "\"Manifest\",\"Actions\":[\"UpdateManifest\"]},\"r2\":{\"ResourceType\":\"Manifest\",\"Actions\":[\"UpdateManifest\"]}},"
     "\"Config\":{\"UpdateThreshold\":1}}",
     "{" BASE ",\"Users\":{\"alice\":{\"Certificate\":\"A\",\"Roles\":[\"r\",\"r2\"]},\"bob\":{\"Certificate\":\"B\",\"Roles\":"
     "[\"e\"]}},\"Roles\":{\"r\":{\"ResourceType\":\"Manifest\",\"Actions\":[\"UpdateManifest\"]},\"r2\":{\"ResourceType\":"
     "\"Manifest\",\"Actions\":[\"UpdateManifest\"]},\"e\":{\"ResourceType\":\"Manifest\"}},\"Config\":{\"UpdateThreshold\":2}}",
     "not enough users with manifest update permissions (1) to meet the threshold of 2"},
    /* 9, 10, 11: config */
    {"seal mode", "{" BASE ",\"Config\":{\"SealMode\":\"UniqueKey\"}}", "{" BASE ",\"Config\":{\"SealMode\":\"productkey\"}}",
     "unknown seal mode: productkey"},
    {"feature gates",
     "{" BASE ",\"Config\":{\"FeatureGates\":[\"signquoteendpoint\",\"MonotonicCounter\"]}}",
     "{" BASE ",\"Config\":{\"FeatureGates\":[\"MonotonicCounter\",\"FeatureFlags\"]}}", "unknown feature gate: FeatureFlags"},
    /* known to MarbleRun, not implemented by Cairn: refused, never ignored */
    {"feature gate not implemented", "{" BASE ",\"Config\":{\"FeatureGates\":[\"SignQuoteEndpoint\"]}}",
     "{" BASE ",\"Config\":{\"FeatureGates\":[\"SignQuoteEndpoint\",\"azurehsmsealing\"]}}",
     "feature gate azurehsmsealing is not supported by Cairn: sealing the state key with an Azure HSM key is not "
     "implemented (remove it from Config.FeatureGates; docs/compatibility.md)"},
    {"recovery threshold not above keys",
     "{" BASE ",\"RecoveryKeys\":{\"a\":\"A\",\"b\":\"B\"},\"Config\":{\"RecoveryThreshold\":2}}",
     "{" BASE ",\"RecoveryKeys\":{\"a\":\"A\",\"b\":\"B\"},\"Config\":{\"RecoveryThreshold\":3}}",
     "recovery threshold (3) exceeds the number of recovery keys (2)"},
    {"recovery threshold not 1", "{" BASE ",\"RecoveryKeys\":{\"a\":\"A\",\"b\":\"B\"},\"Config\":{\"RecoveryThreshold\":0}}",
     "{" BASE ",\"RecoveryKeys\":{\"a\":\"A\",\"b\":\"B\"},\"Config\":{\"RecoveryThreshold\":1}}",
     "recovery threshold must not be 1 (use 0 to require all 2 recovery keys)"},
};

#define H48 "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f"
#define H32 "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define H20 "000102030405060708090a0b0c0d0e0f10111213"

static const struct rule tee_rules[] = {
    {"unknown TEE", "{\"Packages\":{\"p\":{\"TEE\":\"SGX\",\"UniqueID\":\"u\"}}," MRB "}",
     "{\"Packages\":{\"p\":{\"TEE\":\"sev\"}}," MRB "}",
     "package p: unknown TEE \"sev\" (expected sgx, tdx, snp or tpm)"},
    {"SGX field on TDX", "{\"Packages\":{\"p\":{\"TEE\":\"tdx\",\"MRTD\":\"" H48 "\"}}," MRB "}",
     "{\"Packages\":{\"p\":{\"TEE\":\"tdx\",\"MRTD\":\"" H48 "\",\"SignerID\":\"s\"}}," MRB "}",
     "package p: field SignerID is not allowed for TEE tdx"},
    {"TDX field on SGX", "{" BASE "}",
     "{\"Packages\":{\"p\":{\"SignerID\":\"s\",\"ProductID\":1,\"SecurityVersion\":1,\"MRTD\":\"" H48 "\"}}," MRB "}",
     "package p: field MRTD is not allowed for TEE sgx"},
    {"SNP field on TDX", "{\"Packages\":{\"p\":{\"TEE\":\"tdx\",\"MRTD\":\"" H48 "\",\"AcceptedTCBStatuses\":[\"UpToDate\"]}}," MRB "}",
     "{\"Packages\":{\"p\":{\"TEE\":\"tdx\",\"MRTD\":\"" H48 "\",\"HostData\":\"" H32 "\"}}," MRB "}",
     "package p: field HostData is not allowed for TEE tdx"},
    {"TCB statuses not for TPM", NULL,
     "{\"Packages\":{\"p\":{\"TEE\":\"tpm\",\"AcceptedTCBStatuses\":[\"UpToDate\"]}}," MRB "}",
     "package p: field AcceptedTCBStatuses is not allowed for TEE tpm"},
    {"MRTD length", "{\"Packages\":{\"p\":{\"TEE\":\"tdx\",\"MRTD\":\"" H48 "\"}}," MRB "}",
     "{\"Packages\":{\"p\":{\"TEE\":\"tdx\",\"MRTD\":\"" H32 "\"}}," MRB "}",
     "package p: MRTD must be 48 bytes as hex (96 hex digits), got \"" H32 "\""},
    {"RTMR length and hex",
     "{\"Packages\":{\"p\":{\"TEE\":\"tdx\",\"MRTD\":\"" H48 "\",\"RTMR\":{\"1\":\"" H48 "\",\"2\":\"" H48 "\"},"
     "\"MRConfigID\":\"" H48 "\",\"MROwner\":\"" H48 "\",\"MROwnerConfig\":\"" H48 "\"}}," MRB "}",
     "{\"Packages\":{\"p\":{\"TEE\":\"tdx\",\"MRTD\":\"" H48 "\",\"RTMR\":{\"1\":\"zz" H48 "\"}}}," MRB "}",
     "package p: RTMR[1] must be 48 bytes as hex (96 hex digits)"},
    {"MRConfigID length", NULL,
     "{\"Packages\":{\"p\":{\"TEE\":\"tdx\",\"MRTD\":\"" H48 "\",\"MRConfigID\":\"" H32 "\"}}," MRB "}",
     "package p: MRConfigID must be 48 bytes as hex"},
    {"TDX requires MRTD", "{\"Packages\":{\"p\":{\"TEE\":\"tdx\",\"Debug\":true}}," MRB "}",
     "{\"Packages\":{\"p\":{\"TEE\":\"tdx\",\"RTMR\":{\"0\":\"" H48 "\"}}}," MRB "}", "package p: TEE tdx requires MRTD"},
    {"SNP lengths",
     "{\"Packages\":{\"p\":{\"TEE\":\"snp\",\"Measurement\":\"" H48 "\",\"HostData\":\"" H32 "\",\"IDKeyDigest\":\"" H48 "\","
     "\"MinimumTCB\":{\"Bootloader\":3},\"GuestSVN\":1}}," MRB "}",
     "{\"Packages\":{\"p\":{\"TEE\":\"snp\",\"Measurement\":\"" H48 "\",\"HostData\":\"" H48 "\"}}," MRB "}",
     "package p: HostData must be 32 bytes as hex (64 hex digits)"},
    {"SNP measurement length", NULL, "{\"Packages\":{\"p\":{\"TEE\":\"snp\",\"Measurement\":\"" H32 "\"}}," MRB "}",
     "package p: Measurement must be 48 bytes as hex"},
    {"SNP requires Measurement", "{\"Packages\":{\"p\":{\"TEE\":\"snp\",\"Debug\":true}}," MRB "}",
     "{\"Packages\":{\"p\":{\"TEE\":\"snp\",\"HostData\":\"" H32 "\"}}," MRB "}", "package p: TEE snp requires Measurement"},
    {"TPM requires AKRoots", NULL, "{\"Packages\":{\"p\":{\"TEE\":\"tpm\",\"PCRs\":{\"sha256\":{\"0\":\"" H32 "\"}}}}," MRB "}",
     "package p: TEE tpm requires AKRoots (PEM certificates)"},
    {"TPM AKRoots are PEM", NULL,
     "{\"Packages\":{\"p\":{\"TEE\":\"tpm\",\"AKRoots\":[\"not a pem\"],\"PCRs\":{\"sha256\":{\"0\":\"" H32 "\"}}}}," MRB "}",
     "package p: AKRoots[0] is not a PEM certificate"},
    {"TPM PCR bank", NULL,
     "{\"Packages\":{\"p\":{\"TEE\":\"tpm\",\"AKRoots\":[\"@PEM@\"],\"PCRs\":{\"sha3\":{\"0\":\"" H32 "\"}}}}," MRB "}",
     "package p: PCR bank \"sha3\" is not sha1, sha256, sha384 or sha512"},
    {"TPM PCR index", NULL,
     "{\"Packages\":{\"p\":{\"TEE\":\"tpm\",\"AKRoots\":[\"@PEM@\"],\"PCRs\":{\"sha256\":{\"24\":\"" H32 "\"}}}}," MRB "}",
     "package p: PCRs.sha256: index 24 is not 0..23"},
    {"TPM PCR digest length", NULL,
     "{\"Packages\":{\"p\":{\"TEE\":\"tpm\",\"AKRoots\":[\"@PEM@\"],\"PCRs\":{\"sha1\":{\"7\":\"" H32 "\"}}}}," MRB "}",
     "package p: PCRs.sha1.7 must be 20 bytes as hex (40 hex digits)"},
    {"TPM PCR index once", NULL,
     "{\"Packages\":{\"p\":{\"TEE\":\"tpm\",\"AKRoots\":[\"@PEM@\"],\"PCRs\":{\"sha256\":{\"7\":\"" H32 "\",\"07\":\"" H32
     "\"}}}}," MRB "}",
     "package p: PCRs.sha256: index 7 is given twice"},
    {"empty TEE is sgx", "{\"Packages\":{\"p\":{\"TEE\":\"\",\"UniqueID\":\"u\"}}," MRB "}",
     "{\"Packages\":{\"p\":{\"TEE\":\"\",\"MRTD\":\"" H48 "\",\"UniqueID\":\"u\"}}," MRB "}",
     "package p: field MRTD is not allowed for TEE sgx"},
    {"TPM requires PCRs", NULL, "{\"Packages\":{\"p\":{\"TEE\":\"tpm\",\"AKRoots\":[\"@PEM@\"]}}," MRB "}",
     "package p: TEE tpm requires PCRs or PCRPublicKey"},
    /* signed PCR policies: PCRPublicKey instead of (or beside) PCR values */
    {"TPM PCRPublicKey is a key",
     "{\"Packages\":{\"p\":{\"TEE\":\"tpm\",\"AKRoots\":[\"@PEM@\"],\"PCRPublicKey\":\"@PUB@\"}}," MRB "}",
     "{\"Packages\":{\"p\":{\"TEE\":\"tpm\",\"AKRoots\":[\"@PEM@\"],\"PCRPublicKey\":\"@PEM@\"}}," MRB "}",
     "package p: PCRPublicKey is not a PEM RSA or EC public key"},
    /* PCRs of a tdx/snp package: the vTPM PCRs of Azure evidence, sha256 only */
    {"vTPM PCRs on SNP are sha256",
     "{\"Packages\":{\"p\":{\"TEE\":\"snp\",\"Measurement\":\"" H48 "\",\"PCRs\":{\"sha256\":{\"0\":\"" H32
     "\",\"8\":\"" H32 "\"}}}}," MRB "}",
     "{\"Packages\":{\"p\":{\"TEE\":\"snp\",\"Measurement\":\"" H48 "\",\"PCRs\":{\"sha384\":{\"0\":\"" H48
     "\"}}}}," MRB "}",
     "package p: PCRs.sha384: the PCRs of a snp package are those of an Azure vTPM quote, which has the sha256 bank only"},
    {"vTPM PCRs on TDX: the TPM rules", "{\"Packages\":{\"p\":{\"TEE\":\"tdx\",\"MRTD\":\"" H48
     "\",\"PCRs\":{\"sha256\":{\"23\":\"" H32 "\"}}}}," MRB "}",
     "{\"Packages\":{\"p\":{\"TEE\":\"tdx\",\"MRTD\":\"" H48 "\",\"PCRs\":{\"sha256\":{\"24\":\"" H32
     "\"}}}}," MRB "}",
     "package p: PCRs.sha256: index 24 is not 0..23"},
    {"vTPM PCR digest length", NULL,
     "{\"Packages\":{\"p\":{\"TEE\":\"tdx\",\"MRTD\":\"" H48 "\",\"PCRs\":{\"sha256\":{\"8\":\"" H20
     "\"}}}}," MRB "}",
     "package p: PCRs.sha256.8 must be 32 bytes as hex (64 hex digits)"},
    {"PCRs not for SGX", NULL, "{\"Packages\":{\"p\":{\"SignerID\":\"s\",\"ProductID\":1,\"SecurityVersion\":1,\"PCRs\":{\"sha256\":{\"8\":\"" H32
     "\"}}}}," MRB "}",
     "package p: field PCRs is not allowed for TEE sgx"},
    {"PCRPublicKey only for TPM", NULL,
     "{\"Packages\":{\"p\":{\"TEE\":\"tdx\",\"MRTD\":\"" H48 "\",\"PCRPublicKey\":\"k\"}}," MRB "}",
     "package p: field PCRPublicKey is not allowed for TEE tdx"},
};

/* A valid TPM package, with a real PEM certificate as AK root. */
static const char *TPM_OK = "{\"Packages\":{\"p\":{\"TEE\":\"tpm\",\"AKRoots\":[\"@PEM@\"],\"PCRs\":{\"sha1\":{\"0\":\"" H20
                            "\"},\"sha256\":{\"23\":\"" H32 "\"},\"sha384\":{\"11\":\"" H48 "\"}}}}," MRB "}";

static char *g_pem_json; /* the PEM with newlines escaped for JSON */
static char *g_pub_json; /* its public key (PEM SPKI), escaped the same way */

static char *json_escape_nl(const char *pem, size_t len)
{
    char *o = malloc(2 * len + 1);
    size_t k = 0;
    for (size_t i = 0; o && i < len; i++) {
        if (pem[i] == '\n') {
            o[k++] = '\\';
            o[k++] = 'n';
        } else {
            o[k++] = pem[i];
        }
    }
    if (o)
        o[k] = 0;
    return o;
}

static int setup(void **state)
{
    (void)state;
    EVP_PKEY *k = NULL;
    X509 *x = NULL;
    char *pem = NULL;
    size_t len = 0;
    struct cc_cert_template t = {.subject = {.common_name = "AK root"}, .is_ca = true, .max_path_len = -1};
    if (cc_key_generate(CC_KEY_EC_P256, 0, &k, NULL) < 0 || cc_cert_issue(&t, k, NULL, k, &x, NULL) < 0 ||
        cc_cert_to_pem(x, &pem, &len) < 0)
        return -1;
    BIO *pb = BIO_new(BIO_s_mem());
    char *pp = NULL;
    long pl = pb && PEM_write_bio_PUBKEY(pb, k) == 1 ? BIO_get_mem_data(pb, &pp) : 0;
    g_pub_json = pl > 0 ? json_escape_nl(pp, (size_t)pl) : NULL;
    BIO_free(pb);
    if (g_pub_json == NULL)
        return -1;
    g_pem_json = malloc(2 * len + 1);
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (pem[i] == '\n') {
            g_pem_json[o++] = '\\';
            g_pem_json[o++] = 'n';
        } else {
            g_pem_json[o++] = pem[i];
        }
    }
    g_pem_json[o] = 0;
    free(pem);
    X509_free(x);
    EVP_PKEY_free(k);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(g_pem_json);
    free(g_pub_json);
    return 0;
}

/* Substitutes @PEM@ with the generated certificate (every occurrence) and
 * @PUB@ with its public key. */
static char *with_pem1(const char *json);
static char *with_pem(const char *json)
{
    char *s = with_pem1(json);
    for (int i = 0; i < 4 && s != NULL && (strstr(s, "@PEM@") || strstr(s, "@PUB@")); i++) {
        char *t = with_pem1(s);
        free(s);
        s = t;
    }
    return s;
}

static char *with_pem1(const char *json)
{
    const char *pub = strstr(json, "@PUB@");
    if (pub != NULL) {
        size_t n = strlen(json) + strlen(g_pub_json) + 1;
        char *s = malloc(n);
        snprintf(s, n, "%.*s%s%s", (int)(pub - json), json, g_pub_json, pub + 5);
        return s;
    }
    const char *at = strstr(json, "@PEM@");
    size_t n = strlen(json) + strlen(g_pem_json) + 1;
    char *s = malloc(n);
    if (at == NULL) {
        snprintf(s, n, "%s", json);
    } else {
        snprintf(s, n, "%.*s%s%s", (int)(at - json), json, g_pem_json, at + 5);
    }
    return s;
}

static int check_json(const char *json, struct cairn_error *e)
{
    char *s = with_pem(json);
    struct manifest *m = parse_ok(s);
    int rc = manifest_check(m, e);
    manifest_free(m);
    free(s);
    return rc;
}

static void run_table(const struct rule *t, size_t n, bool prefix_match)
{
    for (size_t i = 0; i < n; i++) {
        struct cairn_error e = {0};
        if (t[i].ok != NULL && check_json(t[i].ok, &e) != 0)
            fail_msg("rule \"%s\": accepted case rejected: %s", t[i].name, e.msg);
        cairn_error_clear(&e);
        if (check_json(t[i].bad, &e) != CAIRN_ERR_INVALID)
            fail_msg("rule \"%s\": rejected case accepted", t[i].name);
        bool match = prefix_match ? strncmp(e.msg, t[i].msg, strlen(t[i].msg)) == 0 : strcmp(e.msg, t[i].msg) == 0;
        if (!match)
            fail_msg("rule \"%s\": got \"%s\", want \"%s\"", t[i].name, e.msg, t[i].msg);
    }
}

static void test_marblerun_rules(void **state)
{
    (void)state;
    run_table(rules, sizeof(rules) / sizeof(rules[0]), false);
}

static void test_tee_rules(void **state)
{
    (void)state;
    struct cairn_error e = {0};
    if (check_json(TPM_OK, &e) != 0)
        fail_msg("valid TPM package rejected: %s", e.msg);
    run_table(tee_rules, sizeof(tee_rules) / sizeof(tee_rules[0]), true);
}

static void collect(void *ctx, const char *msg)
{
    int *n = ctx;
    (*n)++;
    assert_non_null(strstr(msg, "package p"));
}

static void test_debug_warnings(void **state)
{
    (void)state;
    struct manifest *m = parse_ok("{\"Packages\":{\"p\":{\"Debug\":true}}," MRB "}");
    int warnings = 0;
    struct cairn_error e = {0};
    assert_int_equal(manifest_check_ex(m, collect, &warnings, &e), 0);
    assert_int_equal(warnings, 3); /* SignerID, ProductID, SecurityVersion */
    manifest_free(m);
}

static void test_order_and_determinism(void **state)
{
    (void)state;
    struct cairn_error e = {0};
    /* step 3 (marbles) before step 4 (TLS) before 5 (users) before 9 (seal mode) */
    assert_int_equal(check_json("{" PKG ",\"Marbles\":{\"m\":{\"Package\":\"x\"}},\"TLS\":{\"t\":{\"Outgoing\":[{}]}},"
                                "\"Users\":{\"u\":{}},\"Config\":{\"SealMode\":\"x\"}}", &e), CAIRN_ERR_INVALID);
    assert_string_equal(e.msg, "manifest does not contain marble package x");
    assert_int_equal(check_json("{" BASE ",\"TLS\":{\"t\":{\"Outgoing\":[{}]}},\"Users\":{\"u\":{}},"
                                "\"Config\":{\"SealMode\":\"x\"}}", &e), CAIRN_ERR_INVALID);
    assert_string_equal(e.msg, "manifest misses Addr in TLS.Outgoing.t");
    assert_int_equal(check_json("{" BASE ",\"Users\":{\"u\":{}},\"Config\":{\"SealMode\":\"x\"}}", &e), CAIRN_ERR_INVALID);
    assert_string_equal(e.msg, "manifest does not contain a certificate for user u");
    /* roles (6) before secrets (7) before the update threshold (8) */
    assert_int_equal(check_json("{" BASE ",\"Roles\":{\"r\":{\"ResourceType\":\"X\"}},\"Secrets\":{\"s\":{\"Type\":\"x\"}},"
                                "\"Config\":{\"UpdateThreshold\":5}}", &e), CAIRN_ERR_INVALID);
    assert_string_equal(e.msg, "unrecognized resource type: X for role: r");
    assert_int_equal(check_json("{" BASE ",\"Secrets\":{\"s\":{\"Type\":\"x\"}},\"Config\":{\"UpdateThreshold\":5}}", &e),
                     CAIRN_ERR_INVALID);
    assert_string_equal(e.msg, "unknown type: x for secret: s");
    /* Go's random map order is replaced by name order, whatever the document order */
    assert_int_equal(check_json("{" PKG ",\"Marbles\":{\"zz\":{\"Package\":\"y\"},\"aa\":{\"Package\":\"x\"}}}", &e),
                     CAIRN_ERR_INVALID);
    assert_string_equal(e.msg, "manifest does not contain marble package x");
    assert_int_equal(check_json("{" BASE ",\"Secrets\":{\"b\":{\"Type\":\"q\"},\"a\":{\"Type\":\"r\"}}}", &e),
                     CAIRN_ERR_INVALID);
    assert_string_equal(e.msg, "unknown type: r for secret: a");
    /* duplicate certificates: reported at the second user in name order, naming the first */
    assert_int_equal(check_json("{" BASE ",\"Users\":{\"d\":{\"Certificate\":\"X\"},\"c\":{\"Certificate\":\"Y\"},"
                                "\"b\":{\"Certificate\":\"X\"},\"a\":{\"Certificate\":\"Y\"},\"e\":{}}}", &e),
                     CAIRN_ERR_INVALID);
    assert_string_equal(e.msg, "manifest contains the same certificate for users c and a");
}

/* Many users with long, similar certificates: the uniqueness rule stays fast
 * (sorting, not pairwise comparison). */
static void test_many_users(void **state)
{
    (void)state;
    size_t n = 4000, cap = n * 300 + 1024;
    char *s = malloc(cap);
    size_t o = (size_t)snprintf(s, cap, "{" BASE ",\"Users\":{");
    char prefix[201];
    memset(prefix, 'Q', 200);
    prefix[200] = 0;
    for (size_t i = 0; i < n; i++)
        o += (size_t)snprintf(s + o, cap - o, "%s\"u%05zu\":{\"Certificate\":\"%s%zu\"}", i ? "," : "", i, prefix, i);
    snprintf(s + o, cap - o, "}}");
    struct manifest *m = parse_ok(s);
    struct cairn_error e = {0};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(manifest_check(m, &e), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    print_message("check of %zu users: %.1f ms\n", n, secs * 1e3);
    assert_true(secs < 1.0);
    manifest_free(m);
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_marblerun_rules),
        cmocka_unit_test(test_tee_rules),
        cmocka_unit_test(test_debug_warnings),
        cmocka_unit_test(test_order_and_determinism),
        cmocka_unit_test(test_many_users),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

/* src/rpc/grpc_wire: golden vectors (protobuf bytes written out by hand from
 * the protobuf encoding rules, not produced by protobuf-c), round trips,
 * framing and grpc-message edge cases, and mutation tests of the untrusted
 * decoders (every truncation and every single-byte change: an error or a
 * well-formed result, never a crash or partial output). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "rpc/grpc_wire.h"

#define UUID "0b5e6c3a-1f0e-4c43-9a51-2f6d7f0c9e11"

/* ActivationReq{CSR=30 00, MarbleType="web", UUID=UUID} (Quote empty: omitted) */
static const uint8_t k_req[] = {
    0x12, 0x02, 0x30, 0x00,                 /* 2: CSR, bytes */
    0x1a, 0x03, 'w', 'e', 'b',              /* 3: MarbleType */
    0x22, 0x24,                             /* 4: UUID, 36 bytes */
    '0', 'b', '5', 'e', '6', 'c', '3', 'a', '-', '1', 'f', '0', 'e', '-', '4', 'c', '4', '3', '-',
    '9', 'a', '5', '1', '-', '2', 'f', '6', 'd', '7', 'f', '0', 'c', '9', 'e', '1', '1',
};

/* ActivationResp{Parameters{Files{"/a": "hi"}, Env{"E": "v"}, Argv ["x"]}} with its prefix */
static const uint8_t k_resp[] = {
    0x00, 0x00, 0x00, 0x00, 0x17,                             /* uncompressed, 23 bytes */
    0x0a, 0x15,                                               /* 1: Parameters, 21 bytes */
    0x0a, 0x08, 0x0a, 0x02, '/', 'a', 0x12, 0x02, 'h', 'i',   /* 1: Files entry {key, value} */
    0x12, 0x06, 0x0a, 0x01, 'E', 0x12, 0x01, 'v',             /* 2: Env entry */
    0x1a, 0x01, 'x',                                          /* 3: Argv */
};

static void golden_request(void **state)
{
    (void)state;
    json_t *j = NULL;
    struct cairn_error e = {0};
    assert_int_equal(grpc_activation_req_to_json(k_req, sizeof(k_req), &j, &e), 0);
    assert_string_equal(json_string_value(json_object_get(j, "marbleType")), "web");
    assert_string_equal(json_string_value(json_object_get(j, "uuid")), UUID);
    assert_string_equal(json_string_value(json_object_get(j, "csr")), "MAA=");
    /* MarbleRun's empty quote: an empty "quote" (core decides; simulation only) */
    assert_string_equal(json_string_value(json_object_get(j, "quote")), "");
    assert_null(json_object_get(j, "evidence"));
    /* and back: the client encoder produces the same bytes */
    uint8_t *b = NULL;
    size_t n = 0;
    assert_int_equal(grpc_activation_req_from_json(j, &b, &n, &e), 0);
    assert_int_equal(n, GRPC_PREFIX_LEN + sizeof(k_req));
    assert_memory_equal(b, "\0\0\0\0\x2f", 5);   /* 47 bytes */
    assert_memory_equal(b + 5, k_req, sizeof(k_req));
    free(b);
    json_decref(j);
}

static void quote_mapping(void **state)
{
    (void)state;
    /* Quote "{...}": Cairn's JSON evidence object; other bytes: an SGX quote (base64) */
    static const uint8_t ev[] = {0x0a, 0x0e, '{', '"', 't', 'y', 'p', 'e', '"', ':', '"', 's', 'i', 'm', '"', '}',
                                 0x1a, 0x01, 'w'};
    json_t *j = NULL;
    struct cairn_error e = {0};
    assert_int_equal(grpc_activation_req_to_json(ev, sizeof(ev), &j, &e), 0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "evidence"), "type")), "sim");
    assert_null(json_object_get(j, "quote"));
    json_decref(j);
    static const uint8_t sgx[] = {0x0a, 0x03, 0x03, 0x00, 0x02};
    assert_int_equal(grpc_activation_req_to_json(sgx, sizeof(sgx), &j, &e), 0);
    assert_string_equal(json_string_value(json_object_get(j, "quote")), "AwAC");
    json_decref(j);
    /* '{' that is not a JSON object: refused, and says why */
    static const uint8_t bad[] = {0x0a, 0x02, '{', 'x'};
    j = NULL;
    assert_int_equal(grpc_activation_req_to_json(bad, sizeof(bad), &j, &e), CAIRN_ERR_INVALID);
    assert_null(j);
    assert_non_null(strstr(e.msg, "malformed request: Quote starts with '{'"));
    /* MarbleType that is not UTF-8 */
    static const uint8_t nonutf8[] = {0x1a, 0x02, 0xc3, 0x28};
    assert_int_equal(grpc_activation_req_to_json(nonutf8, sizeof(nonutf8), &j, &e), CAIRN_ERR_INVALID);
    assert_non_null(strstr(e.msg, "MarbleType is not valid UTF-8"));
    /* not protobuf at all */
    static const uint8_t junk[] = {0xff, 0xff, 0xff};
    assert_int_equal(grpc_activation_req_to_json(junk, sizeof(junk), &j, &e), CAIRN_ERR_INVALID);
    assert_non_null(strstr(e.msg, "not valid protobuf"));
}

static void golden_response(void **state)
{
    (void)state;
    json_t *d = json_pack("{s:{s:s}, s:{s:s}, s:[s]}", "files", "/a", "aGk=", "env", "E", "dg==", "argv", "x");
    uint8_t *b = NULL;
    size_t n = 0;
    struct cairn_error e = {0};
    assert_int_equal(grpc_activation_resp_from_json(d, &b, &n, &e), 0);
    assert_int_equal(n, sizeof(k_resp));
    assert_memory_equal(b, k_resp, sizeof(k_resp));
    json_t *back = NULL;
    assert_int_equal(grpc_activation_resp_to_json(b + 5, n - 5, &back, &e), 0);
    assert_true(json_equal(back, d));
    grpc_free_secret(b, n);
    json_decref(back);
    json_decref(d);
    /* an empty response: no Parameters at all -> empty maps, no argv */
    assert_int_equal(grpc_activation_resp_to_json((const uint8_t *)"", 0, &back, &e), 0);
    assert_int_equal(json_object_size(json_object_get(back, "files")), 0);
    assert_int_equal(json_array_size(json_object_get(back, "argv")), 0);
    json_decref(back);
    /* a repeated map key in an answer is refused, not merged */
    static const uint8_t dup[] = {0x0a, 0x14, 0x0a, 0x08, 0x0a, 0x02, '/', 'a', 0x12, 0x02, 'h', 'i',
                                  0x0a, 0x08, 0x0a, 0x02, '/', 'a', 0x12, 0x02, 'h', 'o'};
    back = NULL;
    assert_int_equal(grpc_activation_resp_to_json(dup, sizeof(dup), &back, &e), CAIRN_ERR_PROTOCOL);
    assert_null(back);
}

static void framing(void **state)
{
    (void)state;
    size_t len = 0;
    struct cairn_error e = {0};
    assert_int_equal(grpc_prefix_parse((const uint8_t *)"\0\0\0\1\0", 1024, &len, &e), 0);
    assert_int_equal(len, 256);
    assert_int_equal(grpc_prefix_parse((const uint8_t *)"\0\0\0\4\1", 1024, &len, &e), CAIRN_ERR_TOO_LARGE);
    assert_int_equal(grpc_prefix_parse((const uint8_t *)"\0\xff\xff\xff\xff", 4u << 20, &len, &e),
                     CAIRN_ERR_TOO_LARGE);
    assert_int_equal(grpc_prefix_parse((const uint8_t *)"\1\0\0\0\1", 1024, &len, &e), CAIRN_ERR_UNSUPPORTED);
    assert_int_equal(grpc_prefix_parse((const uint8_t *)"\2\0\0\0\1", 1024, &len, &e), CAIRN_ERR_INVALID);
    uint8_t p[5];
    grpc_prefix_write(p, 0x01020304);
    assert_memory_equal(p, "\0\1\2\3\4", 5);
    char *m = grpc_message_encode("caf\xc3\xa9 100% ok\n");
    assert_string_equal(m, "caf%C3%A9 100%25 ok%0A");
    char *d = grpc_message_decode(m, strlen(m));
    assert_string_equal(d, "caf\xc3\xa9 100% ok\n");
    free(m);
    free(d);
    d = grpc_message_decode("50%zz%4", 7);   /* malformed escapes stay as they are */
    assert_string_equal(d, "50%zz%4");
    free(d);
}

/* Every truncation and every single-byte change of the golden messages. */
static void mutations(void **state)
{
    (void)state;
    uint8_t buf[sizeof(k_req) > sizeof(k_resp) ? sizeof(k_req) : sizeof(k_resp)];
    size_t ok_req = 0, ok_resp = 0;
    for (size_t cut = 0; cut < sizeof(k_req); cut++) {
        json_t *j = NULL;
        struct cairn_error e = {0};
        int rc = grpc_activation_req_to_json(k_req, cut, &j, &e);
        assert_true(rc == 0 ? j != NULL : (j == NULL && e.msg[0] != '\0'));
        ok_req += rc == 0;
        json_decref(j);
    }
    for (size_t i = 0; i < sizeof(k_req); i++) {
        for (int v = 0; v < 256; v += 17) {
            memcpy(buf, k_req, sizeof(k_req));
            buf[i] = (uint8_t)v;
            json_t *j = NULL;
            struct cairn_error e = {0};
            int rc = grpc_activation_req_to_json(buf, sizeof(k_req), &j, &e);
            assert_true(rc == 0 ? json_is_object(j) : (j == NULL && rc == CAIRN_ERR_INVALID));
            json_decref(j);
        }
    }
    for (size_t i = 5; i < sizeof(k_resp); i++) {
        for (int v = 0; v < 256; v += 17) {
            memcpy(buf, k_resp, sizeof(k_resp));
            buf[i] = (uint8_t)v;
            json_t *j = NULL;
            struct cairn_error e = {0};
            int rc = grpc_activation_resp_to_json(buf + 5, sizeof(k_resp) - 5, &j, &e);
            assert_true(rc == 0 ? json_is_object(json_object_get(j, "files")) : (j == NULL && e.msg[0] != '\0'));
            ok_resp += rc == 0;
            json_decref(j);
        }
    }
    /* some mutations (e.g. inside string bytes) stay valid: the loop did decode */
    assert_true(ok_req > 0);
    assert_true(ok_resp > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(golden_request), cmocka_unit_test(quote_mapping), cmocka_unit_test(golden_response),
        cmocka_unit_test(framing),        cmocka_unit_test(mutations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* A self-signed certificate for the tests' TLS server (unit tests and the sniffer's fuzz target),
 * made with libcrypto at run time: no certificate is committed. */
#ifndef EZR_TEST_CERT_H
#define EZR_TEST_CERT_H

#include <openssl/evp.h>
#include <openssl/x509.h>

/* A certificate for CN 127.0.0.1 over key k, signed by k, valid from a minute ago for a day.
 * The caller frees it (X509_free); NULL on failure. */
static inline X509 *test_self_signed_cert(EVP_PKEY *k)
{
    X509 *x = k ? X509_new() : NULL;
    if (!x)
        return NULL;
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_NAME *n = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"127.0.0.1", -1, -1,
                               0);
    X509_set_issuer_name(x, n);
    X509_set_pubkey(x, k);
    if (X509_sign(x, k, EVP_sha256()) <= 0) {
        X509_free(x);
        return NULL;
    }
    return x;
}

#endif

// OpenSSL's libcrypto, for its SHA-256 (EVP digests: SHA-NI or AVX2 assembly where the CPU has it).
#include <openssl/evp.h>

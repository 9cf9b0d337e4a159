#include <cblas.h>
/* LAPACK's symmetric eigensolver (MRRR, selected eigenpairs), which libopenblas exports; Debian
   installs no lapack.h beside cblas.h. The trailing lengths are gfortran's hidden CHARACTER
   arguments. */
void dsyevr_(const char *jobz, const char *range, const char *uplo, const int *n, double *a, const int *lda,
             const double *vl, const double *vu, const int *il, const int *iu, const double *abstol, int *m,
             double *w, double *z, const int *ldz, int *isuppz, double *work, const int *lwork, int *iwork,
             const int *liwork, int *info, unsigned long jobz_len, unsigned long range_len, unsigned long uplo_len);

/* CPUID and XGETBV, so that Timbre can pick the OpenBLAS kernel set ("core") this CPU really
   supports when OpenBLAS's own detection falls short (NeuralNet's BLASKernel). Swift has no inline
   assembly, so these two live here. Zero registers where the leaf does not exist or off x86. */
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

typedef struct { unsigned int eax, ebx, ecx, edx; } timbre_cpuid_registers;

static inline timbre_cpuid_registers timbre_cpuid(unsigned int leaf, unsigned int subleaf) {
    timbre_cpuid_registers r = {0, 0, 0, 0};
#if defined(__x86_64__) || defined(__i386__)
    if (__get_cpuid_max(leaf & 0x80000000u, 0) >= leaf) __cpuid_count(leaf, subleaf, r.eax, r.ebx, r.ecx, r.edx);
#endif
    return r;
}

/* XCR0, the register states the OS saves on a context switch (x87, SSE, AVX, AVX-512...). Call only
   when CPUID.1:ECX.OSXSAVE (bit 27) is set: XGETBV faults otherwise. */
static inline unsigned long long timbre_xgetbv0(void) {
#if defined(__x86_64__) || defined(__i386__)
    unsigned int eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((unsigned long long)edx << 32) | eax;
#else
    return 0;
#endif
}

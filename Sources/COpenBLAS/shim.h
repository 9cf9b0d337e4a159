#include <cblas.h>
/* LAPACK's symmetric eigensolver (MRRR, selected eigenpairs), which libopenblas exports; Debian
   installs no lapack.h beside cblas.h. The trailing lengths are gfortran's hidden CHARACTER
   arguments. */
void dsyevr_(const char *jobz, const char *range, const char *uplo, const int *n, double *a, const int *lda,
             const double *vl, const double *vu, const int *il, const int *iu, const double *abstol, int *m,
             double *w, double *z, const int *ldz, int *isuppz, double *work, const int *lwork, int *iwork,
             const int *liwork, int *info, unsigned long jobz_len, unsigned long range_len, unsigned long uplo_len);

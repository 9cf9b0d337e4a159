#include <cblas.h>
/* LAPACK's symmetric eigensolver, which libopenblas exports; Debian installs no lapack.h beside
   cblas.h. The trailing lengths are gfortran's hidden CHARACTER arguments. */
void dsyev_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda, double *w,
            double *work, const int *lwork, int *info, unsigned long jobz_len, unsigned long uplo_len);

#include <fftw3.h>

/* fftwf_version is an array of unknown size and does not import into Swift. */
static inline const char *timbre_fftwf_version(void) { return fftwf_version; }

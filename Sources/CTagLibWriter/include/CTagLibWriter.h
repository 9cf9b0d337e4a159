#ifndef TIMBRE_CTAGLIB_WRITER_H
#define TIMBRE_CTAGLIB_WRITER_H

/* The one place Timbre writes tags into a file: TagLib's C++ API on a descriptor the caller
 * opened read-write. The caller (the Writeback target) only ever hands it a temporary copy of a
 * library file, never the file itself; reading stays in CTagLibReadOnly. */

#include "CTagLibReadOnly.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Sets property `key` (TagLib's unified keys: "GENRE", "GROUPING", "COMMENT", a custom key) to
 * `values` (UTF-8; count 0 removes it) and saves, leaving every other tag as it was: an MP3 keeps
 * its ID3v2 version (2.3 stays 2.3) and gets no ID3v1 or APE tag it did not have. Returns 1 on
 * success; 0 with a malloc'd reason in *error (free it) otherwise. */
int timbre_tag_values_write(int descriptor, TimbreTagFormat format, const char *key,
                            const char *const *values, unsigned int count, char **error);

#ifdef __cplusplus
}
#endif

#endif

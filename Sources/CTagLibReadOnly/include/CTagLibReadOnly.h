#ifndef TIMBRE_CTAGLIB_READONLY_H
#define TIMBRE_CTAGLIB_READONLY_H

/* Tags read through TagLib's C++ API from a descriptor that is already open, read-only.
 * TagLib's C API (taglib_file_new) opens files "rb+" first, so a scan run as root would open
 * users' music for writing; this shim never opens a path at all. */

#ifdef __cplusplus
extern "C" {
#endif

/* The parser to use: the format is sniffed from content by AudioIO, not from the name. */
typedef enum {
    TimbreTagFormatMPEG = 0,
    TimbreTagFormatFLAC = 1,
    TimbreTagFormatVorbis = 2,
    TimbreTagFormatOpus = 3,
    TimbreTagFormatWAV = 4,
    TimbreTagFormatAIFF = 5,
} TimbreTagFormat;

/* Strings are UTF-8, malloc'd, NULL when absent; free them with timbre_file_tags_free. */
typedef struct {
    char *title;
    char *artist;
    char *album;
    char *album_artist;
    char *genre;
    unsigned int year;
    unsigned int track;
    /* kbit/s as TagLib reports it; 0 when unknown. */
    int bitrate;
} TimbreFileTags;

/* Reads the tags of the file open on `descriptor` (a duplicate of it is read and closed; the
 * caller's descriptor stays open and its offset is not relied on). Returns 1 when TagLib
 * parsed the file, 0 otherwise (then `tags` holds nothing to free). */
int timbre_file_tags_read(int descriptor, TimbreTagFormat format, TimbreFileTags *tags);

void timbre_file_tags_free(TimbreFileTags *tags);

/* An embedded picture: malloc'd bytes and MIME type (NULL when the file names none). */
typedef struct {
    unsigned char *data;
    unsigned long size;
    char *mime_type;
} TimbreFilePicture;

/* Reads the file's cover (the front cover if it is marked so, else its first picture: ID3v2
 * APIC frames of MP3, WAV and AIFF, FLAC picture blocks, Ogg METADATA_BLOCK_PICTURE comments)
 * from `descriptor` as timbre_file_tags_read does. Returns 1 with a picture to free with
 * timbre_file_picture_free, 0 when there is none or the file cannot be parsed. At most
 * `max_size` bytes are accepted (a larger picture counts as none). */
int timbre_file_picture_read(int descriptor, TimbreTagFormat format, unsigned long max_size, TimbreFilePicture *picture);

void timbre_file_picture_free(TimbreFilePicture *picture);

/* Every value of one property (TagLib's unified keys: "GENRE", "GROUPING", "COMMENT", or any
 * custom key such as "TIMBRE"), UTF-8, malloc'd; free with timbre_tag_values_free. */
typedef struct {
    char **values;
    unsigned int count;
} TimbreTagValues;

/* Reads the values of `key` from the file open on `descriptor` (read as above: a read-only
 * duplicate). Returns 1 when TagLib parsed the file (count may be 0), 0 otherwise. The tag
 * write-back (CTagLibWriter) reads old values and verifies its writes through this. */
int timbre_tag_values_read(int descriptor, TimbreTagFormat format, const char *key, TimbreTagValues *values);

void timbre_tag_values_free(TimbreTagValues *values);

#ifdef __cplusplus
}
#endif

#endif

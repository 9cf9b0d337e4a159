// TagLib's C++ API over a read-only FileStream on a duplicated descriptor. Why not the C API:
// taglib_file_new opens by path with "rb+" first (write access whenever the process may write,
// as root always), and by path at all is what Timbre must not do with library files.
#include "CTagLibReadOnly.h"

#include <taglib/aifffile.h>
#include <taglib/flacfile.h>
#include <taglib/id3v2framefactory.h>
#include <taglib/mpegfile.h>
#include <taglib/opusfile.h>
#include <taglib/tfilestream.h>
#include <taglib/tpropertymap.h>
#include <taglib/vorbisfile.h>
#include <taglib/wavfile.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <unistd.h>

namespace {

char *copy(const TagLib::String &text) {
    if (text.isEmpty()) return nullptr;
    const std::string utf8 = text.to8Bit(true);
    char *out = static_cast<char *>(std::malloc(utf8.size() + 1));
    if (out) std::memcpy(out, utf8.c_str(), utf8.size() + 1);
    return out;
}

std::unique_ptr<TagLib::File> open(TagLib::IOStream *stream, TimbreTagFormat format) {
    using Style = TagLib::AudioProperties::ReadStyle;
    auto *frames = TagLib::ID3v2::FrameFactory::instance();
    switch (format) {
    case TimbreTagFormatMPEG: return std::make_unique<TagLib::MPEG::File>(stream, frames, true, Style::Average);
    case TimbreTagFormatFLAC: return std::make_unique<TagLib::FLAC::File>(stream, frames, true, Style::Average);
    case TimbreTagFormatVorbis: return std::make_unique<TagLib::Ogg::Vorbis::File>(stream, true, Style::Average);
    case TimbreTagFormatOpus: return std::make_unique<TagLib::Ogg::Opus::File>(stream, true, Style::Average);
    case TimbreTagFormatWAV: return std::make_unique<TagLib::RIFF::WAV::File>(stream, true, Style::Average);
    case TimbreTagFormatAIFF: return std::make_unique<TagLib::RIFF::AIFF::File>(stream, true, Style::Average);
    }
    return nullptr;
}

}  // namespace

extern "C" int timbre_file_tags_read(int descriptor, TimbreTagFormat format, TimbreFileTags *tags) {
    std::memset(tags, 0, sizeof *tags);
    // FileStream fdopen()s what it is given ("rb": openReadOnly) and fclose()s it when done.
    const int own = dup(descriptor);
    if (own < 0) return 0;
    try {
        TagLib::FileStream stream(own, /* openReadOnly */ true);
        if (!stream.isOpen()) {
            close(own);
            return 0;
        }
        const auto file = open(&stream, format);
        if (!file || !file->isValid()) return 0;
        if (const TagLib::Tag *tag = file->tag()) {
            tags->title = copy(tag->title());
            tags->artist = copy(tag->artist());
            tags->album = copy(tag->album());
            tags->genre = copy(tag->genre());
            tags->year = tag->year();
            tags->track = tag->track();
        }
        const TagLib::PropertyMap properties = file->properties();
        const auto albumArtist = properties.find("ALBUMARTIST");
        if (albumArtist != properties.end() && !albumArtist->second.isEmpty()) {
            tags->album_artist = copy(albumArtist->second.front());
        }
        if (const TagLib::AudioProperties *audio = file->audioProperties()) tags->bitrate = audio->bitrate();
        return 1;
    } catch (...) {  // std::bad_alloc on a hostile file: no tags rather than a crash
        timbre_file_tags_free(tags);
        return 0;
    }
}

extern "C" void timbre_file_tags_free(TimbreFileTags *tags) {
    char **strings[] = {&tags->title, &tags->artist, &tags->album, &tags->album_artist, &tags->genre};
    for (char **text : strings) {
        std::free(*text);
        *text = nullptr;
    }
}

extern "C" int timbre_tag_values_read(int descriptor, TimbreTagFormat format, const char *key, TimbreTagValues *values) {
    values->values = nullptr;
    values->count = 0;
    const int own = dup(descriptor);
    if (own < 0) return 0;
    // The duplicate shares the caller's offset, and RIFF parsing reads from where it stands
    // (after a write through another duplicate: the end). Timbre's readers all use pread.
    lseek(own, 0, SEEK_SET);
    try {
        TagLib::FileStream stream(own, /* openReadOnly */ true);
        if (!stream.isOpen()) {
            close(own);
            return 0;
        }
        const auto file = open(&stream, format);
        if (!file || !file->isValid()) return 0;
        const TagLib::PropertyMap properties = file->properties();
        const auto found = properties.find(TagLib::String(key, TagLib::String::UTF8).upper());
        if (found == properties.end() || found->second.isEmpty()) return 1;
        const TagLib::StringList &list = found->second;
        values->values = static_cast<char **>(std::calloc(list.size(), sizeof(char *)));
        if (!values->values) return 0;
        for (const TagLib::String &text : list) {
            const std::string utf8 = text.to8Bit(true);
            char *out = static_cast<char *>(std::malloc(utf8.size() + 1));
            if (!out) {
                timbre_tag_values_free(values);
                return 0;
            }
            std::memcpy(out, utf8.c_str(), utf8.size() + 1);
            values->values[values->count++] = out;
        }
        return 1;
    } catch (...) {
        timbre_tag_values_free(values);
        return 0;
    }
}

extern "C" void timbre_tag_values_free(TimbreTagValues *values) {
    for (unsigned int i = 0; i < values->count; i++) std::free(values->values[i]);
    std::free(values->values);
    values->values = nullptr;
    values->count = 0;
}
